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

from orch_doctor._util.config_file import (
    MAX_BYTES,
    check_values,
    existing_file,
    key_text,
    read_toml,
    value_text,
)
from orch_doctor.errors import PolicyError
from orch_doctor.matrix.types import PLAN_STRATEGIES

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
    try:
        folder = start if start.is_dir() else start.parent
    except OSError:
        folder = start.parent
    for candidate in [folder, *folder.parents]:
        own = candidate / ".orch-doctor.toml"
        if _is_file(own):
            return own, False
        pyproject = candidate / "pyproject.toml"
        if _is_file(pyproject) and _has_tool_table(pyproject):
            return pyproject, True
    return None


def load_policy(
    explicit: str | None, start: Path, check_ids: Collection[str] | None = None
) -> Policy:
    if explicit:
        path = existing_file(Path(explicit), PolicyError, "no such policy file")
        found: tuple[Path, bool] | None = (path, path.name == "pyproject.toml")
    else:
        found = find_policy_file(start)
    if found is None:
        return Policy()
    path, is_pyproject = found
    data = read_toml(path, PolicyError)
    tool = data.get("tool")
    if is_pyproject:
        if not isinstance(tool, dict):
            raise PolicyError(path, "tool", "missing" if tool is None else "must be a table")
        table = tool.get("orch-doctor")
        if table is None:
            raise PolicyError(path, "tool.orch-doctor", "missing")
        prefix = "tool.orch-doctor."
    elif "tool" in data:
        # a .orch-doctor.toml may nest its keys under [tool.orch-doctor] too
        if not isinstance(tool, dict) or "orch-doctor" not in tool:
            raise PolicyError(
                path, "tool", "must be a table holding [tool.orch-doctor] (or leave it out)"
            )
        table = tool["orch-doctor"]
        prefix = "tool.orch-doctor."
    else:
        table = data
        prefix = ""
    if not isinstance(table, dict):
        raise PolicyError(path, prefix.rstrip(".") or "-", "must be a table")
    return parse_policy(str(path), table, prefix, check_ids)


def parse_policy(
    path: str, table: dict[str, Any], prefix: str = "", check_ids: Collection[str] | None = None
) -> Policy:
    check_values(path, table, PolicyError)
    for key in table:
        if key not in KEYS:
            raise PolicyError(
                path, prefix + key_text(key), f"unknown key (allowed: {', '.join(sorted(KEYS))})"
            )

    def want(key: str, kind: type, what: str) -> Any:
        value = table.get(key)
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
        ):
            raise PolicyError(path, prefix + key, f"must be {what}")
        return value

    def strings(key: str, what: str) -> list[str] | None:
        value = want(key, list, what)
        if value is None:
            return None
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise PolicyError(path, f"{prefix}{key}[{i}]", f"must be a string ({what})")
        return [str(item) for item in value]

    minimum = want("minimum_version", str, "a version string")
    if minimum is not None:
        from packaging.version import InvalidVersion, Version

        try:
            Version(minimum)
        except InvalidVersion:
            raise PolicyError(
                path, prefix + "minimum_version", f"{value_text(minimum)} is not a version"
            ) from None
        except ValueError:  # a number longer than Python converts (int max str digits)
            raise PolicyError(
                path,
                prefix + "minimum_version",
                f"{value_text(minimum)} has a number too long to compare",
            ) from None
    allowed = strings("allowed_strategies", "a list of strategy names")
    if allowed is not None:
        for i, name in enumerate(allowed):
            if name not in PLAN_STRATEGIES:
                raise PolicyError(
                    path,
                    f"{prefix}allowed_strategies[{i}]",
                    f"unknown strategy {value_text(name)} (known: {', '.join(PLAN_STRATEGIES)})",
                )
    skip = strings("skip_checks", "a list of check ids")
    if skip is not None and check_ids is not None:
        for i, name in enumerate(skip):
            if name not in check_ids:
                raise PolicyError(
                    path, f"{prefix}skip_checks[{i}]", f"unknown check {value_text(name)}"
                )
    server_url = want("server_url", str, "a URL string")
    if server_url is not None:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(server_url)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyError(
                path, prefix + "server_url", f"{value_text(server_url)} is not an http(s) URL"
            )
        del port
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
        with pyproject.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError:
        return False
    if b"orch-doctor" not in raw:
        return False
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError):
        return b"[tool.orch-doctor]" in raw
    tool = data.get("tool")
    return isinstance(tool, dict) and "orch-doctor" in tool


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # under a folder that cannot be searched: nothing to see there
        return False
