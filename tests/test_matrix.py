"""The matrix loads, validates with errors naming file and key, and merges overrides."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from orch_doctor.errors import MatrixError
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.types import STRATEGY_NAMES
from tests.support.schemas import assert_valid


def test_shipped_matrix_is_valid_and_complete() -> None:
    m = load_matrix(overrides=False)
    assert [s.name for s in m.strategies] == [n for n in STRATEGY_NAMES if n != "none"]
    ids = {i.id for i in m.issues}
    assert {"attach-session-not-found-cwd", "attach-invalid-session-hangs",
            "dir-ignored-with-session", "prompt-prefill-only", "session-drops-prompt",
            "standalone-database-locked"} <= ids  # fmt: skip
    for issue in m.issues:
        assert issue.evidence.startswith(
            ("https://github.com/anomalyco/opencode/", "measured: ", "recorded: ")
        )
        if issue.evidence.startswith("recorded: "):  # found while recording: how to see it again
            assert "reproduce: python -m tools.track_releases --only" in issue.evidence
    drops = next(i for i in m.issues if i.id == "session-drops-prompt")
    assert any(link.endswith("/48113") for link in drops.see_also)


BAD = [
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\ncolour='red'\n", "issue.x.colour", "unknown key"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>>1.0'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\n", "issue.x.versions", "not a version specifier"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-magic']"
     "\nbreaks='b'\nevidence='https://e'\n", "issue.x.affects", "no strategy"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\n[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\n"
     "severity='warn'\naffects=['attach-tui-api']\nbreaks='b'\nevidence='https://e'\n",
     "issue.x", "duplicate id"),
    ("[[strategy]]\nname='teleport'\nsummary='s'\npreference=1\nevidence='e'\n",
     "strategy.teleport.name", "unknown strategy"),
    ("[[verification]]\nrelease='1.0.0'\nstrategy='attach-tui-api'\noutcome='maybe'\n"
     "date='2026-11-24'\norch_doctor_version='0.1.0'\n", "verification[0].outcome", "is not one"),
    ("[policy]\nminimum='latest'\n", "policy.minimum", "not a version"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\nsee_also=['#12']\n", "issue.x.see_also",
     "must be a link"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\nside='both'\n", "issue.x.side", "is not"),
    ("[policy]\n[[policy.blocked]]\nversions='1.x'\nreason='r'\nevidence='e'\n",
     "policy.blocked[0].versions", "not a version specifier"),
    ("this is = not toml ][", "-", "not valid TOML"),
    ("[[strategy]]\nname='attach-tui-api'\nsummary='s'\npreference=1\nevidence='e'\n"
     "evidence_kind='rumour'\n", "strategy.attach-tui-api.evidence_kind", "is not one of"),
    # a command (option) the help shows: a capability's and an issue's `when` read alike
    ("[[capability]]\nid='c'\ncommand='fly'\nsince='1.0.0'\nevidence='https://e'\n",
     "capability.c.command", "unknown command"),
    ("[[capability]]\nid='c'\ncommand='attach'\noption=' '\nsince='1.0.0'\nevidence='https://e'\n",
     "capability.c.option", "must be an option name"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\nwhen={command='fly'}\n", "issue.x.when.command",
     "unknown command"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\nwhen={option=3, command='attach'}\n",
     "issue.x.when.option", "must be an option name"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\nwhen={option='session'}\n", "issue.x.when.option",
     "with when.command"),
    ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='warn'\naffects=['attach-tui-api']"
     "\nbreaks='b'\nevidence='https://e'\nwhen='attach'\n", "issue.x.when", "must be a table"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "message"), BAD)
def test_invalid_files_name_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(MatrixError) as info:
        load_matrix([path], overrides=False)
    assert info.value.path == str(path) and info.value.key == key
    assert message in info.value.message


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(args: list[str], env: dict[str, str] | None = None) -> Ran:
    """The CLI in this process (click's runner), read as a process's exit code and streams."""
    from click.testing import CliRunner

    from orch_doctor.cli import main

    result = CliRunner().invoke(main, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_cli_exit_2_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD[1][0])
    for args in (["matrix", "check"], ["matrix", "show"], ["plan", "--dir", str(tmp_path)]):
        proc = cli([*args, "--matrix", str(path)])
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert str(path) in proc.stderr and "issue.x.versions" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_override_replaces_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "site.toml").write_text(
        "[[issue]]\nid='prompt-prefill-only'\ntitle='replaced'\nversions='>=9'\nseverity='info'\n"
        "affects=['standalone-prompt']\nbreaks='b'\nevidence='https://example.org/1'\n"
        "[[issue]]\nid='team-note'\ntitle='new'\nversions='>=1.18'\nseverity='forbid'\n"
        "affects=['attach-tui-api']\nbreaks='b'\nevidence='https://example.org/2'\n"
    )
    monkeypatch.setenv("ORCH_DOCTOR_MATRIX_DIRS", str(user))
    m = load_matrix()
    issues = {i.id: i for i in m.issues}
    assert issues["prompt-prefill-only"].title == "replaced"
    assert issues["team-note"].severity == "forbid"
    assert str(user / "site.toml") in m.files


def test_matrix_check_prints_a_strategy_per_release() -> None:
    proc = cli(["matrix", "check", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert_valid("matrix-check", data)
    rows = {r["release"]: r for r in data["releases"]}
    assert rows["1.0.152"]["with_server"] == "attach-tui-api"
    assert rows["1.18.33"]["with_server"] == "attach-session-api"
    assert rows["2.0.0"]["synthesized"] and rows["2.0.0"]["with_server"] == "none"
    text = cli(["matrix", "check"], env={"COLUMNS": "200", "PATH": ""}).stdout
    assert "1.0.152" in text and "attach-tui-api" in text


def test_matrix_show_lists_verification_grid() -> None:
    proc = cli(["matrix", "show", "--format", "json"])
    data = json.loads(proc.stdout)
    assert_valid("matrix-show", data)
    assert set(data["verification"]["1.18.33"]) == {n for n in STRATEGY_NAMES if n != "none"}
    assert data["known_issues"][0]["evidence"].startswith("https://")
    text = cli(["matrix", "show"], env={"COLUMNS": "200", "PATH": ""}).stdout
    assert "session-drops-prompt" in text and "#21829 #37536 #48113" in text


def test_parsed_files_are_cached_and_a_changed_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warm, no matrix file is parsed again; an edit (or a tampered cache entry) is never
    missed: the next load reads the files."""
    import os

    from orch_doctor.matrix import load as load_module

    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    user = tmp_path / "user"
    user.mkdir()
    note = user / "team.toml"

    def write(title: str, mtime_ns: int) -> None:
        note.write_text(
            f"[[issue]]\nid='team-note'\ntitle='{title}'\nversions='>=1.18'\nseverity='info'\n"
            "affects=['attach-tui-api']\nbreaks='b'\nevidence='https://example.org/2'\n"
        )
        os.utime(note, ns=(mtime_ns, mtime_ns))

    monkeypatch.setenv("ORCH_DOCTOR_MATRIX_DIRS", str(user))
    write("first", 1_700_000_000_000_000_000)
    parsed: list[Path] = []
    real_read = load_module.read_toml

    def counting_read(path: Path) -> dict[str, object]:
        parsed.append(path)
        return real_read(path)

    monkeypatch.setattr(load_module, "read_toml", counting_read)
    first = load_matrix()
    assert len(parsed) == len(first.files) and parsed
    parsed.clear()
    warm = load_matrix()
    assert parsed == []  # every document from the cache
    assert warm == first
    write("second", 1_700_000_001_000_000_000)  # same size, later mtime
    edited = load_matrix()
    assert parsed and {i.id: i.title for i in edited.issues}["team-note"] == "second"

    # a cache entry whose documents do not validate: the files are parsed again, no error
    def tamper(field: str, value: str) -> None:
        for entry in (tmp_path / "cache").glob("matrix-*.json"):  # the old file's entry too
            record = json.loads(entry.read_text())
            record["value"]["documents"][-1]["issue"][0][field] = value
            entry.write_text(json.dumps(record))

    tamper("severity", "bogus")
    parsed.clear()
    assert {i.id: i.title for i in load_matrix().issues}["team-note"] == "second"
    assert parsed
    tamper("title", "\x1b[2Jowned")
    parsed.clear()
    assert {i.id: i.title for i in load_matrix().issues}["team-note"] == "second"
    assert parsed


def test_evidence_kind_is_read_and_defaults_to_recorded(tmp_path: Path) -> None:
    shipped = load_matrix(overrides=False)
    assert {s.evidence_kind for s in shipped.strategies if s.name != "none"} <= {
        "recorded",
        "contract",
    }
    assert next(s for s in shipped.strategies if s.name == "attach-tui-api").evidence_kind == (
        "recorded"
    )
    path = tmp_path / "contract.toml"
    path.write_text(
        "[[strategy]]\nname='attach-tui-api'\nsummary='s'\npreference=1\nevidence='e'\n"
        "evidence_kind='contract'\n"
    )
    merged = load_matrix([path], overrides=False)
    assert next(s for s in merged.strategies if s.name == "attach-tui-api").evidence_kind == (
        "contract"
    )
