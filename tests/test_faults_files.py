"""Fault catalogue: malformed files, the binary that is reported vs the one that runs, spawn
directories, fix hints, and what reaches the terminal from files and the binary's output.

Every case runs the real command line in a child process (``python -m orch_doctor``) with a
time limit and asserts: no traceback, the documented exit code (0 ok, 1 no plan / a check
failed, 2 usage or configuration error), for a bad file ONE stderr line naming the file and the
key, a bounded time, and no control character from the input on stdout or stderr. Real OpenCode
releases where a real one can show it; a hostile "binary" is a small script (a real release does
not print terminal escapes in its help).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELP = ROOT / "compat_matrix" / "help" / "1.18.33"
#: no case may take longer than this (the slowest parse of a hostile file is well below 1 s)
CASE_LIMIT_S = 30.0
#: what must never reach a terminal from a file or a binary (ESC, BEL, NUL, C1 CSI, bidi)
HOSTILE = re.compile("[\x00-\x08\x0b-\x1f\x7f\x9b\u202e]")
ERROR_LINE = re.compile(r"^orch-doctor: error: (?P<file>.+?): (?P<key>[^:]+): (?P<message>.+)$")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_cli(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> Run:
    """The CLI in this process (click's runner: exit code, stdout and stderr as a process
    gives them; an exception that escapes fails the case with its traceback)."""
    import traceback

    from click.testing import CliRunner

    from orch_doctor.cli import main

    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    start = time.monotonic()
    try:
        result = CliRunner().invoke(main, args, env=env, input=stdin)
    finally:
        seconds = time.monotonic() - start
        os.chdir(here)
    out = result.stdout_bytes.decode("utf-8", "backslashreplace")
    err = result.stderr_bytes.decode("utf-8", "backslashreplace")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += "".join(traceback.format_exception(result.exception))
    assert "Traceback" not in err and "Traceback" not in out, err
    assert seconds < CASE_LIMIT_S, f"took {seconds:.1f}s"
    return Run(result.exit_code, out, err, seconds)


# --- the catalogue of bad files ---------------------------------------------------------------


@dataclass(frozen=True)
class FileCase:
    id: str
    kind: str  # "policy" (--policy), "policy-found" (.orch-doctor.toml in --dir),
    #            "pyproject" (found in --dir), "matrix" (--matrix), "matrix-dir" (override dir),
    #            "prompt" (--prompt-file)
    content: bytes
    key: str  # the key the error line names ("-": the file as a whole)
    message: str  # a part of the message
    name: str = "bad.toml"
    extra: dict[str, str] = field(default_factory=dict)


def toml(text: str) -> bytes:
    return text.encode()


DEEP = ("a = " + "[" * 5000 + "]" * 5000 + "\n").encode()
DIGITS = "1" + "0" * 5000

FILE_CASES = [
    # policy: --policy FILE
    FileCase("policy-invalid-utf8", "policy", b'minimum_version = "\xff"\n', "-", "not UTF-8"),
    FileCase("policy-deep-nesting", "policy", DEEP, "-", "nested too deeply"),
    FileCase("policy-not-toml", "policy", b"minimum_version = \n", "-", "not valid TOML"),
    FileCase("policy-raw-nul", "policy", b'server_url = "a\x00"\n', "-", "not valid TOML"),
    FileCase(
        "policy-escaped-nul",
        "policy",
        toml('server_url = "a\\u0000"\n'),
        "server_url",
        "control character",
    ),
    FileCase(
        "policy-escape-in-key",
        "policy",
        toml('"x\\u001b]0;pwned\\u0007" = 1\n'),
        "x\\x1b]0;pwned\\x07",
        "control character",
    ),
    FileCase("policy-tool-int", "policy", toml("tool = 5\n"), "tool", "must be a table"),
    FileCase(
        "policy-tool-table-int",
        "policy",
        toml("[tool]\norch-doctor = 5\n"),
        "tool.orch-doctor",
        "must be a table",
    ),
    FileCase(
        "policy-nested-list",
        "policy",
        toml('allowed_strategies = [["x"]]\n'),
        "allowed_strategies[0]",
        "must be a string",
    ),
    FileCase(
        "policy-table-for-list",
        "policy",
        toml("allowed_strategies = {a = 1}\n"),
        "allowed_strategies",
        "must be a list",
    ),
    FileCase(
        "policy-int-for-bool",
        "policy",
        toml("require_server = 1\n"),
        "require_server",
        "true or false",
    ),
    FileCase(
        "policy-strategy-typo",
        "policy",
        toml('allowed_strategies = ["attach-sesion-api"]\n'),
        "allowed_strategies[0]",
        "unknown strategy",
    ),
    FileCase(
        "policy-5000-digit-version",
        "policy",
        toml(f'minimum_version = "{DIGITS}"\n'),
        "minimum_version",
        "too long",
    ),
    FileCase(
        "policy-server-url-not-url",
        "policy",
        toml('server_url = "localhost:4096"\n'),
        "server_url",
        "not an http(s) URL",
    ),
    FileCase("policy-unknown-key", "policy", toml("minimum = 1\n"), "minimum", "unknown key"),
    # policy found from --dir
    FileCase(
        "policy-found-invalid-utf8",
        "policy-found",
        b'skip_checks = ["\xfe"]\n',
        "-",
        "not UTF-8",
        name=".orch-doctor.toml",
    ),
    FileCase(
        "pyproject-tool-int",
        "pyproject",
        toml('[tool]\n"orch-doctor" = 5\n'),
        "tool.orch-doctor",
        "must be a table",
        name="pyproject.toml",
    ),
    FileCase(
        "pyproject-invalid-utf8",
        "pyproject",
        b'[tool.orch-doctor]\nminimum_version = "\xc3"\n',
        "-",
        "not UTF-8",
        name="pyproject.toml",
    ),
    FileCase(
        "pyproject-deep-nesting",
        "pyproject",
        b"[tool.orch-doctor]\n" + DEEP,
        "-",
        "nested too deeply",
        name="pyproject.toml",
    ),
    # matrix: --matrix FILE
    FileCase("matrix-invalid-utf8", "matrix", b'[[issue]]\nid = "\xff"\n', "-", "not UTF-8"),
    FileCase("matrix-deep-nesting", "matrix", DEEP, "-", "nested too deeply"),
    FileCase("matrix-issue-int", "matrix", toml("issue = 5\n"), "issue", "array of tables"),
    FileCase(
        "matrix-strategy-table",
        "matrix",
        toml('[strategy]\nname = "x"\n'),
        "strategy",
        "array of tables",
    ),
    FileCase(
        "matrix-nested-list",
        "matrix",
        toml(
            '[[issue]]\nid = "x"\ntitle = "t"\nversions = ">=1"\nseverity = "warn"\n'
            'affects = [["attach-tui-api"]]\nbreaks = "b"\nevidence = "measured: m"\n'
        ),
        "issue.x.affects",
        "list of strings",
    ),
    FileCase(
        "matrix-5000-digit-specifier",
        "matrix",
        toml(
            f'[[issue]]\nid = "big"\ntitle = "t"\nversions = ">={DIGITS}"\n'
            'severity = "warn"\naffects = ["attach-tui-api"]\nbreaks = "b"\n'
            'evidence = "measured: m"\n'
        ),
        "issue.big.versions",
        "too long",
    ),
    FileCase(
        "matrix-5000-digit-version",
        "matrix",
        toml(
            f'[[capability]]\nid = "c"\ncommand = "root"\nsince = "{DIGITS}"\n'
            'evidence = "measured: m"\n'
        ),
        "capability.c.since",
        "too long",
    ),
    FileCase(
        "matrix-escape-in-id",
        "matrix",
        toml('[[issue]]\nid = "\\u001b]0;pwned\\u0007"\n'),
        "issue[0].id",
        "control character",
    ),
    FileCase(
        "matrix-escaped-nul",
        "matrix",
        toml('[policy]\nminimum = "1\\u0000"\n'),
        "policy.minimum",
        "control character",
    ),
    FileCase(
        "matrix-too-large", "matrix", b"# " + b"x" * (5 * 1024 * 1024) + b"\n", "-", "larger than"
    ),
    FileCase("matrix-override-dir", "matrix-dir", toml("issue = 5\n"), "issue", "array of tables"),
    # --prompt-file
    FileCase(
        "prompt-invalid-utf8",
        "prompt",
        b"fix \xff the tests\n",
        "--prompt-file",
        "not UTF-8",
        name="prompt.txt",
    ),
    FileCase(
        "prompt-nul",
        "prompt",
        b"fix\x00 the tests\n",
        "--prompt-file",
        "control character",
        name="prompt.txt",
    ),
    FileCase(
        "prompt-escape",
        "prompt",
        b"fix \x1b]0;pwned\x07 the tests\n",
        "--prompt-file",
        "control character",
        name="prompt.txt",
    ),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_bad_file_is_one_line_usage_error(case: FileCase, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    no_binary = ["--opencode", str(tmp_path / "no-opencode")]  # nothing is started
    env: dict[str, str] = {}
    if case.kind in ("policy-found", "pyproject"):
        path = project / case.name
        args = ["--dir", str(project), "--no-discover", *no_binary]
    elif case.kind == "matrix-dir":
        overrides = tmp_path / "overrides"
        overrides.mkdir()
        path = overrides / case.name
        env["ORCH_DOCTOR_MATRIX_DIRS"] = str(overrides)
        args = ["matrix", "show"]
    else:
        path = tmp_path / case.name
        args = {
            "policy": ["--policy", str(path), "--dir", str(project), "--no-discover", *no_binary],
            "matrix": ["matrix", "show", "--matrix", str(path)],
            "prompt": ["plan", "--dir", str(project), "--prompt-file", str(path), *no_binary],
        }[case.kind]
    path.write_bytes(case.content)

    run = run_cli(args, env=env)

    assert run.code == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    match = ERROR_LINE.match(lines[0])
    assert match is not None, lines[0]
    assert match["file"] == str(path)
    assert match["key"] == case.key
    assert case.message in match["message"]
    assert not HOSTILE.search(run.stderr)
    assert len(lines[0]) < 400


def test_bad_file_in_the_api_is_a_config_file_error(tmp_path: Path) -> None:
    from orch_doctor.api import ConfigFileError, MatrixError, load_matrix
    from orch_doctor.doctor.policy import load_policy
    from orch_doctor.errors import PolicyError

    bad = tmp_path / "bad.toml"
    bad.write_bytes(DEEP)
    with pytest.raises(MatrixError) as matrix_error:
        load_matrix([bad])
    with pytest.raises(PolicyError) as policy_error:
        load_policy(str(bad), tmp_path)
    for error in (matrix_error.value, policy_error.value):
        assert isinstance(error, ConfigFileError)
        assert error.path == str(bad) and error.key == "-"


def test_policy_server_url_is_intent(tmp_path: Path) -> None:
    """A server the policy names that cannot be used is no plan: strategy none, exit 1."""
    project = tmp_path / "project"
    project.mkdir()
    (project / ".orch-doctor.toml").write_text('server_url = "http://127.0.0.1:9"\n')
    run = run_cli(["--dir", str(project), "--opencode", str(tmp_path / "none"), "--format",
                   "json"])  # fmt: skip
    data = json.loads(run.stdout)
    assert run.code == 1
    assert data["decision"]["strategy"] == "none"
    checks = {c["id"]: c["status"] for c in data["checks"]}
    assert checks["server"] == "fail"


# --- markup and control characters from files reach no terminal raw ---------------------------


def test_markup_in_an_issue_id_is_printed_literally(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[[issue]]\nid = "[/x][bold]loud[/bold]"\ntitle = "t"\nversions = ">=1"\n'
        'severity = "info"\naffects = ["attach-tui-api"]\nbreaks = "b"\n'
        'evidence = "https://example.com/a/[red]x"\n'
    )
    run = run_cli(["matrix", "show", "--matrix", str(extra)], env={"COLUMNS": "300"})
    assert run.code == 0, run.stderr
    assert "[/x][bold]loud[/bold]" in run.stdout
    assert "[red]x" in run.stdout


# --- the binary that is reported is the binary that runs --------------------------------------


def link(target: Path, at: Path) -> Path:
    at.symlink_to(target)
    return at


@pytest.mark.real
@pytest.mark.parametrize(
    ("case", "expect"),
    [
        # --opencode VALUE: a file relative to the working directory wins over $PATH
        ("bare-name-file-in-cwd", "cwd"),
        # --opencode=-oc with ./-oc: never read as a flag, runs ./-oc
        ("dash-leading-name", "cwd"),
        # a bare name with no such file here: looked up on $PATH like a shell
        ("bare-name-on-path", "path"),
        # $OPENCODE_BIN=opencode: a bare name in the environment is a $PATH lookup only
        ("env-bare-name", "path"),
    ],
)
def test_reported_binary_is_the_one_that_runs(
    case: str, expect: str, opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    here = tmp_path / "work"
    bindir = tmp_path / "bin"
    here.mkdir()
    bindir.mkdir()
    name = "-oc" if case == "dash-leading-name" else "opencode"
    if case != "bare-name-on-path":
        link(opencode_release("1.0.152"), here / name)
    link(opencode_release("1.18.33"), bindir / name)
    env = {
        "PATH": f"{bindir}{os.pathsep}/usr/bin:/bin",
        "ORCH_DOCTOR_CACHE_DIR": str(tmp_path / "c"),
    }
    if case == "env-bare-name":
        env["OPENCODE_BIN"] = name
        args = ["probe", "--format", "json"]
    else:
        args = ["probe", f"--opencode={name}", "--format", "json"]

    for attempt in ("first", "cached"):  # the cache is keyed by what runs, so both agree
        run = run_cli(args, cwd=here, env=env)
        assert run.code == 0, (attempt, run.stderr)
        data = json.loads(run.stdout)
        binary = data["binary"]
        chosen = here / name if expect == "cwd" else bindir / name
        # the candidate as found, and the file that runs (a symlink resolved): what is probed,
        # cached, reported and put in a plan's argv[0]
        assert data["discovery"]["chosen"]["path"] == str(chosen)
        assert binary["path"] == os.path.realpath(chosen)
        assert binary["version"] == ("1.0.152" if expect == "cwd" else "1.18.33")
        assert os.path.isabs(binary["path"])


def test_bare_name_not_found_names_the_fix(tmp_path: Path) -> None:
    run = run_cli(["probe", "--opencode", "no-such-opencode", "--format", "json"], cwd=tmp_path,
                  env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    data = json.loads(run.stdout)
    assert run.code == 1
    assert "no 'no-such-opencode' on $PATH" in json.dumps(data)


# --- directories ---------------------------------------------------------------------------------

HOSTILE_NAME = "x'; touch PWNED; '"


@pytest.mark.parametrize("case", ["missing", "hostile-quote", "is-a-file", "under-a-file"])
def test_plan_dir_that_cannot_be_used_is_no_plan(case: str, tmp_path: Path) -> None:
    directory = {
        "missing": tmp_path / "does" / "not" / "exist",
        "hostile-quote": tmp_path / HOSTILE_NAME,
        "is-a-file": tmp_path / "file",
        "under-a-file": tmp_path / "file" / "sub",
    }[case]
    (tmp_path / "file").write_text("x")
    run = run_cli(["plan", "--dir", str(directory), "--prompt", "hi", "--opencode",
                   str(tmp_path / "no-opencode"), "--format", "json"])  # fmt: skip
    data = json.loads(run.stdout)
    assert run.code == 1
    assert data["strategy"] == "none" and data["steps"] == []
    assert str(directory) in data["reasons"][0]
    text = run_cli(["plan", "--dir", str(directory), "--prompt", "hi", "--opencode",
                    str(tmp_path / "no-opencode")])  # fmt: skip
    assert text.code == 1 and "✗ no spawn strategy is possible" in text.stdout
    if case in ("missing", "hostile-quote"):
        # the fix is safe to paste: run it in a shell, it makes exactly that directory
        command = data["fix"].split("   (")[0]
        assert shlex.split(command) == ["mkdir", "-p", "--", str(directory)]
        subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True, timeout=10)
        assert directory.is_dir() and not (tmp_path / "PWNED").exists()


def test_api_refuses_a_missing_directory_without_probing(tmp_path: Path) -> None:
    from orch_doctor.api import select_strategy

    start = time.monotonic()
    decision = select_strategy(tmp_path / "missing", prompt="hi", opencode="/nonexistent")
    assert time.monotonic() - start < 2.0
    assert decision.strategy == "none" and decision.plan is None
    assert decision.fix is not None and decision.fix.startswith("mkdir -p -- ")
    assert decision.advisories[0].id == "directory-missing"
    from orch_doctor.matrix.types import PLAN_STRATEGIES

    assert set(decision.rejected) == set(PLAN_STRATEGIES)  # every strategy, for that reason
    assert {r.code for r in decision.rejected.values()} == {"directory-unusable"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root can search every folder")
def test_dir_under_an_unreadable_folder_is_no_plan(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    (locked / "project").mkdir(parents=True)
    locked.chmod(0)
    try:
        run = run_cli(["plan", "--dir", str(locked / "project"), "--prompt", "hi",
                       "--opencode", str(tmp_path / "none"), "--format", "json"])  # fmt: skip
    finally:
        locked.chmod(0o700)
    data = json.loads(run.stdout)
    assert run.code == 1 and data["strategy"] == "none"
    assert "cannot be reached" in data["reasons"][0]


def test_unreachable_directory_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as above where the tests run as root (nothing is unreadable to root): stat
    raising PermissionError, as it does under a folder without search permission."""
    from orch_doctor._util import directory

    def denied(path: str) -> os.stat_result:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(directory.os, "stat", denied)
    problem = directory.directory_problem("/locked/x'; touch PWNED; '/project")
    assert problem is not None and problem.id == "directory-unreachable"
    assert "cannot be reached" in problem.message
    assert problem.fix is None  # no command mends it: the alternatives say what to do
    assert shlex.quote("/locked/x'; touch PWNED; '") in problem.alternatives[0]


# --- nothing from a file, a path or the binary reaches the terminal raw -----------------------

EVIL = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e"


def hostile_binary(tmp_path: Path) -> Path:
    """A "binary" whose help and --version carry terminal escapes, C1 and bidi characters."""
    evil = EVIL.encode()
    (tmp_path / "evil.txt").write_bytes(b"  --evil  " + evil + b" forged\r\xe2\x9c\x93 ok\n")
    script = tmp_path / "opencode"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in\n'
        f"  --version) printf '1.18.33\\n' ; cat {shlex.quote(str(tmp_path / 'evil.txt'))} ;;\n"
        f"  attach|run|serve) cat {shlex.quote(str(HELP))}/$1.txt ;;\n"
        f"  *) cat {shlex.quote(str(HELP / 'root.txt'))} "
        f"{shlex.quote(str(tmp_path / 'evil.txt'))} ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("output_format", ["text", "junit", "github", "json"])
def test_hostile_strings_reach_no_output_raw(output_format: str, tmp_path: Path) -> None:
    binary = hostile_binary(tmp_path)
    directory = tmp_path / f"dir{EVIL}\nline2"  # a path from outside: missing, hostile name
    run = run_cli(["--opencode", str(binary), "--dir", str(directory), "--no-discover",
                   "--format", output_format, "-v"],
                  env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})  # fmt: skip
    assert run.code == 1  # the directory does not exist
    assert not HOSTILE.search(run.stdout.replace("\n", "").replace("\t", "")), run.stdout
    assert not HOSTILE.search(run.stderr.replace("\n", ""))
    if output_format == "junit":
        root = ET.fromstring(run.stdout)  # valid XML whatever the strings held
        failures = [f.get("message", "") for f in root.iter("failure")]
        assert any("\\x1b]0;pwned" in m for m in failures)
    elif output_format == "github":
        lines = [line for line in run.stdout.split("\n") if line]
        assert lines and all(line.startswith("::") for line in lines)
        summary = (tmp_path / "summary.md").read_text()
        assert not HOSTILE.search(summary.replace("\n", ""))
    elif output_format == "json":
        json.loads(run.stdout)
    else:
        assert "\\x1b]0;pwned" in run.stdout  # visible, not executed


def test_hostile_help_text_in_probe_output(tmp_path: Path) -> None:
    run = run_cli(["probe", "--opencode", str(hostile_binary(tmp_path))],
                  env={"COLUMNS": "300"})  # fmt: skip
    assert run.code == 0, run.stderr
    assert "--evil" in run.stdout
    assert not HOSTILE.search(run.stdout.replace("\n", ""))


def test_hostile_strings_in_a_plan(tmp_path: Path) -> None:
    project = tmp_path / f"p{EVIL}"
    project.mkdir()
    run = run_cli(["plan", "--opencode", str(hostile_binary(tmp_path)), "--dir", str(project),
                   "--prompt", f"hi {EVIL}"])  # fmt: skip
    assert run.code in (0, 1)
    assert not HOSTILE.search(run.stdout.replace("\n", "")), run.stdout


# --- the probe cache ---------------------------------------------------------------------------

WRONG_SHAPES = [
    b"[]",
    b"{not json",
    b"[" * 100_000 + b"]" * 100_000,
    b"\xff\xfe",
]


@pytest.mark.real
@pytest.mark.parametrize("variant", ["list", "garbage", "deep", "binary", "wrong-values"])
def test_wrong_shaped_cache_entry_is_ignored_and_rewritten(
    variant: str, opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    binary = str(opencode_release("1.18.33"))
    env = {"ORCH_DOCTOR_CACHE_DIR": str(cache)}
    args = ["plan", "--dir", str(tmp_path), "--prompt", "hi", "--opencode", binary,
            "--no-discover", "--format", "json"]  # fmt: skip
    first = run_cli(args, env=env)
    assert first.code == 0, first.stderr
    entries = sorted(cache.glob("*.json"))
    assert entries
    good = {p: p.read_bytes() for p in entries}
    for entry in entries:
        if variant == "wrong-values":
            record = json.loads(good[entry])
            record["value"] = {"version": 5, "help": {"root": {"text": ["x"]}}, "identified_as": 7}
            entry.write_text(json.dumps(record))
        else:
            index = ["list", "garbage", "deep", "binary"].index(variant)
            entry.write_bytes(WRONG_SHAPES[index])
    for _ in range(2):  # every later run works, not only the first
        again = run_cli(args, env=env)
        assert again.code == 0, again.stderr
        assert json.loads(again.stdout)["strategy"] == json.loads(first.stdout)["strategy"]
    for entry in entries:  # rewritten: a valid record again
        assert json.loads(entry.read_bytes())["value"] == json.loads(good[entry])["value"]


@pytest.mark.real
def test_policy_require_server_without_a_server_is_no_plan(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    """require_server is intent: with no server there is no plan — not a standalone one."""
    (tmp_path / ".orch-doctor.toml").write_text("require_server = true\n")
    binary = str(opencode_release("1.18.33"))
    args = ["--dir", str(tmp_path), "--opencode", binary, "--no-discover", "--format", "json"]
    run = run_cli(args)
    data = json.loads(run.stdout)
    assert run.code == 1
    assert data["decision"]["strategy"] == "none"
    assert "requires a server" in data["decision"]["reasons"][0]
    allowed = run_cli([*args, "--allow-standalone"])  # a substitute only when asked for
    assert json.loads(allowed.stdout)["decision"]["strategy"] != "none"


# --- the cache folder: only this user's private entries are read ------------------------------

KEY = {"identity": {"resolved": "/x/opencode", "size": 1}, "commands": ["root"]}
VALUE = {"version": "1.18.33", "help": {"root": {"text": "planted"}}}


def _entry(folder: Path) -> Path:
    from orch_doctor._util import cache

    folder.mkdir(mode=0o700, exist_ok=True)
    assert cache.store("probe", KEY, VALUE, folder)
    (entry,) = folder.glob("probe-*.json")
    assert cache.load("probe", KEY, folder) == VALUE  # the genuine entry is read
    return entry


def _other_user() -> int:
    return 65534 if os.geteuid() != 65534 else 65533


@pytest.mark.parametrize(
    "plant", ["other-owner", "group-writable", "other-writable", "symlink", "fifo", "directory"]
)
def test_a_planted_cache_entry_is_absent(plant: str, tmp_path: Path) -> None:
    from orch_doctor._util import cache

    folder = tmp_path / "cache"
    entry = _entry(folder)
    if plant == "other-owner":
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(entry, _other_user(), -1)
    elif plant == "group-writable":
        entry.chmod(0o620)
    elif plant == "other-writable":
        entry.chmod(0o602)
    elif plant == "symlink":  # a valid entry elsewhere, linked in where the entry goes
        elsewhere = tmp_path / "elsewhere.json"
        os.replace(entry, elsewhere)
        entry.symlink_to(elsewhere)
    elif plant == "fifo":
        entry.unlink()
        os.mkfifo(entry)
    else:
        entry.unlink()
        entry.mkdir()
    started = time.monotonic()
    assert cache.load("probe", KEY, folder) is None
    assert time.monotonic() - started < 1  # a FIFO never blocks the read
    if plant == "symlink":
        assert entry.is_symlink()  # not followed, not touched


@pytest.mark.parametrize("mode", [0o707, 0o1777])
def test_a_cache_folder_others_can_write_is_no_cache(mode: int, tmp_path: Path) -> None:
    from orch_doctor._util import cache

    folder = tmp_path / "cache"
    entry = _entry(folder)
    folder.chmod(mode)
    assert cache.load("probe", KEY, folder) is None
    assert not cache.store("probe", KEY, VALUE, folder)  # nothing written there either
    other = folder / "probe-0123456789abcdef0123456789abcdef.json"
    other.write_text("{}")
    os.utime(other, (0, 0))
    assert cache.prune(folder) == [] and other.exists() and entry.exists()


def test_a_cache_folder_of_another_user_is_no_cache(tmp_path: Path) -> None:
    from orch_doctor._util import cache

    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    folder = tmp_path / "cache"
    _entry(folder)
    os.chown(folder, _other_user(), -1)
    assert cache.load("probe", KEY, folder) is None


def test_the_cache_folder_is_made_private(tmp_path: Path) -> None:
    from orch_doctor._util import cache

    folder = tmp_path / "new" / "cache"
    assert cache.store("probe", KEY, VALUE, folder)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert cache.load("probe", KEY, folder) == VALUE
