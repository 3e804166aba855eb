"""Real help texts stored in compat_matrix/help/<version>/ (recorded by tools/record_help.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from orch_doctor.capabilities import capabilities_from_help
from orch_doctor.data import compat_matrix_dir
from orch_doctor.models import PROBED_COMMANDS, Capabilities, HelpText


def help_dir() -> Path:
    return compat_matrix_dir() / "help"


def stored_releases() -> list[str]:
    """Versions with stored help texts, oldest first (unparsable names last)."""
    from packaging.version import InvalidVersion, Version

    names = [p.name for p in help_dir().iterdir() if (p / "root.txt").is_file()]

    def key(name: str) -> tuple[int, Any]:
        try:
            return (0, Version(name))
        except InvalidVersion:
            return (1, name)

    return sorted(names, key=key)


def release_meta(version: str) -> dict[str, Any]:
    path = help_dir() / version / "meta.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def load_help_texts(version: str) -> dict[str, HelpText]:
    folder = help_dir() / version
    texts: dict[str, HelpText] = {}
    for command in PROBED_COMMANDS:
        path = folder / f"{command}.txt"
        if path.is_file():
            texts[command] = HelpText(command=command, text=path.read_text(encoding="utf-8"))
    return texts


def stored_version_output(version: str) -> str | None:
    path = help_dir() / version / "version.txt"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def stored_capabilities(version: str) -> Capabilities:
    """Capabilities of a stored release, exactly as the live probe would parse them."""
    return capabilities_from_help(
        load_help_texts(version),
        stored_version_output(version),
        binary_path=f"<stored help of {version}>",
    )
