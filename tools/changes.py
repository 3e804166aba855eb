"""The compatibility changelog of OpenCode as the doctor sees it (compat_matrix/CHANGES.md).

Built only from recorded data: the help texts and route set in ``help/<version>/``, the
``[track]`` table of its meta.toml and the verify outcomes in verified.toml. ``render_changes``
is a pure function of the snapshots; ``load_snapshots`` reads them from a compat_matrix folder.

    python -m tools.changes [COMPAT_MATRIX_DIR]    # print CHANGES.md
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMMANDS = ("root", "attach", "run", "serve")
WITH = "chosen with a server"
WITHOUT = "chosen without a server"


@dataclass(frozen=True)
class Snapshot:
    """What the doctor knows about one recorded release."""

    version: str
    #: command -> {long option name: aliases}; a command the release lacks is not a key;
    #: None when no help could be recorded
    commands: Mapping[str, Mapping[str, tuple[str, ...]]] | None
    routes: frozenset[str] | None = None
    with_server: str | None = None
    without_server: str | None = None
    outcomes: Mapping[str, str] = field(default_factory=dict)  # strategy -> outcome
    status: str | None = None  # meta.toml [track] status: complete / failed
    reason: str | None = None  # why it failed
    notes: Mapping[str, str] = field(default_factory=dict)  # strategy -> note of a failure
    #: (contract file, its sha256) when the release's routes are a published contract's, not
    #: measured (a 2.x server lists no routes): meta.toml [track] routes_source = "contract"
    routes_contract: tuple[str, str] | None = None


def _version_key(version: str) -> tuple[int, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def is_normal_release(version: str) -> bool:
    """A dev or pre-release build (0.0.0-dev-202609212252 is a recent build despite its number)
    has no place in the sequence of releases."""
    key = _version_key(version)
    return key[0] == 0 and not (key[1].is_devrelease or key[1].is_prerelease)


def routes_complete(routes: frozenset[str] | None) -> bool:
    """An OpenAPI document without GET /session is incomplete (1.14.34 lists 3 paths)."""
    return routes is not None and "GET /session" in routes


def _flag(name: str, aliases: Sequence[str]) -> str:
    names = [f"--{name}", *(f"-{a}" if len(a) == 1 else f"--{a}" for a in aliases)]
    return "/".join(names)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def flag_changes(old: Snapshot, new: Snapshot) -> list[str]:
    """Lines like "`attach`: added `--session/-s`" between two releases with help."""
    assert old.commands is not None and new.commands is not None
    lines = []
    for command in COMMANDS:
        label = "root (`opencode [project]`)" if command == "root" else f"`{command}`"
        before, after = old.commands.get(command), new.commands.get(command)
        if before is None and after is None:
            continue
        if before is None:
            assert after is not None
            flags = ", ".join(f"`{_flag(n, a)}`" for n, a in sorted(after.items()))
            lines.append(f"{label}: command added (options: {flags or 'none'})")
            continue
        if after is None:
            lines.append(f"{label}: command removed")
            continue
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        if added:
            lines.append(f"{label}: added " + ", ".join(f"`{_flag(n, after[n])}`" for n in added))
        if removed:
            lines.append(
                f"{label}: removed " + ", ".join(f"`{_flag(n, before[n])}`" for n in removed)
            )
        for name in sorted(set(before) & set(after)):
            lost = sorted(set(before[name]) - set(after[name]))
            gained = sorted(set(after[name]) - set(before[name]))
            if lost or gained:
                what = [f"alias `-{a}` added" for a in gained] + [
                    f"alias `-{a}` removed" for a in lost
                ]
                lines.append(f"{label}: `--{name}` " + ", ".join(what))
    return lines


def route_changes(old: Snapshot, new: Snapshot, *, since: bool = False) -> list[str]:
    """Routes added/removed; ``since`` names the base release (when it is not the previous
    release with help, whose route set was incomplete or missing)."""
    assert old.routes is not None and new.routes is not None
    added = sorted(new.routes - old.routes)
    removed = sorted(old.routes - new.routes)
    base = f", since {old.version}" if since else ""
    lines = []
    if added:
        lines.append(f"routes added ({len(added)}{base}): " + ", ".join(f"`{r}`" for r in added))
    if removed:
        lines.append(
            f"routes removed ({len(removed)}{base}): " + ", ".join(f"`{r}`" for r in removed)
        )
    return lines


def contract_changes(old: Snapshot | None, new: Snapshot) -> list[str]:
    """A line when a release's routes become a contract's (or another version of it)."""
    if new.routes_contract is None:
        return []
    before = old.routes_contract if old is not None else None
    if before == new.routes_contract:
        return []
    what = "changed" if before is not None and before[0] == new.routes_contract[0] else "apply"
    return [
        f"routes: the 2.x contract's (`{new.routes_contract[0]}`, sha256 "
        f"{new.routes_contract[1][:12]}) {what}: the server lists none; contract only, not "
        "measured, not compared"
    ]


def strategy_changes(old: Snapshot, new: Snapshot) -> list[str]:
    lines = []
    for label, a, b in (
        ("with a server", old.with_server, new.with_server),
        ("without a server", old.without_server, new.without_server),
    ):
        if a is not None and b is not None and a != b:
            lines.append(f"strategy {label}: `{a}` → `{b}`")
    return lines


def outcome_changes(old: Snapshot | None, new: Snapshot) -> list[str]:
    lines = []
    if new.status == "failed" and (old is None or old.status != "failed"):
        lines.append(f"**release not verifiable here**: {new.reason}")
    if new.commands is None:  # nothing ran: the line above says why, per strategy is noise
        return lines
    for strategy, outcome in sorted(new.outcomes.items()):
        before = old.outcomes.get(strategy) if old is not None else None
        if outcome == "failed" and before != "failed":
            note = new.notes.get(strategy, "")
            lines.append(f"**new failure** `{strategy}`" + (f": {note}" if note else ""))
        elif outcome == "verified" and before == "failed":
            lines.append(f"`{strategy}` verified again (failed on {old.version if old else '?'})")
    return lines


def _cell(strategy: str | None, outcomes: Mapping[str, str]) -> str:
    if strategy is None:
        return "–"
    if strategy == "none":
        return "none"
    return f"{strategy} ({outcomes.get(strategy, 'not run')})"


def render_changes(snapshots: Sequence[Snapshot]) -> str:
    """CHANGES.md for ``snapshots`` (any order): a table of every release, then the changes
    between consecutive releases, newest first."""
    releases = sorted(snapshots, key=lambda s: _version_key(s.version))
    out = [
        "# OpenCode compatibility changelog (from orch-doctor's point of view)",
        "",
        "Generated by `python -m tools.track_releases --report` from the recorded data in",
        "`compat_matrix/help/` and `compat_matrix/verified.toml`; do not edit by hand.",
        "Flags are compared per command (root, attach, run, serve) between consecutive releases",
        "with recorded help; routes between consecutive releases with a complete route set",
        "(the server's OpenAPI document lists `GET /session`).",
        "",
        "## Releases",
        "",
        "| release | strategy with a server (outcome) | without a server (outcome) | recorded |",
        "|---|---|---|---|",
    ]
    for s in reversed(releases):
        status = s.status or "help only"
        if s.status == "failed" and s.reason:
            status = f"failed: {s.reason[:120]}"
        out.append(
            f"| {s.version} | {_cell(s.with_server, s.outcomes)} | "
            f"{_cell(s.without_server, s.outcomes)} | {status} |"
        )
    out += ["", "## Changes", ""]
    builds = [s.version for s in releases if not is_normal_release(s.version)]
    releases = [s for s in releases if is_normal_release(s.version)]
    if builds:
        out += [
            "Dev and pre-release builds are recorded (table above) but left out of the sequence: "
            + ", ".join(builds),
            "",
        ]
    entries: list[tuple[str, str, list[str]]] = []
    prev_help: Snapshot | None = None
    prev_routes: Snapshot | None = None
    prev_any: Snapshot | None = None
    for s in releases:
        lines: list[str] = []
        base = prev_help
        if s.commands is not None and prev_help is not None:
            lines += flag_changes(prev_help, s)
        if routes_complete(s.routes) and prev_routes is not None:
            lines += route_changes(prev_routes, s, since=prev_routes is not base)
        elif s.routes is not None and not routes_complete(s.routes):
            lines.append(
                f"route set incomplete ({_plural(len(s.routes), 'route')} in GET /doc): "
                "not compared"
            )
        lines += contract_changes(prev_any, s)
        if prev_any is not None:
            lines += strategy_changes(prev_any, s)
        lines += outcome_changes(prev_any, s)
        if prev_any is not None:
            entries.append(((base or prev_any).version, s.version, lines))
        if s.commands is not None:
            prev_help = s
        if routes_complete(s.routes):
            prev_routes = s
        if s.commands is not None:  # a release that could not even be recorded is no baseline
            prev_any = s
    quiet = []
    for old_v, new_v, lines in reversed(entries):
        if not lines:
            quiet.append(new_v)
            continue
        out.append(f"### {old_v} → {new_v}")
        out.append("")
        out += [f"- {line}" for line in lines]
        out.append("")
    if quiet:
        out.append("### No change the doctor can see")
        out.append("")
        out.append(", ".join(quiet))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# loading recorded data


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def parse_commands(folder: Path) -> dict[str, dict[str, tuple[str, ...]]] | None:
    from tools._engine import folder_capabilities

    if not (folder / "root.txt").is_file():
        return None
    caps = folder_capabilities(folder, str(folder))
    return {
        name: {o.name: tuple(o.aliases) for o in spec.options.values()}
        for name, spec in caps.commands.items()
        if spec.exists and name in COMMANDS
    }


def snapshot(folder: Path, verifications: Sequence[Mapping[str, Any]]) -> Snapshot:
    meta = _read_toml(folder / "meta.toml")
    track = meta.get("track") if isinstance(meta.get("track"), dict) else {}
    assert isinstance(track, dict)
    version = folder.name
    mine = [v for v in verifications if v.get("release") == version]
    outcomes = {str(v["strategy"]): str(v["outcome"]) for v in mine}
    notes = {
        str(v["strategy"]): " ".join(str(v.get("note", "")).split("; ", 1)[-1].split())[:160]
        for v in mine
        if v.get("outcome") == "failed"
    }

    def chosen(key: str, how: str) -> str | None:
        if key in track:
            return str(track[key])
        hits = [str(v["strategy"]) for v in mine if str(v.get("note", "")).startswith(how)]
        return hits[0] if hits else None

    contract = None
    if track.get("routes_source") == "contract" and "routes_contract" in track:
        contract = (str(track["routes_contract"]), str(track.get("routes_contract_sha256", "")))
    routes_file = folder / "routes.txt"
    routes = None
    if routes_file.is_file():
        lines = routes_file.read_text(encoding="utf-8").splitlines()
        routes = frozenset(x.strip() for x in lines if x.strip() and not x.startswith("#"))
    return Snapshot(
        version=version,
        commands=parse_commands(folder),
        routes=routes,
        with_server=chosen("with_server", WITH),
        without_server=chosen("without_server", WITHOUT),
        outcomes=outcomes,
        status=str(track["status"]) if "status" in track else None,
        reason=str(track["reason"]) if "reason" in track else None,
        notes=notes,
        routes_contract=contract,
    )


def load_snapshots(matrix_dir: Path) -> list[Snapshot]:
    """Every recorded real release in ``matrix_dir`` (synthesized help is left out)."""
    verifications = _read_toml(matrix_dir / "verified.toml").get("verification", [])
    snaps = []
    for folder in sorted((matrix_dir / "help").iterdir()):
        if not folder.is_dir():
            continue
        meta = _read_toml(folder / "meta.toml")
        if meta.get("synthesized", False):
            continue
        if not (folder / "root.txt").is_file() and "track" not in meta:
            continue
        snaps.append(snapshot(folder, verifications))
    return snaps


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tools.changes",
        description="Print the compatibility changelog (CHANGES.md) of a compat_matrix folder.",
    )
    parser.add_argument(
        "matrix_dir",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "compat_matrix",
        help="the compat_matrix folder (default: the repository's)",
    )
    args = parser.parse_args(argv)
    sys.stdout.write(render_changes(load_snapshots(args.matrix_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
