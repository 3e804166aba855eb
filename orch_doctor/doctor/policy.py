"""A project's policy for CI: ``[tool.orch-doctor]`` in pyproject.toml or ``.orch-doctor.toml``.

Searched from the spawn directory (or the current one) upward; ``--policy FILE`` wins. Keys:

    minimum_version = "1.0.162"          # fail below this OpenCode release
    allowed_strategies = ["attach-session-api", "attach-tui-api"]
    require_server = true                # fail unless a server is reachable
    server_url = "http://127.0.0.1:4096" # the server to check (when --server is not given)
    skip_checks = ["terminal"]           # check ids not to run
    allow_insecure_server = false        # accept a server without auth (CVE-2026-22812)

An invalid file is a configuration error naming the file and the key (exit 2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orch_doctor._util.config_file import read_toml
from orch_doctor.errors import PolicyError
from orch_doctor.matrix.model import STRATEGY_NAMES

KEYS = {
    "minimum_version",
    "allowed_strategies",
    "require_server",
    "server_url",
    "skip_checks",
    "allow_insecure_server",
}


@dataclass(frozen=True)
class Policy:
    source: str | None = None
    minimum_version: str | None = None
    allowed_strategies: tuple[str, ...] | None = None
    require_server: bool = False
    server_url: str | None = None
    skip_checks: tuple[str, ...] = ()
    allow_insecure_server: bool = False


def find_policy_file(start: Path) -> tuple[Path, bool] | None:
    """(file, is_pyproject) of the nearest policy from ``start`` upward, or None."""
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents]:
        own = candidate / ".orch-doctor.toml"
        if own.is_file():
            return own, False
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject, True
    return None


def load_policy(
    explicit: str | None, start: Path, check_ids: Collection[str] | None = None
) -> Policy:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise PolicyError(path, "-", "no such policy file")
        found: tuple[Path, bool] | None = (path, path.name == "pyproject.toml")
    else:
        found = find_policy_file(start)
    if found is None:
        return Policy()
    path, is_pyproject = found
    data = read_toml(path, PolicyError)
    if is_pyproject:
        table = data.get("tool", {}).get("orch-doctor")
        if table is None:
            raise PolicyError(path, "tool.orch-doctor", "missing")
        prefix = "tool.orch-doctor."
    else:
        table = data.get("tool", {}).get("orch-doctor", data) if "tool" in data else data
        prefix = ""
    if not isinstance(table, dict):
        raise PolicyError(path, prefix.rstrip(".") or "-", "must be a table")
    return parse_policy(str(path), table, prefix, check_ids)


def parse_policy(
    path: str, table: dict[str, Any], prefix: str = "", check_ids: Collection[str] | None = None
) -> Policy:
    for key in table:
        if key not in KEYS:
            raise PolicyError(
                path, prefix + key, f"unknown key (allowed: {', '.join(sorted(KEYS))})"
            )

    def want(key: str, kind: type, what: str) -> Any:
        value = table.get(key)
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
        ):
            raise PolicyError(path, prefix + key, f"must be {what}")
        return value

    minimum = want("minimum_version", str, "a version string")
    if minimum is not None:
        from packaging.version import InvalidVersion, Version

        try:
            Version(minimum)
        except InvalidVersion:
            raise PolicyError(
                path, prefix + "minimum_version", f"{minimum!r} is not a version"
            ) from None
    allowed = want("allowed_strategies", list, "a list of strategy names")
    if allowed is not None:
        for name in allowed:
            if name not in STRATEGY_NAMES or name == "none":
                raise PolicyError(path, prefix + "allowed_strategies", f"unknown strategy {name!r}")
    skip = want("skip_checks", list, "a list of check ids")
    if skip is not None and check_ids is not None:
        for name in skip:
            if name not in check_ids:
                raise PolicyError(path, prefix + "skip_checks", f"unknown check {name!r}")
    server_url = want("server_url", str, "a URL string")
    return Policy(
        source=path,
        minimum_version=minimum,
        allowed_strategies=tuple(allowed) if allowed is not None else None,
        require_server=bool(want("require_server", bool, "true or false") or False),
        server_url=server_url,
        skip_checks=tuple(skip or ()),
        allow_insecure_server=bool(want("allow_insecure_server", bool, "true or false") or False),
    )


def _has_tool_table(pyproject: Path) -> bool:
    """Only a pyproject.toml with a [tool.orch-doctor] table is a policy (an unreadable or
    invalid one is reported when it has the table's name in it)."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return False
    if "orch-doctor" not in text:
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "[tool.orch-doctor]" in text
    tool = data.get("tool")
    return isinstance(tool, dict) and "orch-doctor" in tool
