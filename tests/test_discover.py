"""Finding OpenCode: order, shadowing and every broken-candidate case."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from orch_doctor.probe.discover import discover, inspect_candidate

FIXTURES = Path(__file__).parent / "fixtures" / "npm"


def link_release(folder: Path, binary: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "opencode"
    target.symlink_to(binary)
    return target


def env_with(home: Path, path_dirs: list[Path], **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "PATH": os.pathsep.join(map(str, path_dirs)), **extra}


def test_order_explicit_then_env_then_path(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    old = link_release(tmp_path / "old", opencode_release("1.0.152"))
    new = link_release(tmp_path / "new", opencode_release("1.18.33"))
    env = env_with(tmp_path / "home", [old.parent, new.parent])
    finding = discover(None, env)
    assert finding.chosen is not None and finding.chosen.path == str(old)
    assert finding.chosen.source == "PATH" and "first usable" in finding.reason
    assert [c.path for c in finding.shadowed] == [str(new)]

    finding = discover(None, {**env, "OPENCODE_BIN_PATH": str(new)})
    assert finding.chosen is not None and finding.chosen.source == "OPENCODE_BIN_PATH"
    finding = discover(None, {**env, "OPENCODE_BIN": str(new), "OPENCODE_BIN_PATH": str(old)})
    assert finding.chosen is not None and finding.chosen.source == "OPENCODE_BIN"
    finding = discover(str(old), {**env, "OPENCODE_BIN": str(new)})
    assert finding.chosen is not None and finding.chosen.source == "--opencode"
    assert [c.path for c in finding.shadowed] == [str(new)]


def test_only_a_binary_found_by_looking_hides_the_others(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    old = link_release(tmp_path / "old", opencode_release("1.0.152"))
    new = link_release(tmp_path / "new", opencode_release("1.18.33"))
    env = env_with(tmp_path / "home", [old.parent, new.parent])
    assert discover(None, env).named is False
    for finding in (
        discover(str(new), env),
        discover(None, {**env, "OPENCODE_BIN": str(new)}),
        discover(None, {**env, "OPENCODE_BIN_PATH": str(new)}),
    ):
        assert finding.named is True and [c.path for c in finding.shadowed] == [str(old)]


def test_same_binary_twice_is_not_shadowing(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    a = link_release(tmp_path / "a", opencode_release("1.18.33"))
    b = link_release(tmp_path / "b", opencode_release("1.18.33"))
    finding = discover(None, env_with(tmp_path / "home", [a.parent, b.parent]))
    assert finding.chosen is not None and finding.shadowed == ()


def test_hard_link_to_the_same_binary_is_not_shadowing(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    real = Path(os.path.realpath(opencode_release("1.18.33")))
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    try:
        os.link(real, a / "opencode")
    except OSError:
        pytest.skip("hard links across these folders are not possible here")
    (b / "opencode").symlink_to(real)
    finding = discover(None, env_with(tmp_path / "home", [a, b]))
    assert finding.chosen is not None and finding.chosen.path == str(a / "opencode")
    assert finding.shadowed == ()


def test_install_dirs_are_searched_after_path(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    home = tmp_path / "home"
    link_release(home / ".opencode" / "bin", opencode_release("1.18.33"))
    finding = discover(None, env_with(home, [tmp_path / "empty"]))
    assert finding.chosen is not None and finding.chosen.source == "install-dir"
    assert "install dir" in finding.reason


def test_nothing_installed(tmp_path: Path) -> None:
    finding = discover(None, env_with(tmp_path, [tmp_path / "empty"]))
    assert finding.chosen is None
    assert finding.problem is not None and "not installed" in finding.problem
    assert finding.fix is not None and "npm install" in finding.fix


def test_explicit_but_broken_is_an_error_not_a_fallback(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    good = link_release(tmp_path / "good", opencode_release("1.18.33"))
    finding = discover(str(tmp_path / "nope"), env_with(tmp_path, [good.parent]))
    assert finding.chosen is None
    assert finding.problem is not None and "--opencode" in finding.problem
    assert "missing" in finding.problem


def test_missing(tmp_path: Path) -> None:
    cand = inspect_candidate(str(tmp_path / "nope"), "OPENCODE_BIN")
    assert not cand.usable and cand.problem == "missing" and cand.fix == "unset OPENCODE_BIN"


def test_not_executable(tmp_path: Path) -> None:
    path = tmp_path / "opencode"
    path.write_text("#!/bin/sh\necho 1.0.0\n")
    path.chmod(0o644)
    cand = inspect_candidate(str(path), "--opencode")
    assert cand.problem == "not executable" and cand.fix == f"chmod +x -- {path}"


def test_directory(tmp_path: Path) -> None:
    cand = inspect_candidate(str(tmp_path), "--opencode")
    assert cand.problem is not None and "directory" in cand.problem
    assert f"{tmp_path}/bin/opencode" in cand.problem and cand.fix is None
    cand = inspect_candidate(str(tmp_path), "OPENCODE_BIN")
    assert cand.fix == f"export OPENCODE_BIN={tmp_path}/bin/opencode"


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "opencode"
    link.symlink_to(tmp_path / "gone")
    cand = inspect_candidate(str(link), "PATH")
    assert cand.problem is not None and cand.problem.startswith("broken symlink")


def _npm_tree(root: Path, launcher: Path, bin_name: str, version: str) -> Path:
    pkg = root / "lib" / "node_modules" / "opencode-ai"
    (pkg / "bin").mkdir(parents=True)
    (pkg / "package.json").write_text(f'{{"name": "opencode-ai", "version": "{version}"}}')
    script = pkg / "bin" / bin_name
    shutil.copy(launcher, script)
    script.chmod(0o755)
    (root / "bin").mkdir()
    link = root / "bin" / "opencode"
    link.symlink_to(script)
    return link


def test_npm_launcher_without_platform_binary(tmp_path: Path) -> None:
    # the real launcher script of opencode-ai 1.0.152, installed without its platform package
    link = _npm_tree(tmp_path, FIXTURES / "launcher-1.0.152.js", "opencode", "1.0.152")
    cand = inspect_candidate(str(link), "PATH")
    assert not cand.usable
    assert cand.problem is not None and "platform package" in cand.problem
    assert cand.fix is not None and "opencode-linux-" in cand.fix and "1.0.152" in cand.fix


def test_npm_launcher_with_platform_binary_is_usable(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    link = _npm_tree(tmp_path, FIXTURES / "launcher-1.0.152.js", "opencode", "1.0.152")
    from tools.releases import platform_package

    bin_dir = tmp_path / "lib" / "node_modules" / platform_package() / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "opencode").symlink_to(opencode_release("1.0.152"))
    assert inspect_candidate(str(link), "PATH").usable


def test_npm_placeholder_when_postinstall_never_ran(tmp_path: Path) -> None:
    # opencode-ai 1.18.x ships this placeholder; its post-install step replaces it
    link = _npm_tree(tmp_path, FIXTURES / "placeholder-1.18.33.sh", "opencode.exe", "1.18.33")
    cand = inspect_candidate(str(link), "PATH")
    assert not cand.usable
    assert cand.problem is not None and "post-install" in cand.problem
    assert cand.fix is not None and "postinstall.mjs" in cand.fix


@pytest.mark.parametrize("source", ["OPENCODE_BIN", "OPENCODE_BIN_PATH"])
def test_env_candidates_are_reported(tmp_path: Path, source: str) -> None:
    finding = discover(None, env_with(tmp_path, [], **{source: str(tmp_path / "x")}))
    assert finding.chosen is None and finding.problem is not None and source in finding.problem


# --- OpenCode 2.x installs ----------------------------------------------------------------------


def _exe(path: Path, text: str = "#!/bin/sh\necho 2.0.0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_opencode2_is_found_after_opencode_and_marked_2x(tmp_path: Path) -> None:
    from orch_doctor.probe.discover import discover

    bin_dir = tmp_path / "bin"
    beta = _exe(bin_dir / "opencode2")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home")}
    finding = discover(None, env)
    assert finding.chosen is not None and finding.chosen.path == str(beta)
    assert finding.chosen.generation == "2.x"
    stable = _exe(bin_dir / "opencode")
    finding = discover(None, env)
    assert finding.chosen is not None and finding.chosen.path == str(stable)
    assert finding.chosen.generation is None  # nothing in its path says 2.x: the help decides
    assert [c.path for c in finding.shadowed] == [str(beta)]


def test_a_file_inside_the_2x_package_is_2x_and_not_read_as_a_1x_launcher(
    tmp_path: Path,
) -> None:
    from orch_doctor.probe.discover import cli_generation, inspect_candidate

    pkg = tmp_path / "lib" / "node_modules" / "@opencode" / "cli" / "bin"
    # a node launcher script: the 1.x launcher checks would call it broken
    script = _exe(pkg / "opencode", "#!/usr/bin/env node\nrequire('opencode-linux-x64')\n")
    link = tmp_path / "bin" / "opencode"
    link.parent.mkdir()
    link.symlink_to(script)
    cand = inspect_candidate(str(link), "PATH")
    assert cand.usable and cand.generation == "2.x", cand
    assert cli_generation("/usr/bin/opencode", "/usr/lib/node_modules/opencode-ai/bin/x") is None
    assert cli_generation("/x/@opencode-ai/cli/bin/opencode2.cjs", "/y") == "2.x"
