"""Pure parts of verify: placeholders, JSON answers, the delivery verdict."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from orch_doctor.decide.steps import SESSION_ID, Ref
from orch_doctor.execute.confirm import evaluate, screen_probe
from orch_doctor.execute.executor import RefUnknown, fill, json_path, user_texts
from orch_doctor.matrix.load import load_matrix

# shape of a real 1.18.33 answer to GET /session/{id}/message (trimmed)
MESSAGES = [
    {
        "info": {"id": "msg_1", "role": "user"},
        "parts": [{"type": "text", "text": "fix the tests please"}],
    },
    {"info": {"id": "msg_2", "role": "assistant"}, "parts": [{"type": "text", "text": "ok"}]},
]


def test_fill_replaces_refs_only_and_fails_on_an_unknown_one() -> None:
    values = {"session_id": "ses_abc"}
    argv = ("opencode", "attach", "URL", "--session", SESSION_ID, "--dir", "/x/{session_id}")
    filled = fill(argv, values)
    assert filled == [
        "opencode",
        "attach",
        "URL",
        "--session",
        "ses_abc",
        "--dir",
        "/x/{session_id}",
    ]
    body = fill({"parts": [{"text": "{session_id} x", "id": SESSION_ID}]}, values)
    assert body == {"parts": [{"text": "{session_id} x", "id": "ses_abc"}]}
    with pytest.raises(RefUnknown) as info:
        fill(["a", Ref("message_id")], values)
    assert info.value.name == "message_id" and info.value.code == "ref-unknown"


def test_json_path_and_user_texts() -> None:
    assert json_path({"time": {"created": 5}}, "time.created") == 5
    assert json_path({"time": {}}, "time.created") is None
    assert json_path([{"id": "x"}], "0.id") == "x"
    assert user_texts(MESSAGES) == ["fix the tests please"]
    assert user_texts({"name": "UnknownError"}) == []


def test_evaluate_delivered() -> None:
    screen = "  ┃  fix the tests please\n   ctrl+p commands"
    result = evaluate(
        prompt="fix the tests please",
        session_id="ses_1",
        user_texts=user_texts(MESSAGES),
        screen=screen,
    )
    assert result.verified


def test_evaluate_session_not_found_on_screen_fails_even_if_stored() -> None:
    result = evaluate(
        prompt="fix the tests please",
        session_id="ses_1",
        user_texts=["fix the tests please"],
        screen="Session not found\nfix the tests please",
        failure_markers=load_matrix(overrides=False).tui_screen(None).failure_markers,  # type: ignore[union-attr]
    )
    assert not result.verified
    assert [c.name for c in result.checks if not c.ok] == ["no-session-error"]


def test_evaluate_prompt_missing_or_no_session() -> None:
    missing = evaluate(prompt="hello there", session_id="ses_1", user_texts=[], screen=None)
    assert not missing.verified
    assert [c.name for c in missing.checks if not c.ok] == ["prompt-stored"]
    nothing = evaluate(prompt="hello", session_id=None, user_texts=None, screen="")
    assert {c.name for c in nothing.checks if not c.ok} == {
        "session",
        "prompt-stored",
        "tui-shows-prompt",
    }


def test_screen_probe_uses_first_line_prefix() -> None:
    assert screen_probe("a" * 50 + "\nsecond") == "a" * 24
    assert screen_probe("  short\n") == "short"


@pytest.mark.slow  # runs a program in a pseudo-terminal and waits for its screen
def test_pty_screen_is_emulated_not_the_raw_text(tmp_path: Path) -> None:
    # colour changes between words and a cursor jump that overwrites: a raw-text "screen"
    # sees 'tab   agents' and both versions; a terminal shows 'tab agents' and the last one
    import time

    from orch_doctor.execute.terminal import PtyTerminal

    script = (
        "printf '\\033[38;5;8mtab\\033[0m \\033[1magents\\033[0m\\n"
        "OpenCode 0.0.0\\033[5D1.18.33\\n'; sleep 5"
    )
    terminal = PtyTerminal()
    terminal.start(["sh", "-c", script], cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 10
        while "1.18.33" not in terminal.capture() and time.monotonic() < deadline:
            time.sleep(0.05)
        screen = terminal.capture()
    finally:
        terminal.close()
    assert "tab agents" in screen
    assert "OpenCode 1.18.33" in screen and "0.0.0" not in screen


def test_a_failure_the_executor_did_not_raise_gets_its_code() -> None:
    import httpx

    from orch_doctor.execute.executor import FAILURE_CODES, failure_code
    from orch_doctor.execute.terminal import TerminalError

    assert failure_code(httpx.ReadTimeout("slow")) == "timeout"
    assert failure_code(httpx.ConnectError("refused")) == "http-error"
    assert failure_code(TerminalError("gone")) == "terminal"
    assert failure_code(ValueError("odd answer")) == "error"
    assert len(set(FAILURE_CODES)) == len(FAILURE_CODES)


# --- verify's clean-up: a throwaway group gets no grace period ---------------------------------

#: a process group that ignores SIGTERM (as a busy `opencode serve` 1.18.33 does for ~3 s)
DEAF = "trap '' TERM; sleep 30 & sleep 30; wait"


def _deaf_group() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", DEAF], start_new_session=True)


def test_kill_groups_stops_groups_at_once_without_a_grace_period() -> None:
    from orch_doctor._util.proc import THROWAWAY_GRACE_S, kill_groups

    procs = [_deaf_group() for _ in range(3)]
    time.sleep(0.2)  # the trap is set
    begin = time.monotonic()
    left = kill_groups([p.pid for p in procs], grace_s=THROWAWAY_GRACE_S)
    took = time.monotonic() - begin
    assert left == []
    assert took < 0.5, took
    assert all(p.wait(timeout=5) == -signal.SIGKILL for p in procs)
    # a group that is already gone: no wait at all
    begin = time.monotonic()
    assert kill_groups([procs[0].pid], grace_s=3.0) == []
    assert time.monotonic() - begin < 0.1


def test_kill_groups_gives_a_grace_period_when_asked() -> None:
    from orch_doctor._util.proc import kill_groups

    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    begin = time.monotonic()
    assert kill_groups([proc.pid], grace_s=3.0) == []
    assert proc.wait(timeout=5) == -signal.SIGTERM  # it honoured SIGTERM: no SIGKILL needed
    assert time.monotonic() - begin < 1.0


def test_a_throwaway_server_stops_without_waiting_for_sigterm(tmp_path: Path) -> None:
    from orch_doctor._util import cleanup
    from orch_doctor.verify.throwaway import ThrowawayServer

    proc = _deaf_group()
    time.sleep(0.2)
    handle = cleanup.register_group(proc.pid, "deaf", None)
    server = ThrowawayServer("http://127.0.0.1:9", 9, proc.pid, tmp_path / "log", proc, handle)
    begin = time.monotonic()
    server.stop()
    assert time.monotonic() - begin < 0.5
    assert proc.returncode is not None  # (-9, or 0 once reaped by the stop itself)
    assert all(e.seq != handle for e in cleanup.registered())


def test_a_folder_left_to_a_detached_rm_survives_the_end_of_command_sweep(tmp_path: Path) -> None:
    """The clean-up hands a slow scratch folder to `rm -rf`; the sweep at a command's end
    (every child this process gained) must not stop it, and the folder goes."""
    from orch_doctor._util import cleanup

    folder = tmp_path / "scratch"
    for i in range(200):
        (folder / f"d{i % 10}").mkdir(parents=True, exist_ok=True)
        (folder / f"d{i % 10}" / f"f{i}").write_text("x")
    since = cleanup.mark()
    before = cleanup.children()
    cleanup.register_dir(folder, "scratch", None)
    done = cleanup.stop([e for e in cleanup.registered() if e.seq > since], [], remove_within_s=0.0)
    assert len(done.background) == 1 and "rm pid" in done.background[0], done
    swept = cleanup.stop_since(since, before)
    assert swept.processes == 0, swept
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not folder.exists()
