"""Proofs on this machine: a successful `orch-doctor verify` of a strategy with a binary, kept in
the user's cache (orch_doctor/_util/cache.py: a private folder, owner-checked entries) keyed by
the sha256 of the file that runs, with the date and the release. The request resolution reads
them for the probed binary and passes them to the decision as data
(:class:`orch_doctor.decide.evidence.LocalProof`), which then cites "verified on this machine" —
for any release, in compat_matrix/ or not.

A proof holds for the orch-doctor version that made it (the cache's entries are per version: a
new orch-doctor builds its plans anew and proves them again). The binary's digest is computed
only when a proof was ever kept here, and is itself cached by the file's identity (path, size,
mtime, inode), so a warm decision costs two small reads.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orch_doctor._util import cache
from orch_doctor.decide.evidence import LocalProof

KIND = "proof"
DIGEST_KIND = "digest"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: a release as `--version` printed it and the probe kept it (validated as the probe does)
_RELEASE_MAX = 100


def _any_proof(folder: Path) -> bool:
    try:
        return any(name.startswith(KIND + "-") for name in os.listdir(folder))
    except OSError:
        return False


def binary_digest(path: str, folder: Path | None = None) -> str | None:
    """The sha256 of the file at ``path`` (the one that runs), cached by its identity; None
    when it cannot be read."""
    from orch_doctor.probe.identity import file_sha256

    identity = cache.binary_identity(path)
    if identity is None:
        return None
    key = {"identity": identity}
    cached = cache.load(DIGEST_KIND, key, folder, valid=_valid_digest)
    if cached is not None:
        return str(cached["sha256"])
    try:
        digest = file_sha256(path)
    except OSError:
        return None
    cache.store(DIGEST_KIND, key, {"sha256": digest}, folder)
    return digest


def _valid_digest(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("sha256"), str) and bool(_SHA256.match(value["sha256"]))


def _valid_proofs(value: Mapping[str, Any]) -> bool:
    proofs = value.get("proofs")
    if not isinstance(proofs, dict):
        return False
    from orch_doctor.matrix.types import strategy_name

    for name, item in proofs.items():
        if strategy_name(name) is None or not isinstance(item, dict):
            return False
        if not isinstance(item.get("date"), str) or not _DATE.match(item["date"]):
            return False
        release = item.get("release")
        if release is not None and (not isinstance(release, str) or len(release) > _RELEASE_MAX):
            return False
    return True


def read_proofs(binary_path: str | None, folder: Path | None = None) -> dict[str, LocalProof]:
    """The strategies proven on this machine with the binary at ``binary_path``, by name
    (nothing is hashed when no proof was ever kept). Never raises."""
    if binary_path is None:
        return {}
    folder = folder or cache.cache_dir()
    if not _any_proof(folder):
        return {}
    digest = binary_digest(binary_path, folder)
    if digest is None:
        return {}
    entry = cache.load(KIND, {"sha256": digest}, folder, valid=_valid_proofs)
    if entry is None:
        return {}
    return {
        name: LocalProof(
            strategy=name,
            sha256=digest,
            date=item["date"],
            release=item.get("release"),
            orch_doctor_version=item.get("orch_doctor_version"),
        )
        for name, item in entry["proofs"].items()
    }


def record_proof(
    binary_path: str,
    strategy: str,
    release: str | None,
    *,
    folder: Path | None = None,
    today: datetime.date | None = None,
) -> LocalProof | None:
    """Keep a successful verify of ``strategy`` with the binary at ``binary_path``; the proof
    kept, or None when the binary cannot be read or the cache cannot be written."""
    from orch_doctor import __version__
    from orch_doctor.matrix.types import strategy_name

    if strategy_name(strategy) is None:
        return None
    folder = folder or cache.cache_dir()
    digest = binary_digest(binary_path, folder)
    if digest is None:
        return None
    key = {"sha256": digest}
    entry = cache.load(KIND, key, folder, valid=_valid_proofs)
    proofs: dict[str, Any] = dict(entry["proofs"]) if entry is not None else {}
    date = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    proofs[strategy] = {"date": date, "release": release, "orch_doctor_version": __version__}
    if not cache.store(KIND, key, {"proofs": proofs}, folder):
        return None
    return LocalProof(strategy, digest, date, release, __version__)
