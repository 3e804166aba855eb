"""``orch-doctor plan``: the strategy and its exact plan for one spawn."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from orch_doctor.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    emit_json,
    resolve_selection,
    selection_from,
)
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import format_option, selection_options

if TYPE_CHECKING:
    from orch_doctor.cli.options import SelectionArgs
    from orch_doctor.schemas.shapes import PlanJSON


@click.command(epilog=epilog("plan"))
@selection_options(dir_required=True, dir_help="Directory of the agent.")
@format_option()
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings as failures (exit 1): e.g. a strategy known from the published "
    "contract only, not verified.",
)
def plan(selection: SelectionArgs, output_format: str, strict: bool) -> None:
    """Pick the spawn strategy and print its exact, validated plan."""
    resolution = resolve_selection(selection_from(selection))
    decision = resolution.decision.get()
    discovery = resolution.discovery
    if output_format == "json":
        data: PlanJSON = {
            **decision.to_json(),
            "matrix_files": list(resolution.matrix.files),
            "policy_file": resolution.policy.source,
            "discovered_server": (
                {"url": discovery.chosen.url, "reason": discovery.reason} if discovery else None
            ),
        }
        emit_json(data)
    else:
        from orch_doctor.report.plan import render_decision

        if discovery is not None:
            from orch_doctor._util.text import printable

            click.echo(
                printable(f"server found running: {discovery.chosen.url} ({discovery.reason})")
            )
        render_decision(decision)
    # ✓ (exit 0) only when every condition the plan relies on was measured and holds; under
    # --strict, and no warning stands
    failed = not decision.holds or (strict and bool(decision.warnings))
    sys.exit(EXIT_FAILED if failed else EXIT_OK)
