"""Which file actually runs, and its digest: the binary an npm launcher script starts, resolved
the way the launcher does when that can be told for certain, and the sha256 of that file.

A binary identical to a published release is then known without starting it (the matrix holds
the digests of published releases and their recorded help)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

#: a launcher script is a few KB (2–5 KB on 1.0.152, 1.1.34, 1.2.27); a binary is 140–190 MB
LAUNCHER_MAX_BYTES = 64 * 1024
#: the two launcher layouts opencode-ai has shipped (bin/opencode, a node script; from 1.3 on
#: the package's post-install step puts the binary itself at bin/opencode.exe instead):
#: 1.0.x–1.1.x walk up from the script's folder and, in each node_modules, take the first entry
#: (node's readdirSync: sorted by bytes) starting with opencode-<platform>-<arch> that has
#: bin/opencode; 1.2.x runs bin/.opencode beside the script when it exists, else walks up
#: trying a fixed list of platform packages in an order set by AVX2 and musl. Both run
#: $OPENCODE_BIN_PATH first when it is set.
_COMMON_MARKERS = (
    "process.env.OPENCODE_BIN_PATH",
    "fs.realpathSync(__filename)",
    "function findBinary(startDir)",
    '"opencode-" + platform + "-" + arch',
)
_SORTED_ENTRIES_MARKERS = ("fs.readdirSync(modules)", "entry.startsWith(base)")
_NAMED_LIST_MARKERS = (
    'path.join(scriptDir, ".opencode")',
    "for (const name of names)",
    "supportsAvx2()",
    "`${base}-baseline-musl`",
)


def launcher_target(path: str, env: Mapping[str, str] | None = None) -> str | None:
    """The file an npm launcher script at ``path`` runs, resolved by the launcher's own rules,
    or None when ``path`` is not such a launcher, its layout is not one of those known, or what
    it runs cannot be told (nothing found, or $OPENCODE_BIN_PATH that is itself a launcher)."""
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
    if not all(marker in text for marker in _COMMON_MARKERS):
        return None  # a launcher layout this resolver was not built from
    if all(marker in text for marker in _NAMED_LIST_MARKERS):
        named = True
    elif all(marker in text for marker in _SORTED_ENTRIES_MARKERS):
        named = False
    else:
        return None
    override = env.get("OPENCODE_BIN_PATH")
    if override:  # spawnSync(value): a bare name is looked up on PATH, else relative to the cwd
        from orch_doctor.probe.discover import resolve_explicit

        found, _, _ = resolve_explicit(override, "OPENCODE_BIN_PATH", env)
        if found is None:
            return None
        target = os.path.realpath(found)
        if _is_node_script(target):
            return None  # it runs itself again with the same variable: nothing certain
        return target
    if named:
        cached = resolved.parent / ".opencode"
        if os.path.exists(cached):
            return os.path.realpath(cached)
    binary = "opencode.exe" if sys.platform == "win32" else "opencode"
    for folder in [resolved.parent, *resolved.parent.parents]:
        modules = folder / "node_modules"
        if not os.path.exists(modules):
            continue
        candidates = _named_candidates(modules, binary) if named else _sorted_candidates(modules)
        for package in candidates:
            candidate = modules / package / "bin" / binary
            if os.path.exists(candidate):
                return os.path.realpath(candidate)
    return None


def _sorted_candidates(modules: Path) -> list[str]:
    from orch_doctor.probe.discover import _platform_package_name

    base = os.fsencode(_platform_package_name())
    try:
        entries = sorted(os.listdir(os.fsencode(modules)))
    except OSError:
        return []
    return [os.fsdecode(e) for e in entries if e.startswith(base)]


def _named_candidates(modules: Path, binary: str) -> list[str]:
    """The 1.2.x launcher's list, in its order; the AVX2 and musl tests only when the order
    decides (more than one of them installed in this node_modules)."""
    from orch_doctor.probe.discover import _platform_package_name

    base = _platform_package_name()
    system, arch = base.split("-")[1:3]
    if system == "linux":
        names = [base, f"{base}-baseline", f"{base}-musl", f"{base}-baseline-musl"]
        if arch != "x64":
            names = [base, f"{base}-musl"]
    else:
        names = [base, f"{base}-baseline"] if arch == "x64" else [base]
    present = [n for n in names if os.path.exists(modules / n / "bin" / binary)]
    if len(present) <= 1:
        return present
    baseline = arch == "x64" and not _supports_avx2(system)
    if system != "linux":
        return [f"{base}-baseline", base] if baseline else names
    if _is_musl():
        if arch != "x64":
            return [f"{base}-musl", base]
        if baseline:
            return [f"{base}-baseline-musl", f"{base}-musl", f"{base}-baseline", base]
        return [f"{base}-musl", f"{base}-baseline-musl", base, f"{base}-baseline"]
    if baseline:
        return [f"{base}-baseline", base, f"{base}-baseline-musl", f"{base}-musl"]
    return names


def _supports_avx2(system: str) -> bool:
    if system == "linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                info = fh.read(4 * 1024 * 1024)
        except OSError:
            return False
        return re.search(r"(^|\s)avx2(\s|$)", info, re.IGNORECASE) is not None
    if system == "darwin":
        out = _run(["sysctl", "-n", "hw.optional.avx2_0"])
        return out is not None and out[0] == 0 and out[1].strip() == "1"
    return False  # windows: the launcher asks PowerShell; not run here


def _is_musl() -> bool:
    if os.path.exists("/etc/alpine-release"):
        return True
    out = _run(["ldd", "--version"])
    return out is not None and "musl" in out[1].lower()


def _run(argv: list[str]) -> tuple[int, str] | None:
    from orch_doctor._util.proc import run_capture

    done = run_capture(argv, timeout_s=3.0, max_bytes=64 * 1024)
    if done.error is not None or done.timed_out or done.returncode is None:
        return None
    return done.returncode, done.output


def _is_node_script(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(128)
    except OSError:
        return False
    return head.startswith(b"#!") and b"node" in head.split(b"\n", 1)[0]


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
