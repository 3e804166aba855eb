"""Every script in tools/ and bench/ (and dev.py) answers --help, and importing it does nothing.

Each runs in a child process with a fake ``npm`` and ``opencode`` first on PATH that fail loudly
and leave a mark, an empty release cache (so no cached OpenCode binary can be found and started)
and a throwaway HOME: a script that tried to install or start OpenCode would leave the mark.
The import check also refuses any socket connection or child process inside the interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the scripts that must be found (more are picked up: every module in tools/ and bench/)
KNOWN = {
    "tools.record_help",
    "tools.releases",
    "tools.verify_matrix",
    "bench.bench",
    "bench.servers_200",
}
SCRIPTS = sorted(
    f"{folder}.{path.stem}"
    for folder in ("tools", "bench")
    for path in (ROOT / folder).glob("*.py")
    if not path.stem.startswith("_")  # __init__, and helper modules that are no scripts
)
TIMEOUT_S = 30

FAKE = """#!/bin/sh
echo "$0 must not run here: $*" >&2
echo "$0 $*" >> "{mark}"
exit 97
"""

#: runs in the child: import the module with sockets and child processes refused
GUARDED_IMPORT = """
import importlib, os, socket, subprocess, sys

def refuse(*args, **kwargs):
    raise RuntimeError("side effect on import: " + repr(args[:2]))

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
subprocess.Popen.__init__ = refuse
os.system = refuse
os.posix_spawn = refuse
os.fork = refuse
importlib.import_module(sys.argv[1])
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment with a fake npm and opencode first on PATH, an empty release cache and a
    throwaway HOME; returns it with the file the fakes write to when called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "called"
    for name in ("npm", "npx", "node", "opencode"):
        fake = bin_dir / name
        fake.write_text(FAKE.format(mark=mark))
        fake.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENCODE_", "XDG_", "ORCH_DOCTOR_"))
    }
    env.update(
        PATH=os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]),
        HOME=str(home),
        ORCH_DOCTOR_RELEASE_CACHE=str(tmp_path / "release-cache"),
        ORCH_DOCTOR_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env, mark


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def test_every_known_script_is_found() -> None:
    assert set(SCRIPTS) >= KNOWN


@pytest.mark.parametrize("module", SCRIPTS)
def test_help_exits_0_and_starts_nothing(
    module: str, sandbox: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, mark = sandbox
    proc = run([sys.executable, "-m", module, "--help"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:"), proc.stdout
    assert f"python -m {module}" in proc.stdout.splitlines()[0]
    assert not mark.exists(), mark.read_text()
    assert not (tmp_path / "release-cache").exists()


@pytest.mark.parametrize("module", SCRIPTS)
def test_import_has_no_side_effects(
    module: str, sandbox: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, mark = sandbox
    proc = run([sys.executable, "-c", GUARDED_IMPORT, module], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    assert not mark.exists()
    assert not (tmp_path / "release-cache").exists()
    assert not (tmp_path / "cache").exists()


def test_dev_py_help(sandbox: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, mark = sandbox
    proc = run([sys.executable, str(ROOT / "dev.py"), "--help"], env)
    assert proc.returncode == 0, proc.stderr
    assert "python3 dev.py test --fast" in proc.stdout
    assert not mark.exists()
