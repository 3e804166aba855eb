"""A server that echoes the credentials it was given (the password, the Basic header's value,
the URL's userinfo) gets them redacted from everything the probe, ``server`` and the executor
store or print. A fake server: a real one cannot be made to echo them."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from orch_doctor.cli import main
from orch_doctor.decide.steps import HttpStep, SpawnPlan
from orch_doctor.execute.executor import Executor
from orch_doctor.server.credentials import Credentials
from orch_doctor.server.probe import probe_server
from tests.support import fake_server as fs

PW = "s3cretPW42"
TOKEN = base64.b64encode(f"opencode:{PW}".encode()).decode()


def leaks(text: str) -> list[str]:
    return [form for form in (PW, TOKEN, TOKEN.rstrip("=")) if form in text]


def _echoing_health(handler: BaseHTTPRequestHandler) -> None:
    data = json.loads(fs.recorded("1.18.33", "health.body"))
    data["version"] = f"1.18.33-{PW}"  # a version the probe believes (it looks like one)
    fs.send(handler, 200, json.dumps(data).encode(), headers={f"X-{PW}": TOKEN})


def _echoing_doc(handler: BaseHTTPRequestHandler) -> None:
    doc = json.loads(fs.recorded("1.18.33", "doc.json"))
    doc["paths"][f"/echo/{PW}/{TOKEN}"] = {"get": {"responses": {}}}
    fs.send(handler, 200, json.dumps(doc).encode())


def echoing_server() -> dict[str, fs.Behaviour]:
    """Every route behind the password, every answer echoing it somewhere."""
    return {
        "/global/health": fs.needs_auth(PW, _echoing_health),
        "/doc": fs.needs_auth(PW, _echoing_doc),
        "/path": fs.needs_auth(
            PW, fs.json_body({"directory": f"/srv/{PW}/{TOKEN}", "home": f"/home/{PW}"})
        ),
    }


def test_every_field_of_the_status_is_redacted() -> None:
    with fs.fake_server(echoing_server(), default=fs.needs_auth(PW, fs.echo_auth())) as url:
        status = probe_server(url, credentials=Credentials("opencode", PW), use_cache=False)
        # the URL's userinfo: the same credentials, given in the URL only
        port = url.rsplit(":", 1)[1]
        from_url = probe_server(f"http://opencode:{PW}@127.0.0.1:{port}", use_cache=False)
    for each in (status, from_url):
        assert each.verdict == "ok", each
        assert each.routes and any(r.startswith("GET /echo/") for r in each.routes)
        assert each.directory and each.directory.startswith("/srv/")
        assert each.version is not None and each.version.startswith("1.18.33-")
        assert leaks(json.dumps(each.to_json())) == [], each.to_json()
        assert leaks(repr(each)) == []


def test_a_redirect_and_an_error_body_are_redacted() -> None:
    target = f"http://127.0.0.1:9/{PW}?auth={TOKEN}"
    with fs.fake_server({}, default=fs.needs_auth(PW, fs.redirect(target))) as url:
        status = probe_server(url, credentials=Credentials("opencode", PW), use_cache=False)
    assert status.verdict == "not-opencode" and "redirect" in status.summary
    assert leaks(json.dumps(status.to_json())) == []
    with fs.fake_server({}, default=fs.echo_auth(500)) as url:
        status = probe_server(url, credentials=Credentials("opencode", PW), use_cache=False)
    assert leaks(json.dumps(status.to_json())) == []


@pytest.mark.parametrize("output", ["text", "json"])
def test_the_server_command_prints_no_echoed_credential(
    output: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", PW)
    with fs.fake_server(echoing_server(), default=fs.needs_auth(PW, fs.echo_auth())) as url:
        out = CliRunner().invoke(
            main,
            ["server", url, "--opencode", str(tmp_path / "none"), "--format", output],
        )
    assert "GET /doc" in out.output or '"routes"' in out.output, out.output
    assert leaks(out.output) == [], out.output


def test_the_executor_redacts_an_echoed_credential_in_seen() -> None:
    plan = SpawnPlan(
        strategy="attach-session-api",
        steps=(HttpStep("GET", ("echo",), "ask a server that echoes the header"),),
    )
    with fs.fake_server({}, default=fs.echo_auth(500)) as url:

        def no_terminal() -> fs.Behaviour:
            raise AssertionError("no terminal in this plan")

        executor = Executor(
            base_url=url,
            terminal_factory=no_terminal,  # type: ignore[arg-type]
            env={},
            credentials=Credentials("opencode", PW),
        )
        try:
            result = executor.run(plan)
        finally:
            executor.close()
    failed = result.failed_step
    assert failed is not None and failed.code == "http-status"
    assert failed.seen is not None and "bad request from Basic" in failed.seen
    assert leaks(failed.seen + failed.detail + (failed.expected or "")) == []
