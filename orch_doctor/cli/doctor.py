"""``orch-doctor`` / ``orch-doctor doctor``: the full report, for a person, for CI, for orch."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orch_doctor.cli.common import config_error, emit_json
from orch_doctor.cli.helptext import epilog
from orch_doctor.cli.options import doctor_options

if TYPE_CHECKING:
    from orch_doctor.doctor.runner import DoctorReport


@click.command(epilog=epilog("doctor"))
@doctor_options
def doctor(
    opencode: str | None,
    server: str | None,
    allow_standalone: bool,
    no_discover: bool,
    directory: str | None,
    model: str | None,
    output_format: str,
    strict: bool,
    verbose: bool,
    refresh: bool,
    policy: str | None,
    matrix_files: tuple[str, ...],
    orch_path: str | None,
) -> None:
    """Will spawning OpenCode agents work here, how, and if not, what exactly to do."""
    # the OpenCode calls start first (only what they need is imported so far): everything
    # below overlaps with them
    from orch_doctor.matrix import identify_published
    from orch_doctor.probe.binary import start_decision_probe

    capabilities = start_decision_probe(
        opencode, refresh=refresh, known=None if refresh else identify_published
    )
    from orch_doctor.doctor.context import DoctorOptions

    options = DoctorOptions(
        opencode=opencode,
        server_url=server,
        allow_standalone=allow_standalone,
        discover=not no_discover,
        directory=directory,
        model=model,
        refresh=refresh,
        matrix_files=matrix_files,
        orch_path=orch_path,
    )

    from orch_doctor.doctor.checks import CHECK_IDS
    from orch_doctor.doctor.policy import load_policy
    from orch_doctor.doctor.runner import run_doctor
    from orch_doctor.errors import ConfigFileError
    from orch_doctor.matrix.load import load_matrix

    start_dir = Path(directory or os.getcwd())
    try:
        loaded_policy = load_policy(policy, start_dir, CHECK_IDS)
        matrix = load_matrix(matrix_files)
        if matrix_files:  # a client contract among them is validated before anything runs
            from orch_doctor.matrix.clients import load_contracts

            load_contracts(matrix_files)
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
