"""Small pieces shared by the subcommands (no heavy imports)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def emit_json(data: dict[str, Any]) -> None:
    """Print ``data`` as JSON with ``schema_version`` first (its schema ships in
    orch_doctor/schemas/)."""
    from orch_doctor.schemas import versioned

    click.echo(json.dumps(versioned(data), indent=2, ensure_ascii=False))


def config_error(message: str) -> NoReturn:
    """A usage or configuration error: one clear line on stderr, exit 2."""
    click.echo(f"orch-doctor: error: {message}", err=True)
    sys.exit(EXIT_USAGE)
