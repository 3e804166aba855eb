"""Pure parts of verify: placeholders, JSON answers, the delivery verdict."""

from __future__ import annotations

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
