"""Install real OpenCode releases from npm into a per-machine cache, once, and find them.

Used by the test suite (session fixtures), by ``dev.py`` and by ``tools/record_help.py``.
Standard library only: it runs before the project's virtual environment exists.

Layout: ``<cache>/opencode/<version>/node_modules/<platform package>/bin/opencode``.
The cache is ``$ORCH_DOCTOR_RELEASE_CACHE`` or ``$XDG_CACHE_HOME/orch-doctor-dev``
(default ``~/.cache/orch-doctor-dev``), outside the repository.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: the releases the test suite runs for real (help fixtures cover more: compat_matrix/help/)
TEST_RELEASES: tuple[str, ...] = ("0.5.29", "1.0.152", "1.0.162", "1.1.11", "1.18.33")
#: the newest release the project is tested with; `dev.py doctor` installs it when none is found
NEWEST_TESTED = "1.18.33"

NPM_TIMEOUT_S = 600
#: when set (to a reason), ensure_release refuses: the test suite sets it for every test not
#: marked ``real``, so a test that needs a release without saying so fails, in every run
REFUSE_ENV = "ORCH_DOCTOR_REFUSE_RELEASES"


def cache_root() -> Path:
    env = os.environ.get("ORCH_DOCTOR_RELEASE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orch-doctor-dev"


def platform_package() -> str:
    """npm package holding the binary for this machine (e.g. ``opencode-linux-x64``)."""
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    name = f"opencode-{system}-{arch}"
    if arch == "x64" and system == "linux" and not _has_avx2():
        name += "-baseline"
    return name


def _has_avx2() -> bool:
    try:
        return "avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return True


#: what an OpenCode release version looks like (1.18.33, 0.0.0-dev-202609212252): anything else
#: from a registry, a command line or a workflow input is refused before it becomes a folder
#: name or an npm spec (``../../victim``, ``npm:evil@1.0.0``, ``file:``, git, URL, tag)
VERSION_PATTERN = re.compile(r"\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]{1,100})?")


def is_release_version(text: str) -> bool:
    return VERSION_PATTERN.fullmatch(text) is not None and text.isascii()


def check_version(version: str) -> str:
    """``version`` when it is an OpenCode release version, else ValueError."""
    if not isinstance(version, str) or not is_release_version(version):
        raise ValueError(f"not an OpenCode release version: {version!r}")
    return version


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, resolved, is ``folder`` (resolved) or lies under it."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, base]) == base


def release_dir(version: str) -> Path:
    """The release's own folder in the cache; ValueError for a version that is not one, or a
    folder that would not lie inside the cache (a symlink planted there)."""
    root = cache_root() / "opencode"
    folder = root / check_version(version)
    if not inside(folder, root) or os.path.realpath(folder) == os.path.realpath(root):
        raise ValueError(f"release folder of {version!r} is not inside {root}")
    return folder


def npm_spec(package: str, version: str) -> str:
    """``package@version`` for an exact release of one of OpenCode's own packages."""
    if (
        re.fullmatch(r"opencode-ai|opencode-[a-z0-9]+(?:-[a-z0-9]+)*|@opencode/cli", package)
        is None
    ):
        raise ValueError(f"not an OpenCode package: {package!r}")
    return f"{package}@{check_version(version)}"


def binary_path(version: str) -> Path:
    return release_dir(version) / "node_modules" / platform_package() / "bin" / "opencode"


def ensure_release(version: str, *, quiet: bool = True) -> Path:
    """Return the path of the real ``opencode`` binary of ``version``, installing it if needed.

    Safe to call from several processes at once (a lock file per release).
    """
    refused = os.environ.get(REFUSE_ENV)
    if refused:
        raise RuntimeError(f"OpenCode {version} refused: {refused}")
    target = binary_path(version)
    if _usable(target):
        return target
    folder = release_dir(version)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(target):
            return target
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not on PATH: install Node.js/npm to fetch OpenCode releases")
        cmd = [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            "--prefix",
            str(folder),
            npm_spec(platform_package(), version),
        ]
        if not quiet:
            print(f"installing OpenCode {version} ({platform_package()}) ...", file=sys.stderr)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, cwd=folder
        )
        if proc.returncode != 0 or not _usable(target):
            raise RuntimeError(
                f"npm could not install {platform_package()}@{version} "
                f"(exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
    return target


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.releases",
        description="Install real OpenCode releases from npm into the per-machine cache "
        f"({cache_root()}) and print each binary's path.",
    )
    parser.add_argument(
        "versions",
        nargs="*",
        metavar="VERSION",
        help=f"releases to install (default: the test releases, {' '.join(TEST_RELEASES)})",
    )
    versions = parser.parse_args(argv).versions or TEST_RELEASES
    bad = [v for v in versions if not is_release_version(v)]
    if bad:
        parser.error("not OpenCode release versions: " + " ".join(repr(v) for v in bad))
    for version in versions:
        print(ensure_release(version, quiet=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
