"""Record and verify every OpenCode release the npm registry serves that compat_matrix/ lacks
(the 1.x packages, and the 2.x channel ``@opencode/cli`` where the registry serves it: where it
answers 404, that channel is said to be not installable here and the others go on).

    python -m tools.track_releases                 # everything missing, as parallel as allowed
    python -m tools.track_releases --dry-run       # print what is missing, touch nothing
    python -m tools.track_releases --shard 1/8     # one deterministic eighth of the registry list
    python -m tools.track_releases --only 1.18.20 1.18.21
    python -m tools.track_releases --report        # only (re)write compat_matrix/CHANGES.md
    python -m tools.track_releases --merge DIR...  # merge shard outputs (CI), then CHANGES.md

For each missing release: install it from npm into the release cache (the platform package;
the ``opencode-ai`` launcher where that fails; a 2.x release: ``@opencode/cli``), record its
help texts and route set (as tools/record_help.py does; existing texts are kept), record the
size and sha256 of the native binary that runs (never a launcher script) in
help/<version>/meta.toml ``[binary]``, verify with real throwaway servers (a 2.x one with a
password of its own) the decision's choice with a server, its choice without one and every
other strategy of the release's line the flags allow (forced), write verified.toml and
meta.toml ``[track]``, then remove the release from the cache (unless the test suite uses it).
A release that cannot be installed or run here is recorded as failed with the measured reason.

A 2.x server lists no routes (no GET /doc): a 2.x release's ``[track]`` says that its routes
are the 2.x contract's (compat_matrix/contract/, with the file's sha256), contract only, and
what its ``serve`` measured (version, auth); routes.txt holds only route sets read from a
server.

Results are written after each release, so an interrupted run loses at most the releases in
progress; a release whose meta.toml has a ``[track]`` table is complete and skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orch_doctor.matrix.types import Outcome
    from orch_doctor.verify.throwaway import ServerKind, ThrowawayServer

ROOT = Path(__file__).resolve().parent.parent
MATRIX_DIR = ROOT / "compat_matrix"
LAUNCHER_PACKAGE = "opencode-ai"
#: the 2.x channel (since 2026-09): one package; its releases install as ``@opencode/cli@V``
V2_PACKAGE = "@opencode/cli"
REGISTRY_ENV = "ORCH_DOCTOR_REGISTRY_JSON"
NPM_VIEW_TIMEOUT_S = 60.0
HELP_TIMEOUT_S = 60.0
RUN_CHECK_TIMEOUT_S = 30.0
DOC_TIMEOUT_S = 60.0
SERVER_START_TIMEOUT_S = 60.0
DEFAULT_RELEASE_TIMEOUT_S = 300.0
DEFAULT_VERIFY_TIMEOUT_S = 90.0
MIN_STAGE_BUDGET_S = 10.0
MODEL = "opencode/big-pickle"
HOW_WITH = "chosen with a server"
HOW_WITHOUT = "chosen without a server"
HOW_FORCED = "forced (not the decision's choice)"


#: at most one recording-stage OpenCode process (help, --version, serve for /doc) at a time;
#: verify runs have their own slots (Pipeline.verify_slots)
RECORD_SLOTS = threading.Semaphore(1)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_TEMP_DIRS = frozenset({"/tmp", tempfile.gettempdir()})
_TEMP_PATH = re.compile("(?:" + "|".join(re.escape(d) for d in _TEMP_DIRS) + r")/[^\s:;,'\"]+")


_NOISE = (
    (re.compile(r"Pane is dead \(status (\d+), [^)]*\)"), r"(exit status \1)"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)? \+\d+ms "), ""),
    (re.compile(r"[{}]|\"(?:name|data|message)\":\s*"), ""),
)


def clean(text: str, limit: int = 400) -> str:
    """One line for a record: no ANSI codes, no throwaway temp paths, no timestamps or JSON
    punctuation around OpenCode's error messages, whitespace collapsed."""
    from tools.releases import cache_root

    # the machine's own folders first: a HOME (and so a release cache) under /tmp is no
    # throwaway path; a HOME that is the temp folder itself names nothing of this machine
    text = _ANSI.sub("", text).replace(str(cache_root()), "<release cache>")
    home = str(Path.home())
    if home not in _TEMP_DIRS and home != "/":
        text = re.sub(re.escape(home) + r"(?=[/\s:;,'\"]|$)", "~", text)
    text = _TEMP_PATH.sub("<tmp>", text)
    for pattern, repl in _NOISE:
        text = pattern.sub(repl, text)
    return " ".join(text.split())[:limit]


class ReleaseFailed(Exception):
    """The release cannot be recorded (further) here; the message is the measured reason."""


# ---------------------------------------------------------------------------------------------
# versions, registry, shards


def version_key(version: str) -> tuple[int, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def sort_versions(versions: Iterable[str]) -> list[str]:
    return sorted(set(versions), key=version_key)


def parse_registry_json(text: str) -> list[str]:
    """Versions from ``npm view PKG versions --json`` output (a list, or one string), or from a
    fake registry file: a list, or ``{"package": [versions], ...}`` (their union)."""
    data = json.loads(text)
    if isinstance(data, str):
        return [data]
    if isinstance(data, list):
        return [str(v) for v in data]
    if isinstance(data, dict):
        return sort_versions(str(v) for vs in data.values() for v in vs)
    raise ValueError("registry JSON must be a list of versions or an object of lists")


def npm_versions(package: str, timeout_s: float = NPM_VIEW_TIMEOUT_S) -> list[str]:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH")
    proc = subprocess.run(
        [npm, "view", package, "versions", "--json", "--loglevel=error"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm view {package} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return parse_registry_json(proc.stdout)


def registry_versions(registry_file: Path | None) -> list[str]:
    """Every version the registry serves: the platform package's and the launcher's (the
    launcher may hold a release whose platform package alone does not run). Registry text as
    it came: :func:`split_versions` keeps only OpenCode versions."""
    from tools.releases import platform_package

    if registry_file is not None:
        return sort_versions(parse_registry_json(registry_file.read_text(encoding="utf-8")))
    versions = [*npm_versions(platform_package()), *npm_versions(LAUNCHER_PACKAGE)]
    return sort_versions([*versions, *channel_versions(V2_PACKAGE)])


def channel_versions(package: str) -> list[str]:
    """The versions of a channel that may not be reachable here (the 2.x one): a registry that
    does not serve it (E404) is said, and the other channels go on."""
    try:
        return npm_versions(package)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        print(
            f"registry: the 2.x channel ({package}) is not installable here: {npm_error(str(exc))}",
            file=sys.stderr,
            flush=True,
        )
        return []


def split_versions(versions: Iterable[str]) -> tuple[list[str], list[str]]:
    """(OpenCode release versions, everything else): registry text never becomes a folder name
    or an npm spec unless it is a version (``../../victim``, ``npm:evil@1.0.0`` are not)."""
    from tools.releases import is_release_version

    good: list[str] = []
    bad: list[str] = []
    for version in versions:
        (good if is_release_version(version) else bad).append(version)
    return sort_versions(good), bad


def release_version_arg(text: str) -> str:
    from tools.releases import is_release_version

    if not is_release_version(text):
        raise argparse.ArgumentTypeError(f"not an OpenCode release version: {text!r}")
    return text


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index_s, count_s = text.split("/")
        index, count = int(index_s), int(count_s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants I/N, got {text!r}") from None
    if count < 1 or not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 1 <= I <= N")
    return index, count


def shard(versions: Iterable[str], index: int, count: int) -> list[str]:
    """Shard ``index`` (1-based) of ``count``: every count-th release of the sorted list, so each
    shard gets old and new releases alike and the split depends only on the registry list."""
    return sort_versions(versions)[index - 1 :: count]


# ---------------------------------------------------------------------------------------------
# what compat_matrix already holds


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "meta.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def release_state(version: str, matrix_dir: Path = MATRIX_DIR) -> str:
    """ "complete" / "failed" (a [track] table says so) or "missing" (what is lacking)."""
    folder = matrix_dir / "help" / version
    meta = read_meta(folder)
    track = meta.get("track")
    if isinstance(track, dict) and track.get("status") in ("complete", "failed"):
        return str(track["status"])
    return "missing"


def missing_parts(version: str, matrix_dir: Path = MATRIX_DIR) -> list[str]:
    folder = matrix_dir / "help" / version
    meta = read_meta(folder)
    parts = []
    if not (folder / "root.txt").is_file():
        parts.append("help")
    if "binary" not in meta:
        parts.append("binary")
    if "track" not in meta:
        parts.append("verify")
    return parts


def plan_work(
    registry: Sequence[str],
    *,
    matrix_dir: Path = MATRIX_DIR,
    only: Sequence[str] = (),
    shard_spec: tuple[int, int] | None = None,
    retry_failed: bool = False,
    redo: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """(releases to process, state of every release considered)."""
    versions = sort_versions(registry)
    if shard_spec is not None:
        versions = shard(versions, *shard_spec)
    if only:
        versions = [v for v in versions if v in set(only)]
    states = {v: release_state(v, matrix_dir) for v in versions}
    todo = [
        v
        for v in versions
        if states[v] == "missing"
        or (retry_failed and states[v] == "failed")
        or (redo and v in set(only))
    ]
    return todo, states


# ---------------------------------------------------------------------------------------------
# TOML writing (meta.toml)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        escaped = "".join(c if c >= " " or c == "\t" else " " for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that a reader never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_meta(meta: Mapping[str, Any]) -> str:
    """meta.toml text: top-level keys first, then one table per dict value (one level)."""
    lines = []
    for key, value in meta.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {toml_value(value)}")
    for key, value in meta.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f'"{k}" = {toml_value(v)}' for k, v in value.items())
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# install, hash, record


@dataclass
class Installed:
    binary: Path
    package: str  # the npm package the binary comes from, "name@version"
    via: str  # the package that was installed: the platform package or the launcher


def _npm_install(prefix: Path, spec: str, timeout_s: float, *, scripts: bool = True) -> str:
    """Install ``spec`` into ``prefix``; return "" or the error."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not on PATH"
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error"]
    if not scripts:
        cmd.append("--ignore-scripts")
    try:
        proc = subprocess.run(
            [*cmd, "--prefix", str(prefix), spec],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=prefix,
        )
    except subprocess.TimeoutExpired:
        return f"npm install {spec} timed out after {timeout_s:.0f} s"
    if proc.returncode != 0:
        return f"npm install {spec} failed (exit {proc.returncode}): {npm_error(proc.stderr)}"
    return ""


_NPM_CHATTER = ("complete log of this run", "In most cases you", "Unknown user config")


def npm_error(stderr: str) -> str:
    """The lines of npm's error output that say what went wrong (no log paths, no advice)."""
    lines = []
    for line in stderr.splitlines():
        text = line.strip()
        for prefix in ("npm error ", "npm ERR! ", "npm warn "):
            text = text.removeprefix(prefix)
        text = text.removeprefix("notarget ").strip()
        if text and not any(c in text for c in _NPM_CHATTER) and text not in lines:
            lines.append(text)
    return clean("; ".join(lines), 240) or "no error output"


#: the first bytes of a native executable: ELF (Linux), Mach-O 32/64-bit either byte order and
#: universal (macOS); an npm launcher is a script (``#!/usr/bin/env node``) and is none of these
NATIVE_MAGIC = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)


def is_native_binary(path: Path) -> bool:
    """An executable file of this machine's kind (ELF, Mach-O), never a launcher script: the
    file whose size and sha256 identify a published release."""
    return _magic(path) in NATIVE_MAGIC


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


def runs(binary: Path, version: str) -> str:
    """ "" when ``binary --version`` prints ``version``, else what went wrong."""
    from tools._engine import run_capture

    with RECORD_SLOTS, tempfile.TemporaryDirectory(prefix="orch-doctor-track-") as home:
        res = run_capture(
            [str(binary), "--version"],
            timeout_s=RUN_CHECK_TIMEOUT_S,
            env=record_env(home),
            cwd=home,
        )
    if res.error or res.timed_out:
        return f"{binary.name} --version: {res.error or 'timed out'}"
    if res.returncode != 0 and version not in res.output:
        return f"--version printed {res.output.strip()[-200:]!r} (exit {res.returncode})"
    return ""


def launcher_binary(prefix: Path) -> Path | None:
    """The platform binary the ``opencode-ai`` launcher would run: its platform package's
    ``bin/opencode`` (nested or hoisted), a native binary; never the launcher script itself."""
    from tools.releases import platform_package

    pkg = platform_package()
    for candidate in (
        prefix / "node_modules" / pkg / "bin" / "opencode",
        prefix / "node_modules" / LAUNCHER_PACKAGE / "node_modules" / pkg / "bin" / "opencode",
    ):
        if candidate.is_file() and is_native_binary(candidate):
            return candidate
    return None


def is_v2(version: str) -> bool:
    """A release of the 2.x channel (its pre-releases too)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).major >= 2
    except InvalidVersion:
        return False


def v2_binary(prefix: Path) -> Path | None:
    """The native binary an ``@opencode/cli`` install holds (``opencode``, or ``opencode2`` in
    the beta), in the package or a platform package beside it; never a launcher script."""
    scope = prefix / "node_modules" / "@opencode"
    candidates = sorted(scope.glob("cli*/bin/opencode*")) if scope.is_dir() else []
    for candidate in candidates:
        if candidate.name in ("opencode", "opencode2") and is_native_binary(candidate):
            return candidate
    return None


def installed_binary(version: str) -> Path | None:
    """The binary of ``version`` already installed in the release cache (2.x: the one its
    ``@opencode/cli`` install holds), or None."""
    from tools.releases import binary_path, release_dir

    if is_v2(version):
        return v2_binary(release_dir(version))
    target = binary_path(version)
    return target if target.is_file() and os.access(target, os.X_OK) else None


def ensure_installed(version: str, timeout_s: float = 600.0, *, quiet: bool = True) -> Path:
    """The binary of ``version``, installed into the release cache when it is not there yet
    (1.x: the platform package; 2.x: ``@opencode/cli``). RuntimeError when that fails."""
    from tools.releases import REFUSE_ENV, ensure_release

    if not is_v2(version):
        return ensure_release(version, quiet=quiet)
    refused = os.environ.get(REFUSE_ENV)
    if refused:
        raise RuntimeError(f"OpenCode {version} refused: {refused}")
    found = installed_binary(version)
    if found is not None:
        return found
    if not quiet:
        print(f"installing OpenCode {version} ({V2_PACKAGE}) ...", file=sys.stderr)
    try:
        return install_v2(version, timeout_s).binary
    except ReleaseFailed as exc:
        raise RuntimeError(f"OpenCode {version}: {exc}") from None


def install_v2(version: str, timeout_s: float) -> Installed:
    """Install a 2.x release (``@opencode/cli@V``). Raises ReleaseFailed."""
    from tools.releases import npm_spec, release_dir

    spec = npm_spec(V2_PACKAGE, version)
    prefix = release_dir(version)
    err = _npm_install(prefix, spec, timeout_s)
    found = v2_binary(prefix)
    if found is None:
        raise ReleaseFailed(f"install: {err or f'{spec}: no binary found in the package'}")
    bad = runs(found, version)
    if bad:
        raise ReleaseFailed(f"install: {spec} binary does not run: {bad}")
    return Installed(found, spec, V2_PACKAGE)


def install(version: str, timeout_s: float) -> Installed:
    """Install ``version``: the platform package, else the launcher (2.x: ``@opencode/cli``).
    Raises ReleaseFailed."""
    from tools.releases import binary_path, npm_spec, platform_package, release_dir

    if is_v2(version):
        return install_v2(version, timeout_s)
    deadline = time.monotonic() + timeout_s
    pkg = npm_spec(platform_package(), version)
    target = binary_path(version)
    problems = []
    if not (target.is_file() and os.access(target, os.X_OK)):
        err = _npm_install(release_dir(version), pkg, timeout_s)
        if err:
            problems.append(err)
    if target.is_file() and os.access(target, os.X_OK):
        bad = runs(target, version)
        if not bad:
            return Installed(target, pkg, platform_package())
        problems.append(f"{pkg} does not run: {bad}")
    remaining = deadline - time.monotonic()
    if remaining < MIN_STAGE_BUDGET_S:
        raise ReleaseFailed("install: " + "; ".join(problems or ["time limit reached"]))
    prefix = release_dir(version) / "launcher"
    spec = npm_spec(LAUNCHER_PACKAGE, version)
    err = _npm_install(prefix, spec, remaining)
    if err:  # a launcher whose post-install fails may still have fetched its platform package
        problems.append(err)
        err2 = _npm_install(prefix, spec, max(deadline - time.monotonic(), 5.0), scripts=False)
        if err2:
            problems.append(err2)
    found = launcher_binary(prefix)
    if found is None:
        problems.append(f"{spec}: no {platform_package()} binary resolvable")
        raise ReleaseFailed("install: " + "; ".join(problems))
    bad = runs(found, version)
    if bad:
        problems.append(f"{spec} binary does not run: {bad}")
        raise ReleaseFailed("install: " + "; ".join(problems))
    return Installed(found, f"{platform_package()}@{version}", LAUNCHER_PACKAGE)


def _inside(path: Path, folder: Path) -> bool:
    from tools.releases import inside

    return inside(path, folder) and os.path.realpath(path) != os.path.realpath(folder)


def remove_release(folder: Path) -> bool:
    """rmtree a release's install folder, only when it lies strictly inside the release cache
    (never a folder elsewhere, whatever a version or a symlink says)."""
    from tools.releases import cache_root

    if folder.is_symlink() or not _inside(folder, cache_root() / "opencode"):
        log(f"not removed: {clean(str(folder), 200)} is not a release folder of the cache")
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def binary_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def record_env(home: str) -> dict[str, str]:
    from tools._engine import isolated_env

    return {**isolated_env(Path(home)), "TERM": "xterm-256color"}


def help_argv(binary: str, command: str) -> list[str]:
    return [binary, "--help"] if command == "root" else [binary, command, "--help"]


def record_help_texts(binary: Path, out: Path, timeout_s: float) -> bool:
    """Write version.txt and <command>.txt unless all are there; True when recorded now."""
    from tools._engine import PROBED_COMMANDS, run_capture

    names = ["version", *PROBED_COMMANDS]
    if all((out / f"{n}.txt").is_file() for n in names):
        return False
    out.mkdir(parents=True, exist_ok=True)
    runs_ = {"version": [str(binary), "--version"]}
    runs_.update({cmd: help_argv(str(binary), cmd) for cmd in PROBED_COMMANDS})
    texts = {}
    with tempfile.TemporaryDirectory(prefix="orch-doctor-record-") as home:
        env = record_env(home)
        for name, argv in runs_.items():
            res = run_capture(argv, timeout_s=min(HELP_TIMEOUT_S, timeout_s), env=env, cwd=home)
            if res.error or res.timed_out:
                raise ReleaseFailed(f"{' '.join(argv[1:])}: {res.error or 'timed out'}")
            texts[name] = res.output
    for name, text in texts.items():
        (out / f"{name}.txt").write_text(text, encoding="utf-8")
    return True


class ServeNotStarted(Exception):
    """A release's ``serve`` did not start: why, with the end of its log."""


@contextlib.contextmanager
def throwaway_serve(
    binary: Path, timeout_s: float, kind: ServerKind | None = None
) -> Iterator[ThrowawayServer]:
    """The release's ``serve`` in a fresh HOME (``kind``: how its line is started; default 1.x),
    stopped afterwards; :class:`ServeNotStarted` when it does not start."""
    from tools._engine import SERVE_1X, ServerStartError, opencode_log_errors, start_server

    with tempfile.TemporaryDirectory(prefix="orch-doctor-record-") as home:
        try:
            server = start_server(
                str(binary),
                cwd=Path(home),
                env=record_env(home),
                log=Path(home) / "serve.log",
                timeout_s=min(SERVER_START_TIMEOUT_S, timeout_s),
                kind=kind or SERVE_1X,
            )
        except ServerStartError as exc:
            why = opencode_log_errors(Path(home), limit=2) or exc.log_tail[-300:]
            raise ServeNotStarted(
                f"serve did not start: {exc}" + (f"; {why}" if why.strip() else "")
            ) from None
        try:
            yield server
        finally:
            server.stop()


def record_routes(binary: Path, out: Path, timeout_s: float) -> str:
    """Write routes.txt from the OpenAPI document of a throwaway server; "" or the problem."""
    import httpx

    from tools._engine import routes_from_openapi

    try:
        with throwaway_serve(binary, timeout_s) as server:
            try:
                doc = httpx.get(f"{server.url}/doc", timeout=min(DOC_TIMEOUT_S, timeout_s)).json()
            except (httpx.HTTPError, ValueError) as exc:
                return f"GET /doc failed: {exc}"
    except ServeNotStarted as exc:
        return clean(str(exc))
    routes = routes_from_openapi(doc)
    if routes is None:
        return "GET /doc is not an OpenAPI document"
    (out / "routes.txt").write_text("\n".join(sorted(routes)) + "\n", encoding="utf-8")
    return ""


#: where the 2.x contract's route list lives, relative to compat_matrix/
CONTRACT_ROUTES_2X = "contract/opencode-2.x-routes.txt"


def release_generation(version: str, folder: Path) -> str:
    """ "1.x" or "2.x": the OpenCode line of a release as the doctor reads its recorded help
    (capabilities beat version numbers)."""
    from tools._engine import client_generation
    from tools.verify_matrix import release_capabilities

    return client_generation(release_capabilities(version, folder))


def record_routes_2x(binary: Path, out: Path, timeout_s: float) -> dict[str, Any]:
    """The route set of a 2.x release, as ``[track]`` entries: its ``serve`` is started as verify
    starts one (a password of its own, through the environment) and probed as the doctor probes
    a server. A 2.x server lists no routes (no GET /doc): the routes are then the 2.x contract's
    (compat_matrix/contract/, whose sha256 is kept), said to be so and never written to
    routes.txt, which holds only route sets measured on a server. A 2.x server that does list
    its routes gets them written there."""
    from tools._engine import (
        DEFAULT_USERNAME,
        SERVE_2X,
        Credentials,
        compat_matrix_dir,
        probe_server,
    )

    try:
        with throwaway_serve(binary, timeout_s, SERVE_2X) as server:
            password = server.password
            status = probe_server(
                server.url,
                timeout_s=min(DOC_TIMEOUT_S, timeout_s),
                credentials=Credentials(DEFAULT_USERNAME, password) if password else None,
                use_cache=False,
            )
    except ServeNotStarted as exc:
        return {"routes": f"not recorded: {clean(str(exc))}"}
    summary = status.summary or status.verdict
    if password:
        summary = summary.replace(password, "***")
    if not status.ok or status.generation != "2.x":
        return {"routes": f"not recorded: its serve is no 2.x server: {clean(summary, 240)}"}
    serve = (
        f"measured: its serve is OpenCode 2.x, GET /api/info version {status.version or '?'}, "
        f"auth {status.auth or 'unknown'}"
    )
    if status.routes is not None:
        (out / "routes.txt").write_text("\n".join(sorted(status.routes)) + "\n", encoding="utf-8")
        return {"serve": serve, "routes_source": str(status.routes_source or "the server")}
    contract = compat_matrix_dir() / CONTRACT_ROUTES_2X
    if not contract.is_file():
        return {"serve": serve, "routes": "not recorded: the server lists none, no 2.x contract"}
    sha = binary_digest(contract)[1]
    lines = contract.read_text(encoding="utf-8").splitlines()
    count = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    return {
        "serve": serve,
        "routes": (
            "contract only: a 2.x server lists no routes (no GET /doc); the routes of the 2.x "
            f"contract ({CONTRACT_ROUTES_2X}, {count} routes) apply, not measured here"
        ),
        "routes_source": "contract",
        "routes_contract": CONTRACT_ROUTES_2X,
        "routes_contract_sha256": sha,
    }


# ---------------------------------------------------------------------------------------------
# verify


@dataclass
class VerifyResult:
    records: list[Any] = field(default_factory=list)  # tools.verify_matrix.Record
    with_server: str = "none"
    without_server: str = "none"
    problems: dict[str, str] = field(default_factory=dict)  # "with"/"without" -> why no choice


def verify_all(
    version: str,
    binary: Path,
    today: str,
    verify_timeout_s: float,
    deadline: float,
    folder: Path | None = None,
) -> VerifyResult:
    """As tools/verify_matrix.verify_release, but it also returns the decision's choices
    ("none" with the reason when it made none) and stops at the release's deadline. The
    strategies forced are those of the release's line its help (in ``folder``, default the
    shipped help/<version>/) allows."""
    from orch_doctor.matrix.load import load_matrix
    from tools._engine import ORCH_DOCTOR_VERSION, VerifyOptions, VerifyRefused, run_verify
    from tools.verify_matrix import Record, allowed_strategies

    result = VerifyResult()
    done: dict[str, Any] = {}
    matrix = load_matrix(overrides=False)

    def budget() -> float:
        left = deadline - time.monotonic()
        if left < MIN_STAGE_BUDGET_S:
            raise ReleaseFailed("release time limit reached during verify")
        return min(verify_timeout_s, left)

    def keep(name: str, how: str, verified: bool, wall: float, problem: str | None) -> None:
        outcome: Outcome = "verified" if verified else "failed"
        note = how if verified else f"{how}; {clean(problem or 'no reason given', 280)}"
        done[name] = Record(version, name, outcome, today, ORCH_DOCTOR_VERSION, wall, note)
        log(f"{version:>10} {name:<20} {outcome:<9} {wall:5.1f}s  {note[:110]}")

    for no_server, how, slot in ((False, HOW_WITH, "with"), (True, HOW_WITHOUT, "without")):
        report = run_verify(
            VerifyOptions(
                opencode=str(binary), model=MODEL, timeout_s=budget(), no_server=no_server
            )
        )
        if report.problem and "did not start" in report.problem and report.fix:
            report.problem += f" ({report.fix})"  # the fix carries serve's own output
        chosen = report.strategy or "none"
        setattr(result, f"{slot}_server", chosen)
        if chosen == "none":
            result.problems[slot] = clean(report.problem or "no strategy")
        elif chosen not in done:
            keep(chosen, how, report.verified, report.wall_s, report.problem)
    for name in allowed_strategies(version, folder):
        if name in done:
            continue
        entry = matrix.strategy(name)
        options = VerifyOptions(
            opencode=str(binary),
            model=MODEL,
            timeout_s=budget(),
            strategy=name,
            no_server=entry is not None and not entry.needs_server,
        )
        try:
            report = run_verify(options)
        except VerifyRefused as exc:
            done[name] = Record(
                version, name, "not-run", today, ORCH_DOCTOR_VERSION, None, clean(str(exc))
            )
            continue
        if report.problem and "did not start" in report.problem and report.fix:
            report.problem += f" ({report.fix})"
        keep(name, HOW_FORCED, report.verified, report.wall_s, report.problem)
    result.records = list(done.values())
    return result


def existing_choices(records: Sequence[Any], version: str) -> tuple[str, str] | None:
    """The choices with and without a server already in verified.toml (both needed)."""
    mine = [r for r in records if r.release == version and r.note]
    with_ = [r.strategy for r in mine if r.note.startswith(HOW_WITH)]
    without = [r.strategy for r in mine if r.note.startswith(HOW_WITHOUT)]
    if with_ and without:
        return with_[0], without[0]
    return None


# ---------------------------------------------------------------------------------------------
# one release


_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        print(message, flush=True)


@dataclass
class Pipeline:
    matrix_dir: Path
    release_timeout_s: float
    verify_timeout_s: float
    record_slots: threading.Semaphore
    verify_slots: threading.Semaphore
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    keep_installed: bool = False
    reverify: bool = False  # verify even when verified.toml holds the decision's choices
    stop: Callable[[], bool] = lambda: False
    walls: dict[str, float] = field(default_factory=dict)

    @property
    def verified_file(self) -> Path:
        return self.matrix_dir / "verified.toml"

    def process(self, version: str) -> str:
        """Record and verify ``version``; return its final state."""
        from tools.releases import TEST_RELEASES, platform_package, release_dir

        if self.stop():
            log(f"{version:>10} not started (stop requested)")
            return "skipped"
        folder = self.matrix_dir / "help" / version
        if not split_versions([version])[0] or not _inside(folder, self.matrix_dir / "help"):
            log(f"refused {clean(repr(version), 80)}: not an OpenCode release version")
            return "refused"
        today = dt.date.today().isoformat()
        folder = self.matrix_dir / "help" / version
        meta = read_meta(folder)
        track: dict[str, Any] = {"status": "complete", "date": today}
        recorded: list[str] = []
        records: list[Any] = []
        active = 0.0  # seconds spent working (waiting for a slot does not count)
        begin = time.monotonic()

        def deadline() -> float:
            return time.monotonic() + self.release_timeout_s - active

        def left() -> float:
            remaining = self.release_timeout_s - active
            if remaining < MIN_STAGE_BUDGET_S:
                raise ReleaseFailed(f"release time limit ({self.release_timeout_s:.0f} s) reached")
            return remaining

        installed: Installed | None = None
        try:
            t0 = time.monotonic()
            log(f"{version:>10} installing")
            try:
                installed = install(version, left())
            finally:
                active += time.monotonic() - t0
            size, sha = binary_digest(installed.binary)
            meta["binary"] = {
                "package": installed.package,
                "platform": platform_package().removeprefix("opencode-"),
                "installed_via": installed.via,
                "size": size,
                "sha256": sha,
            }
            recorded.append("binary")
            with self.record_slots:
                t0 = time.monotonic()
                try:
                    if record_help_texts(installed.binary, folder, left()):
                        recorded.append("help")
                        meta.update(new_meta_head(version, today, installed))
                    else:
                        track["help"] = "kept the stored help texts"
                    from tools._engine import parse_root_commands

                    root = (folder / "root.txt").read_text(encoding="utf-8")
                    generation = release_generation(version, folder)
                    track["generation"] = generation
                    if "serve" not in parse_root_commands(root):
                        track["routes"] = "no serve command"
                    elif (folder / "routes.txt").is_file():
                        track["routes"] = "kept the stored route set"
                    elif generation == "2.x":
                        found = record_routes_2x(installed.binary, folder, left())
                        track.update(found)
                        if (folder / "routes.txt").is_file():
                            recorded.append("routes")
                    else:
                        problem = record_routes(installed.binary, folder, left())
                        if problem:
                            track["routes"] = f"not recorded: {problem}"
                        else:
                            recorded.append("routes")
                finally:
                    active += time.monotonic() - t0
            old = self._read_records()
            reuse = None if self.reverify else existing_choices(old, version)
            if reuse is not None:
                track["with_server"], track["without_server"] = reuse
                track["verify"] = "kept the stored outcomes of the decision's choices"
            else:
                with self.verify_slots:
                    t0 = time.monotonic()
                    try:
                        left()
                        result = verify_all(
                            version,
                            installed.binary,
                            today,
                            self.verify_timeout_s,
                            deadline(),
                            folder,
                        )
                    finally:
                        active += time.monotonic() - t0
                records = result.records
                recorded.append("verify")
                track["with_server"] = result.with_server
                track["without_server"] = result.without_server
                for slot, problem in result.problems.items():
                    track[f"{slot}_server_problem"] = clean(problem, 300)
            outcomes = {r.strategy: r.outcome for r in [*old, *records] if r.release == version}
            for slot in ("with", "without"):
                chosen = track.get(f"{slot}_server", "none")
                track[f"{slot}_server_outcome"] = outcomes.get(chosen, "none")
        except ReleaseFailed as exc:
            track["status"] = "failed"
            track["reason"] = clean(str(exc))
            log(f"{version:>10} FAILED: {exc}")
        except Exception as exc:
            track["status"] = "failed"
            track["reason"] = clean(f"{type(exc).__name__}: {exc}")
            log(f"{version:>10} FAILED ({type(exc).__name__}): {exc}")
        finally:
            if not self.keep_installed and version not in TEST_RELEASES:
                remove_release(release_dir(version))
        if track["status"] == "failed" and "with_server" not in track:
            records += self._failure_records(version, today, track["reason"])
        wall = time.monotonic() - begin
        track["wall_s"] = round(active, 1)
        track["recorded"] = recorded
        meta.setdefault("version", version)
        meta["track"] = track
        self.walls[version] = active
        self._write(version, folder, meta, records)
        got = {k: track.get(k, "-") for k in ("with_server", "without_server")}
        out = {k: track.get(f"{k}_outcome", "-") for k in ("with_server", "without_server")}
        log(
            f"{version:>10} {track['status']}: with a server {got['with_server']}"
            f" ({out['with_server']}), without {got['without_server']} ({out['without_server']});"
            f" {active:.0f} s active, {wall:.0f} s wall"
        )
        return str(track["status"])

    def _failure_records(self, version: str, today: str, reason: str) -> list[Any]:
        """A release that could not be verified at all: a failed outcome for every strategy its
        recorded flags allow (or, when no help could be recorded, every strategy of its line as
        its version number says)."""
        from orch_doctor.matrix.load import load_matrix
        from orch_doctor.matrix.types import PLAN_STRATEGIES
        from tools._engine import ORCH_DOCTOR_VERSION
        from tools.verify_matrix import Record, allowed_strategies

        folder = self.matrix_dir / "help" / version
        try:
            names = allowed_strategies(version, folder) if self._has_help(version) else []
        except Exception:
            names = []
        if not names:
            line = "2.x" if is_v2(version) else "1.x"
            matrix = load_matrix(overrides=False)
            names = [
                n
                for n in PLAN_STRATEGIES
                if (entry := matrix.strategy(n)) is None or entry.generation == line
            ]
        note = f"not verifiable here: {reason}"
        return [Record(version, n, "failed", today, ORCH_DOCTOR_VERSION, None, note) for n in names]

    def _has_help(self, version: str) -> bool:
        return (self.matrix_dir / "help" / version / "root.txt").is_file()

    def _read_records(self) -> list[Any]:
        from tools.verify_matrix import read_records

        with self.write_lock:
            return read_records(self.verified_file)

    def _write(self, version: str, folder: Path, meta: dict[str, Any], records: list[Any]) -> None:
        from tools.verify_matrix import merge, read_records, render

        with self.write_lock:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / "meta.toml", render_meta(meta))
            if records:
                old = read_records(self.verified_file)
                write_atomic(self.verified_file, render(merge(old, records)))


def new_meta_head(version: str, today: str, installed: Installed) -> dict[str, Any]:
    """The head of a meta.toml whose help texts were recorded now: the commands as run (the
    binary by its own name: ``opencode``, ``opencode2`` in the 2.x beta)."""
    from tools._engine import PROBED_COMMANDS

    name = installed.binary.name
    return {
        "version": version,
        "recorded": today,
        "package": installed.package,
        "synthesized": False,
        "commands": {c: " ".join(help_argv(name, c)) for c in PROBED_COMMANDS},
    }


# ---------------------------------------------------------------------------------------------
# merge (CI) and report


def merge_outputs(sources: Sequence[Path], matrix_dir: Path = MATRIX_DIR) -> list[str]:
    """Copy every tracked release folder of each shard output into ``matrix_dir`` and take that
    shard's verified.toml records for those releases. A source is a folder holding
    ``compat_matrix/`` (or ``help/`` and ``verified.toml`` directly)."""
    from tools.verify_matrix import read_records, render

    merged: list[str] = []
    records = read_records(matrix_dir / "verified.toml")
    for source in sources:
        base = source / "compat_matrix" if (source / "compat_matrix").is_dir() else source
        help_src = base / "help"
        if not help_src.is_dir():
            continue
        theirs = read_records(base / "verified.toml")
        for folder in sorted(help_src.iterdir()):
            if not split_versions([folder.name])[0] or folder.is_symlink():
                print(f"merge: skipped {clean(repr(folder.name), 80)}: not a release folder")
                continue
            if not folder.is_dir() or "track" not in read_meta(folder):
                continue
            if read_meta(matrix_dir / "help" / folder.name).get("track") == read_meta(folder).get(
                "track"
            ):
                continue  # the shard carried an unchanged copy
            dest = matrix_dir / "help" / folder.name
            shutil.copytree(folder, dest, dirs_exist_ok=True)
            records = [r for r in records if r.release != folder.name]
            records += [r for r in theirs if r.release == folder.name]
            merged.append(folder.name)
    write_atomic(matrix_dir / "verified.toml", render(records))
    return sort_versions(merged)


def write_report(matrix_dir: Path = MATRIX_DIR) -> Path:
    from tools.changes import load_snapshots, render_changes

    out = matrix_dir / "CHANGES.md"
    write_atomic(out, render_changes(load_snapshots(matrix_dir)))
    return out


# ---------------------------------------------------------------------------------------------
# command line


def default_jobs() -> int:
    return max(1, min(4, (os.cpu_count() or 1) + 1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.track_releases",
        description="Record and verify every OpenCode release the npm registry serves that "
        "compat_matrix/ lacks; write compat_matrix/CHANGES.md.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what is missing, touch nothing"
    )
    parser.add_argument("--report", action="store_true", help="only write compat_matrix/CHANGES.md")
    parser.add_argument(
        "--merge", nargs="+", type=Path, metavar="DIR", help="merge shard outputs, then report"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="VERSION",
        type=release_version_arg,
        default=[],
        help="only these (OpenCode release versions, e.g. 1.18.33)",
    )
    parser.add_argument("--shard", type=parse_shard, metavar="I/N", help="shard I of N (1-based)")
    parser.add_argument(
        "--jobs", type=int, default=default_jobs(), help="releases in flight (default: cores+1)"
    )
    parser.add_argument(
        "--verify-jobs",
        type=int,
        default=1,
        choices=(1, 2),
        help="concurrent verify runs (CPU-bound TUIs; default 1)",
    )
    parser.add_argument(
        "--release-timeout",
        type=float,
        default=DEFAULT_RELEASE_TIMEOUT_S,
        help="seconds of work per release before it is recorded as failed (default 300)",
    )
    parser.add_argument(
        "--verify-timeout",
        type=float,
        default=DEFAULT_VERIFY_TIMEOUT_S,
        help="seconds per verify run (default 90)",
    )
    parser.add_argument(
        "--registry-json",
        type=Path,
        default=Path(os.environ[REGISTRY_ENV]) if os.environ.get(REGISTRY_ENV) else None,
        help=f"read the version list from this JSON file instead of npm (env {REGISTRY_ENV})",
    )
    parser.add_argument("--retry-failed", action="store_true", help="also redo failed releases")
    parser.add_argument(
        "--reverify",
        action="store_true",
        help="with --only: process those releases again and verify them afresh (stored help "
        "texts and route sets are kept)",
    )
    parser.add_argument(
        "--keep-installed", action="store_true", help="do not remove releases from the cache"
    )
    parser.add_argument(
        "--stop-file",
        type=Path,
        help="start no new release once this file exists (the ones in progress finish)",
    )
    parser.add_argument("--matrix-dir", type=Path, default=MATRIX_DIR, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    matrix_dir: Path = args.matrix_dir
    if args.report:
        print(write_report(matrix_dir))
        return 0
    if args.merge:
        merged = merge_outputs(args.merge, matrix_dir)
        print(f"merged {len(merged)} releases: {' '.join(merged)}")
        print(write_report(matrix_dir))
        return 0
    try:
        registry, rejected = split_versions(registry_versions(args.registry_json))
    except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"cannot read the registry's version list: {exc}", file=sys.stderr)
        return 2
    if rejected:
        shown = " ".join(clean(repr(v), 80) for v in rejected[:20])
        print(
            f"registry: ignored {len(rejected)} entries that are not OpenCode release versions "
            f"(nothing installed or removed for them): {shown}",
            file=sys.stderr,
            flush=True,
        )
    todo, states = plan_work(
        registry,
        matrix_dir=matrix_dir,
        only=args.only,
        shard_spec=args.shard,
        retry_failed=args.retry_failed,
        redo=args.reverify,
    )
    done = [v for v, s in states.items() if s != "missing"]
    print(
        f"registry: {len(registry)} releases; considered {len(states)}; "
        f"recorded {len(done)}; to do {len(todo)}",
        flush=True,
    )
    if args.dry_run:
        for version in todo:
            print(f"missing {version}: {', '.join(missing_parts(version, matrix_dir))}")
        return 0
    stop_file: Path | None = args.stop_file
    pipeline = Pipeline(
        matrix_dir=matrix_dir,
        release_timeout_s=args.release_timeout,
        verify_timeout_s=args.verify_timeout,
        record_slots=RECORD_SLOTS,
        verify_slots=threading.Semaphore(args.verify_jobs),
        keep_installed=args.keep_installed,
        reverify=args.reverify,
        stop=lambda: stop_file is not None and stop_file.exists(),
    )
    begin = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = dict(zip(todo, pool.map(pipeline.process, todo), strict=True))
    wall = time.monotonic() - begin
    walls = list(pipeline.walls.values())
    median = statistics.median(walls) if walls else 0.0
    counts = {s: list(results.values()).count(s) for s in sorted(set(results.values()))}
    print(
        f"done in {wall:.0f} s wall ({len(walls)} releases, median {median:.0f} s active each): "
        + ", ".join(f"{n} {s}" for s, n in counts.items()),
        flush=True,
    )
    if todo:
        print(write_report(matrix_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
