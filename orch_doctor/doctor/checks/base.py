"""What every check is: an id and a title declared once, and a function of the shared context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from orch_doctor._util.text import one_line
from orch_doctor.doctor.context import DoctorContext
from orch_doctor.doctor.types import CheckResult, CheckStatus

_LIMIT = 20_000


@dataclass(frozen=True)
class Verdict:
    """What a check found; the runner adds the check's id, title and duration."""

    status: CheckStatus
    summary: str
    details: tuple[str, ...] = ()
    fix: str | None = None  # a command line that runs when pasted; warn and fail: it or
    alternatives: tuple[str, ...] = ()  # other ways out, said for people


def verdict(
    status: CheckStatus,
    summary: str,
    *details: str,
    fix: str | None = None,
    alternatives: Sequence[str] = (),
) -> Verdict:
    return Verdict(status, summary, tuple(details), fix, tuple(alternatives))


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    judge: Callable[[DoctorContext], Verdict]
    timeout_s: float = 60.0

    def run(self, ctx: DoctorContext) -> CheckResult:
        found = self.judge(ctx)
        # what a check says may quote a server, a binary or a file: one printable line each,
        # whatever the output format (terminal, JSON, JUnit XML, GitHub annotations)
        return CheckResult(
            self.id,
            self.title,
            found.status,
            one_line(found.summary, _LIMIT),
            # a line break inside a detail (a multi-line prompt in a command) stays visible
            tuple(one_line(line, _LIMIT, breaks="⏎") for line in found.details),
            one_line(found.fix, _LIMIT) if found.fix is not None else None,
            alternatives=tuple(one_line(a, _LIMIT) for a in found.alternatives),
        )
