"""``orch-doctor plan``: the strategy and its exact plan for one spawn."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orch_doctor.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    checked_request,
    config_error,
    emit_json,
)
from orch_doctor.cli.helptext import epilog
from orch_doctor.cli.options import (
    allow_standalone_option,
    format_option,
    matrix_option,
    model_option,
    opencode_option,
    refresh_option,
)
from orch_doctor.decide.advice import STANDALONE_INSTEAD
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.steps import HttpStep, ProcessStep


@click.command(epilog=epilog("plan"))
@click.option(
    "--dir",
    "directory",
    required=True,
    metavar="DIR",
    type=click.Path(),
    help="Directory of the agent.",
)
@model_option()
@click.option("--prompt", metavar="TEXT", help="Prompt to deliver.")
@click.option(
    "--prompt-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Read the prompt from FILE ('-' for stdin).",
)
@click.option("--server", "server_url", metavar="URL", help="OpenCode server to use.")
@allow_standalone_option()
@opencode_option()
@refresh_option()
@matrix_option()
@format_option()
def plan(
    directory: str,
    model: str | None,
    prompt: str | None,
    prompt_file: Path | None,
    server_url: str | None,
    allow_standalone: bool,
    opencode: str | None,
    refresh: bool,
    matrix_files: tuple[str, ...],
    output_format: str,
) -> None:
    """Pick the spawn strategy and print its exact, validated plan."""
    from orch_doctor.api import select_strategy
    from orch_doctor.errors import MatrixError
    from orch_doctor.matrix.load import load_matrix

    prompt = checked_request(prompt, prompt_file, model)
    try:
        matrix = load_matrix(matrix_files)
    except MatrixError as exc:
        config_error(str(exc))
    decision = select_strategy(
        directory,
        model=model,
        prompt=prompt,
        server_url=server_url,
        opencode=opencode,
        matrix=matrix,
        refresh=refresh,
        allow_standalone=allow_standalone,
    )
    if output_format == "json":
        data = decision.to_json()
        data["matrix_files"] = list(matrix.files)
        emit_json(data)
    else:
        render_decision(decision)
    sys.exit(EXIT_OK if decision.plan is not None else EXIT_FAILED)


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
                line += f"\n     {step.method} {step.path}"
            console.print(escape(line))
    if decision.rejected:
        console.print("\n[bold]not chosen[/]")
        for name, why in decision.rejected.items():
            console.print(f"  {name}: {escape(one_line(why, 4000))}")
    for warning in decision.warnings:
        if warning is instead:
            continue
        console.print(f"{warn} {escape(one_line(warning.message, 4000))}")
        if warning.fix:
            console.print(f"    fix: {escape(one_line(warning.fix, 4000))}")
    if decision.fix and decision.plan is not None:
        console.print(f"\nfix: {escape(one_line(decision.fix, 4000))}")
