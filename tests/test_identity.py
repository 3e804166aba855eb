"""Knowing a binary without running it: the digest of the file that really runs, compared with
the recorded digests of published releases; an npm launcher resolved the way it resolves."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orch_doctor._util import proc
from orch_doctor.matrix import identify_published
from orch_doctor.matrix.recorded import published_binaries, release_meta
from orch_doctor.probe.binary import start_decision_probe
from orch_doctor.probe.identity import launcher_target

RELEASE = "1.0.152"  # a test release whose linux-x64 digest is recorded
LAUNCHER = Path(__file__).parent / "fixtures" / "npm" / "launcher-1.0.152.js"

pytestmark = pytest.mark.real


def npm_layout(root: Path, binary: Path, *, version: str = RELEASE, packages: int = 1) -> Path:
    """node_modules/opencode-ai (the launcher) beside its platform package(s), as npm lays
    them out; the platform binary is a hard link to (or copy of) the real one."""
    modules = root / "node_modules"
    launcher_pkg = modules / "opencode-ai"
    (launcher_pkg / "bin").mkdir(parents=True)
    (launcher_pkg / "package.json").write_text(json.dumps({"version": version}))
    launcher = launcher_pkg / "bin" / "opencode"
    launcher.write_text(LAUNCHER.read_text())
    launcher.chmod(0o755)
    for suffix in ("", "-baseline")[:packages]:
        pkg = modules / f"opencode-linux-x64{suffix}"
        (pkg / "bin").mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"version": version}))
        try:
            os.link(binary, pkg / "bin" / "opencode")
        except OSError:
            shutil.copy2(binary, pkg / "bin" / "opencode")
    return launcher


def no_spawn(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    started: list[list[str]] = []

    def refuse(argv: list[str], **kwargs: object) -> object:
        started.append(list(argv))
        raise AssertionError(f"OpenCode was started: {argv}")

    monkeypatch.setattr(proc, "spawn", refuse)
    return started


def test_the_test_release_digest_is_recorded() -> None:
    binary = release_meta(RELEASE).get("binary")
    assert isinstance(binary, dict) and len(str(binary.get("sha256"))) == 64
    assert any(p.version == RELEASE for ps in published_binaries().values() for p in ps)


def test_published_binary_is_known_without_starting_it(
    opencode_release: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    binary = opencode_release(RELEASE)
    started = no_spawn(monkeypatch)
    caps = start_decision_probe(str(binary), known=identify_published).result()
    assert started == []
    assert caps.identified_as and f"identical to published {RELEASE}" in caps.identified_as
    assert caps.version is not None and caps.version.text == RELEASE
    assert set(caps.command("attach").options) >= {"dir"}
    # warm: from the probe cache, still identified, still nothing started
    again = start_decision_probe(str(binary), known=identify_published).result()
    assert again.identified_as == caps.identified_as and again.commands == caps.commands


def test_a_changed_binary_is_probed_as_today(
    opencode_release: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = tmp_path / "opencode"
    shutil.copy2(opencode_release(RELEASE), copy)
    with copy.open("r+b") as fh:  # same size, one byte different: a patched build
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0xFF]))
    assert identify_published(str(copy)) is None
    started: list[list[str]] = []
    real_spawn = proc.spawn

    def counting(argv: list[str], **kwargs: Any) -> Any:
        started.append(list(argv))
        return real_spawn(argv, **kwargs)

    monkeypatch.setattr(proc, "spawn", counting)
    caps = start_decision_probe(str(copy), known=identify_published, use_cache=False).result()
    assert caps.identified_as is None
    assert [a[1:] for a in started if a[0] == str(copy)]  # it really ran (its own answers)


def test_npm_launcher_is_resolved_to_its_platform_binary(
    opencode_release: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENCODE_BIN_PATH", raising=False)
    binary = opencode_release(RELEASE)
    launcher = npm_layout(tmp_path, binary)
    target = launcher_target(str(launcher))
    assert target == str(tmp_path / "node_modules/opencode-linux-x64/bin/opencode")
    found = identify_published(str(launcher))
    assert found is not None and RELEASE in found.identified_as
    # the launcher script itself is never what is hashed: a byte-identical launcher of
    # another release beside a binary of that release would say so


@pytest.mark.parametrize("case", ["two-platform-packages", "platform-of-another-version"])
def test_launcher_resolves_as_it_runs_whatever_the_packages(
    case: str,
    opencode_release: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The launcher takes the first platform package in sorted order (node's readdirSync) and
    never looks at versions: the file that runs is the one identified."""
    monkeypatch.delenv("OPENCODE_BIN_PATH", raising=False)
    binary = opencode_release(RELEASE)
    if case == "two-platform-packages":
        launcher = npm_layout(tmp_path, binary, packages=2)
    else:
        launcher = npm_layout(tmp_path, binary)
        (tmp_path / "node_modules/opencode-ai/package.json").write_text('{"version": "1.0.160"}')
    assert launcher_target(str(launcher)) == str(
        tmp_path / "node_modules/opencode-linux-x64/bin/opencode"
    )
    found = identify_published(str(launcher))
    assert found is not None and RELEASE in found.identified_as


def test_launcher_follows_opencode_bin_path(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    binary = opencode_release(RELEASE)
    launcher = npm_layout(tmp_path, binary)
    assert launcher_target(str(launcher), {"OPENCODE_BIN_PATH": str(binary)}) == str(binary)


def _linked(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def test_identity_is_the_binary_the_launcher_runs_not_the_launcher(
    opencode_release: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Replacing the platform binary, or pointing OPENCODE_BIN_PATH elsewhere, is another
    binary: probed (here: known by digest) again, reported, and put in the plan's argv[0]."""
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENCODE_BIN_PATH", raising=False)
    old, new = opencode_release(RELEASE), opencode_release("1.18.33")
    launcher = npm_layout(tmp_path / "npm", old)
    platform_binary = tmp_path / "npm/node_modules/opencode-linux-x64/bin/opencode"
    started = no_spawn(monkeypatch)

    def probe(env: dict[str, str] | None = None) -> tuple[str | None, str | None]:
        caps = start_decision_probe(str(launcher), env, known=identify_published).result()
        return caps.binary_path, caps.version.text if caps.version else None

    assert probe() == (str(platform_binary), RELEASE)
    assert probe() == (str(platform_binary), RELEASE)  # warm, from the cache
    # npm updates the platform package: a new file where the old one was
    _linked(new, tmp_path / "staged")
    os.replace(tmp_path / "staged", platform_binary)
    assert probe() == (str(platform_binary), "1.18.33")
    # OPENCODE_BIN_PATH: the launcher runs that file instead
    elsewhere = _linked(old, tmp_path / "elsewhere" / "opencode")
    env = {**os.environ, "OPENCODE_BIN_PATH": str(elsewhere)}
    assert probe(env) == (str(elsewhere), RELEASE)
    assert probe() == (str(platform_binary), "1.18.33")
    assert started == []

    from orch_doctor.api import select_strategy

    caps = start_decision_probe(str(launcher), env, known=identify_published).result()
    decision = select_strategy(
        tmp_path, prompt="hi", capabilities=caps, allow_standalone=True, discover=False
    )
    assert decision.plan is not None
    argv0 = {s.argv[0] for s in decision.plan.steps if hasattr(s, "argv")}
    assert argv0 == {str(elsewhere)}


def test_postinstall_layout_identity_is_the_linked_binary(
    opencode_release: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """1.18.x: the post-install step links the platform binary to opencode-ai/bin/opencode.exe,
    which runs itself; replacing the platform package leaves it as it was."""
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    modules = tmp_path / "node_modules"
    platform_binary = _linked(
        opencode_release("1.18.33"), modules / "opencode-linux-x64/bin/opencode"
    )
    exe = _linked(platform_binary, modules / "opencode-ai/bin/opencode.exe")
    (modules / ".bin").mkdir()
    (modules / ".bin/opencode").symlink_to("../opencode-ai/bin/opencode.exe")
    started = no_spawn(monkeypatch)
    caps = start_decision_probe(str(modules / ".bin/opencode"), known=identify_published).result()
    assert caps.binary_path == str(exe) and caps.version is not None
    assert caps.version.text == "1.18.33" and started == []
    _linked(opencode_release(RELEASE), tmp_path / "staged")
    os.replace(tmp_path / "staged", platform_binary)  # exe is still the 1.18.33 file
    again = start_decision_probe(str(modules / ".bin/opencode"), known=identify_published).result()
    assert again.binary_path == str(exe) and again.version is not None
    assert again.version.text == "1.18.33"
