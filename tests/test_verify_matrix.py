"""tools/verify_matrix: records are TOML the matrix loader accepts; merging keeps old ones; a
2.x release gets only 2.x strategies. tools/record_help on a 2.x release."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_doctor.matrix.load import load_matrix
from tools.verify_matrix import Record, allowed_strategies, merge, read_records, render


def test_rendered_records_load_through_the_matrix(tmp_path: Path) -> None:
    records = [
        Record("1.18.33", "attach-session-api", "verified", "2026-11-24", "0.1.0", 8.31, "chosen"),
        Record("0.5.29", "standalone-prompt", "failed", "2026-11-24", "0.1.0", 0.6, 'a "q"\nx'),
        Record("1.0.152", "attach-tui-api", "not-run", "2026-11-24", "0.1.0"),
    ]
    path = tmp_path / "verified.toml"
    path.write_text(render(records), encoding="utf-8")
    loaded = {(v.release, v.strategy): v for v in load_matrix([path]).verifications}
    assert loaded[("1.18.33", "attach-session-api")].outcome == "verified"
    assert loaded[("1.18.33", "attach-session-api")].wall_s == 8.3
    assert loaded[("0.5.29", "standalone-prompt")].note == 'a "q" x'
    assert loaded[("1.0.152", "attach-tui-api")].wall_s is None
    again = read_records(path)
    assert {(r.release, r.strategy, r.outcome) for r in again} == {
        (r.release, r.strategy, r.outcome) for r in records
    }


def test_merge_replaces_only_the_pairs_run_again() -> None:
    old = [
        Record("1.0.152", "attach-tui-api", "failed", "2026-01-01", "0.0.9"),
        Record("1.18.33", "attach-session-api", "verified", "2026-01-01", "0.0.9"),
    ]
    new = [Record("1.0.152", "attach-tui-api", "verified", "2026-11-24", "0.1.0")]
    merged = {(r.release, r.strategy): r for r in merge(old, new)}
    assert merged[("1.0.152", "attach-tui-api")].outcome == "verified"
    assert merged[("1.18.33", "attach-session-api")].date == "2026-01-01"


def test_allowed_strategies_follow_the_stored_help() -> None:
    assert "attach-session-api" not in allowed_strategies("1.0.152")
    assert "attach-tui-api" in allowed_strategies("1.0.152")
    assert "attach-session-api" in allowed_strategies("1.18.33")
    assert allowed_strategies("0.1.174") == []


def test_a_2x_release_gets_only_the_strategies_of_its_line(tmp_path: Path) -> None:
    import shutil

    # its root has --session and --prompt, yet the 1.x standalone plans are not 2.x's to verify
    assert allowed_strategies("2.0.0") == ["service-session-api"]
    # the help of a release folder elsewhere (a tracker's compat_matrix) is the one read
    help_dir = Path(__file__).resolve().parent.parent / "compat_matrix" / "help"
    folder = tmp_path / "2.0.7"
    shutil.copytree(help_dir / "2.0.0", folder)
    assert allowed_strategies("2.0.7", folder) == ["service-session-api"]
    shutil.copytree(help_dir / "1.18.33", folder, dirs_exist_ok=True)
    assert "attach-session-api" in allowed_strategies("2.0.7", folder)  # its help, not its name


# --- a 2.x release: only the install is replaced (no real 2.x can be installed here) -----------


@pytest.mark.slow
def test_verify_matrix_runs_a_2x_release_with_its_own_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("opencode.testing")
    from tests.support.opencode2 import write_binary
    from tools import track_releases
    from tools.verify_matrix import main

    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "user-cache"))
    binary = write_binary(tmp_path / "bin" / "opencode2", "2.0.0")  # the 2.x stand-in
    monkeypatch.setattr(track_releases, "installed_binary", lambda v: binary)
    out = tmp_path / "verified.toml"
    assert main(["--release", "2.0.0", "--output", str(out), "--timeout", "60"]) == 0
    records = read_records(out)
    assert [(r.release, r.strategy, r.outcome) for r in records] == [
        ("2.0.0", "service-session-api", "verified")
    ]
    assert records[0].note == "chosen with a server"


@pytest.mark.slow
def test_record_help_records_a_2x_release_and_no_route_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomllib

    pytest.importorskip("opencode.testing")
    from tests.support.opencode2 import HELP_DIR, write_binary
    from tools import record_help

    binary = write_binary(tmp_path / "bin" / "opencode2", "2.0.99")  # the 2.x stand-in
    monkeypatch.setattr(record_help, "HELP_DIR", tmp_path / "help")
    monkeypatch.setattr(record_help, "ensure_installed", lambda v, **k: binary)
    assert record_help.main(["2.0.99"]) == 0
    folder = tmp_path / "help" / "2.0.99"
    assert (folder / "root.txt").read_text() == (HELP_DIR / "root.txt").read_text()
    assert (folder / "version.txt").read_text() == "opencode v2.0.99\n"
    meta = tomllib.loads((folder / "meta.toml").read_text())
    assert meta["package"] == "@opencode/cli@2.0.99"
    assert meta["commands"]["run"] == "opencode2 run --help"
    # a 2.x server lists no routes: none are written as if measured, the contract is named
    assert not (folder / "routes.txt").exists()
    err = capsys.readouterr().err
    assert "routes_source: contract" in err and "version 2.0.99, auth basic" in err
