"""Small pieces shared by the subcommands (no heavy imports)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def config_error(message: str) -> NoReturn:
    """A usage or configuration error: one clear line on stderr (control characters and
    newlines made visible), exit 2."""
    from orch_doctor._util.text import printable

    click.echo(f"orch-doctor: error: {printable(message, newlines=False)}", err=True)
    sys.exit(EXIT_USAGE)


def shown(text: object) -> str:
    """Text from outside (a file, the binary, a server) for a rich console: control characters
    made visible, rich markup escaped."""
    from rich.markup import escape

    from orch_doctor._util.text import printable

    return escape(printable(str(text)))
