"""Options shared by the commands, each defined once here."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DOCTOR_FORMATS = ("text", "json", "junit", "github")


def opencode_option(help: str = "OpenCode binary to use (default: discover).") -> Callable[[F], F]:
    # a click.Path for shell completion only: a bare name is looked up on PATH later
    return click.option("--opencode", "opencode", metavar="PATH", type=click.Path(), help=help)


def format_option(*formats: str) -> Callable[[F], F]:
    """``--format`` (default text); the doctor also offers junit and github."""
    choices = formats or ("text", "json")
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default="text",
        show_default=True,
        help="Output format: " + ", ".join(choices) + " (json follows the shipped JSON Schema).",
    )


def matrix_option() -> Callable[[F], F]:
    return click.option(
        "--matrix",
        "matrix_files",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        multiple=True,
        help="Extra compat_matrix TOML merged over the shipped data (repeatable).",
    )


def _finite_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """nan and ±inf pass FloatRange's bounds (nan compares false): a limit must also be finite."""
    if not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number of seconds.", ctx, param)
    return value


def timeout_option(default: float, help: str, minimum: float = 0.05) -> Callable[[F], F]:
    return click.option(
        "--timeout",
        "timeout_s",
        type=click.FloatRange(min=minimum),
        callback=_finite_seconds,
        metavar="SECONDS",
        default=default,
        show_default=True,
        help=help,
    )


def model_option(help: str = "Model the agent should use.") -> Callable[[F], F]:
    return click.option("--model", metavar="PROVIDER/MODEL", help=help)


def allow_standalone_option() -> Callable[[F], F]:
    return click.option(
        "--allow-standalone",
        is_flag=True,
        help="When the --server given cannot be used, accept a standalone TUI instead "
        "(said first); without it that is no plan.",
    )


def refresh_option() -> Callable[[F], F]:
    return click.option("--refresh", is_flag=True, help="Ignore cached probe results.")


def doctor_options(func: F) -> F:
    """Apply the doctor's options (innermost last) to a click command or group."""
    decorators: list[Callable[[F], F]] = [
        opencode_option(),
        click.option("--server", "server", metavar="URL", help="OpenCode server to check."),
        allow_standalone_option(),
        click.option(
            "--no-discover",
            is_flag=True,
            help="Do not look for OpenCode servers running here when --server is not given.",
        ),
        click.option(
            "--dir",
            "directory",
            metavar="DIR",
            type=click.Path(),
            help="Directory the agent works in (default: the current one).",
        ),
        model_option(),
        format_option(*DOCTOR_FORMATS),
        click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1)."),
        click.option("-v", "--verbose", is_flag=True, help="Show details of every check."),
        refresh_option(),
        click.option(
            "--policy",
            metavar="FILE",
            type=click.Path(dir_okay=False),
            help="Policy file (default: pyproject/.orch-doctor.toml).",
        ),
        matrix_option(),
        click.option(
            "--orch",
            "orch_path",
            metavar="PATH",
            type=click.Path(file_okay=False),
            help="orch's checkout, for the orch-client check (default: the orch installed here).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func
