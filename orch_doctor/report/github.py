"""GitHub Actions: workflow-command annotations, and a Markdown summary for
``$GITHUB_STEP_SUMMARY`` (appended when the variable is set)."""

from __future__ import annotations

from orch_doctor._util.text import printable
from orch_doctor.doctor.runner import DoctorReport

ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️"}


def escape_data(text: str) -> str:
    """A workflow command's data: one line whatever ``text`` holds (control characters made
    visible, ``%``, CR and LF percent-encoded as the runner decodes them)."""
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_annotations(report: DoctorReport, strict: bool = False) -> str:
    """One annotation per warning (``::error`` with ``strict``) and failure; passed and skipped
    checks make none (the step summary has the full table). A run without a problem prints one
    ``::notice`` line instead: its counts and strategy, which GitHub shows as a notice and a
    person reads as it is in any log."""
    lines = []
    for check in report.checks:
        if check.status not in ("warn", "fail"):
            continue
        level = "error" if check.status == "fail" or strict else "warning"
        message = check.summary + (f"\nfix: {check.fix}" if check.fix else "")
        title = escape_property(f"orch-doctor {check.id}: {check.title}")
        lines.append(f"::{level} title={title}::{escape_data(message)}")
    if not lines:
        lines.append(f"::notice title=orch-doctor::{escape_data(green_summary(report))}")
    return "\n".join(lines)


def green_summary(report: DoctorReport) -> str:
    """One line for a run without a problem: ``PASS: 8 passed, 1 skipped (2.6s); strategy: X``."""
    passed = sum(1 for c in report.checks if c.status == "pass")
    skipped = sum(1 for c in report.checks if c.status == "skip")
    text = f"PASS: {passed} passed, 0 warnings, 0 failed, {skipped} skipped"
    text += f" ({report.duration_s:.1f}s)"
    if report.decision is not None:
        text += f"; strategy: {report.decision.strategy}"
    return text


def render_summary(report: DoctorReport) -> str:
    rows = ["## orch-doctor", "", f"Result: **{report.status}**", ""]
    if report.decision is not None:
        rows += [f"Strategy: `{report.decision.strategy}`", ""]
    rows += ["| | status | check | result | fix |", "|---|---|---|---|---|"]
    for check in report.checks:
        cells = [
            ICONS[check.status],
            check.status,
            *(printable(c, newlines=False) for c in (check.title, check.summary, check.fix or "")),
        ]
        rows.append(
            "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        )
    return "\n".join(rows) + "\n"
