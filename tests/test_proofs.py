"""Proofs on this machine: a successful verify kept in the user's cache by the binary's sha256
and the strategy, read back by the request resolution for that very binary."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orch_doctor.resolve import proofs
from orch_doctor.resolve.proofs import binary_digest, read_proofs, record_proof

DAY = datetime.date(2026, 12, 1)


def _binary(folder: Path, content: bytes = b"\x7fELF not really opencode") -> Path:
    path = folder / "opencode"
    path.write_bytes(content)
    return path


def test_a_recorded_proof_is_read_back_for_the_same_binary(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    binary = _binary(tmp_path)
    kept = record_proof(str(binary), "attach-session-api", "1.18.40", folder=cache, today=DAY)
    assert kept is not None and kept.date == "2026-12-01" and kept.release == "1.18.40"
    assert os.stat(cache).st_mode & 0o077 == 0  # the user's private folder
    found = read_proofs(str(binary), cache)
    assert list(found) == ["attach-session-api"]
    assert found["attach-session-api"] == kept
    assert kept.message().startswith("verified on this machine, 2026-12-01 (`orch-doctor verify`")
    # a second strategy joins the first
    record_proof(str(binary), "attach-tui-api", "1.18.40", folder=cache, today=DAY)
    assert set(read_proofs(str(binary), cache)) == {"attach-session-api", "attach-tui-api"}


def test_another_binary_has_no_proof(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    binary = _binary(tmp_path)
    record_proof(str(binary), "attach-session-api", "1.18.40", folder=cache, today=DAY)
    other = tmp_path / "other"
    other.mkdir()
    assert read_proofs(str(_binary(other, b"other bytes")), cache) == {}
    # the same path rewritten with other bytes is another binary too
    binary.write_bytes(b"replaced by an upgrade, longer than before")
    assert read_proofs(str(binary), cache) == {}
    assert read_proofs(None, cache) == {}


def test_nothing_is_hashed_when_no_proof_was_ever_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    binary = _binary(tmp_path)

    def no_hashing(path: str) -> str:
        raise AssertionError("hashed")

    monkeypatch.setattr("orch_doctor.probe.identity.file_sha256", no_hashing)
    assert read_proofs(str(binary), cache) == {}
    assert not cache.exists() or not os.listdir(cache)


def test_a_tampered_entry_or_an_unknown_strategy_is_no_proof(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    binary = _binary(tmp_path)
    assert record_proof(str(binary), "teleport", "1.0.0", folder=cache) is None
    record_proof(str(binary), "attach-session-api", "1.18.40", folder=cache, today=DAY)
    (entry,) = [p for p in cache.iterdir() if p.name.startswith(proofs.KIND + "-")]
    data = json.loads(entry.read_text())
    data["value"]["proofs"]["attach-session-api"]["date"] = "yesterday; rm -rf ~"
    entry.write_text(json.dumps(data))
    assert read_proofs(str(binary), cache) == {}


def test_a_folder_others_can_write_is_no_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    binary = _binary(tmp_path)
    record_proof(str(binary), "attach-session-api", "1.18.40", folder=cache, today=DAY)
    os.chmod(cache, 0o777)
    try:
        assert read_proofs(str(binary), cache) == {}
        assert record_proof(str(binary), "attach-tui-api", None, folder=cache) is None
    finally:
        os.chmod(cache, 0o700)


def test_the_digest_is_that_of_the_file(tmp_path: Path) -> None:
    import hashlib

    binary = _binary(tmp_path)
    expected = hashlib.sha256(binary.read_bytes()).hexdigest()
    assert binary_digest(str(binary), tmp_path / "cache") == expected
    assert binary_digest(str(binary), tmp_path / "cache") == expected  # cached by identity
    assert binary_digest(str(tmp_path / "gone"), tmp_path / "cache") is None


# --- real: verify proves it, plan cites it ------------------------------------------------------


@pytest.fixture
def own_tmux_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    folder = tempfile.mkdtemp(prefix="odp-")
    monkeypatch.setenv("TMUX_TMPDIR", folder)
    yield
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="tmux")
@pytest.mark.usefixtures("own_tmux_folder")
def test_verify_keeps_a_proof_that_plan_then_cites(
    opencode_release: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from orch_doctor.cli import main
    from orch_doctor.verify.run import VerifyOptions, run_verify

    cache = tmp_path / "cache"
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(cache))
    binary = str(opencode_release("1.18.33"))
    project = tmp_path / "project"
    project.mkdir()
    args = ["plan", "--opencode", binary, "--dir", str(project), "--no-discover"]
    before = CliRunner().invoke(main, [*args, "--format", "json"])
    assert json.loads(before.output)["evidence"]["kind"] == "recorded", before.output
    (tmp_path / "runs").mkdir()
    report = run_verify(
        VerifyOptions(
            opencode=binary,
            tmp_root=str(tmp_path / "runs"),
            timeout_s=150.0,
            no_server=True,
            model="opencode/big-pickle",
        )
    )
    assert report.verified, report.to_json()
    assert report.strategy == "standalone-prompt"
    assert report.proof is not None and report.proof.startswith("verified on this machine, ")
    assert report.to_json()["proof"] == report.proof
    after = CliRunner().invoke(main, [*args, "--format", "json"])
    data = json.loads(after.output)
    assert data["strategy"] == "standalone-prompt"
    assert data["evidence"]["kind"] == "local"
    local, recorded = data["evidence"]["said"]
    assert local == report.proof and local in data["reasons"]
    assert recorded.startswith("verified on a real OpenCode 1.18.33")  # still said
    text = CliRunner().invoke(main, args)
    assert "verified on this machine, " in text.output
