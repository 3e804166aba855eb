"""Reading the project's TOML configuration files (matrix, policy) with errors that name the file
and the key — never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from orch_doctor.errors import ConfigFileError


def read_toml(path: Path, error: type[ConfigFileError] = ConfigFileError) -> dict[str, Any]:
    """The parsed file; an unreadable or malformed one raises ``error`` (key ``-``)."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise error(path, "-", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(path, "-", f"not valid TOML: {exc}") from None
