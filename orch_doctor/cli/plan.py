"""``orch-doctor plan``: the strategy and its exact plan for one spawn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import PlanJSON


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
        data: PlanJSON = {**decision.to_json(), "matrix_files": list(matrix.files)}
        emit_json(data)
    else:
        from orch_doctor.report.plan import render_decision

        render_decision(decision)
    # ✓ (exit 0) only when every condition the plan relies on was measured and holds
    sys.exit(EXIT_OK if decision.holds else EXIT_FAILED)
