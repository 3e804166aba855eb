"""``orch-doctor`` / ``orch-doctor doctor``: the full report, for a person, for CI, for orch."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orch_doctor.cli.common import config_error, emit_json
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import doctor_options

if TYPE_CHECKING:
    from orch_doctor.cli.options import SelectionArgs
    from orch_doctor.doctor.runner import DoctorReport


@click.command(epilog=epilog("doctor"))
@doctor_options
def doctor(
    selection: SelectionArgs,
    output_format: str,
    strict: bool,
    verbose: bool,
    orch_path: str | None,
) -> None:
    """Will spawning OpenCode agents work here, how, and if not, what exactly to do."""
    # the OpenCode calls start first (only what they need is imported so far): everything
    # below overlaps with them
    from orch_doctor.matrix import identify_published
    from orch_doctor.probe.binary import start_decision_probe

    refresh = selection.refresh
    capabilities = start_decision_probe(
        selection.opencode, refresh=refresh, known=None if refresh else identify_published
    )
    from orch_doctor.cli.common import selection_from
    from orch_doctor.doctor.context import DoctorOptions

    request = selection_from(selection)
    options = DoctorOptions.of(request, orch_path)

    from orch_doctor.doctor.checks import CHECK_IDS
    from orch_doctor.doctor.runner import run_doctor
    from orch_doctor.errors import ConfigFileError
    from orch_doctor.matrix.load import load_matrix
    from orch_doctor.resolve.policy import load_policy

    start_dir = Path(request.directory or os.getcwd())
    try:
        loaded_policy = load_policy(request.policy_file, start_dir, CHECK_IDS)
        matrix = load_matrix(request.matrix_files)
        if request.matrix_files:  # a client contract among them is validated before anything runs
            from orch_doctor.matrix.clients import load_contracts

            load_contracts(request.matrix_files)
    except ConfigFileError as exc:
        config_error(str(exc))

    def run() -> DoctorReport:
        return run_doctor(options, loaded_policy, matrix, capabilities=capabilities.result)

    if output_format == "text":
        from orch_doctor.report.text import make_console, render_text, with_spinner

        console = make_console()
        report = with_spinner(console, "probing OpenCode…", run)
        render_text(report, console, verbose=verbose, strict=strict)
    else:
        report = run()
        if output_format == "json":
            emit_json(report.to_json(strict))
        elif output_format == "junit":
            from orch_doctor.report.junit import render_junit

            click.echo(render_junit(report, strict))
        else:
            from orch_doctor.report.github import render_annotations, render_summary

            click.echo(render_annotations(report, strict))
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                try:
                    with open(summary, "a", encoding="utf-8") as fh:
                        fh.write(render_summary(report))
                except OSError as exc:
                    click.echo(f"orch-doctor: cannot write $GITHUB_STEP_SUMMARY: {exc}", err=True)
    sys.exit(report.exit_code(strict))
