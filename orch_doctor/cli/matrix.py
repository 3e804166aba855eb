"""``orch-doctor matrix show|check``: the compatibility data and its replay over stored releases."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from orch_doctor.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    config_error,
    emit_json,
)
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import format_option, matrix_option

if TYPE_CHECKING:
    from orch_doctor.matrix.types import Matrix


def _load(matrix_files: tuple[str, ...]) -> Matrix:
    from orch_doctor.errors import MatrixError
    from orch_doctor.matrix.load import load_matrix

    try:
        return load_matrix(matrix_files)
    except MatrixError as exc:
        config_error(str(exc))


@click.group(epilog=epilog("matrix"))
def matrix() -> None:
    """The compatibility matrix: strategies, known issues, policy, verified releases."""


@matrix.command(epilog=epilog("matrix show"))
@matrix_option()
@format_option()
def show(matrix_files: tuple[str, ...], output_format: str) -> None:
    """Print the merged matrix and the files it came from."""
    from orch_doctor.matrix.recorded import stored_releases
    from orch_doctor.report.matrix import matrix_json, render_matrix

    m = _load(matrix_files)
    releases = stored_releases()
    if output_format == "json":
        emit_json(matrix_json(m, releases))
        return
    render_matrix(m, releases)


@matrix.command(epilog=epilog("matrix check"))
@matrix_option()
@format_option()
def check(matrix_files: tuple[str, ...], output_format: str) -> None:
    """Validate the matrix and replay every stored release through the decision."""
    from orch_doctor.decide.replay import replay
    from orch_doctor.report.matrix import check_json, render_check

    m = _load(matrix_files)
    rows = replay(m)
    failed = [r for r in rows if r.error]
    if output_format == "json":
        emit_json(check_json(m, rows, failed))
    else:
        render_check(m, rows)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)
