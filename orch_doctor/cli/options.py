"""Options of the doctor report, shared by the root group and the ``doctor`` subcommand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("text", "json", "junit", "github")


def doctor_options(func: F) -> F:
    """Apply the doctor's options (innermost last) to a click command or group."""
    decorators = [
        click.option("--opencode", "opencode", metavar="PATH", help="OpenCode binary to use."),
        click.option("--server", "server", metavar="URL", help="OpenCode server to check."),
        click.option(
            "--no-discover",
            is_flag=True,
            help="Do not look for OpenCode servers running here when --server is not given.",
        ),
        click.option("--dir", "directory", metavar="DIR", help="Directory the agent works in."),
        click.option("--model", metavar="PROVIDER/MODEL", help="Model the agent should use."),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="Output format.",
        ),
        click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1)."),
        click.option("-v", "--verbose", is_flag=True, help="Show details of every check."),
        click.option("--refresh", is_flag=True, help="Ignore cached probe results."),
        click.option(
            "--policy", metavar="FILE", help="Policy file (default: pyproject/.orch-doctor.toml)."
        ),
        click.option(
            "--matrix",
            "matrix_files",
            metavar="FILE",
            multiple=True,
            help="Extra compat_matrix TOML merged over the shipped data (repeatable).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func
