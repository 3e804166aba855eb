"""``orch-doctor plan`` as text: the strategy, why, the exact steps, what was not chosen."""

from __future__ import annotations

from orch_doctor.decide.advisories import STANDALONE_INSTEAD
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.steps import HttpStep, ProcessStep


def render_decision(decision: Decision) -> None:
    from orch_doctor._util.text import one_line
    from orch_doctor.report.console import make_console
    from orch_doctor.report.console import shown as escape

    # every string may hold text from a file or the binary: shown() makes control characters
    # visible and escapes markup
    # piped: a command, path or URL is never broken across lines
    console = make_console()
    warn, info = console.mark("warn"), console.mark("info")
    instead = decision.advisory(STANDALONE_INSTEAD)
    if instead is not None:
        console.print(f"{warn} {escape(instead.message)}")
    if decision.plan is None:
        console.print(f"{console.mark('fail')} [red]no spawn strategy is possible[/]")
    elif not decision.holds:  # a plan, but a condition it relies on is not known to hold
        console.print(f"{console.mark('fail')} strategy [bold]{decision.strategy}[/] (not ✓)")
    else:
        console.print(f"{console.mark('pass')} strategy [bold]{decision.strategy}[/]")
    for reason in decision.reasons:
        console.print(f"  {info} {escape(one_line(reason, 4000))}")
    if decision.plan is None and decision.fix:
        # no plan: what to do comes right after why (a named server's verdict is the first reason)
        console.print(f"  fix: {escape(one_line(decision.fix, 4000))}")
    if decision.plan is not None:
        console.print("\n[bold]plan[/]")
        for i, step in enumerate(decision.plan.steps, 1):
            line = f"{i}. [{step.kind}] {step.description}"
            if isinstance(step, ProcessStep):
                line += f"\n     $ {step.display()}"
            elif isinstance(step, HttpStep):
                line += f"\n     {step.method} {step.display_path()}"
            console.print(escape(line))
    if decision.rejected:
        console.print("\n[bold]not chosen[/]")
        for name, why in decision.rejected.items():
            console.print(f"  {name}: {escape(one_line(why.message, 4000))}")
    for warning in decision.warnings:
        if warning is instead:
            continue
        head = console.mark("fail") if warning.severity == "error" else warn
        console.print(f"{head} {escape(one_line(warning.message, 4000))}")
        if warning.fix:
            console.print(f"    fix: {escape(one_line(warning.fix, 4000))}")
        for alternative in warning.alternatives:
            console.print(f"    or: {escape(one_line(alternative, 4000))}")
    if decision.fix and decision.plan is not None:
        console.print(f"\nfix: {escape(one_line(decision.fix, 4000))}")
