"""The terminal report (rich): compact by default, details with -v, plain without a TTY."""

from __future__ import annotations

from orch_doctor._util.text import one_line
from orch_doctor.doctor.runner import DoctorReport
from orch_doctor.doctor.types import CheckResult
from orch_doctor.report.console import TextConsole, make_console, shown, with_spinner
from orch_doctor.report.status import ASCII_WIDTH

__all__ = ["make_console", "most_severe_check", "render_text", "with_spinner"]

#: fail before warn: the summary line names the worst problem first
CHECK_RANK = {"fail": 2, "warn": 1}


def most_severe_check(report: DoctorReport) -> CheckResult | None:
    """The first check of the most severe problem (fail before warn; None: no problem)."""
    best: CheckResult | None = None
    for check in report.checks:
        rank = CHECK_RANK.get(check.status, 0)
        if rank and (best is None or rank > CHECK_RANK[best.status]):
            best = check
    return best


def render_text(
    report: DoctorReport, console: TextConsole, verbose: bool = False, strict: bool = False
) -> None:
    console.print("[bold]orch-doctor[/]" if not console.no_color else "orch-doctor")
    # details: two spaces in from the title (which follows the mark and a space)
    indent = " " * ((ASCII_WIDTH if console.ascii_marks else 1) + 3)
    for check in report.checks:
        mark = console.mark(check.status, pad=True)
        console.print(f"{mark} {shown(check.title)}: {shown(check.summary)}")
        if check.fix and check.status in ("warn", "fail"):
            console.print(f"{indent}fix: {shown(check.fix)}")
        if check.alternatives and check.status in ("warn", "fail"):
            for alternative in check.alternatives:
                console.print(f"{indent}or: {shown(alternative)}")
        if verbose or check.status == "fail":
            for line in check.details:
                console.print(f"{indent}{shown(line)}")
    counts = {
        s: sum(1 for c in report.checks if c.status == s) for s in ("pass", "warn", "fail", "skip")
    }
    verdict = report.status.upper() if not strict or report.status != "warn" else "FAIL (strict)"
    worst = most_severe_check(report)
    lead = ""
    if worst is not None:
        lead = f"{shown(one_line(worst.title))}: {shown(one_line(worst.summary))}; "
    console.print(
        f"\n{verdict}: {lead}{counts['pass']} passed, {counts['warn']} warnings, "
        f"{counts['fail']} failed, {counts['skip']} skipped ({report.duration_s:.1f}s)"
    )
    if report.decision is not None and report.decision.plan is not None and not verbose:
        console.print(f"strategy: {report.decision.strategy}  (-v shows the plan)")
    elif report.decision is not None and report.decision.plan is None:
        console.print("strategy: none (no plan)")
