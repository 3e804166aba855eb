"""OpenCode 2.x: the server probe, discovery through the registration file, and the verdict for
a 1.x CLI against a 2.x service — on a real HTTP server standing in for a 2.x service.

The stand-in (tests/support/opencode2.py) forwards to opencode-python-sdk 0.2.3's
``opencode.testing.FakeServer`` (its ``/api/*`` routes and ``ServerInfo {version, pid, urls,
paths}`` from the contract's generated models) and adds what the public evidence documents and
FakeServer lacks: the web UI's HTML 200 at ``/global/health`` (opencode-mobile#39), forced Basic
auth with user ``opencode`` and a generated password (anomalyco/opencode#49452, #45856),
``/api/status`` 404 (#49210), and the registration file ``$XDG_STATE_HOME/opencode/service.json``
``{id, version, url, pid, password}`` (the SDK's ``opencode/_service.py``) with the local
channel's ``service-local.json`` (anomalyco/opencode's registration file names).
No test here depends on HOME: each sets its own XDG_STATE_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orch_doctor.server.credentials import Credentials
from orch_doctor.server.probe import probe_server
from orch_doctor.server.registration import (
    MAX_BYTES,
    Registration,
    RegistrationProblem,
    find_service,
    read_registration,
)
from tests.support.opencode2 import V2Service, v2_service

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def service() -> Iterator[V2Service]:
    with v2_service(version="2.0.12") as found:
        yield found


def _env(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCODE_SERVER_")}
    env.update(XDG_STATE_HOME=str(state), PYTHONPATH=str(ROOT), NO_COLOR="1", **extra)
    return env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orch_doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )


# --- the server probe ------------------------------------------------------------------------


def test_named_as_opencode_2x_with_its_version(service: V2Service) -> None:
    assert service.password
    status = probe_server(
        service.url, credentials=Credentials("opencode", service.password), use_cache=False
    )
    assert status.ok and status.is_opencode and status.generation == "2.x"
    assert status.version == "2.0.12" and status.version_source == "GET /api/info"
    assert status.summary.startswith("OpenCode 2.x, version 2.0.12")
    assert status.auth == "basic"
    assert status.service is not None and status.service.pid == service.pid
    assert status.service.urls == (service.url + "/",)
    # its HTML at /global/health was read as the web UI, not as a broken or foreign server
    assert ("GET", "/global/health") in [(m, p) for m, p, _ in service.requests]
    assert status.health_route is False
    # no /doc, no /path: a 2.x service has neither (they would only fetch the web UI)
    assert not any(p in ("/doc", "/path") for _, p, _ in service.requests)


def test_without_the_password_auth_required_names_2x(service: V2Service) -> None:
    status = probe_server(service.url, use_cache=False)
    assert status.verdict == "auth-required" and status.generation == "2.x"
    assert status.is_opencode and "OpenCode 2.x" in status.summary
    assert "/api/info" in status.summary
    assert any("service.json" in a for a in status.alternatives)


def test_wrong_password_auth_rejected_and_redacted(service: V2Service) -> None:
    wrong = "not-the-password-9f3c"
    status = probe_server(service.url, credentials=Credentials("opencode", wrong), use_cache=False)
    assert status.verdict == "auth-rejected" and status.generation == "2.x"
    assert wrong not in json.dumps(status.to_json())


def test_web_ui_demanding_the_password_too() -> None:
    """A 2.x serve that guards its web UI as well: without the password, auth-required (the
    generation cannot be told then); with it, OpenCode 2.x."""
    with v2_service(auth_everywhere=True) as found:
        assert probe_server(found.url, use_cache=False).verdict == "auth-required"
        assert found.password
        status = probe_server(
            found.url, credentials=Credentials("opencode", found.password), use_cache=False
        )
        assert status.ok and status.generation == "2.x" and status.version == "2.0.12"


def test_no_auth_service_and_api_status_404() -> None:
    with v2_service(password=None, version="2.1.0") as found:
        status = probe_server(found.url, use_cache=False)
        assert status.ok and status.version == "2.1.0" and status.auth == "none"
        # /api/info answered: /api/status (404 on 2.x, #49210) is not needed
        assert not any(p == "/api/status" for _, p, _ in found.requests)


def test_routes_are_the_contracts_and_said_so(service: V2Service) -> None:
    from orch_doctor.matrix.load import load_matrix

    assert service.password
    status = probe_server(
        service.url, credentials=Credentials("opencode", service.password), use_cache=False
    )
    assert status.routes is None  # measured: the 2.x server lists none
    shown = load_matrix().recorded.apply(status)
    assert shown.routes is not None and "GET /api/info" in shown.routes
    assert "POST /api/session/{id}/prompt" in shown.routes
    assert shown.routes_source is not None and shown.routes_source.startswith("contract only")


# --- discovery through the registration file --------------------------------------------------


def test_discovered_through_service_json(service: V2Service, tmp_path: Path) -> None:
    path = service.register(tmp_path)
    found = find_service({"XDG_STATE_HOME": str(tmp_path)}, use_cache=False)
    assert found.status is not None and found.status.ok
    assert found.status.generation == "2.x" and found.status.version == "2.0.12"
    assert found.status.service is not None
    assert found.status.service.registration == str(path)
    assert found.status.service.registered_id == service.id
    # the file's password went into the HTTP auth, nowhere else
    assert service.password and service.password not in json.dumps(found.status.to_json())
    assert service.password not in repr(found)


def test_local_channel_service_local_json(service: V2Service, tmp_path: Path) -> None:
    path = service.register(tmp_path, local=True)
    found = find_service({"XDG_STATE_HOME": str(tmp_path)}, use_cache=False)
    assert found.status is not None and found.status.ok
    assert found.status.service is not None and found.status.service.registration == str(path)


def test_dead_pid_is_a_stale_registration(service: V2Service, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    service.register(tmp_path, pid=dead.pid)
    found = find_service({"XDG_STATE_HOME": str(tmp_path)}, use_cache=False)
    assert found.status is None
    assert any(f"pid {dead.pid}" in n and "not running" in n for n in found.notes)
    assert not service.requests  # nothing was asked of the URL


def test_url_answering_as_another_service(service: V2Service, tmp_path: Path) -> None:
    """The pid lives (this test's parent) but the URL's /api/info names another pid."""
    service.register(tmp_path, pid=os.getppid())
    found = find_service({"XDG_STATE_HOME": str(tmp_path)}, use_cache=False)
    assert found.status is None
    assert any("another service" in n for n in found.notes)
    service.register(tmp_path, version="2.0.11")
    found = find_service({"XDG_STATE_HOME": str(tmp_path)}, use_cache=False)
    assert found.status is None and any("another version" in n for n in found.notes)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"url": "http://203.0.113.7:4096", "pid": 1}, "not on this machine's loopback"),
        ({"url": "file:///etc/passwd", "pid": 1}, "not http(s)"),
        ({"url": "http://u:p@127.0.0.1:1", "pid": 1}, "user:password@"),
        ({"url": "http://127.0.0.1:1", "pid": True}, "no valid pid"),
        ({"url": "http://127.0.0.1:1\x1b[31m", "pid": 1}, "not one"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_hostile_registration_refused(tmp_path: Path, content: object, reason: str) -> None:
    path = tmp_path / "opencode" / "service.json"
    path.parent.mkdir()
    path.write_text(json.dumps(content))
    found = read_registration(path)
    assert isinstance(found, RegistrationProblem) and reason in found.reason


def test_registration_read_is_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "opencode"
    folder.mkdir()
    big = folder / "service.json"
    big.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": 1, "pad": "x" * MAX_BYTES}))
    found = read_registration(big)
    assert isinstance(found, RegistrationProblem) and "larger" in found.reason
    big.unlink()
    os.mkfifo(big)  # a FIFO would block a plain read forever
    found = read_registration(big)
    assert isinstance(found, RegistrationProblem) and "regular file" in found.reason
    big.unlink()
    (folder / "elsewhere.json").write_text('{"url": "http://127.0.0.1:1", "pid": 1}')
    big.symlink_to(folder / "elsewhere.json")
    assert isinstance(read_registration(big), RegistrationProblem)
    assert read_registration(folder / "missing.json") is None
    good = folder / "good.json"
    good.write_text('{"url": "http://127.0.0.1:9/", "pid": 7, "password": "s3"}')
    parsed = read_registration(good)
    assert isinstance(parsed, Registration) and parsed.url == "http://127.0.0.1:9"
    assert "s3" not in repr(parsed)


# --- the CLI: text and JSON, the password never shown -----------------------------------------


def test_server_cli_named_and_discovered(service: V2Service, tmp_path: Path) -> None:
    assert service.password
    env = _env(tmp_path)
    # named, no password anywhere: auth-required, said as OpenCode 2.x
    text = _cli("server", service.url, "--opencode", "/nonexistent/opencode", env=env)
    assert text.returncode == 1 and "auth-required" in text.stdout
    assert "OpenCode 2.x" in text.stdout
    # named with its registration file: the file's password is used for exactly that URL
    service.register(tmp_path)
    text = _cli("server", service.url, env=env)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "OpenCode 2.x, version 2.0.12" in text.stdout
    data = _cli("server", service.url, "--format", "json", env=env)
    entry = json.loads(data.stdout)["servers"][0]
    assert entry["generation"] == "2.x" and entry["version"] == "2.0.12"
    assert entry["service"]["pid"] == service.pid and entry["auth"] == "basic"
    # discovered (no URL): through the registration file, first in the list
    found = json.loads(_cli("server", "--format", "json", env=env).stdout)
    assert found["discovered"] and found["servers"][0]["url"] == service.url
    assert found["servers"][0]["service"]["registered_id"] == service.id
    for run in (text, data):
        assert service.password not in run.stdout + run.stderr


def test_password_from_the_environment(service: V2Service, tmp_path: Path) -> None:
    assert service.password
    env = _env(tmp_path, OPENCODE_SERVER_PASSWORD=service.password)
    run = _cli("server", service.url, "--format", "json", env=env)
    assert run.returncode == 0 and json.loads(run.stdout)["servers"][0]["verdict"] == "ok"
    assert service.password not in run.stdout + run.stderr


# --- a 1.x CLI against the 2.x service ---------------------------------------------------------


@pytest.mark.real
def test_plan_with_a_1x_cli_is_none_naming_both_versions(
    service: V2Service, tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    binary = str(opencode_release("1.18.33"))
    service.register(tmp_path)
    assert service.password
    env = _env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    for named in (("--server", service.url),):
        text = _cli("plan", "--dir", str(work), "--opencode", binary, *named, env=env)
        assert text.returncode == 1, text.stdout + text.stderr
        assert "1.18.33" in text.stdout and "2.0.12" in text.stdout
        assert "npm install -g @opencode/cli@2.0.12" in text.stdout
        data = _cli(
            "plan", "--dir", str(work), "--opencode", binary, *named, "--format", "json", env=env
        )
        plan = json.loads(data.stdout)
        assert data.returncode == 1 and plan["strategy"] == "none"
        assert plan["fix"] == "npm install -g @opencode/cli@2.0.12"
        assert {r["code"] for r in plan["rejections"].values()} == {"major-mismatch"}
        assert any("1.18.33" in r and "2.0.12" in r for r in plan["reasons"])
        for run in (text, data):
            assert service.password not in run.stdout + run.stderr
    # discovered through the file, the 2.x service is not taken for a 1.x CLI: never the
    # mismatch, and -v says why it was not used
    found = _cli("plan", "--dir", str(work), "--opencode", binary, "--format", "json", env=env)
    assert "major-mismatch" not in found.stdout, found.stdout
    verbose = _cli("--opencode", binary, "--dir", str(work), "-v", env=env)
    assert "the OpenCode 2.x service (2.0.12): not for a 1.x CLI" in verbose.stdout
    # the doctor, the service named: its server check fails with the same verdict (not a
    # minor-release skew)
    doctor = _cli("--opencode", binary, "--dir", str(work), "--server", service.url, env=env)
    assert doctor.returncode == 1
    line = next(x for x in doctor.stdout.splitlines() if "OpenCode server" in x)
    assert "✗" in line and "1.18.33" in line and "2.0.12" in line
    assert service.password not in doctor.stdout + doctor.stderr
    # the password never went into an argv: the plan has no steps, and the service saw only
    # Basic auth headers carrying it
    assert all(a is None or a.startswith("Basic ") for _, _, a in service.requests)


def test_major_mismatch_rule_is_pure() -> None:
    from orch_doctor.decide.rules import major_mismatch
    from orch_doctor.matrix.recorded import stored_capabilities
    from orch_doctor.server.types import ServerStatus

    caps = stored_capabilities("1.18.33")
    v2 = ServerStatus(
        "http://127.0.0.1:1", "ok", is_opencode=True, generation="2.x", version="2.0.12"
    )
    found = major_mismatch(caps, v2)
    assert found is not None and found.client == "1.18.33" and found.server == "2.0.12"
    assert found.fix == "npm install -g @opencode/cli@2.0.12"
    v1 = ServerStatus(
        "http://127.0.0.1:1", "ok", is_opencode=True, generation="1.x", version="1.18.33"
    )
    assert major_mismatch(caps, v1) is None
    assert major_mismatch(caps, None) is None
    unknown = ServerStatus("http://127.0.0.1:1", "not-opencode")
    assert major_mismatch(caps, unknown) is None
    # the reverse: a 2.x CLI against a 1.x server, fixed by the server's own 1.x release
    from dataclasses import replace

    from orch_doctor.probe.types import VersionInfo

    caps_2x = replace(caps, version=VersionInfo("2.0.12", "2.0.12", release=True))
    reverse = major_mismatch(caps_2x, v1)
    assert reverse is not None and reverse.fix == "npm install -g opencode-ai@1.18.33"
    assert "2.0.12" in reverse.message and "1.18.33" in reverse.message
    assert major_mismatch(caps_2x, v2) is None
    from orch_doctor.decide.rules import version_skew
    from orch_doctor.matrix.load import load_matrix

    skew, why = version_skew("1.18.33", "2.0.12", load_matrix().server)
    assert skew == "unsupported" and "generations" in why


# --- discovery chooses a server of the CLI's own line ------------------------------------------


def _resolve(caps_version: str, state: Path, directory: Path) -> object:
    from dataclasses import replace

    from orch_doctor.matrix.recorded import stored_capabilities
    from orch_doctor.resolve import Resolution, Selection

    caps = replace(stored_capabilities(caps_version), binary_path="/usr/bin/opencode")
    env = {"XDG_STATE_HOME": str(state), "HOME": str(directory)}
    return Resolution(Selection(directory=str(directory)), capabilities=caps, env=env)


def test_a_1x_cli_is_not_given_the_registered_2x_service(
    service: V2Service, tmp_path: Path
) -> None:
    service.register(tmp_path / "state")
    resolution = _resolve("1.18.33", tmp_path / "state", tmp_path)
    chosen = resolution.server.get()  # type: ignore[attr-defined]
    # whatever 1.x servers run here may be chosen; the 2.x service is not (it would be no plan)
    assert chosen is None or (chosen.url != service.url and chosen.generation != "2.x")
    notes = resolution.service_notes  # type: ignore[attr-defined]
    assert any("OpenCode 2.x service (2.0.12): not for a 1.x CLI" in n for n in notes), notes
    decision = resolution.decision.get()  # type: ignore[attr-defined]
    assert decision.strategy != "none" or all(
        r.code != "major-mismatch" for r in decision.rejected.values()
    )


def test_a_2x_cli_is_given_its_registered_service(service: V2Service, tmp_path: Path) -> None:
    service.register(tmp_path / "state")
    resolution = _resolve("2.0.0", tmp_path / "state", tmp_path)
    chosen = resolution.server.get()  # type: ignore[attr-defined]
    assert chosen is not None and chosen.url == service.url and chosen.generation == "2.x"
    assert resolution.decision.get().strategy == "service-session-api"  # type: ignore[attr-defined]


def test_a_2x_cli_without_a_service_is_given_no_1x_server(tmp_path: Path) -> None:
    resolution = _resolve("2.0.0", tmp_path / "no-state", tmp_path)
    chosen = resolution.server.get()  # type: ignore[attr-defined]
    assert chosen is None or chosen.generation != "1.x"
    decision = resolution.decision.get()  # type: ignore[attr-defined]
    if chosen is None:
        assert decision.strategy == "none" and decision.fix == "opencode service start"
