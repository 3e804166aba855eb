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
    checks make none (the step summary has the full table): a green run prints nothing."""
    lines = []
    for check in report.checks:
        if check.status not in ("warn", "fail"):
            continue
        level = "error" if check.status == "fail" or strict else "warning"
        message = check.summary + (f"\nfix: {check.fix}" if check.fix else "")
        title = escape_property(f"orch-doctor {check.id}: {check.title}")
        lines.append(f"::{level} title={title}::{escape_data(message)}")
    return "\n".join(lines)


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
