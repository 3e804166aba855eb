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
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from orch_doctor.cli import main
from orch_doctor.verify.run import VerifyOptions, run_verify
from orch_doctor.verify.throwaway import SERVE_2X, isolated_env, start_server
from tests.support.opencode2 import V2Service, v2_service, write_binary

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
    # the proof is this binary's: another 2.x binary (other bytes) is contract only again
    other = write_binary(tmp_path / "other" / "opencode2", version="2.0.13")
    assert _plan(other, service, project)[1]["evidence"]["kind"] == "contract"
    assert os.environ.get("OPENCODE_PASSWORD") is None
