"""Small pieces shared by the subcommands (no heavy imports)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, NoReturn

import click

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


# JSON escapes C0 itself; these it would print raw (ensure_ascii=False keeps other text readable)
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def json_text(data: Any) -> str:
    """``data`` as indented JSON that is safe on a terminal: besides the C0 controls JSON always
    escapes, DEL, C1, bidi and line-separator characters and lone surrogates are ``\\uXXXX``
    escapes (they occur only inside strings, so the document is the same)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(data: dict[str, Any]) -> None:
    """Print ``data`` as terminal-safe JSON with ``schema_version`` first (its schema ships in
    orch_doctor/schemas/)."""
    from orch_doctor.schemas import versioned

    click.echo(json_text(versioned(data)))


def config_error(message: str) -> NoReturn:
    """A usage or configuration error: one clear line on stderr (control characters and
    newlines made visible), exit 2."""
    from orch_doctor._util.text import printable

    click.echo(f"orch-doctor: error: {printable(message, newlines=False)}", err=True)
    sys.exit(EXIT_USAGE)
