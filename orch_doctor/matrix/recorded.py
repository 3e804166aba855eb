"""Real help texts stored in compat_matrix/help/<version>/ (recorded by tools/record_help.py)."""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orch_doctor.matrix.location import compat_matrix_dir
from orch_doctor.probe.capabilities import capabilities_from_help
from orch_doctor.probe.types import PROBED_COMMANDS, Capabilities, HelpText, RecordedProbe


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
    return folder_help_texts(help_dir() / version)


def folder_help_texts(folder: Path) -> dict[str, HelpText]:
    """The help texts a release folder holds (``<command>.txt``), by command."""
    texts: dict[str, HelpText] = {}
    for command in PROBED_COMMANDS:
        path = folder / f"{command}.txt"
        if path.is_file():
            texts[command] = HelpText(command=command, text=path.read_text(encoding="utf-8"))
    return texts


def stored_version_output(version: str) -> str | None:
    return folder_version_output(help_dir() / version)


def folder_version_output(folder: Path) -> str | None:
    path = folder / "version.txt"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def stored_capabilities(version: str) -> Capabilities:
    """Capabilities of a stored release, exactly as the live probe would parse them."""
    return folder_capabilities(help_dir() / version, f"<stored help of {version}>")


def folder_capabilities(folder: Path, binary_path: str) -> Capabilities:
    """Capabilities of the help texts in a release folder (of any compat_matrix), exactly as the
    live probe would parse them; ``binary_path`` names where they came from."""
    return capabilities_from_help(
        folder_help_texts(folder), folder_version_output(folder), binary_path=binary_path
    )


def stored_routes(version: str) -> frozenset[str] | None:
    """The route set recorded from a real server of ``version`` (routes.txt), if any."""
    path = help_dir() / version / "routes.txt"
    return _read_routes(path) if path.is_file() else None


def contract_routes(generation: str) -> frozenset[str] | None:
    """The routes a generation's published contract defines (compat_matrix/contract/
    opencode-<generation>-routes.txt): contract only, never measured; for a server that lists
    no routes of its own (OpenCode 2.x serves no OpenAPI document)."""
    path = compat_matrix_dir() / "contract" / f"opencode-{generation}-routes.txt"
    return _read_routes(path) if path.is_file() else None


def routes_complete(routes: frozenset[str]) -> bool:
    """Every real OpenCode server lists its sessions; an OpenAPI document without GET /session
    is incomplete (measured on 1.14.34: /doc lists 3 paths)."""
    return "GET /session" in routes


def fallback_routes(version: str) -> tuple[str, frozenset[str]] | None:
    """:func:`fallback_routes_in` the shipped help/ folder."""
    return fallback_routes_in((str(help_dir()),), version)


def fallback_routes_in(folders: tuple[str, ...], version: str) -> tuple[str, frozenset[str]] | None:
    """The complete recorded route set of the newest release <= ``version`` of the same major
    recorded in ``folders`` (a later folder's release replaces an earlier one's)."""
    from packaging.version import InvalidVersion, Version

    try:
        wanted = Version(version)
    except InvalidVersion:
        return None
    best: tuple[Version, str, frozenset[str]] | None = None
    for name, routes in _route_sets(folders).items():
        try:
            have = Version(name)
        except InvalidVersion:
            continue
        if have.is_prerelease or have.is_devrelease or have.local:
            continue  # a dev build's routes say nothing about the releases numbered near it
        if not routes_complete(routes):
            continue
        if have.major == wanted.major and have <= wanted and (best is None or have > best[0]):
            best = (have, name, routes)
    return (best[1], best[2]) if best else None


@functools.cache
def _route_sets(folders: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Every ``<folder>/<version>/routes.txt`` in ``folders``, read once per process."""
    found: dict[str, frozenset[str]] = {}
    for folder in map(Path, folders):
        try:
            releases = sorted(p for p in folder.iterdir() if (p / "routes.txt").is_file())
        except OSError:
            continue  # no help/ beside these matrix files
        for release in releases:
            routes = _read_routes(release / "routes.txt")
            if routes is not None:
                found[release.name] = routes
    return found


def _read_routes(path: Path) -> frozenset[str] | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class Published:
    """A published release's linux/darwin binary as recorded in help/<version>/meta.toml."""

    version: str
    platform: str
    size: int
    sha256: str


def published_binaries() -> dict[int, list[Published]]:
    """Recorded binaries by size (the cheap first test before hashing)."""
    by_size: dict[int, list[Published]] = {}
    for version in stored_releases():
        meta = release_meta(version)
        binary = meta.get("binary")
        if not isinstance(binary, dict):
            continue
        size, digest = binary.get("size"), binary.get("sha256")
        if isinstance(size, int) and isinstance(digest, str) and len(digest) == 64:
            platform = str(binary.get("platform", "linux-x64"))
            by_size.setdefault(size, []).append(Published(version, platform, size, digest))
    return by_size


def identify_binary(path: str) -> RecordedProbe | None:
    """The recorded help of the published release ``path`` is byte-identical to, or None.

    Hashes the file that actually runs (an npm launcher script is resolved to its platform
    binary where that can be told for certain; otherwise nothing is identified), and only when
    its size is that of a recorded release."""
    from orch_doctor.probe.identity import file_sha256, file_size, launcher_target

    target = launcher_target(path)
    if target is None:
        target = os.path.realpath(path)
    size = file_size(target)
    candidates = published_binaries().get(size or -1, [])
    if not candidates:
        return None
    try:
        digest = file_sha256(target)
    except OSError:
        return None
    match = next((c for c in candidates if c.sha256 == digest), None)
    if match is None:
        return None
    texts = load_help_texts(match.version)
    version_output = stored_version_output(match.version)
    if "root" not in texts or version_output is None:
        return None
    return RecordedProbe(
        version_output=version_output,
        help={name: t.text for name, t in texts.items()},
        identified_as=(
            f"identical to published {match.version} ({match.platform}, sha256 "
            f"{digest[:12]}…): its recorded help is its help"
        ),
    )
