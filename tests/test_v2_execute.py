"""OpenCode 2.x end to end: the decision picks service-session-api for a 2.x client and a 2.x
service, and ``execute_plan`` runs its plan against a 2.x service stand-in (the typed SDK's
FakeServer behind a real loopback HTTP server, Basic auth forced) with the 2.x binary
stand-in's TUI in a pseudo-terminal; delivery is confirmed through the 2.x API
(GET /api/session/{id}/message)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from orch_doctor.decide.decision import decide
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SESSION_API_2X, HttpStep, ProcessStep
from orch_doctor.execute.executor import user_texts
from orch_doctor.execute.spawn import execute_plan
from orch_doctor.execute.terminal import PtyTerminal
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.server.credentials import Credentials
from orch_doctor.server.types import ServerStatus
from tests.support.opencode2 import V2_ROUTES, v2_service, write_binary

pytest.importorskip("opencode.testing")

MATRIX = load_matrix(overrides=False)


def _server(url: str, routes: frozenset[str] = V2_ROUTES) -> ServerStatus:
    return ServerStatus(url=url, verdict="ok", is_opencode=True, generation="2.x",
                        version="2.0.0", routes=routes, auth="basic")  # fmt: skip


def test_the_decision_picks_the_2x_strategy_for_a_2x_client_and_service() -> None:
    caps = stored_capabilities("2.0.0")  # derived from source: contract only
    request = SpawnRequest(directory="/srv/it's", prompt="hi", model="opencode/big-pickle")
    decision = decide(caps, _server("http://127.0.0.1:4096"), request, MATRIX)
    assert decision.strategy == "service-session-api", decision.to_json()
    assert MATRIX.strategy("service-session-api").evidence_kind == "contract"  # type: ignore[union-attr]
    plan = decision.plan
    assert plan is not None and plan.session_api == SESSION_API_2X
    process = next(s for s in plan.steps if isinstance(s, ProcessStep))
    assert process.to_json()["argv"][1:] == [
        "/srv/it's", "--server", "http://127.0.0.1:4096", "--session", "{session_id}",
    ]  # fmt: skip
    assert process.secret_env  # the password reaches the TUI through its environment
    create = next(s for s in plan.steps if isinstance(s, HttpStep))
    assert create.display_path() == "/api/session"
    assert create.body["location"] == {"directory": "/srv/it's"}
    assert create.body["model"] == {"id": "big-pickle", "providerID": "opencode"}
    assert not any(k.startswith("version-help") for k in (a.id for a in decision.advisories))


def test_a_1x_client_against_a_2x_service_names_both_versions() -> None:
    caps = stored_capabilities("1.18.33")
    request = SpawnRequest(directory="/p", prompt="hi", server_url="http://127.0.0.1:4096")
    decision = decide(caps, _server("http://127.0.0.1:4096"), request, MATRIX)
    assert decision.strategy == "none"
    # the major-version verdict refuses every strategy, naming both versions
    assert {r.code for r in decision.rejected.values()} == {"major-mismatch"}
    message = decision.rejected["attach-session-api"].message
    assert "2.0.0" in message and "1.18.33" in message
    assert decision.fix and "2.0.0" in decision.fix


def test_a_2x_service_without_the_prompt_route_gets_no_plan() -> None:
    caps = stored_capabilities("2.0.0")
    routes = V2_ROUTES - {"POST /api/session/{id}/prompt"}
    decision = decide(caps, _server("http://x:1", routes), SpawnRequest("/p", prompt="x"), MATRIX)
    assert decision.strategy == "none"
    assert decision.rejected["service-session-api"].code == "missing-routes"


def test_user_texts_reads_a_2x_message_page() -> None:
    page = {"data": [{"id": "m1", "type": "user", "text": "a"},
                     {"id": "m2", "type": "assistant", "text": "b"}, "junk"],
            "cursor": {"next": None}}  # fmt: skip
    assert user_texts(page, "2.x") == ["a"]
    assert user_texts(page) == [] and user_texts([], "2.x") == []


@pytest.mark.slow
def test_a_2x_plan_runs_end_to_end_against_the_stand_in(tmp_path: Path) -> None:
    tui = write_binary(tmp_path / "opencode2")
    project = tmp_path / "project dir"
    project.mkdir()
    prompt = f"2.x spawn {uuid.uuid4().hex[:8]} $(not a shell) {{session_id}}"
    with v2_service(password="pw-" + uuid.uuid4().hex) as service:
        caps = replace(stored_capabilities("2.0.0"), binary_path=str(tui))
        request = SpawnRequest(directory=str(project), prompt=prompt)
        decision = decide(caps, _server(service.url), request, MATRIX)
        assert decision.strategy == "service-session-api" and decision.plan is not None
        terminal = PtyTerminal()
        try:
            result = execute_plan(
                decision.plan,
                terminal=terminal,
                credentials=Credentials("opencode", service.password or ""),
                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                timeout_s=60,
            )
            shown = json.dumps(result.to_json())
            assert result.ok, shown
            sid = result.session_id
            assert sid is not None and sid in service.fake.sessions
            # the prompt is the session's user message, as the service stores it
            assert service.fake.prompts == [prompt] or prompt in service.fake.prompts
            assert service.fake.sessions[sid].title == "orch: " + prompt[:60]
            assert result.confirmation is not None and result.confirmation.verified
            checks = {c.name for c in result.confirmation.checks}
            assert {"session", "prompt-stored", "tui-shows-prompt"} <= checks
            # every call carried the password (the TUI's from its environment), none in argv
            assert service.requests and all(auth for _, _, auth in service.requests)
            asked = [p for _, p, _ in service.requests]
            assert any(p.startswith("/api/session/" + sid + "/message") for p in asked)
            assert service.password not in shown
        finally:
            terminal.close()


@pytest.mark.slow
def test_a_2x_plan_with_the_wrong_password_fails_at_session_creation(tmp_path: Path) -> None:
    tui = write_binary(tmp_path / "opencode2")
    with v2_service(password="right") as service:
        caps = replace(stored_capabilities("2.0.0"), binary_path=str(tui))
        decision = decide(caps, _server(service.url), SpawnRequest(str(tmp_path), prompt="p"),
                          MATRIX)  # fmt: skip
        assert decision.plan is not None
        terminal = PtyTerminal()
        try:
            result = execute_plan(decision.plan, terminal=terminal,
                                  credentials=Credentials("opencode", "wrong"),
                                  env={"PATH": "/usr/bin:/bin"}, timeout_s=20)  # fmt: skip
        finally:
            terminal.close()
        assert not result.ok and result.code == "http-status"
        assert result.steps[0].seen is not None and result.steps[0].seen.startswith("401")
        assert not service.fake.sessions and "wrong" not in json.dumps(result.to_json())


def test_the_2x_tui_gets_the_password_by_the_name_2x_reads_first() -> None:
    caps = stored_capabilities("2.0.0")
    request = SpawnRequest("/p", prompt="x")
    plan = decide(caps, _server("http://127.0.0.1:4096"), request, MATRIX).plan
    assert plan is not None
    process = next(s for s in plan.steps if isinstance(s, ProcessStep))
    assert process.secret_env == ("OPENCODE_PASSWORD",)  # env.ts: then the legacy name
    one = stored_capabilities("1.18.33")
    server_1x = ServerStatus(url="http://127.0.0.1:4097", verdict="ok", is_opencode=True,
                             generation="1.x", version="1.18.33", auth="basic",
                             routes=MATRIX.recorded.fallback("1.18.33")[1])  # type: ignore[index]  # fmt: skip
    plan_1x = decide(one, server_1x, SpawnRequest("/p", prompt="x"), MATRIX).plan
    assert plan_1x is not None
    attach = next(s for s in plan_1x.steps if isinstance(s, ProcessStep))
    assert attach.secret_env == ("OPENCODE_SERVER_PASSWORD",)


def test_a_2x_password_in_the_environment_is_the_servers_password() -> None:
    from orch_doctor.server.credentials import credentials_from_env, secrets_for

    found = credentials_from_env({"OPENCODE_PASSWORD": "pw2"})
    assert found is not None and found.password == "pw2" and found.username == "opencode"
    first = credentials_from_env({"OPENCODE_SERVER_PASSWORD": "a", "OPENCODE_PASSWORD": "b"})
    assert first is not None and first.password == "a"
    assert credentials_from_env({"OPENCODE_PASSWORD": ""}) is None
    assert secrets_for(found) == {"OPENCODE_SERVER_PASSWORD": "pw2", "OPENCODE_PASSWORD": "pw2"}


def test_a_2x_client_without_a_service_is_told_to_start_its_service() -> None:
    caps = replace(stored_capabilities("2.0.0"), binary_path="/usr/bin/opencode2")
    decision = decide(caps, None, SpawnRequest("/p", prompt="x"), MATRIX)
    assert decision.strategy == "none"
    assert decision.fix == "opencode service start"
    one = replace(stored_capabilities("1.18.33"), binary_path="/usr/bin/opencode")
    no_server_1x = decide(one, None, SpawnRequest("/p", prompt="x" * 200_000), MATRIX)
    assert no_server_1x.fix == "opencode serve --port 4096 --hostname 127.0.0.1"


def test_allow_standalone_runs_a_1x_tui_alone_instead_of_a_named_2x_service() -> None:
    caps = replace(stored_capabilities("1.18.33"), binary_path="/usr/bin/opencode")
    url = "http://127.0.0.1:4096"
    request = SpawnRequest(directory="/p", prompt="hi", server_url=url)
    refused = decide(caps, _server(url), request, MATRIX)
    assert refused.strategy == "none"
    allowed = decide(caps, _server(url), request, MATRIX, allow_standalone=True)
    assert allowed.strategy == "standalone-prompt", allowed.to_json()
    assert allowed.plan is not None and allowed.plan.server_url is None
    first = allowed.advisories[0]
    assert first.id == "standalone-instead-of-server" and first.severity == "warn"
    assert "2.0.0" in first.message and "1.18.33" in first.message  # both versions named
    assert first.fix == "npm install -g @opencode/cli@2.0.0"
    # what would have used the 2.x service is refused for the mismatch, by its code
    assert allowed.rejected["attach-session-api"].code == "major-mismatch"


def test_sessions_a_verify_made_in_a_2x_service_are_removed_by_its_routes() -> None:
    from orch_doctor.verify.run import UserSessions

    sessions = UserSessions("http://s", None, V2_ROUTES, "/p", {}, SESSION_API_2X)
    assert sessions.route_keys() == (
        "DELETE /api/session/{id}", "POST /api/session/{id}/interrupt",
    )  # fmt: skip
    assert sessions.path("ses_1") == "http://s/api/session/ses_1"
    one = UserSessions("http://s", None, None, "/p q", {})
    assert one.route_keys() == ("DELETE /session/{id}", "POST /session/{id}/abort")
    assert one.path("ses_1") == "http://s/session/ses_1?directory=%2Fp+q"
