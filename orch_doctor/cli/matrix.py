"""``orch-doctor matrix show|check``: the compatibility data and its replay over stored releases."""

from __future__ import annotations

import sys

import click

from orch_doctor.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    config_error,
    emit_json,
)
from orch_doctor.cli.helptext import epilog
from orch_doctor.cli.options import format_option, matrix_option
from orch_doctor.report.console import shown


def _load(matrix_files: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from orch_doctor.errors import MatrixError
    from orch_doctor.matrix.load import load_matrix

    try:
        return load_matrix(matrix_files)
    except MatrixError as exc:
        config_error(str(exc))


@click.group(epilog=epilog("matrix"))
def matrix() -> None:
    """The compatibility matrix: strategies, known issues, policy, verified releases."""


@matrix.command()
@matrix_option()
@format_option()
def show(matrix_files: tuple[str, ...], output_format: str) -> None:
    """Print the merged matrix and the files it came from."""
    from orch_doctor.matrix.recorded import stored_releases

    m = _load(matrix_files)
    releases = stored_releases()
    if output_format == "json":
        emit_json(
            {
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
                    "blocked": [b.__dict__ for b in m.policy.blocked],
                },
                "verification": verification_grid(m, releases),
            }
        )
        return
    from rich.table import Table

    from orch_doctor.report.console import make_console

    # every cell comes from a matrix file: shown() prints it literally (markup escaped,
    # control characters visible); piped, no path is split and no column dropped
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


def verification_grid(m, releases: list[str]) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
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


@matrix.command()
@matrix_option()
@format_option()
def check(matrix_files: tuple[str, ...], output_format: str) -> None:
    """Validate the matrix and replay every stored release through the decision."""
    from orch_doctor.decide.replay import replay

    m = _load(matrix_files)
    rows = replay(m)
    failed = [r for r in rows if r.error]
    if output_format == "json":
        emit_json(
            {
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
        )
    else:
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
    sys.exit(EXIT_FAILED if failed else EXIT_OK)
