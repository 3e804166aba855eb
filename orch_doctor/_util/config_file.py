"""Reading the project's TOML configuration files (matrix, policy) with errors that name the file
and the key — never a traceback.

Whatever is wrong with a file — unreadable, too large, not UTF-8, not TOML, nested beyond what the
parser can follow, a control character in a string — is one :class:`ConfigFileError` (or the
subclass asked for) with one line saying where.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orch_doctor._util.text import printable
from orch_doctor.errors import ConfigFileError

#: no configuration file is anywhere near this: a larger one is refused before it is parsed
MAX_BYTES = 4 * 1024 * 1024
#: deeper than any real file; tomllib itself would hit Python's recursion limit near 1,000
MAX_DEPTH = 32
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def existing_file(path: Path, error: type[ConfigFileError], missing: str) -> Path:
    """``path`` when it is a file; else ``error`` naming it (``missing``, or why it cannot be
    read: e.g. under a folder that cannot be searched)."""
    try:
        is_file = path.is_file()
    except OSError as exc:
        raise error(path, "-", f"cannot read: {exc.strerror or exc}") from None
    if not is_file:
        raise error(path, "-", missing)
    return path


def read_text(
    path: Path,
    limit: int,
    shown_limit: str,
    error: type[ConfigFileError] = ConfigFileError,
    key: str = "-",
    *,
    stdin: bool = False,
) -> str:
    """The UTF-8 text in ``path`` (with ``stdin``, '-' reads standard input), at most ``limit``
    bytes (``shown_limit`` in messages); else ``error`` naming the file and ``key``."""
    try:
        if stdin and str(path) == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with path.open("rb") as fh:
                raw = fh.read(limit + 1)
    except OSError as exc:
        raise error(path, key, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise error(path, key, f"larger than {shown_limit}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(path, key, f"not UTF-8 (byte {exc.start + 1}, line {line})") from None


def read_toml(path: Path, error: type[ConfigFileError] = ConfigFileError) -> dict[str, Any]:
    """The parsed file; an unreadable or malformed one raises ``error`` naming the file and,
    where there is one, the key (``-`` for the file as a whole)."""
    text = read_text(path, MAX_BYTES, f"{MAX_BYTES // (1024 * 1024)} MiB", error)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(path, "-", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise error(path, "-", "not valid TOML: nested too deeply") from None
    check_values(path, data, error)
    return data


def check_values(
    path: Path | str, data: Mapping[str, Any], error: type[ConfigFileError] = ConfigFileError
) -> None:
    """Every string (and key) printable, nesting at most :data:`MAX_DEPTH` deep; else ``error``
    naming the key."""

    def walk(value: Any, where: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise error(path, where or "-", f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            if _CONTROL.search(value):
                raise error(path, where or "-", "contains a control character")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                sub = f"{where}.{key_text(key)}" if where else key_text(key)
                if _CONTROL.search(key):
                    raise error(path, sub, "the key contains a control character")
                walk(item, sub, depth + 1)
        elif isinstance(value, Sequence):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]", depth + 1)

    walk(data, "", 0)


def key_text(key: str) -> str:
    """A key as shown in an error: printable, on one line, at most 80 characters."""
    shown = printable(key, newlines=False)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def value_text(value: object) -> str:
    """A value as shown in an error: ``repr``, printable, on one line, at most 80 characters."""
    shown = printable(repr(value), newlines=False)
    return shown if len(shown) <= 80 else shown[:77] + "..."
