"""Speed of orch-doctor against its targets, measured in one run on a real OpenCode release.

    .venv/bin/python -m bench.bench [--release 1.18.33] [--runs 5]

Prints, as medians over --runs: naive serial probing (version + every help, one after another),
the concurrent floor (the calls the decision needs, all at once, from a shell), orch-doctor cold
(empty cache), orch-doctor warm CLI (--format json, cache filled) and warm in-process
select_strategy — with the ratios against the targets: cold <= 1.1 x floor, warm CLI <= 0.25 s,
warm in-process <= 5 ms. Standard library only besides orch-doctor itself.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orch_doctor.doctor.context import DECISION_COMMANDS  # noqa: E402
from tools.releases import ensure_release  # noqa: E402


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def sh(script: str, env: dict[str, str]) -> None:
    subprocess.run(["sh", "-c", script], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, timeout=300)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="1.18.33")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    binary = str(ensure_release(args.release))
    q = shlex.quote(binary)
    work = Path(tempfile.mkdtemp(prefix="orch-doctor-bench-"))
    home = work / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_STATE_HOME": str(home / ".local/state")}  # fmt: skip
    env.pop("OPENCODE_SERVER_PASSWORD", None)

    helps = ["--help", "attach --help", "run --help", "serve --help"]
    serial = " ; ".join([f"{q} --version"] + [f"{q} {h}" for h in helps])
    needed = [f"{q} --version"] + [
        f"{q} --help" if c == "root" else f"{q} {c} --help" for c in DECISION_COMMANDS
    ]
    floor = " & ".join(needed) + " & wait"

    doctor = [sys.executable, "-m", "orch_doctor", "--opencode", binary, "--dir", str(work),
              "--no-discover", "--format", "json"]  # fmt: skip
    cold_dirs = iter(range(10_000))

    def cold() -> None:
        cache = work / f"cache-cold-{next(cold_dirs)}"
        subprocess.run(doctor, env={**env, "ORCH_DOCTOR_CACHE_DIR": str(cache)},
                       stdout=subprocess.DEVNULL, check=True, timeout=300)  # fmt: skip

    warm_env = {**env, "ORCH_DOCTOR_CACHE_DIR": str(work / "cache-warm")}

    def warm_cli() -> None:
        subprocess.run(doctor, env=warm_env, stdout=subprocess.DEVNULL, check=True, timeout=300)

    print(f"orch-doctor speed on OpenCode {args.release}, median of {args.runs} runs, "
          f"{os.cpu_count()} cores", flush=True)  # fmt: skip
    results: dict[str, float] = {}
    results["naive serial probing (version + 4 helps)"] = timed(lambda: sh(serial, env), args.runs)
    results[f"concurrent floor ({len(needed)} needed calls at once)"] = timed(
        lambda: sh(floor, env), args.runs
    )
    results["orch-doctor cold (empty cache)"] = timed(cold, args.runs)
    warm_cli()  # fill the cache
    results["orch-doctor warm CLI (--format json)"] = timed(warm_cli, max(args.runs, 10))

    os.environ["ORCH_DOCTOR_CACHE_DIR"] = warm_env["ORCH_DOCTOR_CACHE_DIR"]
    from orch_doctor.api import select_strategy
    from orch_doctor.matrix.load import load_matrix

    matrix = load_matrix()
    select_strategy(work, prompt="x", opencode=binary, matrix=matrix)
    results["warm in-process select_strategy"] = timed(
        lambda: select_strategy(work, prompt="x", opencode=binary, matrix=matrix), 200
    )

    width = max(map(len, results))
    for name, seconds in results.items():
        print(f"  {name:<{width}}  {seconds * 1000:9.1f} ms")
    floor_s = results[f"concurrent floor ({len(needed)} needed calls at once)"]
    cold_s = results["orch-doctor cold (empty cache)"]
    warm_s = results["orch-doctor warm CLI (--format json)"]
    inproc_s = results["warm in-process select_strategy"]
    serial_s = results["naive serial probing (version + 4 helps)"]
    print()
    rows = [
        ("cold / concurrent floor", cold_s / floor_s, "<= 1.10", cold_s / floor_s <= 1.10),
        ("warm CLI", warm_s, "<= 0.25 s", warm_s <= 0.25),
        ("warm in-process", inproc_s * 1000, "<= 5 ms", inproc_s <= 0.005),
        ("naive serial / cold", serial_s / cold_s, "(speed-up)", True),
    ]
    for name, value, target, ok in rows:
        print(f"  {name:<24} {value:8.3f}   target {target:<10} {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
