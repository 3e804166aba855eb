"""Command line entry point: a click group usable standalone or mounted as ``orch doctor``.

Subcommands live in ``orch_doctor.cli.*`` and are imported only when invoked, so that
``orch-doctor probe --format json`` does not pay for modules it does not use.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from orch_doctor import __version__
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import doctor_options


def _own_process() -> bool:
    """Whether this process is orch-doctor's own command (its console script, or ``python -m
    orch_doctor``), not a program that mounts the command group (``orch doctor``)."""
    entry = sys.modules.get("__main__")
    spec = getattr(entry, "__spec__", None)
    if spec is not None and str(spec.name).partition(".")[0] == "orch_doctor":
        return True
    return Path(str(getattr(entry, "__file__", None) or "")).name == "orch-doctor"


def _without_httpx_cli() -> None:
    """httpx imports its own command line client (rich, pygments: 25 ms on every command that
    talks HTTP, spawn included) whenever those are installed, and rich is a dependency of
    orch-doctor. In orch-doctor's own process nothing runs that client: its module is marked
    missing before httpx is first imported, and httpx then defines a stub ``httpx.main`` in
    its place. A program that mounts the command group keeps its httpx as it is."""
    if "httpx" not in sys.modules and _own_process():
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


_without_httpx_cli()
_FREEZE_REGISTERED = False


def _freeze_at_exit() -> None:
    """When the interpreter exits (and only then), move every object still alive out of the
    garbage collector's reach (``gc.freeze``): the collections the interpreter's shutdown runs
    then have nothing to traverse (about 50 ms of every command's wall time, measured on two
    cores). Exit handlers all run as before and objects are still freed by their reference
    counts; only garbage in reference cycles is left to the end of the process."""
    global _FREEZE_REGISTERED
    if not _FREEZE_REGISTERED:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _FREEZE_REGISTERED = True


#: subcommand name -> "module:attribute"
SUBCOMMANDS: dict[str, str] = {
    "doctor": "orch_doctor.cli.doctor:doctor",
    "probe": "orch_doctor.cli.probe:probe",
    "server": "orch_doctor.cli.server:server",
    "plan": "orch_doctor.cli.plan:plan",
    "matrix": "orch_doctor.cli.matrix:matrix",
    "verify": "orch_doctor.cli.verify:verify",
    "spawn": "orch_doctor.cli.spawn:spawn",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            module = importlib.import_module(module_name)
            command = getattr(module, attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            near = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            ctx.fail(f"No such command '{name}'.{hint}")
        return super().resolve_command(ctx, args)


@click.group(
    cls=LazyGroup,
    epilog=epilog("main"),
    lazy=SUBCOMMANDS,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="orch-doctor")
@doctor_options
@click.pass_context
def main(ctx: click.Context, /, **options: Any) -> None:
    """Will spawning OpenCode agents work here, how, and if not, what to do.

    Without a subcommand: the full doctor report (same as `orch-doctor doctor`).
    """
    from orch_doctor.cli.signals import install

    # SIGINT/SIGTERM at any moment: stop what the run started, exit 130/143 (cli/signals.py)
    ctx.call_on_close(install())
    _freeze_at_exit()
    if ctx.invoked_subcommand is None:
        doctor_cmd = main.get_command(ctx, "doctor")
        assert doctor_cmd is not None
        selection = options.pop("selection")  # the selection options, as given
        ctx.invoke(doctor_cmd, **options, **selection.as_kwargs())
        return
    # the root's options are the doctor report's: before a subcommand they would be ignored
    given = [
        param.opts[0]
        for param in main.params
        if param.name
        and ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT
    ]
    if given:
        raise click.UsageError(
            f"{', '.join(given)} before `{ctx.invoked_subcommand}` would be ignored: the options "
            "before a subcommand are the doctor report's; give the subcommand's own options "
            f"after its name (orch-doctor {ctx.invoked_subcommand} --help)"
        )
