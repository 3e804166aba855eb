"""Speed of orch-doctor against its targets, measured in one run on a real OpenCode release.

    .venv/bin/python -m bench.bench [--release 1.18.33] [--runs 9] [--warm-runs 20]
                                    [--wait-runs 5] [--part all|decision|waits] [--out FILE]

Prints one line per figure (median over the runs), its target and whether it is met:

  warm `orch-doctor plan --format json`                   <= 0.15 s
  warm default `orch-doctor` (discovery on, no server)     <= 0.25 s
  warm in-process `select_strategy`                        <= 2 ms
  cold `orch-doctor --no-discover --format json`, recorded  <= 0.5 x the concurrent floor
  the same with --refresh (probing the binary)              <= 1.1 x the concurrent floor
  concurrent floor: the OpenCode calls the decision needs, all at once from a shell (reference)
  naive serial probing: version + every probed help, one after another (reference)

and what a user waits on (bench/_waits.py), in rounds:

  `verify` wall (start to exit)                <= 1.25 x (throwaway serve + its TUI, each alone)
  `verify` clean-up (its clean-up line to exit) <= 0.5 s
  `spawn` into a tmux window, running server   <= 1.15 x that server's TUI alone until ready
  8 `spawn`s at once into one server            all deliver; wall time beside one alone

The figures, the load average (the higher of the run's start and end) and the date go to
bench/last-run.json, which the README's figures are checked against.

The cold, floor and serial figures are measured in interleaved rounds, and the cold ratio is the
median of each cold run over the floor of its own round. "Warm" means the probe cache is filled;
"cold" starts from an empty cache. The package's bytecode is compiled first, as an install does
(else every run compiles the package again). Standard library only besides orch-doctor itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench._waits import Figure

ROOT = Path(__file__).resolve().parent.parent
LAST_RUN = ROOT / "bench" / "last-run.json"

#: the targets of issue 9, on a 2-core machine
PLAN_TARGET_S = 0.15
DEFAULT_TARGET_S = 0.25
IN_PROCESS_TARGET_S = 0.002
COLD_OVER_FLOOR = 1.10
#: issue 13: a recorded release is known without starting OpenCode
IDENTIFIED_OVER_FLOOR = 0.5
IN_PROCESS_RUNS = 200


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    target: str
    met: bool | None  # None: a reference figure, no target
    key: str = ""  # its name in bench/last-run.json (none: not written)
    value: float | None = None  # seconds, or the ratio when ``ratio`` is the measure
    limit: float | None = None  # the target's number
    ratio: float | None = None
    reference: float | None = None  # seconds the ratio is over
    delivered: tuple[int, int] | None = None  # (delivered, started) of spawns at once

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls of ``fn`` in seconds."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def interleaved(fns: Sequence[Callable[[], object]], runs: int) -> list[list[float]]:
    """Wall times of ``runs`` rounds of ``fns``, one call of each per round, so that figures
    compared with each other see the same machine load; ``result[i]`` holds ``fns[i]``'s."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, samples, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return samples


#: no measured command may run longer than this (it is killed, and the figure fails)
CHILD_TIMEOUT_S = 300.0


def run(cmd: Sequence[str], env: dict[str, str], *, cwd: Path | None = None,
        quiet_stderr: bool = False) -> int:  # fmt: skip
    """Run ``cmd`` to its end and return its exit code, timed exactly: the parent blocks in
    ``waitpid`` (``subprocess.run(timeout=...)`` polls with sleeps of up to 50 ms, which would add
    tens of milliseconds to every figure); a watchdog kills a child that outlives
    :data:`CHILD_TIMEOUT_S`."""
    import threading

    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL if quiet_stderr else None)  # fmt: skip
    watchdog = threading.Timer(CHILD_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        code = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:  # interrupted: the child goes too
            proc.kill()
            proc.wait()
    if code < 0:
        raise RuntimeError(f"{cmd[0]} ended by signal {-code} (over {CHILD_TIMEOUT_S:g} s?)")
    return code


def sh(script: str, env: dict[str, str]) -> None:
    run(["sh", "-c", script], env, quiet_stderr=True)


def orch_doctor_argv() -> list[str]:
    """The ``orch-doctor`` console script of this interpreter's environment (what users run),
    else ``python -m orch_doctor``."""
    script = Path(sys.executable).parent / "orch-doctor"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "orch_doctor"]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def render(rows: Sequence[Row]) -> str:
    width = max(len(r.figure) for r in rows)
    mwidth = max(len(r.measured) for r in rows)
    twidth = max(len(r.target) for r in rows)
    lines = [f"  {'figure':<{width}}  {'measured':>{mwidth}}  {'target':<{twidth}}  result"]
    for r in rows:
        lines.append(
            f"  {r.figure:<{width}}  {r.measured:>{mwidth}}  {r.target:<{twidth}}  {r.verdict}"
        )
    return "\n".join(line.rstrip() for line in lines)


def wait_rows(figures: Sequence[Figure]) -> list[Row]:
    rows = []
    for f in figures:
        if f.target_of == "ratio":
            measured, target = f"{f.ratio:8.2f} x", f"<= {f.target:.2f} x"
        elif f.target is not None:
            measured, target = ms(f.value), f"<= {f.target * 1000:.0f} ms"
        elif f.delivered is not None:
            done, started = f.delivered
            measured = f"{f.value:8.2f} s"
            target = f"all deliver: {done} of {started}  ({f.ratio:.2f} x one alone)"
        else:
            measured, target = f"{f.value:8.2f} s", ""
        if f.target_of == "ratio" and f.reference is not None:
            target += f"  ({f.value:.2f} s over {f.reference:.2f} s)"
        rows.append(Row(f.label, measured, target + (f"  {f.note}" if f.note else ""), f.met,
                        key=f.key, value=f.value, limit=f.target, ratio=f.ratio,
                        reference=f.reference, delivered=f.delivered))  # fmt: skip
    return rows


def last_run(rows: Sequence[Row], release: str, loads: Sequence[float]) -> dict[str, object]:
    """bench/last-run.json: every figure with a key, with the run's date and load average."""
    import datetime

    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    loadavg = [round(x, 2) for x in loads]
    figures = {
        r.key: {
            "value": round(r.value, 4) if r.value is not None and r.value == r.value else None,
            "unit": "s",
            "target": r.limit,
            "ratio": round(r.ratio, 3) if r.ratio is not None else None,
            "reference": round(r.reference, 4) if r.reference is not None else None,
            "pass": r.met,
            **({"delivered": list(r.delivered)} if r.delivered else {}),
            "loadavg": loadavg,
            "date": date,
        }
        for r in rows
        if r.key
    }
    return {"release": release, "cores": os.cpu_count(), "date": date, "loadavg": loadavg,
            "figures": figures}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench",
        description="Measure orch-doctor's speed against its targets on a real OpenCode release.",
    )
    parser.add_argument(
        "--release", default="1.18.33", help="OpenCode release (default %(default)s)"
    )
    parser.add_argument(
        "--runs", type=int, default=9, help="runs of the cold, floor and serial figures"
    )
    parser.add_argument(
        "--warm-runs", type=int, default=20, help="runs of each warm CLI figure (default 20)"
    )
    parser.add_argument(
        "--wait-runs", type=int, default=5,
        help="rounds of the verify and spawn figures (default %(default)s; ~1 min each)",
    )  # fmt: skip
    parser.add_argument(
        "--part", choices=("all", "decision", "waits"), default="all",
        help="measure the decision's figures, the waits (verify, spawn) or both (default)",
    )  # fmt: skip
    parser.add_argument(
        "--out", default=str(LAST_RUN),
        help="where the figures go as JSON (default bench/last-run.json; '' writes none)",
    )  # fmt: skip
    return parser


def compile_package() -> None:
    """As installed: pip writes every module's bytecode at install time, while an editable
    checkout (and PYTHONDONTWRITEBYTECODE) would have each run of every part compile the
    package again."""
    import compileall

    compileall.compile_dir(ROOT / "orch_doctor", quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    compile_package()
    with tempfile.TemporaryDirectory(prefix="orch-doctor-bench-") as work:
        loads_before = os.getloadavg()
        rows = measure(args, Path(work)) if args.part != "waits" else []
        if args.part != "decision":
            rows += measure_wait_rows(args, Path(work))
        loads = [max(a, b) for a, b in zip(loads_before, os.getloadavg(), strict=True)]
        print(render(rows))
        print("load average (1, 5, 15 min; the higher of start and end): "
              + ", ".join(f"{x:.2f}" for x in loads))  # fmt: skip
    if args.out:
        data = last_run(rows, args.release, loads)
        Path(args.out).write_text(json.dumps(data, indent=2) + "\n", "utf-8")
        print(f"written: {args.out}")
    return 0


def measure_wait_rows(args: argparse.Namespace, work: Path) -> list[Row]:
    """The waits (bench/_waits.py): verify and spawn against OpenCode's own floor."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench._waits import measure_waits
    from orch_doctor.verify.throwaway import isolated_env
    from tools.releases import ensure_release

    binary = str(ensure_release(args.release, quiet=False))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"verify and spawn on OpenCode {args.release}: medians of {args.wait_runs} rounds; "
          f"load average {load}", flush=True)  # fmt: skip
    (work / "waits").mkdir()
    figures = measure_waits(
        binary, args.release, orch_doctor_argv(), work / "waits", args.wait_runs, ROOT,
        isolated_env, lambda text: print(f"  {text}", flush=True),
    )  # fmt: skip
    return wait_rows(figures)


def measure(args: argparse.Namespace, work: Path) -> list[Row]:
    """Print the header, measure every figure in ``work`` (a scratch folder) and return them."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from orch_doctor.probe.types import DECISION_COMMANDS, PROBED_COMMANDS
    from orch_doctor.server.discovery import find_server_processes
    from orch_doctor.verify.throwaway import isolated_env
    from tools.releases import ensure_release

    binary = str(ensure_release(args.release, quiet=False))
    q = shlex.quote(binary)
    project = work / "project"
    project.mkdir()
    env = isolated_env(work / "home")

    def help_call(command: str) -> str:
        return f"{q} --help" if command == "root" else f"{q} {command} --help"

    serial = " ; ".join([f"{q} --version"] + [help_call(c) for c in PROBED_COMMANDS])
    needed = [f"{q} --version"] + [help_call(c) for c in DECISION_COMMANDS]
    floor = " & ".join(needed) + " & wait"

    cli = orch_doctor_argv()
    cold_doctor = [*cli, "--opencode", binary, "--dir", str(project), "--no-discover",
                   "--format", "json"]  # fmt: skip
    plan = [*cli, "plan", "--opencode", binary, "--dir", str(project), "--format", "json"]
    cold_caches = iter(range(10_000))

    def cold(*extra: str) -> None:
        cache = work / f"cache-cold-{next(cold_caches)}"
        code = run([*cold_doctor, *extra], {**env, "ORCH_DOCTOR_CACHE_DIR": str(cache)})
        if code not in (0, 1):
            raise RuntimeError(f"orch-doctor exited {code}")

    warm_env = {**env, "ORCH_DOCTOR_CACHE_DIR": str(work / "cache-warm")}

    def warm_plan() -> None:
        if run(plan, warm_env) != 0:
            raise RuntimeError("orch-doctor plan failed")

    def warm_default() -> None:
        # no flags at all: the binary from OPENCODE_BIN, the current directory, discovery on
        code = run(cli, {**warm_env, "OPENCODE_BIN": binary}, cwd=project)
        if code not in (0, 1):
            raise RuntimeError(f"orch-doctor exited {code}")

    servers = find_server_processes()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"orch-doctor speed on OpenCode {args.release}, {os.cpu_count()} cores; medians of "
          f"{args.runs} cold/floor/serial runs, {args.warm_runs} warm CLI runs, "
          f"{IN_PROCESS_RUNS} in-process calls; load average {load}", flush=True)  # fmt: skip
    if servers:
        print(f"note: {len(servers)} OpenCode server(s) running on this machine: the default "
              "doctor's discovery finds and probes them", flush=True)  # fmt: skip

    # cold: a recorded release is known by its digest (no OpenCode call); --refresh makes the
    # doctor probe the binary as it does an unrecorded one
    floors, colds, probing, serials = interleaved(
        [lambda: sh(floor, env), cold, lambda: cold("--refresh"), lambda: sh(serial, env)],
        args.runs,
    )
    floor_s, cold_s, probing_s, serial_s = map(statistics.median, (floors, colds, probing, serials))
    # each cold run against the floor of its own round (the load drifts between rounds)
    ratio = statistics.median(c / f for c, f in zip(colds, floors, strict=True))
    probing_ratio = statistics.median(c / f for c, f in zip(probing, floors, strict=True))
    warm_plan()  # fills the warm cache
    warm_default()
    plan_s = timed(warm_plan, args.warm_runs)
    default_s = timed(warm_default, args.warm_runs)

    os.environ["ORCH_DOCTOR_CACHE_DIR"] = warm_env["ORCH_DOCTOR_CACHE_DIR"]
    from orch_doctor.api import select_strategy
    from orch_doctor.matrix.load import load_matrix

    matrix = load_matrix()

    def in_process() -> None:  # as orch calls it when it opts out of discovery
        select_strategy(project, prompt="x", opencode=binary, matrix=matrix, discover=False)

    in_process()
    in_process_s = timed(in_process, IN_PROCESS_RUNS)

    rows = [
        Row("warm `orch-doctor plan --format json`", ms(plan_s), "<= 150 ms",
            plan_s <= PLAN_TARGET_S, "plan_warm", plan_s, PLAN_TARGET_S),
        Row("warm default `orch-doctor` (discovery on)", ms(default_s), "<= 250 ms",
            default_s <= DEFAULT_TARGET_S, "doctor_warm", default_s, DEFAULT_TARGET_S),
        Row("warm in-process select_strategy", f"{in_process_s * 1000:8.2f} ms", "<= 2 ms",
            in_process_s <= IN_PROCESS_TARGET_S, "select_strategy", in_process_s,
            IN_PROCESS_TARGET_S),
        Row("cold, recorded release (known by digest) / floor", f"{ratio:8.2f} x",
            f"<= {IDENTIFIED_OVER_FLOOR:.2f} x", ratio <= IDENTIFIED_OVER_FLOOR, "doctor_cold",
            cold_s, IDENTIFIED_OVER_FLOOR, ratio, floor_s),
        Row("  cold `orch-doctor --no-discover`", ms(cold_s), "", None),
        Row("cold, probing the binary (--refresh) / floor", f"{probing_ratio:8.2f} x",
            f"<= {COLD_OVER_FLOOR:.2f} x", probing_ratio <= COLD_OVER_FLOOR,
            "doctor_cold_refresh", probing_s, COLD_OVER_FLOOR, probing_ratio, floor_s),
        Row("  cold `orch-doctor --no-discover --refresh`", ms(probing_s), "", None),
        Row(f"  concurrent floor ({len(needed)} needed calls at once)", ms(floor_s), "", None),
        Row(f"naive serial ({len(PROBED_COMMANDS) + 1} calls in a row)", ms(serial_s),
            f"({serial_s / cold_s:.1f} x cold)", None),
    ]  # fmt: skip
    return rows + resolution_figures(project, binary, matrix)


def resolution_figures(project: Path, binary: str, matrix: object) -> list[Row]:
    """What the request resolution costs warm in-process: ``select_strategy`` discovering as
    the doctor does (no ``server_url``), and with ``server_url`` and a server status reused."""
    from orch_doctor.api import ServerStatus, select_strategy
    from orch_doctor.matrix.types import Matrix

    assert isinstance(matrix, Matrix)

    def discovering() -> None:
        select_strategy(project, prompt="x", opencode=binary, matrix=matrix)

    status = ServerStatus(url="http://127.0.0.1:9", verdict="ok", is_opencode=True,
                          version="1.18.33", directory=str(project))  # fmt: skip

    def named() -> None:
        select_strategy(project, prompt="x", opencode=binary, matrix=matrix,
                        server_url=status.url, server=status)  # fmt: skip

    discovering()
    discover_s = timed(discovering, IN_PROCESS_RUNS)
    named()
    named_s = timed(named, IN_PROCESS_RUNS)
    return [
        Row("warm select_strategy, discovering (no server_url)", f"{discover_s * 1000:8.2f} ms",
            "", None),
        Row("warm select_strategy, server_url + status reused", f"{named_s * 1000:8.2f} ms",
            "<= 2 ms", named_s <= IN_PROCESS_TARGET_S),
    ]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
