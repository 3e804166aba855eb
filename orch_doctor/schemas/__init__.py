"""JSON Schemas of every ``--format json`` output (``<name>.schema.json``), and the version
every output carries as ``schema_version``: raised on a breaking change; new keys may appear
without it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"
NAMES = ("doctor", "probe", "server", "plan", "verify", "spawn", "matrix-show", "matrix-check")


def schema_path(name: str) -> Path:
    if name not in NAMES:
        raise ValueError(f"no schema {name!r} (known: {', '.join(NAMES)})")
    return Path(__file__).resolve().parent / f"{name}.schema.json"


def load_schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return data


def versioned(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with ``schema_version`` first."""
    return {"schema_version": SCHEMA_VERSION, **data}
