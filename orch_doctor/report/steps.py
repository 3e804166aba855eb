"""Text lines of a plan's steps as they run (``verify``, ``spawn``): one line when a step starts,
with the elapsed time, one when it ends, with its status mark and duration.

Step details, what was expected and what was seen hold server answers and terminal screens:
every such line is printable (control characters shown as visible escapes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orch_doctor._util.text import printable
from orch_doctor.report.status import glyphs_ok, mark

if TYPE_CHECKING:
    from collections.abc import Iterable

    from orch_doctor.advice import Advisory
    from orch_doctor.decide.steps import Step
    from orch_doctor.execute.executor import StepReport

#: a step's outcome -> the status of the one vocabulary
OUTCOME_STATUS = {"ok": "pass", "failed": "fail", "skipped": "skip"}
INDENT = " " * 11


def started_line(index: int, step: Step, elapsed_s: float) -> str:
    """``  [  3.2s] 4. wait    wait until the TUI is up ...``"""
    return (
        f"  [{elapsed_s:5.1f}s] {index + 1}. {step.kind:<7} "
        f"{printable(step.description, newlines=False)} ..."
    )


def phase_line(text: str, elapsed_s: float) -> str:
    """``  [  0.4s] start a throwaway opencode serve ...``: work before the plan's first step."""
    return f"  [{elapsed_s:5.1f}s] {printable(text, newlines=False)} ..."


def finished_line(step: StepReport, *, ascii: bool | None = None) -> str:
    """``           ✓ 4. wait until the TUI is up (3.77s)`` and, below it, the detail (and on a
    failure what was expected and what was seen)."""
    plain = not glyphs_ok() if ascii is None else ascii
    status = OUTCOME_STATUS.get(step.outcome, "info")
    head = mark(status, ascii=plain, styled=False, pad=plain)
    lines = [
        f"{INDENT}{head} {step.index + 1}. "
        f"{printable(step.description, newlines=False)} ({step.duration_s:.2f}s)"
    ]
    more = [step.detail] if step.detail else []
    if step.outcome == "failed":
        more += [f"expected: {step.expected}", f"seen: {step.seen}"]
    for text in more:
        lines += [f"{INDENT}    {line}" for line in printable(text).splitlines()]
    return "\n".join(lines)


def warning_lines(warnings: Iterable[Advisory], *, ascii: bool | None = None) -> list[str]:
    """The decision's warnings (warn and error advisories) as ``plan`` shows them: a mark and
    the message, the fix below it."""
    plain = not glyphs_ok() if ascii is None else ascii
    lines: list[str] = []
    for advisory in warnings:
        status = "fail" if advisory.severity == "error" else "warn"
        head = mark(status, ascii=plain, styled=False, pad=plain)
        lines.append(f"{head} {printable(advisory.message, newlines=False)}")
        if advisory.fix:
            lines.append(f"    fix: {printable(advisory.fix, newlines=False)}")
        lines += [f"    or: {printable(alt, newlines=False)}" for alt in advisory.alternatives]
    return lines
