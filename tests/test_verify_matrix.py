"""tools/verify_matrix: records are TOML the matrix loader accepts; merging keeps old ones."""

from __future__ import annotations

from pathlib import Path

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
