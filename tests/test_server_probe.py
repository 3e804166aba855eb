"""The server probe against real servers of two releases, and against faults (fake server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orch_doctor.decide.advisories import server_advisories
from orch_doctor.decide.rules import version_skew, with_skew
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.server.credentials import Credentials
from orch_doctor.server.probe import probe_server, probe_servers
from orch_doctor.server.types import ServerStatus
from tests.support import fake_server as fs
from tests.support.opencode import RealServer
from tests.support.schemas import assert_valid

MATRIX = load_matrix(overrides=False)
CVE = "server-unauthenticated-cve-2026-22812"

PASSWORD = "pw-Sup3r-secret-6789"
ROOT = Path(__file__).resolve().parent.parent
NEEDED = {
    "POST /session",
    "POST /session/{id}/prompt_async",
    "POST /tui/append-prompt",
    "POST /tui/submit-prompt",
}


def no_secret(status: ServerStatus) -> None:
    assert PASSWORD not in json.dumps(status.to_json())
    assert PASSWORD not in repr(status)


# --- real servers --------------------------------------------------------------------------------


def test_real_1_18_33(real_servers: Callable[..., RealServer]) -> None:
    server = real_servers("1.18.33")
    status = probe_server(server.url)
    assert status.skew is None  # the probe measures; the matrix's rule judges the pair
    status = with_skew(status, "1.18.33", MATRIX)
    assert status.verdict == "ok" and status.is_opencode
    assert status.version == "1.18.33" and status.version_source == "GET /global/health"
    assert status.routes is not None and status.routes >= NEEDED
    assert status.routes_source == "GET /doc"
    assert status.directory == str(server.directory)
    assert status.skew == "same" and status.auth == "none"
    assert not [f for f in status.findings if f.severity == "fail"]


def test_real_1_18_33_with_password(real_servers: Callable[..., RealServer]) -> None:
    server = real_servers("1.18.33", password=PASSWORD)
    anonymous = probe_server(server.url)
    assert anonymous.verdict == "auth-required" and anonymous.fix
    assert "OPENCODE_SERVER_PASSWORD" in anonymous.fix
    good = probe_server(server.url, credentials=Credentials("opencode", PASSWORD))
    assert good.verdict == "ok" and good.version == "1.18.33" and good.auth == "basic"
    bad = probe_server(server.url, credentials=Credentials("opencode", PASSWORD + "x"))
    assert bad.verdict == "auth-rejected"
    for status in (anonymous, good, bad):
        no_secret(status)
    assert (PASSWORD + "x") not in json.dumps(bad.to_json())


def test_real_1_0_152_is_opencode_version_unknown_with_cve(
    real_servers: Callable[..., RealServer],
) -> None:
    server = real_servers("1.0.152")
    status = with_skew(probe_server(server.url), "1.0.152", MATRIX)
    assert status.verdict == "ok" and status.is_opencode and status.generation == "1.x"
    assert status.version is None  # never guessed
    assert status.version_source is not None and "/global/health" in status.version_source
    assert status.routes is not None and status.routes >= NEEDED
    assert "GET /global/health" not in status.routes
    assert status.skew == "unknown"
    assert status.health_route is False and status.cors_any_origin  # measured, not judged
    # the matrix reads them: CVE-2026-22812 (a security error), and the version's upper bound
    found = {a.id: a for a in server_advisories(status, stored_capabilities("1.0.152"), MATRIX)}
    assert found[CVE].severity == "error" and found[CVE].evidence
    assert "inferred older than 1.1.11" in found["server-version-inferred"].message


def test_password_does_not_protect_an_old_server(real_servers: Callable[..., RealServer]) -> None:
    # measured: 1.0.152 ignores OPENCODE_SERVER_PASSWORD (auth came later)
    server = real_servers("1.0.152", password=PASSWORD)
    status = probe_server(server.url)
    assert status.verdict == "ok" and status.cors_any_origin
    found = server_advisories(status, stored_capabilities("1.18.33"), MATRIX)
    assert any(a.id == CVE for a in found)


@pytest.mark.parametrize("version", ["1.0.152", "1.18.33"])
def test_cli_json(real_servers: Callable[..., RealServer], version: str) -> None:
    server = real_servers(version)
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "server", server.url, "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    document = json.loads(proc.stdout)
    assert_valid("server", document)
    data = document["servers"][0]
    assert data["is_opencode"] and data["verdict"] == "ok"
    assert "POST /session/{id}/prompt_async" in data["routes"]
    if version == "1.18.33":
        assert data["version"] == "1.18.33" and proc.returncode == 0
    else:
        assert data["version"] is None and data["health_route"] is False
        assert any(a["id"] == CVE and a["severity"] == "error" for a in data["advisories"])
        assert proc.returncode == 1  # the security finding fails


def test_cli_text_never_shows_the_password(real_servers: Callable[..., RealServer]) -> None:
    server = real_servers("1.18.33", password=PASSWORD)
    for pw in (PASSWORD, PASSWORD + "x"):
        proc = subprocess.run(
            [sys.executable, "-m", "orch_doctor", "server", server.url],
            capture_output=True, text=True, timeout=120,
            env={**_env(), "OPENCODE_SERVER_PASSWORD": pw},
        )  # fmt: skip
        assert pw not in proc.stdout + proc.stderr
        assert ("auth-rejected" in proc.stdout) == (pw != PASSWORD)


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


# --- faults a real server will not produce ------------------------------------------------------

TIMEOUT = 1.0


def probe(url: str, creds: Credentials | None = None) -> ServerStatus:
    status = probe_server(url, timeout_s=TIMEOUT, credentials=creds, use_cache=False)
    no_secret(status)
    assert status.fix or status.alternatives or status.verdict == "ok"
    return status


@pytest.mark.slow  # waits out the read time-out
def test_accepts_and_hangs() -> None:
    with fs.fake_server({}, default=fs.hang) as url:
        start = time.monotonic()
        status = probe(url)
        assert status.verdict == "read-timeout"
        assert time.monotonic() - start < TIMEOUT * 2 + 2


@pytest.mark.slow  # waits out the read time-out
def test_black_hole_socket() -> None:
    with fs.black_hole() as url:
        assert probe(url).verdict == "read-timeout"


@pytest.mark.slow  # ~2 s: a body trickling in until the time-out (the fast suite has hangs)
def test_slow_body() -> None:
    with fs.fake_server({"/global/health": fs.slow_body}) as url:
        assert probe(url).verdict == "read-timeout"


def test_html_everywhere_is_not_opencode() -> None:
    with fs.fake_server({}, default=fs.html) as url:
        status = probe(url)
        assert status.verdict == "not-opencode" and "HTML" in status.summary


def test_invalid_json() -> None:
    with fs.fake_server({"/global/health": fs.invalid_json}, default=fs.html) as url:
        assert probe(url).verdict == "not-opencode"


def test_server_error() -> None:
    with fs.fake_server({}, default=fs.error_500) as url:
        assert probe(url).verdict == "server-error"


def test_401_without_and_with_credentials() -> None:
    health = fs.recorded_body("1.18.33", "health.body")
    with fs.fake_server({}, default=fs.needs_auth(PASSWORD, health)) as url:
        assert probe(url).verdict == "auth-required"
        assert probe(url, Credentials("opencode", "wrong")).verdict == "auth-rejected"


def test_auth_on_an_old_release_layout() -> None:
    # an old (1.0.x-style) server behind a password: health 500 UnknownError, /doc behind auth
    doc = fs.recorded_body("1.0.152", "doc.json")
    unknown = fs.recorded_body("1.0.152", "unknown.body", status=500)
    routes = {"/doc": fs.needs_auth(PASSWORD, doc), "/path": fs.needs_auth(PASSWORD, unknown)}
    with fs.fake_server(routes, default=unknown) as url:
        assert probe(url).verdict == "auth-required"
        status = probe(url, Credentials("opencode", PASSWORD))
        assert status.verdict == "ok" and status.version is None and status.routes


def test_redirect_to_another_host_is_not_followed() -> None:
    seen: list[str | None] = []

    def target(handler: fs.BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        fs.send(handler, 200, fs.recorded("1.18.33", "health.body"))

    with fs.fake_server({}, default=target) as other:
        other_host = other.replace("127.0.0.1", "localhost")
        with fs.fake_server({}, default=fs.redirect(other_host + "/global/health")) as url:
            status = probe(url, Credentials("opencode", PASSWORD))
    assert status.verdict == "not-opencode" and "redirect" in status.summary
    assert seen == []


def test_ten_megabyte_body() -> None:
    with fs.fake_server({}, default=fs.huge) as url:
        assert probe(url).verdict == "not-opencode"


def test_connection_reset() -> None:
    with fs.fake_server({}, default=fs.reset) as url:
        status = probe(url)
        assert status.verdict == "error" and "connection" in status.summary


def test_refused_and_invalid_urls() -> None:
    with fs.black_hole() as url:
        port = url.rsplit(":", 1)[1]
    assert probe(f"http://127.0.0.1:{port}").verdict == "connection-refused"
    for bad in ("ftp://127.0.0.1:1", "http://", "127.0.0.1:4096", "http://a\x1b]0;x\x07b:1"):
        status = probe(bad)
        assert status.verdict == "invalid-url", bad
        assert status.duration_s < 0.5
    # a URL's user:password@ is used, never shown (tests/test_faults_server.py has the rest)
    status = probe(f"http://u:secret@127.0.0.1:{port}")
    assert status.verdict == "connection-refused" and status.url == f"http://127.0.0.1:{port}"
    assert "secret" not in str(status.to_json())


def test_opencode_2x_status_route() -> None:
    routes = {"/api/status": fs.json_body({"version": "2.0.0", "healthy": True})}
    with fs.fake_server(routes, default=fs.html) as url:
        status = probe(url)
        assert status.verdict == "ok" and status.generation == "2.x"
        assert status.version == "2.0.0" and status.version_source == "GET /api/status"


@pytest.mark.slow  # waits out the read time-out
def test_many_urls_at_once_keep_their_order() -> None:
    with fs.black_hole() as hole, fs.fake_server({}, default=fs.html) as html:
        urls = [hole, html, "ftp://x"] * 5
        statuses = probe_servers(urls, timeout_s=TIMEOUT, use_cache=False)
    assert [s.verdict for s in statuses] == ["read-timeout", "not-opencode", "invalid-url"] * 5


@pytest.mark.parametrize(
    ("client", "server", "skew"),
    [
        ("1.18.33", "1.18.33", "same"),
        ("1.18.33", "1.18.30", "supported"),
        ("1.18.33", "1.14.34", "unsupported"),
        ("1.18.33", "2.0.0", "unsupported"),
        (None, "1.18.33", "unknown"),
        ("1.18.33", None, "unknown"),
    ],
)
def test_skew(client: str | None, server: str | None, skew: str) -> None:
    assert MATRIX.server.skew_supported == "minor"
    got, reason = version_skew(client, server, MATRIX.server)
    assert got == skew and reason


@pytest.mark.parametrize(
    ("rule", "server", "skew"),
    [
        ("release", "1.18.30", "unsupported"),
        ("minor", "1.18.30", "supported"),
        ("minor", "1.14.34", "unsupported"),
        ("major", "1.14.34", "supported"),
        ("major", "2.0.0", "unsupported"),
    ],
)
def test_the_skew_rule_is_matrix_data(rule: str, server: str, skew: str, tmp_path: Path) -> None:
    """``skew_supported`` in a ``--matrix`` file changes which pairs are supported."""
    path = tmp_path / "skew.toml"
    path.write_text(f'[server]\nskew_supported = "{rule}"\n', encoding="utf-8")
    facts = load_matrix([path], overrides=False).server
    assert facts.skew_supported == rule
    assert facts.health_route_since == MATRIX.server.health_route_since  # the rest merged
    assert version_skew("1.18.33", server, facts)[0] == skew


def test_an_unknown_skew_rule_is_a_matrix_error(tmp_path: Path) -> None:
    from orch_doctor.errors import MatrixError

    path = tmp_path / "skew.toml"
    path.write_text('[server]\nskew_supported = "patch"\n', encoding="utf-8")
    with pytest.raises(MatrixError, match="skew_supported"):
        load_matrix([path], overrides=False)


def test_session_exists_for_a_directory(real_servers: Callable[..., RealServer]) -> None:
    import httpx

    from orch_doctor.server.probe import session_exists

    server = real_servers("1.18.33")
    directory = str(server.directory)
    created = httpx.post(
        f"{server.url}/session", params={"directory": directory}, json={"title": "t"}, timeout=30
    ).json()
    assert session_exists(server.url, created["id"], directory) is True
    assert session_exists(server.url, created["id"]) is True
    assert session_exists(server.url, created["id"], "/somewhere/else") is False
    assert session_exists(server.url, "ses_doesnotexist000000000000", directory) is False
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "server", server.url, "--session", created["id"],
         "--session-dir", directory, "--format", "json", "--no-routes"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0 and json.loads(proc.stdout)["servers"][0]["session_exists"]


def test_unauthenticated_server_off_loopback_is_a_warning() -> None:
    from orch_doctor.server.probe import _findings

    (finding,) = _findings("http://10.1.2.3:4096", "none")
    assert finding.id == "unauthenticated-network-server" and finding.severity == "warn"
    assert any("OPENCODE_SERVER_PASSWORD" in a for a in finding.alternatives)
    assert _findings("http://10.1.2.3:4096", "basic") == ()
    assert _findings("http://127.0.0.1:4096", "none") == ()
    assert _findings("http://[::1]:4096", "none") == ()


@pytest.mark.parametrize("version", ["1.0.152", "1.18.33"])
def test_server_models_from_a_real_server(
    real_servers: Callable[..., RealServer], version: str
) -> None:
    from orch_doctor.server.probe import server_models

    server = real_servers(version)
    known = server_models(server.url, timeout_s=30)
    assert known, "a real server lists at least its built-in provider's models"
    assert all(m.count("/") >= 1 and not m.startswith("/") for m in known)
    assert any(m.startswith("opencode/") for m in known)
    with fs.fake_server({}, default=fs.html) as url:  # 200 + HTML is not a model list
        assert server_models(url, timeout_s=TIMEOUT) is None


# --- one URL: the same probe without an event loop ----------------------------------------------

PATH_ANSWER = {
    "home": "/home/u",
    "state": "/home/u/.local/state/opencode",
    "config": "/home/u/.config/opencode",
    "worktree": "/",
    "directory": "/srv/p",
}
ONE_URL_SERVERS: dict[str, tuple[dict[str, fs.Behaviour], fs.Behaviour]] = {
    "1.18.33": (
        {
            "/global/health": fs.recorded_body("1.18.33", "health.body"),
            "/doc": fs.recorded_body("1.18.33", "doc.json"),
            "/path": fs.json_body(PATH_ANSWER),
        },
        fs.html,
    ),
    "1.0.152": (
        {"/doc": fs.recorded_body("1.0.152", "doc.json"), "/path": fs.json_body(PATH_ANSWER)},
        fs.recorded_body("1.0.152", "unknown.body", status=500),
    ),
    "2.x status": ({"/api/status": fs.json_body({"version": "2.0.0", "healthy": True})}, fs.html),
    "html": ({}, fs.html),
    "password": ({}, fs.needs_auth(PASSWORD, fs.recorded_body("1.18.33", "health.body"))),
    "reset": ({}, fs.reset),
    "server error": ({}, fs.error_500),
}


@pytest.mark.parametrize("name", list(ONE_URL_SERVERS))
def test_one_url_is_probed_as_many_urls_are(name: str) -> None:
    """probe_server makes its calls one after the other on a plain client, probe_servers at
    once on an event loop: the same server gives the same status either way."""
    routes, default = ONE_URL_SERVERS[name]
    with fs.fake_server(routes, default=default) as url:
        one = probe_server(url, timeout_s=TIMEOUT, use_cache=False)
        (many,) = probe_servers([url], timeout_s=TIMEOUT, use_cache=False)
    fields = ("verdict", "fix", "version", "version_source", "generation", "routes")
    fields += ("directory", "paths", "auth", "health_route", "cors_any_origin", "is_opencode")
    assert {f: getattr(one, f) for f in fields} == {f: getattr(many, f) for f in fields}
    # the same words; an OS error's own text may differ between the two clients' transports
    assert one.summary.split(" (")[0] == many.summary.split(" (")[0]


def test_one_url_needs_no_event_loop() -> None:
    """It can be called from code running on an event loop, and asyncio is not imported for
    it (its imports cost a spawn more than its calls could overlap)."""
    import asyncio

    with fs.fake_server(ONE_URL_SERVERS["1.18.33"][0], default=fs.html) as url:

        async def from_a_loop() -> ServerStatus:
            return probe_server(url, timeout_s=TIMEOUT, use_cache=False)

        assert asyncio.run(from_a_loop()).verdict == "ok"
        script = (
            "import sys\n"
            "from orch_doctor.server.probe import probe_server\n"
            f"status = probe_server({url!r}, timeout_s=5, use_cache=False)\n"
            "print(status.verdict, 'asyncio' in sys.modules)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.stdout.split() == ["ok", "False"], done.stderr[-2000:]
