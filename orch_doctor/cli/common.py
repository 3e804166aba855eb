"""Small pieces shared by the subcommands (no heavy imports)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def config_error(message: str) -> NoReturn:
    """A usage or configuration error: one clear line on stderr, exit 2."""
    click.echo(f"orch-doctor: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def format_option() -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )


def matrix_option() -> Callable[[F], F]:
    return click.option(
        "--matrix",
        "matrix_files",
        metavar="FILE",
        multiple=True,
        help="Extra compat_matrix TOML merged over the shipped data (repeatable).",
    )
