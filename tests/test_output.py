"""Output that follows conventions: nothing wraps or is cut when piped, no spinner in a pipe,
NO_COLOR, one status vocabulary (glyph and ASCII forms), GitHub annotations and step summary,
JUnit XML, the doctor's summary line, and the probe cache pruning itself."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from orch_doctor import __version__
from orch_doctor._util import cache
from orch_doctor.cli import main
from orch_doctor.doctor.runner import DoctorReport
from orch_doctor.doctor.types import CheckResult
from orch_doctor.report.github import render_annotations, render_summary
from orch_doctor.report.junit import render_junit
from orch_doctor.report.status import MARKS, glyphs_ok
from orch_doctor.report.text import make_console, render_text, with_spinner

FAKE_HELP = """opencode [project]

start opencode tui

Options:
  -h, --help     show help                                                 [boolean]
  -m, --model    model to use, provider/model; this description is long on purpose so that it \
goes well past eighty columns and would wrap [string]
      --prompt   prompt to use                                             [string]
"""


#: what a piped run's environment leaves out (the terminal's size, colour wishes, its type)
TERMINAL_VARS = ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TERM")


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    """The CLI's stdout as ``orch-doctor ... | cat`` prints it: in this process (click's runner:
    stdout is not a terminal, no COLUMNS; ``PYTHONIOENCODING`` in ``env`` is the stream's
    encoding). :func:`run_process` is the same as a process of its own; a slow test holds the
    two to the same output."""
    extra = dict(env or {})
    charset = extra.pop("PYTHONIOENCODING", "utf-8")
    full: dict[str, str | None] = {name: None for name in TERMINAL_VARS}
    full.update(extra)
    result = CliRunner(charset=charset).invoke(main, args, env=full)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.stdout


def run_process(args: list[str], env: dict[str, str] | None = None) -> str:
    """:func:`run` as a process of its own with stdout a pipe."""
    base = {k: v for k, v in os.environ.items() if k not in TERMINAL_VARS}
    base["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", *args],
        capture_output=True,
        env={**base, **(env or {})},
        timeout=60,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc.stdout.decode("utf-8")


@pytest.fixture
def long_dir(tmp_path: Path) -> Path:
    """A directory whose path is far longer than 80 columns."""
    path = tmp_path / ("a-rather-long-folder-name-" * 4) / ("and-another-one-" * 4)
    path.mkdir(parents=True)
    assert len(str(path)) > 160
    return path


@pytest.fixture
def fake_opencode(long_dir: Path) -> Path:
    binary = long_dir / "opencode"
    binary.write_text(
        '#!/bin/sh\ncase "$*" in\n  *--version*) echo 1.18.33 ;;\n'
        f"  *) cat <<'EOF'\n{FAKE_HELP}EOF\n  ;;\nesac\n"
    )
    binary.chmod(0o755)
    return binary


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(folder))
    return folder


# --- piped text never wraps -----------------------------------------------------------------


def test_piped_matrix_show_keeps_paths_whole_and_every_column(long_dir: Path) -> None:
    extra = long_dir / "extra.toml"
    link = "https://github.com/anomalyco/opencode/discussions/" + "x" * 90
    extra.write_text(
        '[[issue]]\nid = "a-long-issue-id-for-the-table"\ntitle = "t"\nversions = ">=1"\n'
        'severity = "info"\naffects = ["attach-tui-api"]\nbreaks = "b"\n'
        f'evidence = "{link}"\n'
    )
    out = run(["matrix", "show", "--matrix", str(extra)])
    lines = out.splitlines()
    assert any(line.strip() == str(extra) for line in lines), out
    assert any("x" * 90 in line for line in lines)  # the evidence link's last part, whole
    for header in ("name", "server", "needs flags", "needs routes", "id", "versions",
                   "severity", "affects", "evidence", "release"):  # fmt: skip
        assert re.search(rf"[┃|] {header} +[┃|]", out), header
    for strategy in ("attach-session-api", "attach-tui-api", "standalone-session",
                     "standalone-prompt"):  # fmt: skip
        # the verification grid keeps a column per strategy
        assert any(strategy in line and "release" in line for line in lines), strategy


def test_piped_probe_keeps_the_path_and_the_descriptions_whole(fake_opencode: Path) -> None:
    out = run(["probe", "--opencode", str(fake_opencode)])
    assert any(str(fake_opencode) in line for line in out.splitlines()), out
    assert any(
        "this description is long on purpose so that it goes well past eighty columns" in line
        for line in out.splitlines()
    ), out
    for header in ("option", "aliases", "type", "description"):
        assert re.search(rf"\b{header}\b", out), header


def test_piped_plan_and_doctor_keep_commands_whole(long_dir: Path, fake_opencode: Path) -> None:
    missing = long_dir / "not-there-yet"
    env = {"OPENCODE_BIN": str(fake_opencode)}
    out = run(["plan", "--dir", str(missing), "--prompt", "hi"], env)
    assert f"mkdir -p -- {missing}" in out.splitlines()[2], out
    out = run(["--dir", str(missing), "--no-discover", "--opencode", str(fake_opencode)], env)
    assert any(line.strip().startswith(f"fix: mkdir -p -- {missing}") for line in out.splitlines())


# --- spinner and colour ---------------------------------------------------------------------


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _spin(monkeypatch: pytest.MonkeyPatch, stdout: io.StringIO) -> str:
    monkeypatch.setattr(sys, "stdout", stdout)
    console = make_console()
    assert with_spinner(console, "spinning-marker", lambda: time.sleep(0.3) or 7) == 7
    return stdout.getvalue()


def test_no_spinner_into_a_pipe_even_with_force_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "spinning-marker" not in _spin(monkeypatch, io.StringIO())
    assert "spinning-marker" in _spin(monkeypatch, FakeTty())  # the same, on a terminal


def test_no_color_turns_off_colour_not_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    out = _spin(monkeypatch, FakeTty())
    assert "spinning-marker" in out
    assert make_console().no_color
    monkeypatch.setenv("NO_COLOR", "")  # empty: as if unset (no-color.org)
    monkeypatch.setattr(sys, "stdout", FakeTty())
    assert not make_console().no_color


def test_force_color_piped_prints_no_spinner_frames(fake_opencode: Path, tmp_path: Path) -> None:
    out = run(["--dir", str(tmp_path), "--opencode", str(fake_opencode), "--no-discover"],
              {"FORCE_COLOR": "1"})  # fmt: skip
    assert "probing OpenCode" not in out and "\r" not in out and "\x1b[?25l" not in out
    assert "\x1b[" in out  # colour, as asked
    out = run(["--dir", str(tmp_path), "--opencode", str(fake_opencode), "--no-discover"],
              {"FORCE_COLOR": "1", "NO_COLOR": "1"})  # fmt: skip
    assert "\x1b[" not in out


# --- one status vocabulary ------------------------------------------------------------------


def test_glyphs_only_where_the_terminal_can_show_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert glyphs_ok(utf8) and not glyphs_ok(latin)
    monkeypatch.setenv("TERM", "dumb")
    assert not glyphs_ok(utf8)
    assert all(m.ascii.isascii() for m in MARKS.values())


@pytest.mark.parametrize(
    ("env", "fail", "passed"),
    [
        ({}, "✗", "✓"),
        ({"TERM": "dumb"}, "FAIL", "ok"),
        ({"PYTHONIOENCODING": "ascii"}, "FAIL", "ok"),
    ],
)
def test_every_command_uses_the_same_marks(
    env: dict[str, str], fail: str, passed: str, fake_opencode: Path, tmp_path: Path
) -> None:
    env = {"OPENCODE_BIN": str(fake_opencode), **env}
    missing = tmp_path / "missing"
    doctor = run(["--dir", str(missing), "--no-discover"], env)
    assert re.search(rf"^{fail} +spawn directory:", doctor, re.M), doctor
    indent = 4 if fail == "✗" else 7  # details: two spaces in from the title
    assert re.search(rf"^ {{{indent}}}fix: mkdir -p -- ", doctor, re.M), doctor
    doctor = run(["--dir", str(tmp_path), "--no-discover"], env)
    assert re.search(rf"^{passed} +spawn directory:", doctor, re.M), doctor
    plan = run(["plan", "--dir", str(missing)], env)
    assert plan.startswith(f"{fail} no spawn strategy is possible"), plan
    server = run(["server", "http://127.0.0.1:9", "--timeout", "1"], env)
    assert server.startswith(f"{fail} http://127.0.0.1:9"), server
    if fail == "FAIL":
        assert (doctor + plan + server).isascii()


@pytest.mark.slow  # four processes of their own
@pytest.mark.parametrize("env", [{}, {"TERM": "dumb"}, {"PYTHONIOENCODING": "ascii"}])
def test_a_real_pipe_prints_what_the_in_process_run_does(
    env: dict[str, str], fake_opencode: Path, tmp_path: Path
) -> None:
    """The fast suite reads the CLI's output in-process: a real pipe (and a real stdout
    encoding) prints the same."""
    env = {"OPENCODE_BIN": str(fake_opencode), **env}
    missing = tmp_path / "missing"
    for args in (
        ["--dir", str(missing), "--no-discover"],
        ["plan", "--dir", str(missing)],
        ["probe"],
        ["server", "http://127.0.0.1:9", "--timeout", "1"],
    ):
        piped, in_process = run_process(args, env), run(args, env)
        # the doctor's own duration is the one thing that differs between two runs
        same = re.compile(r"\(\d+\.\d+s\)")
        assert same.sub("", piped) == same.sub("", in_process), args


# --- the doctor's summary line --------------------------------------------------------------


def check(id: str, status: str, summary: str = "", fix: str | None = "do it") -> CheckResult:
    return CheckResult(id=id, title=f"title of {id}", status=status, summary=summary or id,  # type: ignore[arg-type]
                       fix=fix if status in ("warn", "fail") else None)  # fmt: skip


def report(*checks: CheckResult) -> DoctorReport:
    return DoctorReport(checks=checks, capabilities=None, server=None, decision=None,
                        matrix_files=(), policy_file=None, duration_s=1.5)  # fmt: skip


def summary_line(r: DoctorReport, strict: bool = False) -> str:
    buffer = io.StringIO()
    monkey = make_console()
    monkey.file = buffer
    render_text(r, monkey, strict=strict)
    lines = buffer.getvalue().splitlines()
    return next(line for line in lines if ": " in line and "passed" in line)


def test_summary_line_leads_with_the_most_severe_problem() -> None:
    r = report(
        check("a", "pass"),
        check("w", "warn", "a mere warning"),
        check("f", "fail", "the real failure"),
        check("g", "fail", "a later failure"),
    )
    assert summary_line(r).startswith("FAIL: title of f: the real failure; 1 passed, 1 warnings")
    r = report(check("a", "pass"), check("w", "warn", "the warning"))
    assert summary_line(r).startswith("WARN: title of w: the warning; 1 passed")
    assert summary_line(r, strict=True).startswith("FAIL (strict): title of w: the warning;")
    assert summary_line(report(check("a", "pass"))).startswith("PASS: 1 passed")


# --- GitHub and JUnit -----------------------------------------------------------------------


def test_github_annotations_only_for_warnings_and_failures() -> None:
    green = report(check("a", "pass"), check("b", "skip"), check("c", "pass"))
    assert render_annotations(green).splitlines() == [
        "::notice title=orch-doctor::PASS: 2 passed, 0 warnings, 0 failed, 1 skipped (1.5s)"
    ]
    assert render_annotations(green, strict=True) == render_annotations(green)
    mixed = report(check("a", "pass"), check("w", "warn"), check("f", "fail"), check("s", "skip"))
    lines = render_annotations(mixed).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::warning", "::error"]  # no notice
    assert [line.split(" ", 1)[0] for line in render_annotations(mixed, strict=True).splitlines()] \
        == ["::error", "::error"]  # fmt: skip
    summary = render_summary(mixed)
    for title in ("title of a", "title of w", "title of f", "title of s"):  # the full table
        assert f"| {title} |" in summary


HOSTILE = (
    '\x00\x07\x1b]0;pwned\x07 <tag a="b"> & \' ]]> \r\n\x0b\x0c \ud800 \ufffe \uffff \u202e 😀'
)


def test_junit_is_valid_xml_with_timestamp_and_hostname() -> None:
    odd = CheckResult(
        id="x", title=HOSTILE, status="fail", summary="s", details=(HOSTILE,), fix="f"
    )
    r = report(
        check("a", "pass", HOSTILE),
        check("w", "warn", HOSTILE, fix=HOSTILE),
        check("f", "fail", HOSTILE, fix=HOSTILE),
        check("s", "skip", HOSTILE),
        odd,
    )
    finished = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
    text = render_junit(r, finished=finished)
    text.encode("utf-8")  # no lone surrogate survives
    root = ET.fromstring(text.encode("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("timestamp") == "2026-11-25T12:00:28"  # started: finished - 1.5 s
    assert suite.get("hostname") == socket.gethostname()
    assert suite.get("failures") == "2" and suite.get("tests") == "5"
    failure = root.find(".//failure")
    assert failure is not None and "<tag" in (failure.text or "")  # the text, escaped, intact
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", ET.fromstring(render_junit(r)).find(
        "testsuite").get("timestamp"))  # type: ignore[union-attr,arg-type]  # fmt: skip


# --- the probe cache prunes itself ----------------------------------------------------------


def test_cache_prunes_old_foreign_and_surplus_entries(own_cache: Path) -> None:
    now = time.time()
    for i in range(cache.KEEP_PER_KIND + 5):
        assert cache.store("probe", {"n": i}, {"v": i})
        entry = cache._file_for("probe", {"n": i}, own_cache)
        os.utime(entry, (now - 1000 + i, now - 1000 + i))  # later i: used more recently
    probes = sorted(own_cache.glob("probe-*.json"))
    assert len(probes) == cache.KEEP_PER_KIND
    assert cache.load("probe", {"n": 0}) is None  # the least recently used went
    assert cache.load("probe", {"n": cache.KEEP_PER_KIND + 4}) == {"v": cache.KEEP_PER_KIND + 4}

    # an old entry, one of another tool version, a stale temp file, a stranger's file
    cache.store("version", {"old": 1}, {"v": 1})
    old = cache._file_for("version", {"old": 1}, own_cache)
    os.utime(old, (now - cache.MAX_AGE_S - 10,) * 2)
    other = own_cache / ("version-" + "0" * 32 + ".json")
    record = {"format": cache.FORMAT, "tool_version": "0.0.1", "kind": "version", "key": {},
              "value": {}}  # fmt: skip
    other.write_text(json.dumps(record))
    temp = own_cache / (".version-" + "1" * 32 + ".json.abc")
    temp.write_text("{")
    os.utime(temp, (now - 7200,) * 2)
    stranger = own_cache / "notes.json"
    stranger.write_text("mine")
    os.utime(stranger, (now - cache.MAX_AGE_S - 10,) * 2)
    assert record["tool_version"] != __version__

    cache.store("version", {"new": 1}, {"v": 2})
    assert not old.exists() and not other.exists() and not temp.exists()
    assert stranger.exists()  # never a file the cache did not write
    assert cache.load("version", {"new": 1}) == {"v": 2}
    assert len(list(own_cache.glob("probe-*.json"))) == cache.KEEP_PER_KIND


def test_a_cache_hit_counts_as_use(own_cache: Path) -> None:
    now = time.time()
    for i in range(cache.KEEP_PER_KIND):
        cache.store("probe", {"n": i}, {"v": i})
        entry = cache._file_for("probe", {"n": i}, own_cache)
        os.utime(entry, (now - 1000 + i, now - 1000 + i))
    assert cache.load("probe", {"n": 0}) == {"v": 0}  # the oldest, used now
    cache.store("probe", {"n": "new"}, {"v": "new"})
    assert cache.load("probe", {"n": 0}) == {"v": 0}
    assert cache.load("probe", {"n": 1}) is None  # now the least recently used


class Utf8Tty(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_the_spinner_is_ascii_where_glyphs_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    ascii_tty = FakeTty()  # no encoding: ASCII marks
    monkeypatch.setattr(sys, "stdout", ascii_tty)
    with_spinner(make_console(), "waiting…", lambda: time.sleep(0.3))
    assert "waiting..." in ascii_tty.getvalue() and ascii_tty.getvalue().isascii()
    raw = io.BytesIO()
    utf8_tty = Utf8Tty(raw, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", utf8_tty)
    with_spinner(make_console(), "waiting…", lambda: time.sleep(0.3))
    assert "waiting…" in raw.getvalue().decode("utf-8")


# --- verify and spawn: the steps as they run -------------------------------------------------


def test_step_lines_use_the_same_marks_and_show_no_control_characters() -> None:
    from orch_doctor.decide.steps import WaitCondition, WaitStep
    from orch_doctor.execute.executor import StepReport
    from orch_doctor.report.steps import finished_line, started_line

    wait = WaitStep(WaitCondition.TUI_READY, "wait until the TUI is up", ready_markers=("ctrl+p",))
    assert started_line(2, wait, 3.25) == "  [  3.2s] 3. wait    wait until the TUI is up ..."
    ok = StepReport(2, "wait", "wait until the TUI is up", "ok", 3.77, detail="shows 'ctrl+p'")
    assert finished_line(ok, ascii=False).splitlines()[0].strip() == (
        "✓ 3. wait until the TUI is up (3.77s)"
    )
    assert finished_line(ok, ascii=True).splitlines()[0].strip().startswith("ok   3. wait")
    hostile = "\x1b]0;owned\x07\x1b[2Jgone\nnext line"
    failed = StepReport(
        4, "http", "send the prompt", "failed", 0.1, expected="200", seen=hostile, detail=hostile
    )
    for ascii in (True, False):
        text = finished_line(failed, ascii=ascii)
        assert "\x1b" not in text and "\x07" not in text
        assert "\\x1b]0;owned" in text and "seen: " in text and "expected: 200" in text
        assert text.splitlines()[0].split()[0] == ("FAIL" if ascii else "✗")
    skipped = StepReport(5, "wait", "the prompt is stored", "skipped", 0.0)
    assert finished_line(skipped, ascii=True).split()[0] == "skip"
