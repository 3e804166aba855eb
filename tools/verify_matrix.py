"""Run ``verify`` on every stored release and record the outcomes in compat_matrix/verified.toml.

    python -m tools.verify_matrix                  # every stored release, every allowed strategy
    python -m tools.verify_matrix --release 1.18.33 --release 1.0.152
    python -m tools.verify_matrix --dry-run        # print the records, do not write

A release is run when its binary is installed in the release cache (``--install`` installs it
from npm first: the platform package, or ``@opencode/cli`` for a 2.x release); otherwise its
strategies are recorded as "not-run". Each strategy of the release's line (1.x or 2.x) its flags
allow is forced (so demoted ones get evidence too); the record notes whether the decision would
have chosen it. Records of (release, strategy) pairs not run this time are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from orch_doctor import __version__  # noqa: E402
from orch_doctor.decide.request import SpawnRequest  # noqa: E402
from orch_doctor.matrix.load import merge as merge_documents  # noqa: E402
from orch_doctor.matrix.load import read_toml  # noqa: E402
from orch_doctor.matrix.types import (  # noqa: E402
    PLAN_STRATEGIES,
    Outcome,
    PlanStrategyName,
    Verification,
)
from orch_doctor.probe.types import Capabilities  # noqa: E402
from orch_doctor.server.types import ServerStatus  # noqa: E402

HEADER = """\
# Outcomes of `orch-doctor verify` on real releases, recorded by `python -m tools.verify_matrix`.
# keys: release, strategy, outcome ("verified" | "failed" | "not-run"), date, orch_doctor_version,
#       wall_s (optional), note (optional)
"""
VERIFIED_FILE = ROOT / "compat_matrix" / "verified.toml"


#: one verify outcome, exactly as the matrix loader reads and validates it
Record = Verification


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def render(records: Iterable[Record]) -> str:
    """The verified.toml text for ``records`` (sorted by release, then strategy)."""
    from packaging.version import InvalidVersion, Version

    def key(r: Record) -> tuple[object, ...]:
        try:
            return (0, Version(r.release), PLAN_STRATEGIES.index(r.strategy))
        except (InvalidVersion, ValueError):
            return (1, r.release, r.strategy)

    out = [HEADER]
    for r in sorted(records, key=key):
        out.append("\n[[verification]]")
        out.append(f"release = {_toml_str(r.release)}")
        out.append(f"strategy = {_toml_str(r.strategy)}")
        out.append(f"outcome = {_toml_str(r.outcome)}")
        out.append(f"date = {_toml_str(r.date)}")
        out.append(f"orch_doctor_version = {_toml_str(r.orch_doctor_version)}")
        if r.wall_s is not None:
            out.append(f"wall_s = {r.wall_s:.1f}")
        if r.note:
            out.append(f"note = {_toml_str(r.note[:300])}")
    return "\n".join(out) + "\n"


def read_records(path: Path) -> list[Record]:
    """The records already in ``path``, validated by the matrix loader."""
    if not path.is_file():
        return []
    return list(merge_documents([(str(path), read_toml(path))]).verifications)


def merge(old: Sequence[Record], new: Sequence[Record]) -> list[Record]:
    fresh = {(r.release, r.strategy) for r in new}
    return [r for r in old if (r.release, r.strategy) not in fresh] + list(new)


def release_capabilities(version: str, folder: Path | None = None) -> Capabilities:
    """Capabilities of a release's stored help, exactly as the live probe would parse them:
    the shipped help/<version>/, or ``folder`` (a release folder of another compat_matrix)."""
    from orch_doctor.matrix.recorded import folder_capabilities, stored_capabilities

    if folder is None:
        return stored_capabilities(version)
    return folder_capabilities(folder, f"<stored help of {version}>")


def allowed_strategies(version: str, folder: Path | None = None) -> list[PlanStrategyName]:
    """Strategies of the release's OpenCode line (1.x or 2.x, as its help reads) whose plan
    validates against its stored help (the shipped help/<version>/, or ``folder``)."""
    from orch_doctor.decide.rules import client_generation
    from orch_doctor.errors import PlanValidationError
    from orch_doctor.matrix.load import load_matrix
    from orch_doctor.verify.run import force_plan

    caps = release_capabilities(version, folder)
    generation = client_generation(caps)
    matrix = load_matrix()
    stand_in = ServerStatus(url="http://127.0.0.1:9", verdict="ok")
    request = SpawnRequest(directory="/tmp/project", model="opencode/big-pickle", prompt="x")
    names = []
    for name in PLAN_STRATEGIES:
        entry = matrix.strategy(name)
        if entry is not None and entry.generation != generation:
            continue  # the other line's strategy: its plan is never this release's to verify
        try:
            force_plan(name, caps, stand_in, request, matrix)
        except (PlanValidationError, ValueError):
            continue
        names.append(name)
    return names


def verify_release(version: str, binary: Path, today: str, timeout_s: float) -> list[Record]:
    """The decision's choice with a server, its choice without one, then every other strategy
    the release's flags allow (forced)."""
    from orch_doctor.errors import VerifyRefused
    from orch_doctor.matrix.load import load_matrix
    from orch_doctor.verify.run import VerifyOptions, VerifyReport, run_verify

    records: dict[str, Record] = {}

    def record(name: str, how: str, report: VerifyReport) -> None:
        outcome: Outcome = "verified" if report.verified else "failed"
        note = how if report.verified else f"{how}; {report.problem}"
        records[name] = Record(version, name, outcome, today, __version__, report.wall_s, note)
        print(f"{version:>9} {name:<20} {outcome:<9} {report.wall_s:5.1f}s  {note[:100]}")

    base = VerifyOptions(opencode=str(binary), model="opencode/big-pickle", timeout_s=timeout_s)
    for no_server, how in ((False, "chosen with a server"), (True, "chosen without a server")):
        report = run_verify(replace(base, no_server=no_server))
        if report.strategy and report.strategy != "none" and report.strategy not in records:
            record(report.strategy, how, report)
    for name in allowed_strategies(version):
        if name in records:
            continue
        entry = load_matrix().strategy(name)
        options = replace(base, strategy=name, no_server=entry is None or not entry.needs_server)
        try:
            record(name, "forced (not the decision's choice)", run_verify(options))
        except VerifyRefused as exc:
            records[name] = Record(version, name, "not-run", today, __version__, None, str(exc))
    return list(records.values())


def main(argv: Sequence[str] | None = None) -> int:
    from orch_doctor.matrix.recorded import release_meta, stored_releases
    from tools.track_releases import ensure_installed, installed_binary

    parser = argparse.ArgumentParser(
        prog="python -m tools.verify_matrix", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--release", action="append", help="only these releases (repeatable)")
    parser.add_argument("--install", action="store_true", help="install missing releases")
    parser.add_argument("--timeout", type=float, default=120.0, help="per verify run (s)")
    parser.add_argument("--output", type=Path, default=VERIFIED_FILE)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    today = dt.date.today().isoformat()
    releases = args.release or [
        v for v in stored_releases() if not release_meta(v).get("synthesized", False)
    ]
    new: list[Record] = []
    for version in releases:
        strategies = allowed_strategies(version)
        if not strategies:
            print(f"{version:>9} no strategy possible: nothing to verify")
            continue
        # 1.x: the platform package's binary; 2.x: the one its @opencode/cli install holds
        binary = ensure_installed(version) if args.install else installed_binary(version)
        if binary is None:
            new += [
                Record(version, s, "not-run", today, __version__, None, "release not installed")
                for s in strategies
            ]
            continue
        new += verify_release(version, binary, today, args.timeout)
    text = render(merge(read_records(args.output), new))
    if args.dry_run:
        print(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(new)} records to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
