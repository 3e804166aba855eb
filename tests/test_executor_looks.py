"""How the executor looks at what it waits for: one tmux call per look (the screen and whether
the program runs, at one moment), a pause between looks that follows what a look costs, and a
confirmation that takes the server's answer the plan's last step just read instead of asking
for it again. Real tmux where a pane is under test; a loopback server recording every request
where the confirmation is."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from orch_doctor.decide.decision import decide
from orch_doctor.decide.replay import recorded_server
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SpawnPlan, WaitCondition, WaitStep
from orch_doctor.execute import executor as executor_module
from orch_doctor.execute.executor import (
    POLL_MIN_S,
    POLL_PAUSE_FACTOR,
    POLL_S,
    Executor,
    StepFailed,
    poll_pause,
)
from orch_doctor.execute.spawn import SpawnResult, run_plan
from orch_doctor.execute.terminal import TmuxWindowTerminal
from tests.support.tmux import needs_tmux, own_tmux_session
from tests.test_placeholders import CAPS, MATRIX, SID, Server, serving

READY = "ctrl+p"


class LookingTerminal:
    """A terminal with a ``look``: the screen turns ready at look ``ready_at`` (never: None);
    ``capture`` and ``alive`` must not be needed while it is looked at."""

    name = "looking"

    def __init__(self, ready_at: int | None, *, running: bool = True, cost_s: float = 0.0):
        self.ready_at = ready_at
        self.running = running
        self.cost_s = cost_s
        self.looks = 0
        self.separate_calls = 0
        self.shown = ""

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        return None

    def look(self) -> tuple[str, bool]:
        self.looks += 1
        until = time.monotonic() + self.cost_s
        while time.monotonic() < until:  # what a look costs (the sleeps are not real here)
            pass
        ready = self.ready_at is not None and self.looks >= self.ready_at
        self.shown = "> Ask anything   " + READY if ready else "loading"
        return self.shown, self.running

    def capture(self) -> str:
        self.separate_calls += 1
        return self.shown

    def alive(self) -> bool:
        self.separate_calls += 1
        return self.running

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None:
        return None

    def close(self) -> None:
        return None


def _wait_for_tui(terminal: LookingTerminal, timeout_s: float = 5.0) -> tuple[str, Executor]:
    executor = Executor(base_url=None, terminal_factory=lambda: terminal, env={})  # type: ignore[arg-type,return-value]
    executor.terminal = terminal  # type: ignore[assignment]
    step = WaitStep(
        WaitCondition.TUI_READY, "wait until the TUI is up", timeout_s=timeout_s,
        ready_markers=(READY,),
    )  # fmt: skip
    return executor.wait(step, {}), executor


def test_a_pause_between_looks_follows_what_a_look_costs_within_bounds() -> None:
    assert poll_pause(0.0) == POLL_MIN_S
    assert poll_pause(0.01) == pytest.approx(POLL_PAUSE_FACTOR * 0.01)
    assert poll_pause(5.0) == POLL_S
    assert POLL_MIN_S < POLL_S


def test_each_poll_of_the_tui_is_one_look_and_cheap_looks_come_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(executor_module.time, "sleep", pauses.append)
    terminal = LookingTerminal(ready_at=5)
    found, _ = _wait_for_tui(terminal)
    assert found == f"the screen shows {READY!r}"
    assert terminal.looks == 5 and terminal.separate_calls == 0
    assert len(pauses) == 4 and all(p == POLL_MIN_S for p in pauses)


def test_a_costly_look_is_followed_by_a_longer_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(executor_module.time, "sleep", pauses.append)
    terminal = LookingTerminal(ready_at=3, cost_s=0.02)
    _wait_for_tui(terminal)
    assert len(pauses) == 2
    assert all(POLL_PAUSE_FACTOR * 0.02 <= p <= POLL_S for p in pauses), pauses


def test_a_look_that_says_the_program_ended_fails_the_wait_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executor_module.time, "sleep", lambda _s: None)
    terminal = LookingTerminal(ready_at=None, running=False)
    with pytest.raises(StepFailed) as failed:
        _wait_for_tui(terminal)
    assert failed.value.code == "tui-exited"
    assert terminal.looks == 1 and terminal.separate_calls == 0


@pytest.fixture
def tmux_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with own_tmux_session(monkeypatch, "looks") as name:
        yield name


@needs_tmux
def test_one_tmux_call_shows_the_screen_and_whether_the_program_runs(
    tmux_session: str, tmp_path: Path
) -> None:
    terminal = TmuxWindowTerminal(f"{tmux_session}:w", deadline=time.monotonic() + 10)
    terminal.check_session()
    script = "print('first line'); print('READY here', flush=True); import time; time.sleep(60)"
    terminal.start([shutil.which("python3") or "python3", "-c", script], str(tmp_path), {})
    try:
        until = time.monotonic() + 10
        screen, running = terminal.look()
        while "READY here" not in screen and time.monotonic() < until:
            time.sleep(0.05)
            screen, running = terminal.look()
        assert running and "first line" in screen and "READY here" in screen
        assert screen == terminal.capture() and terminal.alive()
        subprocess.run(["tmux", "kill-pane", "-t", str(terminal.pane_id)], check=True, timeout=10)
        assert terminal.look() == ("", False)
        assert not terminal.alive()
    finally:
        terminal.close()


# --- the confirmation ------------------------------------------------------------------------


def _attach_plan(url: str, prompt: str) -> SpawnPlan:
    request = SpawnRequest(directory="/tmp/proj", model="opencode/big-pickle", prompt=prompt)
    decision = decide(CAPS["1.18.33"], recorded_server("1.18.33", url), request, MATRIX)
    assert decision.strategy == "attach-session-api" and decision.plan is not None
    return decision.plan


class ReadyTerminal(LookingTerminal):
    def __init__(self) -> None:
        super().__init__(ready_at=1)


def _run_ready(url: str, plan: SpawnPlan) -> tuple[SpawnResult, ReadyTerminal]:
    """``plan`` run on the server at ``url`` with a TUI that is ready at the first look."""
    terminal = ReadyTerminal()
    executor = Executor(base_url=url, terminal_factory=lambda: terminal, env={})  # type: ignore[arg-type,return-value]
    try:
        return run_plan(executor, plan, target=None, prompt_on_screen=False), terminal
    finally:
        executor.close()


def test_the_confirmation_takes_the_answer_the_last_step_read() -> None:
    """The plan's last step (the prompt stored as a user message) read the session's messages
    after every step ran: the confirmation judges that answer (and a fresh screen) instead of
    asking the server again."""
    prompt = "confirm from the answer"
    with serving(Server()) as server:
        plan = _attach_plan(server.url, prompt)
        assert plan.steps[-1].kind == "wait"
        outcome, terminal = _run_ready(server.url, plan)
    assert outcome.ok, outcome.to_json()
    assert outcome.confirmation is not None and outcome.confirmation.verified
    checks = {c.name: c for c in outcome.confirmation.checks}
    assert checks["prompt-stored"].ok and checks["no-session-error"].ok
    assert len(server.requests("GET", f"/session/{SID}/message")) == 1
    assert terminal.looks == 2  # the TUI wait and the message wait: one look each
    # the confirmation's own screen, taken fresh, is the last screen the result shows
    assert terminal.separate_calls == 1
    ready_screen = "> Ask anything   " + READY
    assert outcome.confirmation.screen == ready_screen
    assert outcome.last_screen == ready_screen


def test_only_a_read_made_during_the_last_step_of_the_same_server_is_taken() -> None:
    with serving(Server()) as server:
        server.texts.append("an earlier prompt")
        executor = Executor(base_url=server.url, terminal_factory=lambda: None, env={})  # type: ignore[arg-type,return-value]
        try:
            executor.last_step_began = time.monotonic()
            assert executor.stored_user_texts(SID, None) == ["an earlier prompt"]
            assert executor.texts_read_by_last_step(SID, None) == ["an earlier prompt"]
            assert executor.texts_read_by_last_step("ses_other", None) is None
            assert executor.texts_read_by_last_step(SID, "/elsewhere") is None
            executor.last_step_began = time.monotonic() + 1  # a step began after the read
            assert executor.texts_read_by_last_step(SID, None) is None
            executor.last_step_began = time.monotonic() - 1
            executor.base_url = "http://127.0.0.1:9"  # verify points it at another server
            assert executor.texts_read_by_last_step(SID, None) is None
        finally:
            executor.close()


def test_a_confirmation_the_reused_answer_does_not_hold_reads_the_server_again() -> None:
    """No read of the last step to take (a plan ending in the prompt itself): the server is
    asked, and the prompt it stored is found."""
    prompt = "asked again"
    with serving(Server()) as server:
        plan = _attach_plan(server.url, prompt)
        shorter = replace(plan, steps=plan.steps[:-1])
        outcome, _ = _run_ready(server.url, shorter)
    assert outcome.ok, outcome.to_json()
    assert len(server.requests("GET", f"/session/{SID}/message")) == 1
