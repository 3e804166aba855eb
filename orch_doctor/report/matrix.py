"""``orch-doctor matrix show|check`` as text and JSON: the merged data, the verification grid,
and the strategy each stored release gets.

Every cell comes from a matrix file: ``shown()`` prints it literally (markup escaped, control
characters visible); piped, no path is split and no column dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orch_doctor.report.console import shown

if TYPE_CHECKING:
    from orch_doctor.decide.replay import ReplayRow
    from orch_doctor.matrix.types import Matrix
    from orch_doctor.schemas.shapes import MatrixCheckJSON, MatrixShowJSON


def matrix_json(m: Matrix, releases: list[str]) -> MatrixShowJSON:
    return {
        "files": list(m.files),
        "strategies": [
            {
                "name": s.name,
                "preference": s.preference,
                "needs_server": s.needs_server,
                "commands": {k: list(v) for k, v in s.commands.items()},
                "routes": list(s.routes),
                "summary": s.summary,
                "evidence": s.evidence,
            }
            for s in m.strategies
        ],
        "known_issues": [
            {
                "id": i.id,
                "title": i.title,
                "versions": i.versions,
                "severity": i.severity,
                "affects": list(i.affects),
                "workaround": i.workaround,
                "evidence": i.evidence,
                "see_also": list(i.see_also),
                "side": i.side,
            }
            for i in m.issues
        ],
        "policy": {
            "minimum": m.policy.minimum,
            "tested": m.policy.tested,
            "known_majors": list(m.policy.known_majors),
            "blocked": [
                {"versions": b.versions, "reason": b.reason, "evidence": b.evidence}
                for b in m.policy.blocked
            ],
        },
        "verification": verification_grid(m, releases),
    }


def render_matrix(m: Matrix, releases: list[str]) -> None:
    from rich.table import Table

    from orch_doctor.report.console import make_console

    console = make_console()
    console.print("[bold]files[/]")
    for path in m.files:
        console.print(f"  {shown(path)}")
    table = Table(title="strategies (preference order)", title_justify="left")
    for col in ("name", "server", "needs flags", "needs routes"):
        table.add_column(col)
    for s in m.strategies:
        flags = "; ".join(
            f"{c}: " + " ".join(f"--{o}" for o in opts) for c, opts in s.commands.items()
        )
        table.add_row(
            shown(s.name),
            "yes" if s.needs_server else "no",
            shown(flags),
            shown("\n".join(s.routes)),
        )
    console.print(table)
    table = Table(title="known issues", title_justify="left")
    for col in ("id", "versions", "severity", "affects", "evidence"):
        table.add_column(col, no_wrap=col in ("id", "versions", "severity"))
    for i in m.issues:
        table.add_row(
            shown(i.id),
            shown(i.versions),
            shown(i.severity),
            shown("\n".join(i.affects)),
            shown(" ".join(short_link(x) for x in (i.evidence, *i.see_also))),
        )
    console.print(table)
    p = m.policy
    console.print(
        f"[bold]policy[/] minimum {shown(p.minimum)}, tested {shown(p.tested)}, known majors "
        f"{', '.join(map(str, p.known_majors))}, {len(p.blocked)} blocked range(s)"
    )
    grid = verification_grid(m, releases)
    table = Table(title="verification (orch-doctor verify on real releases)", title_justify="left")
    table.add_column("release")
    names = [s.name for s in m.strategies]
    for name in names:
        table.add_column(name)
    for release in releases:
        table.add_row(shown(release), *(shown(grid[release][name]) for name in names))
    console.print(table)


def short_link(link: str) -> str:
    """``#123`` for an issue or pull request of the OpenCode project, the last part otherwise."""
    parts = link.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in ("issues", "pull") and parts[-1].isdigit():
        return "#" + parts[-1]
    return parts[-1]


def verification_grid(m: Matrix, releases: list[str]) -> dict[str, dict[str, str]]:
    grid: dict[str, dict[str, str]] = {}
    for release in releases:
        grid[release] = {}
        for s in m.strategies:
            rec = next(
                (v for v in m.verifications if v.release == release and v.strategy == s.name),
                None,
            )
            grid[release][s.name] = (
                f"{rec.outcome} ({rec.date}, orch-doctor {rec.orch_doctor_version})"
                if rec
                else "not run"
            )
    return grid


def check_json(m: Matrix, rows: list[ReplayRow], failed: list[ReplayRow]) -> MatrixCheckJSON:
    return {
        "files": list(m.files),
        "ok": not failed,
        "releases": [
            {
                "release": r.release,
                "synthesized": r.synthesized,
                "without_server": r.without_server.strategy if r.without_server else None,
                "with_server": r.with_server.strategy if r.with_server else None,
                "routes_source": r.routes_source,
                "error": r.error,
            }
            for r in rows
        ],
    }


def render_check(m: Matrix, rows: list[ReplayRow]) -> None:
    from rich.table import Table

    from orch_doctor.report.console import make_console

    console = make_console()
    console.print(f"matrix valid: {len(m.files)} file(s), {len(m.strategies)} strategies, "
                  f"{len(m.issues)} known issues")  # fmt: skip
    table = Table(title="strategy chosen per stored release", title_justify="left")
    for col in ("release", "no server", "server up", "server routes"):
        table.add_column(col, no_wrap=col != "server routes")
    for r in rows:
        name = r.release + ("*" if r.synthesized else "")
        if r.error:
            table.add_row(shown(name), console.mark("fail"), shown(r.error), "")
            continue
        assert r.without_server is not None and r.with_server is not None
        table.add_row(
            shown(name),
            r.without_server.strategy,
            r.with_server.strategy,
            shown(r.routes_source),
        )
    console.print(table)
    if any(r.synthesized for r in rows):
        console.print("* synthesized help fixture (no such release is installable)")
