"""OpenCode 2.x proven on this machine: ``orch-doctor verify`` with a 2.x binary starts a
throwaway 2.x ``serve`` (its password through the environment), runs the contract-only
service-session-api plan, and keeps the success as a proof; from then on ``plan`` cites "verified
on this machine" for that binary instead of "contract only", and ``--strict`` passes.

No real 2.x can be installed here: the binary is the 2.x stand-in (tests/support/opencode2.py:
its help is the one compat_matrix/ derived from 2.x's source, its ``serve`` the SDK's FakeServer
behind a real loopback HTTP server with forced Basic auth, its root the TUI).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from orch_doctor.cli import main
from orch_doctor.verify.run import VerifyOptions, run_verify
from orch_doctor.verify.throwaway import SERVE_2X, free_port, isolated_env, start_server
from tests.support.opencode2 import V2Service, v2_service, write_binary
from tests.support.tmux import needs_tmux, own_tmux_session

pytest.importorskip("opencode.testing")


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    return write_binary(tmp_path / "bin" / "opencode2", version="2.0.12")


@pytest.fixture
def service() -> Iterator[V2Service]:
    with v2_service(version="2.0.12", password="service-pw-Zq7") as found:
        yield found


def _plan(binary: Path, service: V2Service, project: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    args = ["plan", "--opencode", str(binary), "--server", service.url, "--dir", str(project)]
    result = CliRunner().invoke(
        main, [*args, "--format", "json", *extra], env={"OPENCODE_PASSWORD": service.password}
    )
    return result.exit_code, json.loads(result.output)


def _version_check(binary: Path, service: V2Service, project: Path) -> str:
    args = ["--opencode", str(binary), "--server", service.url, "--dir", str(project)]
    result = CliRunner().invoke(
        main, [*args, "--format", "json"], env={"OPENCODE_PASSWORD": service.password}
    )
    checks = {c["id"]: c for c in json.loads(result.output)["checks"]}
    return str(checks["opencode-version"]["status"])


def test_a_throwaway_2x_serve_gets_its_password_through_the_environment(
    binary: Path, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path / "home")
    server = start_server(
        str(binary), cwd=tmp_path, env=env, log=tmp_path / "serve.log", kind=SERVE_2X
    )
    try:
        assert server.password and len(server.password) >= 24
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert server.password.encode() not in cmdline  # never in argv
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/info", timeout=5)
        assert refused.value.code == 401  # 2.x forces auth: it is up, and it wants the password
        info = httpx.get(server.url + "/api/info", auth=("opencode", server.password), timeout=5)
        assert info.status_code == 200 and info.json()["version"] == "2.0.12"
        assert "password" not in repr(server) or server.password not in repr(server)
    finally:
        server.stop()
    assert server.process.poll() is not None


@pytest.mark.slow
def test_a_local_verify_turns_contract_only_into_verified_on_this_machine(
    binary: Path, service: V2Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()

    assert _version_check(binary, service, project) == "warn"  # untested, fix: verify
    code, before = _plan(binary, service, project)
    assert code == 0 and before["strategy"] == "service-session-api"
    assert before["evidence"]["kind"] == "contract"
    assert "contract-only" in {a["id"] for a in before["advisories"]}
    strict_code, _ = _plan(binary, service, project, "--strict")
    assert strict_code == 1  # a contract-only strategy fails under --strict

    (tmp_path / "runs").mkdir()
    asked = len(service.requests)
    report = run_verify(
        VerifyOptions(
            opencode=str(binary), tmp_root=str(tmp_path / "runs"), terminal="pty", timeout_s=60.0
        )
    )
    shown = json.dumps(report.to_json())
    assert report.verified, shown
    assert report.strategy == "service-session-api" and report.throwaway_server
    assert report.proof is not None and report.proof.startswith("verified on this machine, ")
    assert "OpenCode 2.0.12" in report.proof
    assert not list((tmp_path / "runs").iterdir())  # everything of the run is gone
    # its own throwaway service: the user's is not asked, its password nowhere
    assert service.password not in shown and len(service.requests) == asked

    code, after = _plan(binary, service, project)
    assert code == 0 and after["strategy"] == "service-session-api"
    assert after["evidence"]["kind"] == "local"
    assert after["evidence"]["said"] == [report.proof]
    assert report.proof in after["reasons"]
    assert "contract-only" not in {a["id"] for a in after["advisories"]}
    assert _plan(binary, service, project, "--strict")[0] == 0
    assert _version_check(binary, service, project) == "pass"  # proven here: nothing to fix
    # the proof is this binary's: another 2.x binary (other bytes) is contract only again
    other = write_binary(tmp_path / "other" / "opencode2", version="2.0.13")
    assert _plan(other, service, project)[1]["evidence"]["kind"] == "contract"
    assert os.environ.get("OPENCODE_PASSWORD") is None


@pytest.fixture
def registered_service(binary: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``opencode2 serve --register`` in a process of its own: the user's background service,
    registered (with its generated password) under a state folder of this test's."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCODE_")}
    env["XDG_STATE_HOME"] = str(state)
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "serve", "--port", str(port), "--register"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    registration = state / "opencode" / "service.json"
    deadline = time.monotonic() + 20
    while not registration.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert registration.exists()
        yield state, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@needs_tmux
def test_spawn_into_the_registered_2x_service_uses_its_files_password(
    binary: Path,
    registered_service: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, url = registered_service
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.delenv("OPENCODE_PASSWORD", raising=False)
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    password = json.loads((state / "opencode" / "service.json").read_text())["password"]
    project = tmp_path / "project"
    project.mkdir()
    prompt = "2.x {user_name} $(true) `x`"
    with own_tmux_session(monkeypatch, "work") as session:
        result = CliRunner().invoke(
            main,
            ["spawn", "--opencode", str(binary), "--dir", str(project), "--prompt", prompt,
             "--tmux-target", f"{session}:agent", "--format", "json"],
        )  # fmt: skip
        data = json.loads(result.output)
        assert result.exit_code == 0 and data["ok"], result.output
        assert data["strategy"] == "service-session-api"
        assert password not in result.output
        # the TUI reached the service with the file's password (from its environment) and
        # shows the prompt as typed
        screen = ""
        for _ in range(50):
            screen = subprocess_capture(f"{session}:agent")
            if prompt in screen:
                break
            time.sleep(0.1)
        assert prompt in screen
    assert url


def subprocess_capture(target: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", target],
        capture_output=True, text=True, timeout=10, check=False,
    ).stdout  # fmt: skip


@pytest.mark.parametrize("keep", [False, True])
def test_verify_against_a_users_2x_service_removes_or_keeps_its_session_by_the_2x_routes(
    binary: Path, service: V2Service, tmp_path: Path, keep: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch_doctor.server.credentials import Credentials

    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "runs").mkdir()
    report = run_verify(
        VerifyOptions(
            opencode=str(binary), server_url=service.url, keep=keep, terminal="pty",
            tmp_root=str(tmp_path / "runs"), timeout_s=60.0,
            credentials=Credentials("opencode", service.password or ""),
        )
    )  # fmt: skip
    assert report.verified, report.to_json()
    made = [c.split()[1] for c in report.created if c.startswith("session ")]
    assert len(made) == 1
    sid = made[0]
    asked = [(m, p.split("?")[0]) for m, p, _ in service.requests]
    shown = json.dumps(report.to_json())
    assert service.password not in shown
    if keep:
        assert sid in service.fake.sessions
        hint = next(k for k in report.kept if sid in k)
        # curl asks for the password (it is never printed); the 2.x route, no ?directory=
        assert hint.endswith(f"curl -u opencode -X DELETE {service.url}/api/session/{sid}")
        line = next(k for k in report.kept if k.startswith("clean up: "))
        subprocess.run(line.removeprefix("clean up: "), shell=True, timeout=30, check=False)
    else:
        assert sid not in service.fake.sessions
        assert ("POST", f"/api/session/{sid}/interrupt") in asked
        assert ("DELETE", f"/api/session/{sid}") in asked
        assert f"session {sid} from {service.url}" in report.removed


def test_a_2x_serve_that_prints_its_password_and_dies_is_reported_redacted(
    tmp_path: Path,
) -> None:
    import stat
    import sys

    from orch_doctor.verify.throwaway import ServerStartError

    # a serve that cannot start (what a real one cannot be made to do on demand)
    script = tmp_path / "opencode2"
    script.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        "print('generated password: ' + os.environ['OPENCODE_PASSWORD'], flush=True)\n"
        "sys.exit(3)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = isolated_env(tmp_path / "home")
    with pytest.raises(ServerStartError) as failed:
        start_server(str(script), cwd=tmp_path, env=env, log=tmp_path / "s.log", kind=SERVE_2X)
    said = str(failed.value) + failed.value.log_tail
    assert "exited with code 3" in said and "generated password: ***" in said
    printed = (tmp_path / "s.log").read_text().split(": ", 1)[1].strip()
    assert printed not in said
