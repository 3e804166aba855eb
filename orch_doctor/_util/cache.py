"""A small on-disk JSON cache: atomic writes, corrupt or foreign files ignored and rewritten.

Location: ``$ORCH_DOCTOR_CACHE_DIR`` or the user cache dir (platformdirs). Each entry is one file
named by a hash of its key; the key is stored inside too and checked on read, so a collision,
a file from another tool version or a half-written file (impossible with ``os.replace``, but a
copied or truncated one is not) simply misses.

The cache prunes itself on every write (:func:`prune`): only files named like its own entries
are touched; an entry of another orch-doctor version or cache format, one not used for
:data:`MAX_AGE_S`, and all but the :data:`KEEP_PER_KIND` most recently used of a kind go.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orch_doctor import __version__

FORMAT = 1
#: an entry is a few help texts: a larger file is not one of ours
MAX_BYTES = 4 * 1024 * 1024
#: entries kept per kind (one per OpenCode binary or server seen): the most recently used
KEEP_PER_KIND = 12
#: an entry not used for this long goes
MAX_AGE_S = 30 * 24 * 3600
#: a temporary file left by a writer that died goes after this long
STALE_TEMP_S = 3600

# only names this module writes are ever removed (the folder may be one a user chose)
_ENTRY_NAME = re.compile(r"^([a-z][a-z0-9_]{0,31})-[0-9a-f]{32}\.json$")
_TEMP_NAME = re.compile(r"^\.[a-z][a-z0-9_]{0,31}-[0-9a-f]{32}\.json\..+$")
# the record starts with these two fields (see store): the head of a file says whose it is
_HEAD = re.compile(r'^\{"format": (\d+), "tool_version": "([^"\\]{0,100})"')


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
    folder = folder or cache_dir()
    if not folder_is_private(folder):
        return None
    path = _file_for(kind, key, folder)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:  # absent, or a symlink planted where an entry goes (ELOOP)
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not _own_private_file(os.fstat(fh.fileno())):
                return None
            raw = fh.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                return None
            data = json.loads(raw)
            used = fh.fileno()
            if not _check_value(data, kind, key, valid):
                return None
            with contextlib.suppress(OSError):  # used now: pruning keeps the most recently used
                os.utime(used)
            value: dict[str, Any] = data["value"]
            return value
    except (OSError, ValueError, RecursionError):
        return None


def _check_value(
    data: Any,
    kind: str,
    key: Mapping[str, Any],
    valid: Callable[[Mapping[str, Any]], bool] | None,
) -> bool:
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or data.get("tool_version") != __version__
        or data.get("kind") != kind
        or data.get("key") != json.loads(json.dumps(key))
        or not isinstance(data.get("value"), dict)
    ):
        return False
    if valid is not None:
        try:
            return bool(valid(data["value"]))
        except Exception:  # a shape the validator did not foresee: a miss, not a crash
            return False
    return True


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted where an entry goes never blocks


def _own_private_file(st: os.stat_result) -> bool:
    """A regular file of this user that no one else can write: only such an entry is read."""
    return (
        stat.S_ISREG(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def folder_is_private(folder: Path) -> bool:
    """Whether entries in ``folder`` can only have been written by this user: the folder is
    this user's and not writable by others, nor by a group other than the user's own private
    group. A folder that is not is no cache (nothing read from it, nothing written)."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return True  # made by store, private
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & stat.S_IWOTH:
        return False
    return not st.st_mode & stat.S_IWGRP or _private_group(st.st_gid)


def _private_group(gid: int) -> bool:
    """The user's own group with no other member (a user-private group, umask 002 systems)."""
    try:
        import grp
        import pwd

        group = grp.getgrgid(gid)
        user = pwd.getpwuid(os.geteuid())
    except (ImportError, KeyError):
        return False
    return (
        gid == user.pw_gid
        and group.gr_name == user.pw_name
        and not (set(group.gr_mem) - {user.pw_name})
    )


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
    # one string (json.dumps encodes in C; json.dump to a file runs the pure-Python encoder,
    # 5-10x slower on the matrix's documents), made before any file exists
    text = json.dumps(record)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not folder_is_private(folder):
            return False  # others could plant entries there: no cache
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    prune(folder, keep=path)
    return True


def prune(
    folder: Path | None = None,
    *,
    keep: Path | None = None,
    keep_per_kind: int = KEEP_PER_KIND,
    max_age_s: float = MAX_AGE_S,
    now: float | None = None,
) -> list[Path]:
    """Remove the entries of ``folder`` that are of another tool version or cache format (or not
    readable as an entry), older than ``max_age_s`` (last use), or beyond the ``keep_per_kind``
    most recently used of their kind, and temporary files a dead writer left; never ``keep``
    (the entry just written) and never a file not named like an entry. Returns what was
    removed; never raises (another process may prune at the same time)."""
    folder = folder or cache_dir()
    now = time.time() if now is None else now
    removed: list[Path] = []
    by_kind: dict[str, list[tuple[float, Path]]] = {}
    if not folder_is_private(folder):
        return removed  # files there may be anyone's
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        path = folder / name
        entry = _ENTRY_NAME.match(name)
        if entry is None and _TEMP_NAME.match(name) is None:
            continue
        try:
            st = path.lstat()
        except OSError:
            continue
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        age = now - st.st_mtime
        if entry is None:  # a temporary file
            if age > STALE_TEMP_S:
                removed += _remove(path)
            continue
        if keep is not None and path == keep:
            continue
        if age > max_age_s or not _current(path):
            removed += _remove(path)
            continue
        by_kind.setdefault(entry.group(1), []).append((st.st_mtime, path))
    for kind, entries in by_kind.items():
        # the entry just written counts as the newest of its kind
        room = keep_per_kind - (1 if keep is not None and keep.name.startswith(kind + "-") else 0)
        entries.sort(key=lambda e: e[0], reverse=True)
        for _, path in entries[max(room, 0) :]:
            removed += _remove(path)
    return removed


def _current(path: Path) -> bool:
    """Whether the file at ``path`` is an entry of this tool version and cache format."""
    try:
        with path.open("rb") as fh:
            head = fh.read(200).decode("utf-8", "replace")
    except OSError:
        return True  # unreadable now: leave it to the next write
    match = _HEAD.match(head)
    return match is not None and int(match.group(1)) == FORMAT and match.group(2) == __version__


def _remove(path: Path) -> list[Path]:
    try:
        path.unlink()
    except OSError:
        return []
    return [path]
