"""Where the compat_matrix/ data lives: inside the installed package, or in the source tree."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def compat_matrix_dir() -> Path:
    """The shipped compat_matrix/ folder (wheel: orch_doctor/compat_matrix; source: top level)."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "compat_matrix"
    if packaged.is_dir():
        return packaged
    return package.parent / "compat_matrix"
