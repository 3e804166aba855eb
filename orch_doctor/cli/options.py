"""Options shared by the commands, each defined once here."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar, cast

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


def path_option(*names: str, help: str, folder: bool = False, **extra: Any) -> Callable[[F], F]:
    """An option naming a file (FILE: click refuses a folder) or, with ``folder``, a folder
    (PATH: click refuses a file)."""
    return click.option(
        *names,
        metavar="PATH" if folder else "FILE",
        type=click.Path(file_okay=not folder, dir_okay=folder),
        help=help,
        **extra,
    )


def matrix_option() -> Callable[[F], F]:
    return path_option(
        "--matrix",
        "matrix_files",
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
        help="When the server named (--server, the policy's server_url) cannot be used, accept "
        "a standalone TUI instead (said first); without it that is no plan.",
    )


def refresh_option() -> Callable[[F], F]:
    return click.option("--refresh", is_flag=True, help="Ignore cached probe results.")


@dataclass(frozen=True)
class SelectionArgs:
    """The selection options as given on the command line (see :func:`selection_options`);
    ``cli.common.selection_from`` checks them and makes the request's ``Selection``."""

    directory: str | None
    model: str | None
    prompt: str | None
    prompt_file: str | None
    server_url: str | None
    opencode: str | None
    allow_standalone: bool
    no_discover: bool
    refresh: bool
    policy_file: str | None
    matrix_files: tuple[str, ...]

    def as_kwargs(self) -> dict[str, Any]:
        """The options by their parameter names (to invoke another command with them)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


SELECTION_PARAMS = tuple(f.name for f in fields(SelectionArgs))

DIR_HELP = "Directory the agent works in (default: the current one)."
SERVER_HELP = (
    "OpenCode server to use (default: the policy's server_url, else one running here: a usable "
    "server serving --dir first)."
)
DISCOVER_HELP = "Do not look for OpenCode servers running here when no server is named."


def selection_options(
    *,
    dir_required: bool = False,
    dir_help: str = DIR_HELP,
    server_help: str = SERVER_HELP,
    prompt_help: str = "Prompt to deliver.",
    discover_help: str = DISCOVER_HELP,
) -> Callable[[F], F]:
    """The options that select a request, the same on every command that decides (the doctor,
    ``plan``, ``spawn``, ``verify``); the command receives them as one ``selection:
    SelectionArgs`` argument. Only the help texts (and whether ``--dir`` is required) differ."""
    decorators: list[Callable[[Any], Any]] = [
        click.option(
            "--dir",
            "directory",
            metavar="DIR",
            type=click.Path(),
            required=dir_required,
            help=dir_help,
        ),
        model_option(),
        click.option("--prompt", metavar="TEXT", help=prompt_help),
        path_option("--prompt-file", help="Read the prompt from FILE ('-' for stdin)."),
        click.option("--server", "server_url", metavar="URL", help=server_help),
        opencode_option(),
        allow_standalone_option(),
        click.option("--no-discover", is_flag=True, help=discover_help),
        refresh_option(),
        path_option(
            "--policy",
            "policy_file",
            help="Policy file (default: pyproject/.orch-doctor.toml from --dir upward).",
        ),
        matrix_option(),
    ]

    def apply(func: F) -> F:
        @functools.wraps(func)
        def packed(*args: Any, **kwargs: Any) -> Any:
            picked = {name: kwargs.pop(name) for name in SELECTION_PARAMS}
            return func(*args, selection=SelectionArgs(**picked), **kwargs)

        wrapped: Any = packed
        for decorator in reversed(decorators):
            wrapped = decorator(wrapped)
        return cast(F, wrapped)

    return apply


def doctor_options(func: F) -> F:
    """Apply the doctor's options (innermost last) to a click command or group: the selection
    options, then the report's own."""
    decorators: list[Callable[[F], F]] = [
        format_option(*DOCTOR_FORMATS),
        click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1)."),
        click.option("-v", "--verbose", is_flag=True, help="Show details of every check."),
        path_option(
            "--orch",
            "orch_path",
            folder=True,
            help="orch's checkout, for the orch-client check (default: the orch installed here).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return selection_options()(func)
