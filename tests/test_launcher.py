"""The npm launcher scripts opencode-ai has shipped (the real ones, as published), run by node:
the file each one starts is the file orch-doctor says runs (and so caches, reports and puts in
a plan's argv[0])."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from orch_doctor.probe.discover import _platform_package_name
from orch_doctor.probe.identity import launcher_target

FIXTURES = Path(__file__).parent / "fixtures" / "npm"
#: 1.0.x–1.1.x (sorted node_modules entries) and 1.2.x (a fixed list, bin/.opencode first)
LAUNCHERS = ["launcher-1.0.152.js", "launcher-1.2.27.js"]
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node runs the launcher scripts")

STAND_IN = "#!/bin/sh\nprintf '%s\\n' \"$0\"\n"


def stand_in(path: Path) -> Path:
    """A platform "binary" that says which file it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STAND_IN)
    path.chmod(0o755)
    return path


def install(root: Path, launcher: str) -> Path:
    pkg = root / "node_modules" / "opencode-ai"
    (pkg / "bin").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "opencode-ai", "version": "1.0.0"}))
    script = pkg / "bin" / "opencode"
    shutil.copy(FIXTURES / launcher, script)
    script.chmod(0o755)
    dot_bin = root / "node_modules" / ".bin"
    dot_bin.mkdir()
    (dot_bin / "opencode").symlink_to("../opencode-ai/bin/opencode")
    return dot_bin / "opencode"


def what_node_runs(link: Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(link)], env=env, capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    return os.path.realpath(done.stdout.strip())


BASE = _platform_package_name()


def pkgs(*suffixes: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        for suffix in suffixes:  # created in this order: not the sorted one
            stand_in(root / "node_modules" / f"{BASE}{suffix}" / "bin" / "opencode")

    return make


def higher_up(root: Path) -> None:
    # the launcher lives in root/app/node_modules: it walks up to root/node_modules
    stand_in(root.parent / "node_modules" / BASE / "bin" / "opencode")


def empty_first(root: Path) -> None:
    (root / "node_modules" / f"{BASE}-aaa").mkdir(parents=True)  # no bin/opencode: skipped
    pkgs("-musl", "")(root)


def cached_copy(root: Path) -> None:
    pkgs("")(root)
    stand_in(root / "node_modules" / "opencode-ai" / "bin" / ".opencode")


LAYOUTS: dict[str, Callable[[Path], None]] = {
    "one-package": pkgs(""),
    "several-packages": pkgs("-baseline", "-musl", ""),
    "baseline-and-musl-only": pkgs("-musl", "-baseline"),
    "in-a-parent-node_modules": higher_up,
    "entry-without-binary": empty_first,
    "bin-.opencode": cached_copy,
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_resolution_is_what_the_real_launcher_runs(
    launcher: str, layout: str, tmp_path: Path
) -> None:
    root = tmp_path / "app"
    link = install(root, launcher)
    LAYOUTS[layout](root)
    env = {"PATH": f"{Path(str(NODE)).parent}{os.pathsep}/usr/bin:/bin"}
    runs = what_node_runs(link, env)
    assert launcher_target(str(link), env) == runs
    assert "opencode-ai" not in runs or layout == "bin-.opencode"


@pytest.mark.parametrize("how", ["absolute", "bare-name-on-PATH"])
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_opencode_bin_path_is_what_the_real_launcher_runs(
    launcher: str, how: str, tmp_path: Path
) -> None:
    link = install(tmp_path / "app", launcher)
    pkgs("")(tmp_path / "app")
    elsewhere = stand_in(tmp_path / "elsewhere" / "my-opencode")
    env = {"PATH": f"{tmp_path / 'elsewhere'}{os.pathsep}{Path(str(NODE)).parent}:/usr/bin:/bin"}
    env["OPENCODE_BIN_PATH"] = str(elsewhere) if how == "absolute" else elsewhere.name
    runs = what_node_runs(link, env)
    assert runs == str(elsewhere)
    assert launcher_target(str(link), env) == runs


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_nothing_to_run_is_no_target(launcher: str, tmp_path: Path) -> None:
    link = install(tmp_path / "app", launcher)
    env = {"PATH": f"{Path(str(NODE)).parent}:/usr/bin:/bin"}
    assert subprocess.run([str(link)], env=env, capture_output=True, timeout=60).returncode == 1
    assert launcher_target(str(link), env) is None


def test_an_unknown_launcher_layout_is_not_resolved(tmp_path: Path) -> None:
    link = install(tmp_path / "app", "launcher-1.0.152.js")
    pkgs("")(tmp_path / "app")
    script = tmp_path / "app" / "node_modules" / "opencode-ai" / "bin" / "opencode"
    script.write_text(script.read_text().replace("entry.startsWith(base)", "entry.includes(base)"))
    assert launcher_target(str(link), {}) is None
