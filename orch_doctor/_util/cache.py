"""A small on-disk JSON cache: atomic writes, corrupt or foreign files ignored and rewritten.

Location: ``$ORCH_DOCTOR_CACHE_DIR`` or the user cache dir (platformdirs). Each entry is one file
named by a hash of its key; the key is stored inside too and checked on read, so a collision,
a file from another tool version or a half-written file (impossible with ``os.replace``, but a
copied or truncated one is not) simply misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orch_doctor import __version__

FORMAT = 1
#: an entry is a few help texts: a larger file is not one of ours
MAX_BYTES = 4 * 1024 * 1024


def cache_dir() -> Path:
    env = os.environ.get("ORCH_DOCTOR_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("orch-doctor"))


def binary_identity(path: str) -> dict[str, Any] | None:
    """What makes a binary the same binary: resolved path, size, mtime, inode (None: gone)."""
    try:
        resolved = os.path.realpath(path)
        st = os.stat(resolved)
    except OSError:
        return None
    return {
        "resolved": resolved,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "device": st.st_dev,
    }


def _file_for(kind: str, key: Mapping[str, Any], folder: Path) -> Path:
    digest = hashlib.sha256(
        json.dumps([kind, key, __version__], sort_keys=True).encode()
    ).hexdigest()[:32]
    return folder / f"{kind}-{digest}.json"


def load(
    kind: str,
    key: Mapping[str, Any],
    folder: Path | None = None,
    valid: Callable[[Mapping[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """The cached value for ``key``, or None (missing, corrupt, foreign, other tool version, too
    large, nested too deeply, or a value ``valid`` rejects): a miss, so the caller measures
    again and :func:`store` rewrites the entry. Never raises."""
    path = _file_for(kind, key, folder or cache_dir())
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            return None
        data = json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or data.get("tool_version") != __version__
        or data.get("kind") != kind
        or data.get("key") != json.loads(json.dumps(key))
        or not isinstance(data.get("value"), dict)
    ):
        return None
    value: dict[str, Any] = data["value"]
    if valid is not None:
        try:
            if not valid(value):
                return None
        except Exception:  # a shape the validator did not foresee: a miss, not a crash
            return None
    return value


def store(
    kind: str, key: Mapping[str, Any], value: Mapping[str, Any], folder: Path | None = None
) -> bool:
    """Write atomically (temp file + rename); a cache that cannot be written is not an error."""
    import tempfile

    folder = folder or cache_dir()
    path = _file_for(kind, key, folder)
    record = {
        "format": FORMAT,
        "tool_version": __version__,
        "kind": kind,
        "key": key,
        "value": value,
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
