"""Where the compat_matrix/ data lives: inside the installed package, or in the source tree."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def compat_matrix_dir() -> Path:
    """The shipped compat_matrix/ folder (wheel: orch_doctor/compat_matrix; source: top level)."""
    packaged = Path(__file__).resolve().parent / "compat_matrix"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "compat_matrix"
