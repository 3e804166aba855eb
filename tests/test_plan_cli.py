"""`orch-doctor plan` against real releases, each with its own real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orch_doctor.decide.plan import validate_argv
from orch_doctor.matrix.recorded import stored_capabilities
from tests.support.opencode import RealServer
from tests.support.schemas import assert_valid


def plan(args: list[str], env: dict[str, str] | None = None) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "plan", *args, "--format", "json"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if data:
        assert_valid("plan", data)
    return proc.returncode, data


@pytest.mark.parametrize(
    ("version", "strategy"), [("1.0.152", "attach-tui-api"), ("1.18.33", "attach-session-api")]
)
def test_plan_with_a_real_server(
    version: str,
    strategy: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., RealServer],
    tmp_path: Path,
) -> None:
    server = real_servers(version)
    binary = str(opencode_release(version))
    # a 1.0.x attach TUI works in the server's directory: spawn there (elsewhere is refused)
    directory = server.directory if version == "1.0.152" else tmp_path / "my project"
    Path(directory).mkdir(exist_ok=True)
    code, data = plan(
        ["--dir", str(directory), "--prompt", "héllo wörld", "--model",
         "opencode/big-pickle", "--server", server.url, "--opencode", binary],
    )  # fmt: skip
    assert code == 0 and data["strategy"] == strategy
    assert set(data) >= {"strategy", "reasons", "rejected", "warnings", "steps"}
    caps = stored_capabilities(version)
    for step in data["steps"]:
        assert "kind" in step
        if step["kind"] == "process":
            assert isinstance(step["argv"], list) and step["argv"][0] == binary
            validate_argv(step["argv"], step["command"], caps)
    argv = next(s["argv"] for s in data["steps"] if s["kind"] == "process")
    assert ("--session" in argv) == (version == "1.18.33")


def test_plan_without_server_and_usage_errors(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    binary = str(opencode_release("1.18.33"))
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("from a file ✓")
    code, data = plan(["--dir", str(tmp_path), "--prompt-file", str(prompt_file),
                       "--opencode", binary, "--no-discover"])  # fmt: skip
    assert code == 0 and data["strategy"] == "standalone-prompt"
    argv = data["steps"][0]["argv"]
    assert argv[-2:] == ["--prompt", "from a file ✓"]
    code, _ = plan(["--dir", str(tmp_path), "--prompt", "a", "--prompt-file", str(prompt_file)])
    assert code == 2
    code, _ = plan(["--dir", str(tmp_path), "--model", "no-slash"])
    assert code == 2


def test_plan_none_exits_1(opencode_release: Callable[[str], Path], tmp_path: Path) -> None:
    env = {**os.environ, "PATH": ""}
    code, data = plan(["--dir", str(tmp_path), "--opencode", str(tmp_path / "missing")], env)
    assert code == 1 and data["strategy"] == "none" and data["fix"]


def test_a_named_server_that_is_down_means_no_plan_unless_standalone_is_allowed(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    binary = str(opencode_release("1.18.33"))
    dead = "http://127.0.0.1:9"
    args = ["--dir", str(tmp_path), "--prompt", "hi", "--server", dead, "--opencode", binary]
    code, data = plan(args)
    assert code == 1 and data["strategy"] == "none" and data["steps"] == []
    assert data["reasons"][0].startswith(f"the server you named ({dead}) cannot be used")
    assert "connection-refused" in data["reasons"][0]
    assert data["fix"] and "opencode serve" in data["fix"]
    assert data["rejections"]["standalone-prompt"]["code"] == "not-the-named-server"
    assert (
        data["rejected"]["standalone-prompt"] == data["rejections"]["standalone-prompt"]["message"]
    )
    # asked for: the substitute, said first
    code, data = plan([*args, "--allow-standalone"])
    assert code == 0 and data["strategy"] == "standalone-prompt"
    assert data["warnings"][0]["id"] == "standalone-instead-of-server"
    text = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "plan", *args, "--allow-standalone"],
        capture_output=True, text=True, timeout=180,
    ).stdout.splitlines()  # fmt: skip
    assert "cannot be used" in text[0] and "standalone" in text[0]
