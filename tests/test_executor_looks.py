"""How the executor looks at what it waits for: one tmux call per look (the screen and whether
the program runs, at one moment) and a pause between looks that follows what a look costs.
Real tmux where a pane is under test."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from orch_doctor.decide.steps import WaitCondition, WaitStep
from orch_doctor.execute import executor as executor_module
from orch_doctor.execute.executor import (
    POLL_MIN_S,
    POLL_PAUSE_FACTOR,
    POLL_S,
    Executor,
    StepFailed,
    poll_pause,
)
from orch_doctor.execute.terminal import TmuxWindowTerminal
from tests.support.tmux import needs_tmux, own_tmux_session

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

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        return None

    def look(self) -> tuple[str, bool]:
        self.looks += 1
        until = time.monotonic() + self.cost_s
        while time.monotonic() < until:  # what a look costs (the sleeps are not real here)
            pass
        ready = self.ready_at is not None and self.looks >= self.ready_at
        return ("> Ask anything   " + READY if ready else "loading"), self.running

    def capture(self) -> str:
        self.separate_calls += 1
        return ""

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
