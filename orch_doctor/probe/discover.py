"""Find the installed OpenCode: every candidate in order, which one wins and why, what it hides.

Only ``stat`` and small reads: nothing is executed here (versions of shadowed binaries are read
by the probe, which runs them concurrently).

Order: ``--opencode PATH``; ``$OPENCODE_BIN`` (orch's override); ``$OPENCODE_BIN_PATH`` (the npm
launcher's override); every ``opencode`` on ``$PATH``; the usual install dirs (``~/.opencode/bin``,
``~/.bun/bin``, npm's global bin, ``~/.local/bin``).

What is reported is what runs: every candidate is made absolute here, once; the probe then
resolves it to the file that runs (a symlink's target, an npm launcher's binary: see
probe/identity.py), and that file is what it runs, what the cache is keyed by, what the report
names as the binary and what a plan puts in argv[0]. An explicit value is read like this:

- ``--opencode VALUE`` is a path (its metavar says so): when it contains a ``/`` or names an
  existing file relative to the working directory, it is that file; otherwise a bare name is
  looked up on ``$PATH`` like a shell does. ``--opencode opencode`` with ``./opencode`` present
  therefore runs ``./opencode`` (as an absolute path) and the report says so, naming the
  ``opencode`` on ``$PATH`` it hides; ``--opencode=-oc`` runs ``./-oc``.
- ``$OPENCODE_BIN`` / ``$OPENCODE_BIN_PATH`` are set by tools, not typed in a directory: a value
  with a ``/`` is a path, a bare name is looked up on ``$PATH`` only (like a shell; a file of that
  name in whatever directory orch-doctor runs in is never picked up).
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path

from orch_doctor.probe.types import EXPLICIT_SOURCES, BinaryCandidate, BinaryFinding

NAME = "opencode"
#: the 2.x beta's binary name (``@opencode/cli``); tried after every ``opencode``
NAME_2X = "opencode2"
#: npm packages of the 2.x CLI (the registry name, and the name in its source tree)
PACKAGES_2X = ("@opencode/cli", "@opencode-ai/cli")
_SCRIPT_PEEK = 64 * 1024
_PLATFORM_SUFFIXES = ("", "-baseline", "-musl", "-baseline-musl")


def discover(
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BinaryFinding:
    """Look at every candidate and pick the one that runs."""
    env = os.environ if env is None else env
    paths = candidate_paths(explicit, env)
    candidates = [_explicit(path, source, env) for path, source in paths]
    chosen = next((c for c in candidates if c.usable), None)
    first_explicit = next((c for c in candidates if c.source in EXPLICIT_SOURCES), None)
    if first_explicit is not None and not first_explicit.usable:
        # an explicit choice that does not work is an error, not a reason to run another binary
        return BinaryFinding(
            chosen=None,
            candidates=tuple(candidates),
            problem=f"{first_explicit.source} points at {first_explicit.path}: "
            f"{first_explicit.problem}",
            fix=first_explicit.fix,
        )
    if chosen is None:
        problems = [c for c in candidates if c.problem and c.problem != "missing"]
        if problems:
            worst = problems[0]
            return BinaryFinding(
                chosen=None,
                candidates=tuple(candidates),
                problem=f"no usable OpenCode: {worst.path}: {worst.problem}",
                fix=worst.fix,
            )
        return BinaryFinding(
            chosen=None,
            candidates=tuple(candidates),
            problem="OpenCode is not installed (not on PATH nor in the usual install dirs)",
            fix="npm install -g opencode-ai",
        )
    seen = {_file_identity(chosen)}
    shadowed = []
    for cand in candidates:
        identity = _file_identity(cand)
        if cand.usable and identity not in seen:
            seen.add(identity)
            shadowed.append(cand)
    return BinaryFinding(
        chosen=chosen,
        candidates=tuple(candidates),
        reason=_reason(chosen),
        shadowed=tuple(shadowed),
    )


def candidate_paths(explicit: str | None, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(path, source) in the order they are tried; duplicates (same path string) removed."""
    found: list[tuple[str, str]] = []
    if explicit:  # a value as given: resolved by _explicit
        found.append((explicit, "--opencode"))
    for var in ("OPENCODE_BIN", "OPENCODE_BIN_PATH"):
        if env.get(var):
            found.append((env[var], var))
    home = Path(env.get("HOME") or Path.home())
    for name in (NAME, NAME_2X):
        for folder in env.get("PATH", "").split(os.pathsep):
            if folder:
                found.append((os.path.abspath(os.path.join(folder, name)), "PATH"))
        for install_dir in install_dirs(home, env):
            found.append((os.path.abspath(install_dir / name), "install-dir"))
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path, source in found:
        key = os.path.abspath(os.path.expanduser(path))
        if source == "install-dir" and key in seen:
            continue
        if source == "PATH" and key in seen:
            continue
        seen.add(key)
        result.append((path, source))
    # absent PATH entries and install dirs are noise: keep only what exists (or was asked for)
    implicit = ("PATH", "install-dir")
    return [
        (p, s) for p, s in result if s not in implicit or os.path.lexists(os.path.expanduser(p))
    ]


def resolve_explicit(
    value: str, source: str, env: Mapping[str, str]
) -> tuple[str | None, str, str | None]:
    """(absolute path or None, how it was read: "path" | "PATH", the problem when None).

    See the module docstring for the rule; never raises."""
    expanded = os.path.expanduser(value)
    names_file = "/" in expanded or (source == "--opencode" and os.path.lexists(expanded))
    if names_file:
        return os.path.abspath(expanded), "path", None
    found = _which(expanded, env)
    if found is not None:
        return os.path.abspath(found), "PATH", None
    here = os.path.lexists(expanded)
    return (
        None,
        "PATH",
        f"no {expanded!r} on $PATH"
        + (" (a file of that name in the working directory is not used: give ./" + expanded + ")"
           if here else ""),
    )  # fmt: skip


def _explicit(path: str, source: str, env: Mapping[str, str]) -> BinaryCandidate:
    if source not in EXPLICIT_SOURCES:
        return inspect_candidate(path, source)
    resolved, lookup, problem = resolve_explicit(path, source, env)
    if resolved is None:
        hint = shlex.quote(f"./{path}") if os.path.lexists(path) else "/path/to/opencode"
        flag = f"--opencode {hint}" if source == "--opencode" else f"{source}={hint}"
        return BinaryCandidate(
            path=path,
            source=source,
            problem=(problem or "missing") + f" (give the file: {flag})",
            fix="npm install -g opencode-ai",
            given=path,
            lookup=lookup,
        )
    from dataclasses import replace

    return replace(inspect_candidate(resolved, source), given=path, lookup=lookup)


def install_dirs(home: Path, env: Mapping[str, str]) -> list[Path]:
    dirs = [home / ".opencode" / "bin", home / ".bun" / "bin"]
    prefix = env.get("npm_config_prefix") or env.get("NPM_CONFIG_PREFIX")
    if prefix:
        dirs.append(Path(prefix) / "bin")
    dirs.append(home / ".npm-global" / "bin")
    node = _which("node", env)
    if node is not None:  # npm's default global prefix is node's own install prefix
        dirs.append(Path(os.path.realpath(node)).parent.parent / "bin")
    dirs.append(Path("/usr/local/bin"))
    dirs.append(home / ".local" / "bin")
    return dirs


def inspect_candidate(path: str, source: str) -> BinaryCandidate:
    """What is at ``path``: a usable binary, or exactly what is wrong with it."""
    expanded = os.path.expanduser(path)
    if not os.path.lexists(expanded):
        return BinaryCandidate(
            path=path,
            source=source,
            problem="missing",
            # an environment variable that names nothing: without it, discovery runs
            fix=f"unset {source}" if source.isidentifier() else None,
        )
    if os.path.islink(expanded) and not os.path.exists(expanded):
        target = os.readlink(expanded)
        return BinaryCandidate(
            path=path,
            source=source,
            problem=f"broken symlink (points at {target}, which does not exist)",
            fix=f"rm -- {shlex.quote(expanded)} && npm install -g opencode-ai",
        )
    resolved = os.path.realpath(expanded)
    try:
        st = os.stat(resolved)
    except OSError as exc:
        return BinaryCandidate(path, source, resolved, problem=f"cannot stat: {exc.strerror}")
    if stat.S_ISDIR(st.st_mode):
        return BinaryCandidate(
            path,
            source,
            resolved,
            problem="is a directory, not the opencode binary (point "
            f"{source} at the opencode file inside it, e.g. "
            f"{shlex.quote(expanded + '/bin/opencode')})",
            fix=f"export {source}={shlex.quote(expanded + '/bin/opencode')}"
            if source.isidentifier()
            else None,
        )
    if not os.access(resolved, os.X_OK):
        return BinaryCandidate(
            path,
            source,
            resolved,
            problem="not executable",
            fix=f"chmod +x -- {shlex.quote(resolved)}",
        )
    generation = cli_generation(expanded, resolved)
    # the 1.x npm launcher's checks (opencode-ai and its platform packages) say nothing of 2.x's
    launcher = None if generation == "2.x" else _npm_launcher_problem(Path(resolved))
    if launcher is not None:
        problem, fix = launcher
        return BinaryCandidate(path, source, resolved, problem=problem, fix=fix)
    return BinaryCandidate(path, source, resolved, usable=True, generation=generation)


def cli_generation(path: str, resolved: str) -> str | None:
    """ "2.x" when the install's own names say so: the file is called ``opencode2`` (the 2.x
    beta's binary) or lies inside an ``@opencode/cli`` package (``node_modules/@opencode/cli/``);
    else None (a 1.x install, or one whose path tells nothing: the help decides)."""
    for candidate in (path, resolved):
        parts = Path(candidate).parts
        if Path(candidate).name in (NAME_2X, NAME_2X + ".cjs", NAME_2X + ".exe"):
            return "2.x"
        pairs = {f"{a}/{b}" for a, b in itertools.pairwise(parts)}
        if pairs & set(PACKAGES_2X):
            return "2.x"
    return None


def _npm_launcher_problem(resolved: Path) -> tuple[str, str] | None:
    """The npm package's launcher without its platform binary: (problem, fix), else None."""
    try:
        with resolved.open("rb") as fh:
            head = fh.read(_SCRIPT_PEEK)
    except OSError:
        return None
    if not head.startswith(b"#!") and b"postinstall" not in head[:2000]:
        return None  # a real binary (ELF / Mach-O)
    text = head.decode("utf-8", errors="replace")
    package_dir = _package_dir(resolved)
    version = _package_version(package_dir) if package_dir else None
    # the version comes from a file: quoted like every argument in a fix
    pkg = shlex.quote(f"opencode-ai@{version}") if version else "opencode-ai"
    if "postinstall script was not run" in text:
        return (
            f"npm launcher of {pkg} whose post-install step never ran: it has no binary",
            f"cd -- {shlex.quote(str(package_dir))} && node postinstall.mjs   "
            f"(or: npm install -g {pkg})"
            if package_dir
            else f"npm install -g {pkg}",
        )
    if "opencode-" in text and ("node" in text.split("\n", 1)[0]):
        if package_dir is not None and _platform_binary_present(package_dir):
            return None
        platform_pkg = _platform_package_name()
        wanted = shlex.quote(f"{platform_pkg}@{version}") if version else platform_pkg
        return (
            f"npm launcher of {pkg} whose platform package ({platform_pkg}) is not installed",
            f"npm install -g {wanted}   (or reinstall: npm install -g {pkg})",
        )
    return None


def _package_dir(resolved: Path) -> Path | None:
    for parent in list(resolved.parents)[:3]:
        pkg = parent / "package.json"
        if pkg.is_file():
            return parent
    return None


def _package_version(package_dir: Path) -> str | None:
    try:
        data = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def _platform_package_name() -> str:
    import platform
    import sys

    system = {"linux": "linux", "darwin": "darwin", "win32": "windows"}.get(sys.platform, "linux")
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(machine, machine)
    return f"opencode-{system}-{arch}"


def _platform_binary_present(package_dir: Path) -> bool:
    """The launcher walks up node_modules folders looking for the platform package."""
    base = _platform_package_name()
    for parent in [package_dir, *package_dir.parents]:
        modules = parent if parent.name == "node_modules" else parent / "node_modules"
        for suffix in _PLATFORM_SUFFIXES:
            if (modules / f"{base}{suffix}" / "bin" / NAME).is_file():
                return True
    return False


def _file_identity(cand: BinaryCandidate) -> tuple[int, int] | str | None:
    """Same file = same (device, inode): symlinks and hard links to one binary hide nothing."""
    try:
        st = os.stat(cand.resolved or cand.path)
    except OSError:
        return cand.resolved
    return (st.st_dev, st.st_ino)


def _reason(chosen: BinaryCandidate) -> str:
    how = ""
    if chosen.given is not None and chosen.given != chosen.path:
        how = (
            f" ({chosen.given!r}, a bare name, found on $PATH)"
            if chosen.lookup == "PATH"
            else f" ({chosen.given!r}, a file relative to the working directory)"
        )
    return {
        "--opencode": "given with --opencode",
        "OPENCODE_BIN": "set in $OPENCODE_BIN (orch's override)",
        "OPENCODE_BIN_PATH": "set in $OPENCODE_BIN_PATH (the npm launcher's override)",
        "PATH": "first usable opencode on $PATH",
        "install-dir": "found in a usual install dir (not on $PATH)",
    }.get(chosen.source, chosen.source) + how


def _which(name: str, env: Mapping[str, str]) -> str | None:
    for folder in env.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(folder, name)
        if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
