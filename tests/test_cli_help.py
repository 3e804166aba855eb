"""Every command's --help ends the same way: exit codes, the environment it reads, examples.

The commands are found by walking the click group, so a command added later is held to the
same ending without being listed here; every example parses as a call of its own command.
"""

from __future__ import annotations

import re
import shlex

import click
import pytest
from click.testing import CliRunner

from orch_doctor.cli import main
from orch_doctor.cli.epilog import ENVIRONMENT


def walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """``path`` and the path of every command below it (as the group lists them: lazy ones
    too)."""
    found = [path]
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1] if path else "orch-doctor")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            found += walk(sub, (*path, name))
    return found


COMMANDS = walk(main)


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def parses(args: list[str]) -> click.Command:
    """The command ``args`` (after ``orch-doctor``) calls, parsed as click would without running
    it; raises click.UsageError if they do not parse (an unknown option, a missing required
    one, a bad choice)."""
    command: click.Command = main
    parent: click.Context | None = None
    name = "orch-doctor"
    while True:
        ctx = command.make_context(name, list(args), parent=parent)
        if not isinstance(command, click.Group):
            return command
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return command
        name_found, sub, args = command.resolve_command(ctx, rest)
        assert sub is not None and name_found is not None
        command, parent, name = sub, ctx, name_found


def test_the_walk_finds_commands_and_subcommands() -> None:
    assert {(), ("doctor",), ("verify",), ("matrix",), ("matrix", "show")} <= set(COMMANDS)
    assert ("matrix", "check") in COMMANDS and len(COMMANDS) >= 10


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "orch-doctor")
def test_every_help_ends_with_exit_codes_environment_and_examples(path: tuple[str, ...]) -> None:
    paragraphs = help_of(path).rstrip("\n").split("\n\n")
    exit_codes, environment, examples = (p.strip() for p in paragraphs[-3:])

    assert exit_codes.startswith("Exit codes: 0 "), exit_codes
    assert "2 usage or configuration error." in " ".join(exit_codes.split())

    env_lines = environment.splitlines()
    assert env_lines[0] == "Environment:", environment
    names = [line.split()[0] for line in env_lines[1:]]
    assert names and set(names) <= set(ENVIRONMENT), names
    for line in env_lines[1:]:
        assert re.fullmatch(r"\s+[A-Z_]+  \S.*", line), line

    example_lines = examples.splitlines()
    assert example_lines[0] == "Examples:", examples
    assert len(example_lines) >= 2
    for line in example_lines[1:]:
        argv = shlex.split(line)
        assert argv[0] == "orch-doctor", line
        assert tuple(argv[1 : 1 + len(path)]) == path, line  # an example of this command
        parses(argv[1:])  # its options exist and its required ones are given
