"""Fault catalogue: everything that comes from a server or from discovery (issue 10).

Each case has an id, the input and the expectation; every case also holds to the common ones:
no traceback, a documented exit code (0/1/2), bounded time and memory, no secret in any output,
no control character in what reaches a terminal. Hostile servers are fakes (no real release
sends escapes in its version or a gzip bomb); the answers they imitate otherwise are recorded
from 1.18.33. ``python -m tests.test_faults_server`` prints the catalogue as a table.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orch_doctor.execute.executor import Executor, StepFailed
from orch_doctor.server import discovery
from orch_doctor.server.body import BodyError, decode_body, loads
from orch_doctor.server.credentials import Credentials, split_userinfo
from orch_doctor.server.probe import probe_server, session_exists
from tests.support import fake_server as fs

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-H10-s3cret-7731"
TIMEOUT = 2.0  # --timeout given to the probes in these cases
MAX_RSS_MB = 160  # a CLI run: ≈ 45 MB, ≈ 93 MB under a bomb; > 1 GB unbounded
FORGED = "FORGED-OK-LINE"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Case:
    id: str
    given: str
    expect: str


CATALOGUE: list[Case] = []


def case(id: str, given: str, expect: str) -> str:
    CATALOGUE.append(Case(id, given, expect))
    return id


# --- running the CLI as a user does, measured -----------------------------------------------------

# Peak memory of the CLI itself: on Linux VmHWM (this program's own address space; ru_maxrss
# also keeps the high-water mark of the forked copy of the test process before exec)
_WRAPPER = """
import atexit, os, resource, sys
def _rss():
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as status:
            kb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    with open(os.environ["H10_RSS_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(_rss)
from orch_doctor.cli import main
sys.argv = ["orch-doctor", *sys.argv[1:]]
main()
"""


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    rss_mb: float  # peak RSS of the CLI's process; in-process: how far it rose during the run
    in_process: bool = False

    @property
    def all(self) -> str:
        return self.out + self.err


#: how run_cli runs the CLI: as a user does (a process of its own, its peak RSS measured), or
#: in this process (click's runner; the peak of Python's allocations measured): see cli_mode
CLI_MODE = "subprocess"
CLI_MODES = ["in-process", pytest.param("subprocess", marks=pytest.mark.slow)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that runs the CLI (``usefixtures("cli_mode")``) runs it in-process in the fast
    suite and once more as a process of its own in the full one (slow)."""
    if "cli_mode" in metafunc.fixturenames:
        metafunc.parametrize("cli_mode", CLI_MODES, indirect=True)


@pytest.fixture
def cli_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    mode: str = request.param
    monkeypatch.setitem(globals(), "CLI_MODE", mode)
    return mode


def run_cli(args: list[str], tmp: Path, env: dict[str, str] | None = None) -> Run:
    if CLI_MODE == "in-process":
        return run_in_process(args, tmp, env)
    rss_file = tmp / f"rss-{time.monotonic_ns()}"
    full_env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "H10_RSS_FILE": str(rss_file)}
    full_env.pop("OPENCODE_SERVER_PASSWORD", None)
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=tmp,
        timeout=120,
    )
    seconds = time.monotonic() - start
    rss_kb = float(rss_file.read_text()) if rss_file.exists() else 0.0
    return Run(proc.returncode, proc.stdout, proc.stderr, seconds, rss_kb / 1024)


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration, ValueError):
        return None


def _reset_peak_rss() -> bool:
    """Linux (>= 4.0): the process's peak RSS starts again from what it holds now."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def run_in_process(args: list[str], tmp: Path, env: dict[str, str] | None) -> Run:
    """The CLI through click's runner, in ``tmp``, with the same environment as run_cli; an
    exception that escapes is in ``err`` as its traceback (as a process would print it). Memory:
    how far this process's peak RSS rose above what it held before (tracemalloc's peak where
    that cannot be read: it doubles the run's time)."""
    import traceback

    from orch_doctor.cli import main

    full_env: dict[str, str | None] = {"NO_COLOR": "1", "TERM": "dumb"}
    full_env["OPENCODE_SERVER_PASSWORD"] = None
    full_env.update(env or {})
    here = os.getcwd()
    os.chdir(tmp)
    before = _status_kb("VmRSS") if _reset_peak_rss() else None
    if before is None:
        tracemalloc.start()
    start = time.monotonic()
    try:
        result = CliRunner().invoke(main, args, env=full_env)
    finally:
        seconds = time.monotonic() - start
        if before is None:
            grew_mb = tracemalloc.get_traced_memory()[1] / (1 << 20)
            tracemalloc.stop()
        else:
            grew_mb = max(0, (_status_kb("VmHWM") or 0) - before) / 1024
        os.chdir(here)
    err = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += "".join(traceback.format_exception(result.exception))
    return Run(result.exit_code, result.stdout, err, seconds, grew_mb, in_process=True)


def assert_safe(
    run: Run, *, codes: set[int], max_s: float, secrets: tuple[str, ...] = (PASSWORD,)
) -> None:
    assert "Traceback" not in run.all, run.all[-3000:]
    assert run.code in codes, (run.code, run.all[-2000:])
    assert run.seconds < max_s, run.seconds
    measured = run.rss_mb >= 0 if run.in_process else run.rss_mb > 0
    assert measured and run.rss_mb < MAX_RSS_MB, run.rss_mb
    for secret in secrets:
        assert secret not in run.all
    assert not CONTROL.search(run.out), repr(CONTROL.search(run.out))
    for line in run.all.splitlines():  # nothing from a server starts a line of its own
        assert FORGED not in line or not line.lstrip().startswith(("✓", "ok", FORGED)), line


@contextmanager
def measured(max_s: float, max_mb: float) -> Iterator[None]:
    """In-process: the block's peak Python memory and time stay under the bounds."""
    tracemalloc.start()
    start = time.monotonic()
    try:
        yield
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - start < max_s
    assert peak < max_mb * (1 << 20), peak / (1 << 20)


def opencode_like(
    *,
    health: fs.Behaviour | None = None,
    directory: str = "/srv/project",
    path: fs.Behaviour | None = None,
    extra: dict[str, fs.Behaviour] | None = None,
    default: fs.Behaviour = fs.html,
    wrap: Callable[[fs.Behaviour], fs.Behaviour] | None = None,
) -> dict[str, fs.Behaviour]:
    """The routes of a 1.18.33 server (recorded answers), some replaced."""
    routes: dict[str, fs.Behaviour] = {
        "/global/health": health or fs.recorded_body("1.18.33", "health.body"),
        "/doc": fs.recorded_body("1.18.33", "doc.json"),
        "/path": path or fs.json_body({"directory": directory, "worktree": directory}),
        **(extra or {}),
    }
    if wrap is not None:
        routes = {k: wrap(v) for k, v in routes.items()}
    return routes


def server_json(run: Run) -> dict[str, Any]:
    data = json.loads(run.out)
    (status,) = data["servers"]
    assert isinstance(status, dict)
    return status


# --- 1. untrusted server fields -------------------------------------------------------------------

HOSTILE_VERSIONS: dict[str, tuple[object, str]] = {
    case(
        "version-osc-title",
        'health version "\\x1b]0;pwned\\x07 1.18.33"',
        "version unknown (said why); no ESC/BEL in text, JSON, JUnit, GitHub output",
    ): ("\x1b]0;pwned\x07" + "1.18.33", "pwned"),
    case(
        "version-newline-forged-ok",
        f'version "1.18.33\\n✓ ok {FORGED}"',
        "version unknown; no output line begins with the forged text",
    ): (f"1.18.33\n✓ ok {FORGED}", FORGED),
    case(
        "version-rich-markup",
        'version "[red]1.0[/red]"',
        "version unknown; the markup is shown literally, never interpreted",
    ): ("[red]1.0[/red]", "[red]1.0[/red]"),
    case(
        "version-nul-and-c1",
        'version "1.2.3\\x00\\x9b31m"',
        "version unknown; no NUL / C1 control in any output",
    ): ("1.2.3\x00\x9b31m", "1.2.3"),
    case(
        "version-1mb",
        "version of 1,000,000 characters",
        "version unknown; every line stays short (cut with …)",
    ): ("9" * 1_000_000, "9999"),
    case(
        "version-not-a-string",
        'version {"a": [1]}',
        "version unknown: 'gave no version'",
    ): ({"a": [1]}, "no version"),
}


@pytest.mark.usefixtures("cli_mode")
@pytest.mark.parametrize("case_id", list(HOSTILE_VERSIONS))
def test_hostile_version_is_not_believed_and_never_reaches_output_raw(
    case_id: str, tmp_path: Path
) -> None:
    version, marker = HOSTILE_VERSIONS[case_id]
    routes = opencode_like(health=fs.health_with(version))
    with fs.fake_server(routes, default=fs.html) as url:
        as_json = run_cli(["server", url, "--timeout", str(TIMEOUT), "--format", "json"], tmp_path)
        text = run_cli(["server", url, "--timeout", str(TIMEOUT)], tmp_path)
        doctor = {
            fmt: run_cli(["--server", url, "--dir", str(tmp_path), "-v", "--format", fmt], tmp_path)
            for fmt in ("text", "json", "junit", "github")
        }
    for run in (as_json, text, *doctor.values()):
        assert_safe(run, codes={0, 1}, max_s=4 * TIMEOUT + 10)
        assert "\x1b" not in run.all and "\x07" not in run.all
    status = server_json(as_json)
    assert status["verdict"] == "ok" and status["version"] is None
    assert status["version_source"].startswith("unknown: GET /global/health gave")
    assert max(len(line) for line in text.out.splitlines()) < 5000
    if case_id == "version-rich-markup":
        assert marker in text.out  # literal, not styled away
    ET.fromstring(doctor["junit"].out.split("\n", 1)[1])  # valid XML
    assert all(line.startswith("::") for line in doctor["github"].out.splitlines() if line)
    report = json.loads(doctor["json"].out)
    assert report["server"]["version"] is None


HOSTILE_PATHS: dict[str, tuple[str, str | None]] = {
    case(
        "path-escape-newline",
        '/path directory "/tmp/x\\x1b[2J\\n✓ ok FORGED"',
        "directory unknown (not shown); no escape or forged line in output",
    ): (f"/tmp/x\x1b[2J\n✓ ok {FORGED}", None),
    case(
        "path-relative-garbage",
        '/path directory "not a path"',
        "directory unknown",
    ): ("not a path", None),
    case(
        "path-rich-markup",
        '/path directory "/tmp/[red]d[/red]"',
        "kept (a legal path), printed literally",
    ): ("/tmp/[red]d[/red]", "/tmp/[red]d[/red]"),
}


@pytest.mark.usefixtures("cli_mode")
@pytest.mark.parametrize("case_id", list(HOSTILE_PATHS))
def test_hostile_directory(case_id: str, tmp_path: Path) -> None:
    directory, expected = HOSTILE_PATHS[case_id]
    with fs.fake_server(opencode_like(directory=directory), default=fs.html) as url:
        as_json = run_cli(["server", url, "--timeout", str(TIMEOUT), "--format", "json"], tmp_path)
        text = run_cli(["server", url, "--timeout", str(TIMEOUT)], tmp_path)
        junit = run_cli(["--server", url, "-v", "--format", "junit"], tmp_path)
    for run in (as_json, text, junit):
        assert_safe(run, codes={0, 1}, max_s=4 * TIMEOUT + 10)
    assert server_json(as_json)["directory"] == expected
    if expected:
        assert expected in text.out
    ET.fromstring(junit.out.split("\n", 1)[1])


HOSTILE_ROUTES = case(
    "doc-route-with-escape",
    "GET /doc lists a path '/x\\x1b]0;t\\x07' and one of 5,000 characters",
    "neither is a route (never shown, never cached); the real routes are kept",
)


@pytest.mark.usefixtures("cli_mode")
def test_hostile_routes_in_the_openapi_document(tmp_path: Path) -> None:
    doc = json.loads(fs.recorded("1.18.33", "doc.json"))
    doc["paths"]["/x\x1b]0;t\x07"] = {"get": {}}
    doc["paths"]["/" + "y" * 5000] = {"get": {}}
    # a version of its own: the route cache (keyed by version) cannot stand in for GET /doc
    version = f"1.18.{9000 + os.getpid() % 1000}"
    routes = opencode_like(health=fs.health_with(version), extra={"/doc": fs.json_body(doc)})
    with fs.fake_server(routes, default=fs.html) as url:
        run = run_cli(["server", url, "--format", "json"], tmp_path)
    assert_safe(run, codes={0, 1}, max_s=15)
    found = server_json(run)["routes"]
    assert "POST /session" in found and not any("\x1b" in r or len(r) > 1000 for r in found)


REDIRECT_ESCAPE = case(
    "redirect-location-escape",
    "302 with Location 'http://x/\\x1b]0;t\\x07\\x85ok FORGED\\t\\x00'",
    "error (the header is refused) or not-opencode, exit 1; one clean line",
)


@pytest.mark.usefixtures("cli_mode")
def test_redirect_location_with_escapes(tmp_path: Path) -> None:
    location = f"http://x/\x1b]0;t\x07\x85ok {FORGED}\t\x00"
    behaviour = fs.raw(b"", 302, {"Location": location}, "text/plain")
    with fs.fake_server({}, default=behaviour) as url:
        run = run_cli(["server", url, "--timeout", str(TIMEOUT), "--format", "json"], tmp_path)
        text = run_cli(["server", url, "--timeout", str(TIMEOUT)], tmp_path)
    for r in (run, text):
        assert_safe(r, codes={1}, max_s=2 * TIMEOUT + 10)
    status = server_json(run)
    # h11 refuses a header with control characters: the connection is "broken", said cleanly
    assert status["verdict"] in ("error", "not-opencode") and not CONTROL.search(status["summary"])


# --- 2. secrets -----------------------------------------------------------------------------------

USERINFO_DEAD = case(
    "userinfo-dead-server",
    "http://u:PW@127.0.0.1:<closed> to server, plan, doctor (text/json/junit/github)",
    "exit 1; URL shown without user:PW@; PW in no output",
)


@pytest.mark.usefixtures("cli_mode")
def test_userinfo_never_shown(tmp_path: Path) -> None:
    with fs.black_hole() as url:
        pass  # closed: refused
    port = url.rsplit(":", 1)[1]
    named = f"http://u:{PASSWORD}@127.0.0.1:{port}"
    runs = [
        run_cli(["server", named], tmp_path),
        run_cli(["server", named, "--format", "json"], tmp_path),
        run_cli(["plan", "--server", named, "--dir", str(tmp_path), "--prompt", "hi"], tmp_path),
        run_cli(["plan", "--server", named, "--dir", str(tmp_path), "--format", "json"], tmp_path),
        *(
            run_cli(["--server", named, "-v", "--format", fmt], tmp_path)
            for fmt in ("text", "json", "junit", "github")
        ),
    ]
    for run in runs:
        assert_safe(run, codes={1}, max_s=15)
        assert f"127.0.0.1:{port}" in run.out
    assert server_json(runs[1])["url"] == f"http://127.0.0.1:{port}"
    plan = json.loads(runs[3].out)
    assert plan["strategy"] == "none" and "connection-refused" in plan["reasons"][0]


USERINFO_USED = case(
    "userinfo-is-the-password",
    "a server demanding Basic auth; http://opencode:PW@host, no OPENCODE_SERVER_PASSWORD",
    "verdict ok (the URL's password used), auth basic, PW in no output",
)
ENV_WINS = case(
    "env-password-wins-over-url",
    "OPENCODE_SERVER_PASSWORD right, URL's password wrong",
    "verdict ok: the environment's password is used",
)
QUOTED = case(
    "userinfo-percent-encoded",
    "http://opencode:p%40ss...@host: password with an @",
    "decoded before use (ok); neither form is shown",
)


@pytest.mark.usefixtures("cli_mode")
@pytest.mark.parametrize("case_id", [USERINFO_USED, ENV_WINS, QUOTED])
def test_userinfo_used_as_credentials(case_id: str, tmp_path: Path) -> None:
    password = PASSWORD + ("@x" if case_id == QUOTED else "")
    routes = opencode_like(wrap=lambda b: fs.needs_auth(password, b))
    with fs.fake_server(routes, default=fs.needs_auth(password, fs.html)) as url:
        host = url.removeprefix("http://")
        given = {
            USERINFO_USED: (f"http://opencode:{PASSWORD}@{host}", {}),
            ENV_WINS: (f"http://opencode:wrong@{host}", {"OPENCODE_SERVER_PASSWORD": password}),
            QUOTED: (f"http://opencode:{PASSWORD}%40x@{host}", {}),
        }
        named, env = given[case_id]
        run = run_cli(["server", named, "--format", "json"], tmp_path, env)
    assert_safe(run, codes={0, 1}, max_s=15, secrets=(PASSWORD, "%40x"))
    status = server_json(run)
    assert status["verdict"] == "ok" and status["auth"] == "basic" and status["url"] == url


ECHO_REDIRECT = case(
    "password-echoed-in-location",
    "a redirect whose Location echoes the Authorization header and the decoded password",
    "not-opencode, exit 1; password and its Basic token redacted (***)",
)


@pytest.mark.usefixtures("cli_mode")
def test_password_echoed_by_the_server_is_redacted(tmp_path: Path) -> None:
    def echo(handler: Any) -> None:
        given = handler.headers.get("Authorization", "")
        decoded = base64.b64decode(given[6:]).decode() if given.startswith("Basic ") else ""
        fs.send(handler, 302, b"", "text/plain", {"Location": f"http://x/?a={given}&p={decoded}"})

    token = base64.b64encode(f"opencode:{PASSWORD}".encode()).decode()
    with fs.fake_server({}, default=echo) as url:
        runs = [
            run_cli(
                ["server", url, "--format", "json"],
                tmp_path,
                {"OPENCODE_SERVER_PASSWORD": PASSWORD},
            ),
            run_cli(["server", url], tmp_path, {"OPENCODE_SERVER_PASSWORD": PASSWORD}),
        ]
    for run in runs:
        assert_safe(run, codes={1}, max_s=15, secrets=(PASSWORD, token, token.rstrip("=")))
    assert "***" in server_json(runs[0])["summary"]


ECHO_EXECUTOR = case(
    "executor-error-body-echo",
    "verify's GET answered 500 with a body echoing the Authorization header and password",
    "StepFailed; neither the password nor its Basic token in what it says",
)


def test_executor_redacts_an_echoed_password() -> None:
    with fs.fake_server({}, default=fs.echo_auth()) as url:
        executor = _executor(url)
        with pytest.raises(StepFailed) as failed:
            executor.get_json("/session/x/message")
    token = base64.b64encode(f"opencode:{PASSWORD}".encode()).decode()
    said = failed.value.expected + failed.value.seen + failed.value.detail
    assert "500" in said and PASSWORD not in said and token not in said and "***" in said


def _executor(url: str) -> Executor:
    def no_terminal() -> Any:
        raise AssertionError("no terminal in these cases")

    return Executor(
        base_url=url,
        terminal_factory=no_terminal,
        env={},
        credentials=Credentials("opencode", PASSWORD),
        http_timeout_s=TIMEOUT,
    )


def test_split_userinfo() -> None:
    assert split_userinfo("http://a:b@h:1/x") == ("http://h:1/x", Credentials("a", "b"))
    assert split_userinfo("http://h:1")[1] is None
    assert split_userinfo("http://user@h:1") == ("http://h:1", None)
    assert split_userinfo(" http://:pw@h ")[1] == Credentials("opencode", "pw")
    assert split_userinfo("http://a:b@[::1:1")[0] == "http://[::1:1"  # does not parse: stripped


# --- 3. bodies capped before decoding, JSON depth bounded -----------------------------------------

BODIES: dict[str, tuple[Callable[[], fs.Behaviour], str]] = {
    case(
        "gzip-gzip-bomb",
        "every route: 1.8 KB, Content-Encoding: gzip, gzip (1 GiB inflated)",
        "not-opencode, exit 1, RSS < 160 MB, time < 2x timeout + startup",
    ): (lambda: fs.raw(fs.gzip_bomb(), headers={"Content-Encoding": "gzip, gzip"}), "not-opencode"),
    case(
        "deflate-bomb",
        "every route: raw deflate of 256 MiB zeros (Content-Encoding: deflate)",
        "not-opencode, exit 1, bounded memory",
    ): (lambda: fs.raw(fs.deflate_bomb(), headers={"Content-Encoding": "deflate"}), "not-opencode"),
    case(
        "unsupported-encoding",
        "Content-Encoding: br (not asked for)",
        "error verdict naming the encoding, exit 1",
    ): (lambda: fs.raw(b"\x0b\x02", headers={"Content-Encoding": "br"}), "error"),
    case(
        "stacked-encodings",
        "Content-Encoding: gzip, gzip, gzip, gzip, gzip",
        "error verdict (more than 4 layers), exit 1",
    ): (lambda: fs.raw(b"x", headers={"Content-Encoding": ", ".join(["gzip"] * 5)}), "error"),
    case(
        "broken-gzip",
        "Content-Encoding: gzip with a body that is not gzip",
        "error verdict 'broken compressed body', exit 1",
    ): (lambda: fs.raw(b"not gzip at all", headers={"Content-Encoding": "gzip"}), "error"),
    case(
        "deep-json-health",
        "/global/health: [[[[...]]]] 100,000 levels (200 KB)",
        "not valid JSON -> not-opencode, exit 1, no RecursionError",
    ): (lambda: fs.raw(fs.deep_json()), "not-opencode"),
}


@pytest.mark.usefixtures("cli_mode")
@pytest.mark.parametrize("case_id", list(BODIES))
def test_hostile_bodies(case_id: str, tmp_path: Path) -> None:
    make, expected = BODIES[case_id]
    with fs.fake_server({}, default=make()) as url:
        run = run_cli(["server", url, "--timeout", str(TIMEOUT), "--format", "json"], tmp_path)
    # startup of a CLI run (~1-3 s on a shared machine) + at most two timeouts of waiting
    assert_safe(run, codes={1}, max_s=2 * TIMEOUT + 8)
    status = server_json(run)
    assert status["verdict"] == expected, status
    if case_id == "unsupported-encoding":
        assert "'br'" in status["summary"]


DEEP_SESSION = case(
    "deep-json-session",
    "GET /session/{id}: 100,000 levels of nesting; `server URL --session ID`",
    "session_exists null (unknown), exit 1, no RecursionError",
)


@pytest.mark.usefixtures("cli_mode")
def test_deep_json_from_session(tmp_path: Path) -> None:
    extra = {"/session/ses_deep": fs.raw(fs.deep_json())}
    with fs.fake_server(opencode_like(extra=extra), default=fs.html) as url:
        assert session_exists(url, "ses_deep", timeout_s=TIMEOUT) is None
        run = run_cli(["server", url, "--session", "ses_deep", "--format", "json"], tmp_path)
    assert_safe(run, codes={1}, max_s=15)
    assert server_json(run)["session_exists"] is None


EXECUTOR_BODIES: dict[str, Callable[[], fs.Behaviour]] = {
    case(
        "executor-gzip-bomb",
        "verify's GET answered with the gzip, gzip bomb",
        "StepFailed (not JSON), peak Python memory < 60 MB",
    ): lambda: fs.raw(fs.gzip_bomb(), headers={"Content-Encoding": "gzip, gzip"}),
    case(
        "executor-deep-json",
        "verify's GET answered 100,000 levels of nesting",
        "StepFailed 'nested deeper than 64 levels'",
    ): lambda: fs.raw(fs.deep_json()),
}


@pytest.mark.parametrize("case_id", list(EXECUTOR_BODIES))
def test_executor_bodies(case_id: str) -> None:
    with fs.fake_server({}, default=EXECUTOR_BODIES[case_id]()) as url:
        executor = _executor(url)
        with measured(max_s=2 * TIMEOUT, max_mb=60), pytest.raises(StepFailed) as failed:
            executor.get_json("/session/x/message")
        executor.close()
    assert failed.value.code == "not-json"
    if case_id == "executor-deep-json":
        assert "deeper than 64" in failed.value.seen


@pytest.mark.slow  # compresses 1 GiB
def test_the_stored_gzip_bomb_is_the_one_built() -> None:
    assert fs.GZIP_BOMB_FILE.read_bytes() == fs.build_gzip_bomb(1 << 30)


def test_decode_body_bounds() -> None:
    bomb = fs.gzip_bomb()
    with measured(max_s=5, max_mb=40):
        body, truncated = decode_body(bomb, "gzip, gzip", 1 << 20)
    assert truncated and len(body) == 1 << 20 and body == bytes(1 << 20)
    assert decode_body(b"plain", "identity", 10) == (b"plain", False)
    assert decode_body(b"0123456789ab", None, 10) == (b"0123456789", True)
    with pytest.raises(BodyError):
        decode_body(b"x", "compress", 10)
    assert loads(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(ValueError, match="deeper than 64"):
        loads(b"[" * 65 + b"]" * 65)


# --- 4. discovery ---------------------------------------------------------------------------------


def _proc(tmp: Path, pid: int, argv: list[str]) -> None:
    entry = tmp / str(pid)
    (entry / "fd").mkdir(parents=True)
    (entry / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


PROC_ARGS: dict[str, tuple[list[str], list[str]]] = {
    case(
        "port-arabic-indic-digits",
        "a local `opencode serve --port ٤٠٩٦` (isdigit() but not ASCII)",
        "skipped; discovery goes on (no ValueError for everyone)",
    ): (["opencode", "serve", "--port", "٤٠٩٦"], []),
    case(
        "port-out-of-range",
        "`opencode serve --port 99999` and `--port=0`",
        "skipped",
    ): (["opencode", "serve", "--port", "99999"], []),
    case(
        "port-superscript",
        "`opencode --port ²` (isdigit() True, int() fails)",
        "skipped",
    ): (["opencode", "--port", "²"], []),
    case(
        "hostname-hostile",
        "`opencode serve --port 4321 --hostname evil.example/x@y`",
        "probed at 127.0.0.1:4321 (a name or garbage is never put in a URL)",
    ): (
        ["opencode", "serve", "--port", "4321", "--hostname", "evil.example/x@y"],
        ["http://127.0.0.1:4321"],
    ),
    case(
        "hostname-ipv6",
        "`opencode serve --port 4322 --hostname ::1`",
        "probed at http://[::1]:4322",
    ): (["opencode", "serve", "--port", "4322", "--hostname", "::1"], ["http://[::1]:4322"]),
}


@pytest.mark.parametrize("case_id", list(PROC_ARGS))
def test_discovery_from_hostile_process_arguments(case_id: str, tmp_path: Path) -> None:
    argv, expected = PROC_ARGS[case_id]
    _proc(tmp_path, 20, argv)
    _proc(tmp_path, 21, ["opencode", "serve", "--port=0"])
    _proc(tmp_path, 22, ["opencode", "serve", "--port", "4555"])  # a good one after it
    urls = discovery.candidate_urls(tmp_path)
    assert urls == [*expected, "http://127.0.0.1:4555", discovery.DEFAULT_URL]


PSUTIL_SAME = case(
    "psutil-finds-what-proc-finds",
    "a process `<python> .../opencode serve --port 0` listening on a free port",
    "found through /proc and through psutil (macOS's path) with the same PID and port",
)


def test_psutil_discovery_matches_proc(tmp_path: Path) -> None:
    script = tmp_path / "opencode"
    script.write_text(
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True); time.sleep(30)\n"
    )
    child = subprocess.Popen(
        [sys.executable, str(script), "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        start = time.monotonic()
        via_psutil = {p.pid: p for p in discovery._psutil_server_processes()}
        psutil_s = time.monotonic() - start
        via_proc = {p.pid: p for p in discovery.find_server_processes()}
    finally:
        child.kill()
        child.wait(5)
    assert via_proc[child.pid].ports == via_psutil[child.pid].ports == (port,)
    assert via_psutil[child.pid].urls() == [f"http://127.0.0.1:{port}"]
    assert psutil_s < 2.0


NOTHING_RUNS = case(
    "discovery-nothing-answers",
    "candidates on closed ports (IPv4 and IPv6 loopback)",
    "no server, < 0.5 s, httpx and the probe never imported",
)


def test_discovery_warm_path_stays_light(tmp_path: Path) -> None:
    with fs.black_hole() as closed:
        pass
    code = f"""
import sys, time
from orch_doctor.server import discovery
discovery.candidate_urls = lambda **_: [{closed!r}, {closed!r}.replace("127.0.0.1", "[::1]")]
from orch_doctor.doctor.context import discover_local_servers
start = time.monotonic()
found = discover_local_servers()
print(found, round(time.monotonic() - start, 3), "httpx" in sys.modules,
      "orch_doctor.server.probe" in sys.modules)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    found, seconds, httpx_loaded, probe_loaded = proc.stdout.split()
    assert found == "[]" and float(seconds) < 0.5
    assert httpx_loaded == "False" and probe_loaded == "False"


CHOICES: dict[str, tuple[list[str], str, str]] = {
    case(
        "choose-serving-dir",
        "3 running: password-protected (other dir, lowest PID), usable (other dir), usable (--dir)",
        "the one serving --dir; 'chosen: usable and serves --dir'; -v lists the 2 others",
    ): (["locked", "elsewhere", "here"], "here", "usable and serves --dir"),
    case(
        "choose-usable",
        "2 running: password-protected serving --dir, usable serving another dir",
        "the usable one; the reason says it does not serve --dir",
    ): (["locked-here", "elsewhere"], "elsewhere", "not --dir"),
    case(
        "choose-none-usable",
        "2 running, both password-protected (no password given)",
        "the first, warn (not named), 'no candidate is usable'",
    ): (["locked", "locked-here"], "locked", "no candidate is usable"),
}


@pytest.mark.parametrize("case_id", list(CHOICES))
def test_discovery_says_what_it_chose(
    case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names, chosen, reason = CHOICES[case_id]
    here, other = tmp_path / "here", tmp_path / "other"
    here.mkdir()
    servers = {
        "locked": opencode_like(directory=str(other), wrap=lambda b: fs.needs_auth("x", b)),
        "locked-here": opencode_like(directory=str(here), wrap=lambda b: fs.needs_auth("x", b)),
        "elsewhere": opencode_like(directory=str(other)),
        "here": opencode_like(directory=str(here)),
    }
    with _servers([servers[n] for n in names]) as urls:
        by_name = dict(zip(names, urls, strict=True))
        monkeypatch.setattr(discovery, "candidate_urls", lambda **_: list(urls))
        from orch_doctor.cli import main

        start = time.monotonic()
        result = CliRunner().invoke(
            main, ["--dir", str(here), "-v", "--format", "json"], catch_exceptions=False
        )
        seconds = time.monotonic() - start
    assert result.exit_code in (0, 1) and seconds < 4 * 5.0
    report = json.loads(result.output)
    assert report["server"]["url"] == by_name[chosen]
    (check,) = [c for c in report["checks"] if c["id"] == "server"]
    details = "\n".join(check["details"])
    assert "chosen: " in details and reason in details, details
    assert by_name[chosen] in check["summary"] and "— chosen: " in check["summary"]
    for name in names:
        if name != chosen:
            assert f"other candidate: {by_name[name]}: " in details
    if case_id == "choose-none-usable":
        assert check["status"] == "warn" and "auth-required" in details


@contextmanager
def _servers(route_sets: list[dict[str, fs.Behaviour]]) -> Iterator[list[str]]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield [stack.enter_context(fs.fake_server(r, default=fs.html)) for r in route_sets]


# --- 5. a named server that cannot be used: its verdict and fix first -----------------------------

NAMED_FIRST = case(
    "named-server-unusable-first",
    "plan / doctor --server http://127.0.0.1:<closed>",
    "exit 1, strategy none; the server's verdict is the first reason and its fix follows it "
    "(before 'not chosen'); the doctor's strategy check names the server",
)


@pytest.mark.usefixtures("cli_mode")
def test_named_unusable_server_comes_first(tmp_path: Path) -> None:
    with fs.black_hole() as url:
        pass
    plan = run_cli(["plan", "--server", url, "--dir", str(tmp_path), "--prompt", "hi"], tmp_path)
    doctor = run_cli(["--server", url, "--format", "json"], tmp_path)
    for run in (plan, doctor):
        assert_safe(run, codes={1}, max_s=15)
    lines = plan.out.splitlines()
    assert lines[0].startswith("FAIL")  # TERM=dumb: the ASCII marks
    assert "connection-refused" in lines[1]
    fix = next(i for i, line in enumerate(lines) if line.strip().startswith("fix:"))
    assert "opencode serve" in lines[fix] and fix < lines.index("not chosen")
    (strategy,) = [c for c in json.loads(doctor.out)["checks"] if c["id"] == "strategy"]
    assert url in strategy["summary"] and "connection-refused" in strategy["summary"]


API_USERINFO = case(
    "api-userinfo",
    "select_strategy(server_url='http://u:PW@127.0.0.1:<closed>')",
    "strategy none; PW in no reason, rejected entry, fix or JSON",
)


def test_api_never_keeps_userinfo() -> None:
    from orch_doctor.api import select_strategy
    from orch_doctor.matrix.recorded import stored_capabilities

    with fs.black_hole() as url:
        pass
    named = url.replace("http://", f"http://u:{PASSWORD}@")
    decision = select_strategy(
        "/tmp", prompt="hi", server_url=named, capabilities=stored_capabilities("1.18.33")
    )
    assert decision.strategy == "none" and url in decision.reasons[0]
    assert PASSWORD not in json.dumps(decision.to_json())


REAL_USERINFO = case(
    "real-server-userinfo",
    "a real 1.18.33 `opencode serve` with OPENCODE_SERVER_PASSWORD; http://opencode:PW@host",
    "verdict ok, version 1.18.33, auth basic; the URL shown without PW; doctor JSON without PW",
)


def test_real_server_userinfo(real_servers: Callable[..., Any], tmp_path: Path) -> None:
    server = real_servers("1.18.33", password=PASSWORD)
    named = server.url.replace("http://", f"http://opencode:{PASSWORD}@")
    status = probe_server(named, timeout_s=10, use_cache=False)
    assert status.ok and status.version == "1.18.33" and status.auth == "basic"
    assert status.url == server.url and PASSWORD not in json.dumps(status.to_json())
    run = run_cli(["server", named, "--format", "json", "--no-routes"], tmp_path)
    assert_safe(run, codes={0, 1}, max_s=20)
    assert server_json(run)["verdict"] == "ok"
    doctor = run_cli(["--server", named, "--format", "json"], tmp_path)
    assert_safe(doctor, codes={0, 1}, max_s=30)
    assert json.loads(doctor.out)["server"]["verdict"] == "ok"


def test_catalogue_is_complete() -> None:
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids)) and len(ids) >= 25
    assert all(c.given and c.expect for c in CATALOGUE)


# --- execute_plan: a server's answers of shapes nothing foresaw -----------------------------------


class ScreenOnly:
    """A Terminal that runs nothing and shows a fixed screen (the server is the fault here)."""

    name = "screen-only"

    def __init__(self, screen: str = "") -> None:
        self.screen = screen

    def start(self, argv: Any, cwd: Any, env: Any) -> None:
        return None

    def capture(self) -> str:
        return self.screen

    def send_keys(self, keys: Any, *, literal: bool = False) -> None:
        return None

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        return None


WEIRD_SESSIONS = [
    {"id": "s1", "time": {"created": {"nested": 1}}},
    {"id": "s2", "time": {"created": "soon"}},
    {"id": "s3", "time": {"created": True}},
    {"id": "s4", "time": {"created": 1e300}},
    "not a session",
    {"id": "s5", "time": "yesterday"},
]
WEIRD_MESSAGES = [
    {"info": "x", "parts": "y"},
    {"info": {"role": "user"}, "parts": {"a": 1}},
    {"info": {"role": "user"}, "parts": [{"type": "text", "text": {"x": 1}}, "part"]},
]


@pytest.mark.slow  # waits out a step's 1 s time-out
@pytest.mark.parametrize(
    "case_id",
    [
        case(
            "execute-weird-session-list",
            "GET /session lists sessions whose time.created is a dict, a string, a bool, 1e300",
            "execute_plan returns ok=False with the failed wait step; nothing raises",
        ),
        case(
            "execute-weird-messages",
            "GET /session/{id}/message: info a string, parts a dict, a text part a dict",
            "execute_plan returns ok=False ('prompt-stored' not confirmed); nothing raises",
        ),
    ],
)
def test_execute_plan_never_raises_on_answers_of_odd_shapes(case_id: str) -> None:
    import time as clock

    from orch_doctor.api import execute_plan
    from orch_doctor.decide.request import SpawnRequest
    from orch_doctor.decide.steps import SpawnPlan, WaitCondition, WaitStep

    request = SpawnRequest(directory="/tmp/p", prompt="hello agent")
    if case_id == "execute-weird-session-list":
        steps: tuple[WaitStep, ...] = (
            WaitStep(
                WaitCondition.SESSION_CREATED,
                "find the new session",
                timeout_s=1.0,
                params={"directory": "/tmp/p", "save": "session_id"},
            ),
        )
    else:
        steps = (
            WaitStep(
                WaitCondition.MESSAGE_STORED,
                "the prompt is stored",
                timeout_s=1.0,
                params={"session_id": "s1"},
            ),
        )
    routes = {
        "/session": fs.json_body(WEIRD_SESSIONS),
        "/session/s1/message": fs.json_body(WEIRD_MESSAGES),
    }
    with fs.fake_server(routes) as url:
        plan = SpawnPlan("attach-tui-api", steps, server_url=url, request=request)
        begin = clock.monotonic()
        result = execute_plan(plan, terminal=ScreenOnly("hello agent"), env={}, timeout_s=5)
    # a fix only where there is a command to give (a timed-out wait has none)
    assert not result.ok and result.problem and result.code
    assert clock.monotonic() - begin < 10
    failed = result.failed_step
    assert failed is not None and failed.expected and failed.seen is not None
    # an answer of a shape nothing foresaw never counts: the wait runs out
    assert failed.code == "timeout" and result.code == "timeout", result.to_json()


@pytest.mark.slow  # waits out a 2 s time-out
def test_without_a_server_delivery_is_judged_from_the_screen() -> None:
    """A standalone plan has no server to read the session from: the screen is the evidence,
    and the result says so (no session id)."""
    from orch_doctor.api import execute_plan
    from orch_doctor.decide.request import SpawnRequest
    from orch_doctor.decide.steps import ProcessStep, SpawnPlan

    request = SpawnRequest(directory="/tmp/p", prompt="hello agent")
    start = ProcessStep(("opencode", "/tmp/p", "--prompt", "hello agent"), "root", "start a TUI")
    plan = SpawnPlan("standalone-prompt", (start,), server_url=None, request=request)
    shown = execute_plan(plan, terminal=ScreenOnly("┃ hello agent"), env={}, timeout_s=5)
    assert shown.ok and shown.session_id is None, shown.to_json()
    assert shown.confirmation is not None
    assert shown.confirmation.checks[0].name == "no-server"
    hidden = execute_plan(plan, terminal=ScreenOnly("something else"), env={}, timeout_s=2)
    assert not hidden.ok and "tui-shows-prompt" in json.dumps(hidden.to_json())


@pytest.mark.slow  # waits out a step's 1 s time-out
def test_a_tui_that_went_straight_to_work_is_up() -> None:
    """A TUI started with --prompt can skip its idle screen under load: its footer shows only
    "esc interrupt" while the model works (screen seen on 1.18.33 in a loaded run). Showing
    the prompt counts as up; a screen with neither a marker nor the prompt does not."""
    from orch_doctor.api import execute_plan
    from orch_doctor.decide.request import SpawnRequest
    from orch_doctor.decide.steps import ProcessStep, SpawnPlan, WaitCondition, WaitStep

    request = SpawnRequest(directory="/tmp/p", prompt="hello agent")
    start = ProcessStep(("opencode", "/tmp/p", "--prompt", "hello agent"), "root", "start a TUI")
    wait = WaitStep(
        WaitCondition.TUI_READY, "wait until the TUI is up", timeout_s=1.0,
        ready_markers=("ctrl+p",), failure_markers=("Session not found",),
    )  # fmt: skip
    plan = SpawnPlan("standalone-prompt", (start, wait), server_url=None, request=request)
    busy = "┃ hello agent\n\n  ⬝⬝⬝ Retrying [attempt #5]     esc interrupt    • OpenCode 1.18.33\n"
    working = execute_plan(plan, terminal=ScreenOnly(busy), env={}, timeout_s=5)
    assert working.ok, working.to_json()
    assert "the prompt" in working.steps[1].detail
    blank = execute_plan(plan, terminal=ScreenOnly("loading…"), env={}, timeout_s=5)
    assert not blank.ok
    assert blank.failed_step is not None and blank.failed_step.index == 1


if __name__ == "__main__":
    print("| case | input | expectation |\n|---|---|---|")
    for c in CATALOGUE:
        print(f"| {c.id} | {c.given} | {c.expect} |")
