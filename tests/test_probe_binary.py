"""The binary probe against real releases, and against binaries that misbehave."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orch_doctor.matrix.recorded import load_help_texts, stored_capabilities
from orch_doctor.probe.binary import start_probe, start_probe_installed
from tests.support.schemas import assert_valid

REAL = ["1.0.152", "1.18.33"]


@pytest.fixture(scope="module")
def real_caps(opencode_release: Callable[[str], Path], opencode_env: dict[str, str]) -> dict:
    return {v: start_probe(str(opencode_release(v)), env=opencode_env).result() for v in REAL}


@pytest.mark.parametrize("version", REAL)
def test_real_probe_matches_the_stored_fixture(real_caps: dict, version: str) -> None:
    live = real_caps[version]
    stored = stored_capabilities(version)
    assert live.version is not None and live.version.text == version and live.version.release
    assert set(live.commands) == {"root", "attach", "run", "serve"}
    for name in ("root", "attach", "run", "serve"):
        assert live.command(name).exists == stored.command(name).exists
        assert dict(live.command(name).options) == dict(stored.command(name).options), name
    assert live.warnings == ()


def test_cli_json_on_real_releases(
    opencode_release: Callable[[str], Path], opencode_env: dict[str, str]
) -> None:
    out = {}
    for version in REAL:
        proc = subprocess.run(
            [sys.executable, "-m", "orch_doctor", "probe", "--opencode",
             str(opencode_release(version)), "--format", "json"],
            capture_output=True, text=True, timeout=120, env=opencode_env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out[version] = json.loads(proc.stdout)
        assert_valid("probe", out[version])
    old, new = out["1.0.152"], out["1.18.33"]
    assert old["binary"]["version"] == "1.0.152" and old["binary"]["release"] is True
    assert old["commands"]["attach"]["exists"] is True
    assert set(old["commands"]["attach"]["options"]) == {
        "help", "version", "print-logs", "log-level", "dir",
    }  # fmt: skip
    assert new["commands"]["attach"]["options"]["session"]["aliases"] == ["s"]
    assert new["commands"]["attach"]["options"]["session"]["type"] == "string"
    assert new["commands"]["root"]["options"]["no-replay"]["type"] == "boolean"
    for data in (old, new):
        assert set(data["binary"]) >= {"path", "version", "version_raw", "release"}
        assert data["discovery"]["chosen"]["source"] == "--opencode"


def test_cli_text_renders(opencode_release: Callable[[str], Path], opencode_env: dict) -> None:
    from click.testing import CliRunner

    from orch_doctor.cli import main

    result = CliRunner().invoke(
        main, ["probe", "--opencode", str(opencode_release("1.0.152"))], env=opencode_env
    )
    assert result.exit_code == 0, result.output
    assert "OpenCode 1.0.152" in result.output and "--dir" in result.output
    # usage strings hold brackets: printed as text, not taken for rich markup
    assert "root: opencode [project]" in result.output
    assert "attach: opencode attach <url>" in result.output


# --- binaries that misbehave (fakes: a real OpenCode cannot be made to do these) -------------


def fake(tmp_path: Path, name: str, body: str) -> Path:
    """A fake opencode: prints 1.0.152's recorded --version, does ``body`` for help."""
    path = tmp_path / name
    path.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 1.0.152; exit 0; fi\n' + body + "\n"
    )
    path.chmod(0o755)
    return path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow  # waits for the 2 s time-out
def test_hanging_binary_times_out_and_its_group_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    binary = fake(
        tmp_path, "hang", f"sleep 300 & echo $! >> {pids}\necho $$ >> {pids}\nsleep 300\n"
    )
    start = time.monotonic()
    caps = start_probe(str(binary), timeout_s=2.0).result()
    elapsed = time.monotonic() - start
    assert elapsed < 2.0 + 3.0
    assert caps.version is not None and caps.version.text == "1.0.152"
    assert any("timed out" in w for w in caps.warnings)
    assert not caps.command("root").exists
    time.sleep(0.3)
    leftover = [int(p) for p in pids.read_text().split() if _alive(int(p))]
    assert leftover == []


def test_crashing_binary(tmp_path: Path) -> None:
    binary = fake(tmp_path, "crash", "kill -SEGV $$")
    caps = start_probe(str(binary), timeout_s=10).result()
    assert not caps.command("root").exists
    assert any("root help unusable" in w for w in caps.warnings)


def test_binary_garbage(tmp_path: Path) -> None:
    binary = fake(tmp_path, "garbage", "head -c 300000 /dev/urandom")
    caps = start_probe(str(binary), timeout_s=10).result()
    assert caps.version is not None and caps.version.text == "1.0.152"
    assert not caps.command("root").options
    assert caps.warnings  # said, not crashed


@pytest.mark.slow  # 10 MB through a real pipe until the cap
def test_ten_megabytes_of_output_is_cut(tmp_path: Path) -> None:
    real_root = load_help_texts("1.0.152")["root"].text.replace("'", "")
    body = f"printf '%s' '{real_root}'\nyes '      --flood  text  [string]' | head -c 10000000"
    binary = fake(tmp_path, "flood", body)
    start = time.monotonic()
    caps = start_probe(str(binary), timeout_s=20).result()
    assert time.monotonic() - start < 20
    root = caps.command("root")
    assert root.exists and "session" in root.options and "flood" in root.options
    assert any("size cap" in w for w in root.warnings)


def test_not_executable_and_directory_via_probe(tmp_path: Path) -> None:
    plain = tmp_path / "opencode"
    plain.write_text("#!/bin/sh\necho 1.0.152\n")
    for target, problem in ((plain, "not executable"), (tmp_path, "directory")):
        caps = start_probe_installed(str(target), {"PATH": "", "HOME": str(tmp_path)}).result()
        assert caps.binary_path is None
        assert caps.finding is not None and caps.finding.problem is not None
        assert problem in caps.finding.problem
        # a command where one mends it; a directory given with --opencode: the problem says
        # which file inside it to give
        assert caps.finding.fix or "bin/opencode" in caps.finding.problem


def test_cli_reports_a_missing_binary_with_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable), "HOME": str(tmp_path)}
    env.pop("OPENCODE_BIN", None)
    env.pop("OPENCODE_BIN_PATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "probe", "--opencode", str(tmp_path / "none"),
         "--format", "json"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["binary"]["path"] is None
    assert "missing" in data["discovery"]["problem"]
    assert "Traceback" not in proc.stderr


# --- the cache and the digest: `probe` is warm like the other commands ------------------------


def _probe_cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    from click.testing import CliRunner

    from orch_doctor.cli import main

    result = CliRunner().invoke(main, ["probe", *args], env=env)
    return result.exit_code, result.output


def test_probe_reads_the_cache_and_refresh_runs_the_binary_again(tmp_path: Path) -> None:
    """Counting the calls needs a binary that logs them (a fake); what it prints is 1.0.152's."""
    calls = tmp_path / "calls"
    root = load_help_texts("1.0.152")["root"].text.replace("'", "")
    binary = fake(tmp_path, "opencode", f"printf '%s' '{root}'")
    binary.write_text(
        binary.read_text().replace("#!/bin/sh\n", f'#!/bin/sh\necho "$@" >> {calls}\n')
    )
    env = {"ORCH_DOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PATH": "", "HOME": str(tmp_path)}
    args = ["--opencode", str(binary), "--format", "json"]

    def run(*extra: str) -> tuple[dict, int]:
        before = len(calls.read_text().splitlines()) if calls.exists() else 0
        code, out = _probe_cli([*args, *extra], env)
        assert code == 0, out
        after = len(calls.read_text().splitlines())
        return json.loads(out), after - before

    cold, cold_calls = run()
    warm, warm_calls = run()
    fresh, fresh_calls = run("--refresh")
    again, again_calls = run()
    assert cold_calls == 5 and warm_calls == 0 and fresh_calls == 5 and again_calls == 0
    assert cold == warm == fresh == again
    assert cold["binary"]["version"] == "1.0.152" and cold["commands"]["root"]["exists"]


def test_a_failed_probe_is_not_cached(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    binary = fake(tmp_path, "opencode", f'echo "$@" >> {calls}\nexit 3')
    env = {"ORCH_DOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PATH": "", "HOME": str(tmp_path)}
    for expected in (1, 2):
        code, _ = _probe_cli(["--opencode", str(binary)], env)
        assert code == 1
        assert len(calls.read_text().splitlines()) == 4 * expected  # each help asked every time


def test_probe_of_a_published_release_is_known_by_digest_and_refresh_measures_it(
    opencode_release: Callable[[str], Path], opencode_env: dict[str, str], tmp_path: Path
) -> None:
    """1.18.33 is identified by its digest and cached; the warm run reads the cache (a marker
    put into the entry shows), --refresh runs the binary and writes the entry afresh."""
    env = {**opencode_env, "ORCH_DOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    args = ["--opencode", str(opencode_release("1.18.33")), "--format", "json"]
    code, out = _probe_cli(args, env)
    assert code == 0, out
    cold = json.loads(out)
    assert cold["binary"]["identified_as"].startswith("identical to published 1.18.33")
    (entry,) = (tmp_path / "cache").glob("probe-*.json")
    text = entry.read_text()
    marker = "Marker written into the cache entry"
    described = cold["commands"]["attach"]["options"]["session"]["description"]
    assert described and json.dumps(described)[1:-1] in text
    entry.write_text(text.replace(json.dumps(described)[1:-1], marker))
    code, out = _probe_cli(args, env)
    assert json.loads(out)["commands"]["attach"]["options"]["session"]["description"] == marker
    code, out = _probe_cli([*args, "--refresh"], env)
    assert code == 0, out
    fresh = json.loads(out)
    assert fresh == cold  # measured: what the recorded help said, and still named as published
    code, out = _probe_cli(args, env)
    assert json.loads(out) == cold
