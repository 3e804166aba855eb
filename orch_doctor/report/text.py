"""The terminal report (rich): compact by default, details with -v, plain without a TTY."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

from rich.console import Console
from rich.markup import escape

from orch_doctor._util.text import printable
from orch_doctor.doctor.runner import DoctorReport

T = TypeVar("T")
MARKS = {
    "pass": ("[green]✓[/]", "ok  "),
    "warn": ("[yellow]![/]", "WARN"),
    "fail": ("[red]✗[/]", "FAIL"),
    "skip": ("[dim]-[/]", "skip"),
}


def shown(text: str) -> str:
    """Text from outside (files, the binary, a server) for a rich console: control characters
    made visible, markup escaped."""
    return escape(printable(text))


def make_console() -> Console:
    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    return Console(highlight=False, no_color=plain, emoji=False, soft_wrap=plain)


def with_spinner(console: Console, message: str, work: Callable[[], T]) -> T:
    if console.is_terminal and "NO_COLOR" not in os.environ:
        with console.status(message, spinner="dots"):
            return work()
    return work()


def render_text(
    report: DoctorReport, console: Console, verbose: bool = False, strict: bool = False
) -> None:
    plain = console.no_color
    console.print("[bold]orch-doctor[/]" if not plain else "orch-doctor")
    for check in report.checks:
        mark = MARKS[check.status][1 if plain else 0]
        console.print(f"{mark} {shown(check.title)}: {shown(check.summary)}")
        if check.fix and check.status in ("warn", "fail"):
            console.print(f"      fix: {shown(check.fix)}")
        if verbose or check.status == "fail":
            for line in check.details:
                console.print(f"      {shown(line)}")
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in MARKS}
    verdict = report.status.upper() if not strict or report.status != "warn" else "FAIL (strict)"
    console.print(
        f"\n{verdict}: {counts['pass']} passed, {counts['warn']} warnings, "
        f"{counts['fail']} failed, {counts['skip']} skipped ({report.duration_s:.1f}s)"
    )
    if report.decision is not None and report.decision.plan is not None and not verbose:
        console.print(f"strategy: {report.decision.strategy}  (-v shows the plan)")
    elif report.decision is not None and report.decision.plan is None:
        console.print("strategy: none (no plan)")
