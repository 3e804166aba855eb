"""Fault catalogue: concurrency (issue 10). orch spawns several agents at once, CI runs several
jobs on one machine: runs that share the probe cache, threads of one orch process, verify runs
side by side. Each case expects no traceback, the same answer as a lone run, and nothing left
behind (no temporary cache file, no process, no scratch folder, no tmux server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from orch_doctor._util import cache

RUNS = 6


def cache_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(entries, anything else) in a cache folder."""
    entries, other = [], []
    for path in folder.iterdir():
        (
            entries if path.name.endswith(".json") and not path.name.startswith(".") else other
        ).append(path)
    return entries, other


@pytest.mark.real
def test_parallel_cold_plans_share_one_cache(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    """Case parallel-cold-plans: six `orch-doctor plan --format json` processes start at once
    on an empty cache. Expect: all exit 0 with the same plan, every cache file a whole entry,
    no temporary file left."""
    release = str(opencode_release("1.18.33"))
    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "ORCH_DOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "orch_doctor", "plan", "--opencode", release,
            "--dir", str(project), "--prompt", "hi", "--no-discover",
            "--format", "json"]  # fmt: skip
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(RUNS)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        assert b"Traceback" not in err
        outputs.append(json.loads(out))
    assert all(o == outputs[0] for o in outputs)
    assert outputs[0]["strategy"] == "standalone-prompt"
    entries, other = cache_files(tmp_path / "cache")
    assert entries and other == []
    for entry in entries:
        record = json.loads(entry.read_text())
        assert record["format"] == cache.FORMAT and isinstance(record["value"], dict)


@pytest.mark.real
def test_threads_of_one_process_get_the_same_decision(
    opencode_release: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case threads-select-strategy: orch calls select_strategy from six threads at once on an
    empty cache. Expect: no exception, the same strategy and argv in every thread."""
    from orch_doctor.api import select_strategy

    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    release = str(opencode_release("1.18.33"))
    project = tmp_path / "project"
    project.mkdir()
    barrier = threading.Barrier(RUNS)

    def decide(i: int) -> Any:
        barrier.wait(timeout=30)
        return select_strategy(
            project, prompt=f"agent {i}", opencode=release, env={}, discover=False
        )

    with ThreadPoolExecutor(RUNS) as pool:
        decisions = list(pool.map(decide, range(RUNS)))
    assert {d.strategy for d in decisions} == {"standalone-prompt"}
    argvs = {
        tuple(a for a in d.plan.steps[0].argv if not a.startswith("agent ")) for d in decisions
    }
    assert len(argvs) == 1
    assert cache_files(tmp_path / "cache")[1] == []


def test_cache_writers_pruners_and_readers_at_once(tmp_path: Path) -> None:
    """Case cache-store-prune-race: four threads store 60 entries each (more than a kind keeps)
    while two others read and prune. Expect: nothing raises, a read is a miss or exactly what
    was stored, no temporary file left, at most KEEP_PER_KIND entries per kind at the end."""
    folder = tmp_path / "cache"
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        try:
            for i in range(60):
                cache.store("probe", {"w": w, "i": i}, {"n": i, "w": w}, folder)
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                for w in range(4):
                    for i in (0, 30, 59):
                        got = cache.load("probe", {"w": w, "i": i}, folder)
                        assert got is None or got == {"n": i, "w": w}, got
                cache.prune(folder)
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    assert errors == []
    cache.prune(folder)
    entries, other = cache_files(folder)
    assert other == []
    assert 0 < len(entries) <= cache.KEEP_PER_KIND


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="/proc and tmux checks")
def test_two_verify_runs_side_by_side(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    """Case parallel-verify: two `orch-doctor verify` runs of 1.18.33 at once. Expect: both
    verified, each on its own server and tmux, and nothing of either left afterwards."""
    from tests.test_verify import assert_clean, tmux_sockets

    sockets = tmux_sockets()
    release = str(opencode_release("1.18.33"))
    env = {**os.environ, "ORCH_DOCTOR_TMPDIR": str(tmp_path)}
    argv = [sys.executable, "-m", "orch_doctor", "verify", "--opencode", release,
            "--format", "json"]  # fmt: skip
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, (out + err).decode(errors="replace")[-3000:]
        reports.append(json.loads(out))
    assert all(r["verified"] for r in reports)
    assert reports[0]["server_url"] != reports[1]["server_url"]
    sessions = [r["confirmation"]["session_id"] for r in reports]
    assert all(sessions) and sessions[0] != sessions[1]
    assert_clean(tmp_path, sockets)
