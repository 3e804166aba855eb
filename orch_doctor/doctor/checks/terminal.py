"""Check `terminal`: terminal for the TUI."""

from __future__ import annotations

import shutil

from orch_doctor.decide.steps import ProcessStep
from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    decision = ctx.decision.get()
    needs = decision.plan is not None and any(
        isinstance(s, ProcessStep) and s.terminal for s in decision.plan.steps
    )
    if not needs:
        return verdict("skip", "the plan starts no TUI")
    tmux = shutil.which("tmux")
    if tmux is None:
        return verdict(
            "warn",
            "tmux is not installed; the plan runs a TUI",
            "orch needs a terminal to host it (verify falls back to a pseudo-terminal)",
            fix="apt-get install tmux",
            alternatives=("brew install tmux",),
        )
    return verdict("pass", f"tmux at {tmux}")


CHECK = Check("terminal", "terminal for the TUI", judge)
