"""The doctor on real releases: every output format, exit codes, cache, policy, mounting."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from orch_doctor.cli import main
from orch_doctor.doctor.checks import CHECK_IDS
from tests.support.opencode import RealServer
from tests.support.schemas import assert_valid


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(folder))
    return folder


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def doctor_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    code, out = doctor(*args, "--format", "json", env=env)
    data = json.loads(out)
    assert_valid("doctor", data)
    return code, data


def statuses(data: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in data["checks"]}


# --- formats on real releases, with and without a real server ---------------------------------


@pytest.mark.parametrize(
    ("version", "strategy"), [("1.18.33", "attach-session-api"), ("1.0.152", "attach-tui-api")]
)
def test_json_with_a_real_server(
    version: str, strategy: str, opencode_release: Callable[[str], Path],
    real_servers: Callable[..., RealServer], tmp_path: Path, cache_dir: Path,
) -> None:  # fmt: skip
    server = real_servers(version)
    # a 1.0.x attach TUI works in the server's directory: spawn there (elsewhere is refused)
    directory = server.directory if version == "1.0.152" else tmp_path
    code, data = doctor_json(
        "--opencode", str(opencode_release(version)), "--server", server.url,
        "--dir", str(directory), "--model", "opencode/big-pickle",
    )  # fmt: skip
    assert data["decision"]["strategy"] == strategy
    assert data["server"]["url"] == server.url
    assert data["capabilities"]["binary"]["version"] == version
    checks = statuses(data)
    assert set(checks) == CHECK_IDS
    if version == "1.0.152":  # no auth and CORS *: the security finding fails the doctor
        assert checks["server"] == "fail" and code == 1
        server_check = next(c for c in data["checks"] if c["id"] == "server")
        assert "CVE-2026-22812" in server_check["summary"] and server_check["fix"]
    else:
        assert checks["server"] == "pass" and checks["model"] == "pass" and code == 0


def test_json_without_server(opencode_release: Callable[[str], Path], tmp_path: Path,
                             cache_dir: Path) -> None:  # fmt: skip
    code, data = doctor_json(
        "--opencode", str(opencode_release("1.18.33")), "--dir", str(tmp_path), "--no-discover"
    )
    assert code == 0 and data["status"] == "pass" and data["server"] is None
    assert statuses(data)["server"] == "skip"
    assert data["decision"]["strategy"] == "standalone-prompt"


def test_junit_and_github(opencode_release: Callable[[str], Path], tmp_path: Path,
                          cache_dir: Path) -> None:  # fmt: skip
    binary = str(opencode_release("1.0.152"))
    missing = str(tmp_path / "missing")
    code, out = doctor("--opencode", binary, "--dir", missing, "--no-discover", "--format", "junit")
    assert code == 1
    root = ET.fromstring(out)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == str(len(CHECK_IDS))
    cases = {c.get("name", "").split(":")[0]: c for c in suite.iter("testcase")}
    assert set(cases) == CHECK_IDS
    assert cases["directory"].find("failure") is not None
    assert cases["server"].find("skipped") is not None
    # no plan either: the decision says `none` for a --dir that does not exist
    assert cases["strategy"].find("failure") is not None
    assert suite.get("failures") == "2"

    summary = tmp_path / "summary.md"
    code, out = doctor(
        "--opencode", binary, "--dir", missing, "--no-discover", "--format", "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    directory_error = next(e for e in errors if "directory%3A spawn directory" in e)
    assert "%0Afix: mkdir -p -- " in directory_error
    assert all(line.startswith("::") for line in out.splitlines() if line)
    assert "::notice" not in out  # passed checks are in the summary, not annotations
    text = summary.read_text()
    assert text.startswith("## orch-doctor") and "| ❌ | fail | spawn directory |" in text


def test_github_green_run_is_one_notice_line(opencode_release: Callable[[str], Path],
                                             tmp_path: Path, cache_dir: Path) -> None:  # fmt: skip
    """Outside Actions (no step summary) a green run still says it passed, in one line."""
    result = CliRunner().invoke(
        main,
        ["--opencode", str(opencode_release("1.18.33")), "--dir", str(tmp_path), "--no-discover",
         "--format", "github"],
        env={"GITHUB_STEP_SUMMARY": None, "GITHUB_ACTIONS": None},
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert re.fullmatch(
        r"::notice title=orch-doctor::PASS: \d+ passed, 0 warnings, 0 failed, \d+ skipped "
        r"\(\d+\.\ds\); strategy: standalone-prompt",
        lines[0],
    ), lines[0]


def test_text_plain_without_tty(opencode_release: Callable[[str], Path], tmp_path: Path,
                                cache_dir: Path) -> None:  # fmt: skip
    code, out = doctor("--opencode", str(opencode_release("1.18.33")), "--dir", str(tmp_path),
                       "--no-discover")  # fmt: skip
    assert code == 0 and "\x1b[" not in out
    assert "✓ OpenCode installed" in out and "PASS:" in out
    code, verbose = doctor("--opencode", str(opencode_release("1.18.33")), "--dir",
                           str(tmp_path), "--no-discover", "-v")  # fmt: skip
    assert "step: [process] start a standalone TUI" in verbose and len(verbose) > len(out)


# --- exit codes --------------------------------------------------------------------------------


def test_warn_strict_fail_and_usage(opencode_release: Callable[[str], Path], tmp_path: Path,
                                    cache_dir: Path) -> None:  # fmt: skip
    bins = tmp_path / "bins"
    for name, version in (("a", "1.18.33"), ("b", "1.0.152")):
        (bins / name).mkdir(parents=True)
        (bins / name / "opencode").symlink_to(opencode_release(version))
    env = {"PATH": f"{bins / 'a'}{os.pathsep}{bins / 'b'}{os.pathsep}{os.environ['PATH']}"}
    code, data = doctor_json("--dir", str(tmp_path), "--no-discover", env=env)
    assert statuses(data)["opencode-found"] == "warn" and code == 0  # shadowing: a warning
    found = next(c for c in data["checks"] if c["id"] == "opencode-found")
    assert any("1.0.152" in d for d in found["details"])
    code, data = doctor_json("--dir", str(tmp_path), "--no-discover", "--strict", env=env)
    assert code == 1 and data["exit_code"] == 1
    code, _ = doctor("--opencode", str(tmp_path / "nope"), "--dir", str(tmp_path),
                     "--no-discover")  # fmt: skip
    assert code == 1
    code, _ = doctor("--no-such-flag")
    assert code == 2
    code, _ = doctor("--format", "yaml")
    assert code == 2


@pytest.mark.parametrize("how", ["--opencode", "OPENCODE_BIN"])
def test_a_binary_named_by_the_caller_shadows_nothing(
    how: str, opencode_release: Callable[[str], Path], tmp_path: Path, cache_dir: Path
) -> None:
    """Two real releases on PATH; the caller names the second one: what else is installed is
    said (-v), not warned about, and --strict does not fail on it."""
    bins = tmp_path / "bins"
    for name, version in (("a", "1.0.152"), ("b", "1.18.33")):
        (bins / name).mkdir(parents=True)
        (bins / name / "opencode").symlink_to(opencode_release(version))
    named = str(bins / "b" / "opencode")
    path = f"{bins / 'a'}{os.pathsep}{bins / 'b'}{os.pathsep}{os.environ['PATH']}"
    env = {"PATH": path, "HOME": str(tmp_path / "home")}
    args = ["--dir", str(tmp_path), "--no-discover", "--strict"]
    if how == "--opencode":
        args += ["--opencode", named]
    else:
        env["OPENCODE_BIN"] = named
    code, data = doctor_json(*args, env=env)
    found = next(c for c in data["checks"] if c["id"] == "opencode-found")
    assert found["status"] == "pass" and found["fix"] is None, found
    assert data["capabilities"]["binary"]["version"] == "1.18.33"
    also = [d for d in found["details"] if d.startswith("also installed, not run")]
    assert len(also) == 1 and str(bins / "a" / "opencode") in also[0] and "1.0.152" in also[0]
    assert code == (1 if "warn" in statuses(data).values() else 0)
    code, out = doctor(*args, "-v", env=env)
    assert "shadows" not in out and "also installed, not run" in out
    probe_args = ["probe", "--opencode", named] if how == "--opencode" else ["probe"]
    code, out = doctor(*probe_args, env=env)
    assert code == 0 and "shadows" not in out
    assert f"also installed, not run: {bins / 'a' / 'opencode'} (PATH, version 1.0.152)" in out
    # found by looking (nothing named): the same two installs are a warning
    env.pop("OPENCODE_BIN", None)
    code, out = doctor("probe", env={**env, "PATH": f"{bins / 'b'}{os.pathsep}{bins / 'a'}"})
    assert f"shadows {bins / 'a' / 'opencode'} (PATH, version 1.0.152)" in out


def test_a_crashing_check_is_a_failed_check(tmp_path: Path) -> None:
    from orch_doctor.doctor.checks import CHECKS, Check
    from orch_doctor.doctor.context import DoctorOptions
    from orch_doctor.doctor.policy import Policy
    from orch_doctor.doctor.runner import run_doctor
    from orch_doctor.matrix.load import load_matrix

    def boom(ctx: object) -> object:
        raise RuntimeError("kaput")

    checks = (*CHECKS[:1], Check("exploding", "explodes", boom))  # type: ignore[arg-type]
    report = run_doctor(
        DoctorOptions(opencode=str(tmp_path / "none"), directory=str(tmp_path), discover=False),
        Policy(), load_matrix(), checks,
    )  # fmt: skip
    crashed = report.checks[-1]
    assert crashed.status == "fail" and "kaput" in crashed.summary and crashed.alternatives


# --- cache -------------------------------------------------------------------------------------


def _probe_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("probe-*.json"))


def test_cache_hit_miss_corrupt_and_changed_binary(
    opencode_release: Callable[[str], Path], tmp_path: Path, cache_dir: Path
) -> None:
    binary = tmp_path / "opencode"
    shutil.copy2(opencode_release("1.18.33"), binary)
    args = ("--opencode", str(binary), "--dir", str(tmp_path), "--no-discover")
    _, data = doctor_json(*args)  # miss: probes and stores
    (entry,) = _probe_files(cache_dir)
    record = json.loads(entry.read_text())
    assert record["value"]["version"].strip() == "1.18.33"

    record["value"]["version"] = "1.18.99\n"  # a marker only the cache can produce
    entry.write_text(json.dumps(record))
    _, data = doctor_json(*args)  # hit
    assert data["capabilities"]["binary"]["version"] == "1.18.99"
    _, data = doctor_json(*args, "--refresh")  # bypass
    assert data["capabilities"]["binary"]["version"] == "1.18.33"

    entry.write_text('{"format": 1, "value": ')  # corrupt: ignored and rewritten
    _, data = doctor_json(*args)
    assert data["capabilities"]["binary"]["version"] == "1.18.33"
    assert json.loads(entry.read_text())["value"]["version"].strip() == "1.18.33"

    record = json.loads(entry.read_text())
    record["value"]["version"] = "1.18.99\n"
    entry.write_text(json.dumps(record))
    os.utime(binary, ns=(1_000_000_000, 1_000_000_000))  # the binary changed: re-probe
    _, data = doctor_json(*args)
    assert data["capabilities"]["binary"]["version"] == "1.18.33"


def test_two_processes_at_once_share_the_cache(
    opencode_release: Callable[[str], Path], tmp_path: Path, cache_dir: Path
) -> None:
    cmd = [sys.executable, "-m", "orch_doctor", "--opencode", str(opencode_release("1.18.33")),
           "--dir", str(tmp_path), "--no-discover", "--format", "json"]  # fmt: skip
    env = {**os.environ, "ORCH_DOCTOR_CACHE_DIR": str(cache_dir)}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    for out in outs:
        assert json.loads(out)["capabilities"]["binary"]["version"] == "1.18.33"
    assert len(_probe_files(cache_dir)) == 1
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]  # no temp files left
    json.loads(_probe_files(cache_dir)[0].read_text())


# --- policy ------------------------------------------------------------------------------------


def test_policy_files_good_and_bad(opencode_release: Callable[[str], Path], tmp_path: Path,
                                   cache_dir: Path) -> None:  # fmt: skip
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.orch-doctor]\nminimum_version = "1.18.0"\n'
        'allowed_strategies = ["attach-tui-api"]\nskip_checks = ["terminal"]\n'
    )
    binary = str(opencode_release("1.0.152"))
    code, data = doctor_json("--opencode", binary, "--dir", str(project / "sub"), "--no-discover")
    checks = statuses(data)
    assert code == 1 and checks["opencode-version"] == "fail"  # 1.0.152 < policy minimum
    assert checks["terminal"] == "skip"
    assert data["policy_file"] == str(project / "pyproject.toml")
    assert data["decision"]["rejections"]["standalone-prompt"]["code"] == "policy"

    bad = tmp_path / ".orch-doctor.toml"
    for text, key in (('colour = "red"\n', "colour"), ('minimum_version = "soon"\n',
                      "minimum_version"), ('skip_checks = ["nope"]\n', "skip_checks")):  # fmt: skip
        bad.write_text(text)
        result = CliRunner().invoke(main, ["--policy", str(bad), "--dir", str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert str(bad) in result.output and key in result.output


def test_require_server_policy(opencode_release: Callable[[str], Path], tmp_path: Path,
                               cache_dir: Path) -> None:  # fmt: skip
    (tmp_path / ".orch-doctor.toml").write_text("require_server = true\n")
    code, data = doctor_json("--opencode", str(opencode_release("1.18.33")), "--dir",
                             str(tmp_path), "--no-discover")  # fmt: skip
    assert code == 1 and statuses(data)["server"] == "fail"


# --- mounting in orch --------------------------------------------------------------------------


def test_mounts_in_another_click_group(opencode_release: Callable[[str], Path], tmp_path: Path,
                                       cache_dir: Path) -> None:  # fmt: skip
    @click.group()
    def orch() -> None:
        """A stand-in for orch."""

    orch.add_command(main, name="doctor")
    runner = CliRunner()
    args = ["doctor", "--opencode", str(opencode_release("1.18.33")), "--dir", str(tmp_path),
            "--no-discover", "--format", "json"]  # fmt: skip
    result = runner.invoke(orch, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["decision"]["strategy"] == "standalone-prompt"
    binary = str(opencode_release("1.18.33"))
    plan_args = ["doctor", "plan", "--dir", str(tmp_path), "--opencode", binary, "--no-discover",
                 "--format", "json"]  # fmt: skip
    result = runner.invoke(orch, plan_args)
    assert result.exit_code == 0 and json.loads(result.output)["strategy"] == "standalone-prompt"
    assert "probe" in runner.invoke(orch, ["doctor", "--help"]).output


def test_a_pyproject_without_the_table_is_not_a_policy(
    opencode_release: Callable[[str], Path], tmp_path: Path, cache_dir: Path
) -> None:
    # e.g. orch-doctor's own pyproject.toml: it names the project but has no [tool.orch-doctor]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "orch-doctor"\n')
    code, data = doctor_json(
        "--opencode", str(opencode_release("1.18.33")), "--dir", str(tmp_path), "--no-discover"
    )
    assert code == 0 and data["policy_file"] is None
