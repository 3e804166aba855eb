"""One answer per server and per failure: a server with an error advisory is ✗ wherever it is
listed, `spawn` says the decision's warnings before it runs, and a failed step's ``seen`` holds
only the screen lines that carry text."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orch_doctor.api import execute_plan
from orch_doctor.cli import main
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import ProcessStep, SpawnPlan, WaitCondition, WaitStep
from orch_doctor.execute.executor import SEEN_LINES, screen_tail
from tests.support.opencode import isolated_env
from tests.support.schemas import assert_valid
from tests.support.tmux import needs_tmux, own_tmux_session

SESSION = "sigtest"
CVE = "server-unauthenticated-cve-2026-22812"


@pytest.fixture
def tmux_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A tmux server of this test's own (own TMUX_TMPDIR) with session ``sigtest``."""
    with own_tmux_session(monkeypatch, SESSION, width=120, height=60) as session:
        yield session


# --- seen: the lines that carry text ------------------------------------------------------------


def test_screen_tail_keeps_the_lines_that_carry_text() -> None:
    screen = "\n".join(
        ["", "        ┃                    ┃   ", "        ┃   hello            ┃"]
        + ["          "] * 10
        + ["        ╰────────────────────╯", "        line two   ", "   "]
    )
    assert screen_tail(screen) == "┃   hello            ┃\nline two"
    many = "\n".join(f"  row {i}  " for i in range(60))
    kept = screen_tail(many).splitlines()
    assert len(kept) == SEEN_LINES and kept[-1] == "row 59" and kept[0] == f"row {60 - SEEN_LINES}"
    assert screen_tail("   \n\n  ") == ""


PADDED_SCREEN = r"""
import sys, time
sys.stdout.write("\n" * 5 + " " * 30 + "┃" + " " * 40 + "┃\n")
for i in range(40):
    sys.stdout.write(" " * 30 + f"status line {i}" + " " * 20 + "\n")
sys.stdout.write("\n" * 8)
sys.stdout.flush()
time.sleep(60)
"""


@needs_tmux
@pytest.mark.slow  # a private tmux server and a wait that times out
def test_a_failed_waits_seen_and_the_last_screen_hold_only_lines_with_text(
    tmux_session: str, tmp_path: Path
) -> None:
    """A real program in a real tmux window pads its screen; the wait for markers it never
    shows fails, and what was seen is the last lines with text, without the padding."""
    script = tmp_path / "padded.py"
    script.write_text(PADDED_SCREEN)
    plan = SpawnPlan(
        strategy="standalone-prompt",
        steps=(
            ProcessStep(argv=(sys.executable, str(script)), command="root", description="run"),
            WaitStep(
                WaitCondition.TUI_READY,
                "wait for a marker it never shows",
                timeout_s=1.5,
                ready_markers=("never shown",),
            ),
        ),
        request=SpawnRequest(directory=str(tmp_path), prompt=None),
    )
    result = execute_plan(plan, tmux_target=f"{SESSION}:padded", timeout_s=20)
    assert not result.ok and result.code == "timeout"
    failed = result.failed_step
    assert failed is not None and failed.seen is not None
    seen_screen = failed.seen.split("--- last screen ---\n", 1)[1].splitlines()
    assert len(seen_screen) == SEEN_LINES
    assert seen_screen[-1] == "status line 39"
    assert all(line.strip() and line == line.strip() for line in seen_screen)
    # the last screen: every line with text, none without, no shared indent
    shown = result.last_screen.splitlines()
    assert shown and shown[-1] == "status line 39"
    assert all(line.strip() and not line.endswith(" ") for line in shown)
    assert not all(line.startswith(" ") for line in shown)
    assert "┃" not in result.last_screen  # a frame alone carries no text


# --- a server with an error advisory ------------------------------------------------------------


@pytest.mark.real
def test_the_server_line_and_json_say_fail_for_an_unauthenticated_1_0_152(
    real_servers: Callable[..., Any], opencode_release: Callable[[str], Path]
) -> None:
    server = real_servers("1.0.152")
    binary = str(opencode_release("1.0.152"))
    out = CliRunner().invoke(main, ["server", server.url, "--opencode", binary])
    assert out.exit_code == 1, out.output
    head = out.output.splitlines()[0]
    assert head.startswith(("✗", "[FAIL]", "x")) and server.url in head, out.output
    assert "✓" not in out.output.split(CVE)[0]
    assert CVE in out.output
    out = CliRunner().invoke(main, ["server", server.url, "--opencode", binary, "--format", "json"])
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert_valid("server", data)
    (entry,) = data["servers"]
    assert (entry["verdict"], entry["reachable"], entry["ok"]) == ("ok", True, False)
    assert any(a["id"] == CVE and a["severity"] == "error" for a in entry["advisories"])


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_spawn_onto_an_unauthenticated_1_0_152_warns_before_it_runs(
    tmux_session: str,
    real_servers: Callable[..., Any],
    opencode_release: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = real_servers("1.0.152")
    for name, value in isolated_env(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    args = [
        "spawn", "--server", server.url, "--dir", str(server.directory),
        "--opencode", str(opencode_release("1.0.152")), "--prompt", "say hi",
        "--timeout", "60",
    ]  # fmt: skip
    out = CliRunner().invoke(main, [*args, "--tmux-target", f"{SESSION}:w1"])
    lines = out.output.splitlines()
    warned = next(i for i, line in enumerate(lines) if CVE in line)
    first_step = next(i for i, line in enumerate(lines) if " 1. process " in line)
    assert warned < first_step, out.output
    out = CliRunner().invoke(main, [*args, "--tmux-target", f"{SESSION}:w2", "--format", "json"])
    data = json.loads(out.output)
    assert_valid("spawn", data)
    assert any(w["id"] == CVE for w in data["warnings"]), data
