"""Which file actually runs, and its digest: the binary an npm launcher script starts, resolved
the way the launcher does when that can be told for certain, and the sha256 of that file.

A binary identical to a published release is then known without starting it (the matrix holds
the digests of published releases and their recorded help)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

#: a launcher script is a few KB (2–5 KB on 1.0.152, 1.1.34, 1.2.27); a binary is 140–190 MB
LAUNCHER_MAX_BYTES = 64 * 1024
#: the launcher's own markers (recorded launcher of 1.0.152: tests/fixtures/npm/)
_LAUNCHER_MARKERS = ("OPENCODE_BIN_PATH", "findBinary", '"opencode-" + platform + "-" + arch')


def launcher_target(path: str, env: Mapping[str, str] | None = None) -> str | None:
    """The platform binary an npm launcher script at ``path`` runs, or None when ``path`` is
    not such a launcher or its choice cannot be told for certain (several candidate packages,
    an unknown launcher layout, a platform package of another version)."""
    env = os.environ if env is None else env
    try:
        resolved = Path(os.path.realpath(path))
        if resolved.stat().st_size > LAUNCHER_MAX_BYTES:
            return None
        text = resolved.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not text.startswith("#!") or "node" not in text.split("\n", 1)[0]:
        return None
    if not all(marker in text for marker in _LAUNCHER_MARKERS):
        return None  # a launcher layout this resolver was not built from
    override = env.get("OPENCODE_BIN_PATH")
    if override:
        return override
    from orch_doctor.probe.discover import NAME, _package_version, _platform_package_name

    base = _platform_package_name()
    want = _package_version(resolved.parent.parent)  # opencode-ai/bin/opencode -> opencode-ai
    for folder in [resolved.parent, *resolved.parent.parents]:
        modules = folder / "node_modules"
        try:
            entries = sorted(e for e in os.listdir(modules) if e.startswith(base))
        except OSError:
            continue
        found = [modules / e for e in entries if (modules / e / "bin" / NAME).is_file()]
        if not found:
            continue
        if len(found) > 1:
            return None  # the launcher takes the first in directory order: not certain
        package = found[0]
        if want is not None and _package_version(package) != want:
            return None
        return str(package / "bin" / NAME)
    return None


def runs_file(path: str, env: Mapping[str, str] | None = None) -> str:
    """The file whose bytes run when ``path`` is executed (the launcher's target, or itself)."""
    return launcher_target(path, env) or os.path.realpath(path)


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None
