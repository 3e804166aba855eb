"""Decisions from stored real help texts and recorded real route sets, for every release."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.version import Version

from orch_doctor.decide.conditions import Facts
from orch_doctor.decide.decision import decide
from orch_doctor.decide.replay import recorded_server, replay
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SESSION_ID, HttpStep, ProcessStep
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities, stored_releases
from orch_doctor.server.types import ServerStatus

MATRIX = load_matrix(overrides=False)
REQUEST = SpawnRequest(directory="/work dir/it's", model="opencode/big-pickle", prompt="do it")
RELEASES = [v for v in stored_releases() if v != "2.0.0"]
#: every host a known issue needs answered here (online)
ONLINE = Facts(tui_env={"HOME": "/home/someone"}, hosts={"models.dev": True})


def _path(step: object) -> str:
    """An HTTP step's path as text ("" for other steps)."""
    return step.display_path() if isinstance(step, HttpStep) else ""


def process_argvs(decision) -> list[list[object]]:  # type: ignore[no-untyped-def]
    assert decision.plan is not None
    return [list(s.argv) for s in decision.plan.steps if s.kind == "process"]


def test_1_0_152_with_a_server_never_attaches_with_session() -> None:
    caps = stored_capabilities("1.0.152")
    decision = decide(caps, recorded_server("1.0.152"), REQUEST, MATRIX)
    assert decision.strategy == "attach-tui-api"
    for argv in process_argvs(decision):
        assert "--session" not in argv and "-s" not in argv and "--model" not in argv
    assert decision.rejected["attach-session-api"].code == "missing-flags"


@pytest.mark.parametrize("version", [v for v in RELEASES if Version(v) >= Version("1.0.162")])
def test_1_0_162_and_later_with_a_server_attach_with_session(version: str) -> None:
    caps = stored_capabilities(version)
    decision = decide(caps, recorded_server(version), REQUEST, MATRIX, facts=ONLINE)
    assert decision.strategy == "attach-session-api"
    (argv,) = process_argvs(decision)
    assert argv[1:4] == ["attach", "http://127.0.0.1:4096", "--session"]
    assert argv[4] == SESSION_ID and argv[5:] == ["--dir", REQUEST.directory]
    kinds = [s.kind for s in decision.plan.steps]  # type: ignore[union-attr]
    assert kinds[0] == "http" and "process" in kinds
    body = next(s.body for s in decision.plan.steps if _path(s).endswith("async"))
    assert body["model"] == {"providerID": "opencode", "modelID": "big-pickle"}
    assert body["parts"] == [{"type": "text", "text": "do it"}]


def test_0_5_29_has_no_attach_strategy() -> None:
    caps = stored_capabilities("0.5.29")
    for server in (None, recorded_server("1.0.152")):
        decision = decide(caps, server, REQUEST, MATRIX)
        assert not decision.strategy.startswith("attach")
        assert decision.rejected["attach-session-api"].code == "missing-command"
        assert decision.rejected["attach-tui-api"].code == "missing-command"


def test_without_server_standalone_prompt_uses_long_flags() -> None:
    decision = decide(stored_capabilities("1.18.33"), None, REQUEST, MATRIX)
    assert decision.strategy == "standalone-prompt"
    (argv,) = process_argvs(decision)
    assert argv[1:] == [REQUEST.directory, "--model", "opencode/big-pickle", "--prompt", "do it"]
    assert "-p" not in argv  # -p is --port from 1.0 on


def test_prefill_only_release_gets_an_enter_keystroke() -> None:
    decision = decide(stored_capabilities("1.0.152"), None, REQUEST, MATRIX)
    assert decision.strategy == "standalone-prompt"
    assert decision.plan is not None and decision.plan.steps[-1].kind == "keys"
    assert decision.advisory("prompt-prefill-only") is not None
    later = decide(stored_capabilities("1.18.33"), None, REQUEST, MATRIX)
    assert later.plan is not None and all(s.kind != "keys" for s in later.plan.steps)


def test_standalone_session_never_passes_prompt_with_session() -> None:
    allowed = {"standalone-session"}
    for version in ("1.14.34", "1.18.33"):
        decision = decide(
            stored_capabilities(version), recorded_server(version), REQUEST, MATRIX,
            allowed_strategies=allowed,
        )  # fmt: skip
        assert decision.strategy == "standalone-session"
        (argv,) = process_argvs(decision)
        assert "--session" in argv and "--prompt" not in argv
        assert any(_path(s).endswith("prompt_async") for s in decision.plan.steps)  # type: ignore[union-attr]


def test_database_locked_demotes_standalone_session() -> None:
    caps = stored_capabilities("1.14.34")
    decision = decide(caps, recorded_server("1.14.34"), REQUEST, MATRIX)
    demoted = decision.rejected["standalone-session"]
    assert demoted.code == "demoted" and demoted.issue == "standalone-database-locked"


def test_cwd_workaround_on_1_1_11() -> None:
    decision = decide(stored_capabilities("1.1.11"), recorded_server("1.1.11"), REQUEST, MATRIX)
    assert decision.advisory("attach-session-not-found-cwd") is not None
    process = next(s for s in decision.plan.steps if s.kind == "process")  # type: ignore[union-attr]
    assert process.cwd == REQUEST.directory  # type: ignore[union-attr]
    assert any(
        r.startswith("applies workaround attach-cwd-is-session-dir") for r in decision.reasons
    )
    # an invalid session hangs attach before 1.4: the plan checks it exists first
    paths = [_path(s) for s in decision.plan.steps]  # type: ignore[union-attr]
    assert "/session/{session_id}" in paths


def test_opencode_2x_without_its_service_gets_a_clear_none() -> None:
    caps = stored_capabilities("2.0.0")
    server = ServerStatus(url="http://127.0.0.1:4096", verdict="ok", generation="2.x",
                          version="2.0.0", routes=frozenset())  # fmt: skip
    for srv, why in ((None, "no-server"), (server, "missing-routes")):
        decision = decide(caps, srv, REQUEST, MATRIX)
        assert decision.strategy == "none" and decision.plan is None
        assert decision.rejected["service-session-api"].code == why
        others = {n: r for n, r in decision.rejected.items() if n != "service-session-api"}
        assert {r.code for r in others.values()} == {"other-generation"}
        assert all("2.0.0 (2.x)" in r.message for r in others.values())


def test_unknown_version_2x_layout_is_recognised_by_capabilities() -> None:
    caps = replace(stored_capabilities("2.0.0"), version=None)
    decision = decide(caps, None, REQUEST, MATRIX)
    assert decision.strategy == "none"
    assert decision.rejected["standalone-prompt"].code == "other-generation"


def test_a_matrix_that_does_not_know_2x_refuses_it() -> None:
    policy = replace(MATRIX.policy, known_majors=(0, 1))
    matrix = replace(MATRIX, policy=policy)
    for caps in (stored_capabilities("2.0.0"), replace(stored_capabilities("2.0.0"), version=None)):
        decision = decide(caps, None, REQUEST, matrix)
        assert decision.strategy == "none"
        assert {why.code for why in decision.rejected.values()} == {"newer-major"}


def test_capabilities_beat_the_version_string() -> None:
    # a binary claiming 1.18.33 whose attach help has no --session: go by the help, say so
    caps = stored_capabilities("1.18.33")
    old_attach = stored_capabilities("1.0.152").command("attach")
    lying = replace(caps, commands={**caps.commands, "attach": old_attach})
    decision = decide(lying, recorded_server("1.18.33"), REQUEST, MATRIX)
    assert decision.strategy == "attach-tui-api"
    mismatch = decision.advisory("version-help-mismatch")
    assert mismatch is not None and mismatch.severity == "warn"
    assert "should have `opencode attach` --session" in mismatch.message
    # and the other way round: 1.0.152 claiming attach --session
    new_attach = stored_capabilities("1.18.33").command("attach")
    caps = stored_capabilities("1.0.152")
    odd = replace(caps, commands={**caps.commands, "attach": new_attach})
    decision = decide(odd, recorded_server("1.0.152"), REQUEST, MATRIX)
    assert decision.strategy == "attach-session-api"
    mismatch = decision.advisory("version-help-mismatch")
    assert (
        mismatch is not None and "should not have `opencode attach` --session" in mismatch.message
    )


def test_unreachable_server_and_unknown_routes() -> None:
    caps = stored_capabilities("1.18.33")
    down = ServerStatus(url="http://127.0.0.1:9", verdict="connection-refused", fix="start it")
    decision = decide(caps, down, REQUEST, MATRIX)
    assert decision.strategy == "standalone-prompt"
    assert decision.rejected["attach-session-api"].code == "server-unusable"
    no_doc = replace(recorded_server("1.18.33"), routes=None)
    decision = decide(caps, no_doc, REQUEST, MATRIX)
    assert decision.rejected["attach-session-api"].code == "routes-unknown"


def test_policy_allowed_strategies() -> None:
    caps = stored_capabilities("1.18.33")
    decision = decide(caps, recorded_server("1.18.33"), REQUEST, MATRIX,
                      allowed_strategies={"attach-tui-api"})  # fmt: skip
    assert decision.strategy == "attach-tui-api"
    assert decision.rejected["attach-session-api"].code == "policy"


def test_password_goes_to_the_environment_never_argv() -> None:
    caps = stored_capabilities("1.18.33")
    server = replace(recorded_server("1.18.33"), auth="basic")
    decision = decide(caps, server, REQUEST, MATRIX)
    process = next(s for s in decision.plan.steps if s.kind == "process")  # type: ignore[union-attr]
    assert process.secret_env == ("OPENCODE_SERVER_PASSWORD",)  # type: ignore[union-attr]
    data = process.to_json()
    assert data["secret_env"] == {"OPENCODE_SERVER_PASSWORD": "***"}
    assert all("PASSWORD" not in a for a in data["argv"])


def test_replay_covers_every_stored_release_without_error() -> None:
    rows = replay(MATRIX)
    assert {r.release for r in rows} == set(stored_releases())
    assert all(r.error is None for r in rows)
    by_release = {r.release: r for r in rows}
    assert by_release["1.0.152"].with_server.strategy == "attach-tui-api"  # type: ignore[union-attr]
    assert by_release["1.18.33"].with_server.strategy == "attach-session-api"  # type: ignore[union-attr]
    assert by_release["0.1.174"].without_server.strategy == "none"  # type: ignore[union-attr]


def test_blocked_range_refuses_every_strategy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "block.toml"
    path.write_text(
        "[policy]\n[[policy.blocked]]\nversions = '>=1.18.0,<1.18.34'\n"
        "reason = 'team decision'\nevidence = 'https://example.org/why'\n"
    )
    blocked = load_matrix([path], overrides=False)
    decision = decide(stored_capabilities("1.18.33"), recorded_server("1.18.33"), REQUEST, blocked)
    assert decision.strategy == "none" and decision.plan is None
    assert {why.code for why in decision.rejected.values()} == {"version-blocked"}
    assert decision.fix == "npm install -g opencode-ai@latest"
    ok = decide(stored_capabilities("1.18.34"), recorded_server("1.18.34"), REQUEST, blocked)
    assert ok.strategy == "attach-session-api"


def test_below_minimum_is_said_and_a_recorded_failure_with_no_measurable_cause_is_no_plan() -> None:
    old = decide(stored_capabilities("0.5.29"), None, REQUEST, MATRIX, facts=ONLINE)
    # verify of standalone-prompt failed on 0.5.29 (BunInstallFailedError): nothing measured here
    # clears that cause, so the plan is not ✓: none, with the known issue's fix
    assert old.strategy == "none"
    assert old.rejected["standalone-prompt"].code == "recorded-failure"
    assert old.rejected["standalone-prompt"].issue is None
    assert old.fix == "orch-doctor verify --strategy standalone-prompt"
    assert old.advisory("below-minimum") in old.warnings
    # found while recording 0.5.29 (no public issue): its evidence is the record and the command
    gone = old.advisory("builtin-plugin-version-gone")
    assert gone is not None and gone in old.warnings
    assert (
        gone.evidence.startswith("recorded:")
        and "tools.track_releases --only 0.5.29" in gone.evidence
    )
    new = decide(stored_capabilities("1.18.33"), None, REQUEST, MATRIX)
    assert new.advisory("below-minimum") is None


@pytest.mark.parametrize("model", ["big-pickle", "/big-pickle", "opencode/", " / ", "open code/x"])
def test_model_must_be_provider_slash_model(model: str) -> None:
    request = replace(REQUEST, model=model)
    decision = decide(stored_capabilities("1.18.33"), recorded_server("1.18.33"), request, MATRIX)
    assert decision.strategy == "none"
    assert {why.code for why in decision.rejected.values()} == {"bad-model"}
    assert decision.fix == "opencode models"


def test_nested_model_id_keeps_its_slashes() -> None:
    request = replace(REQUEST, model="openrouter/anthropic/claude-sonnet")
    decision = decide(stored_capabilities("1.18.33"), recorded_server("1.18.33"), request, MATRIX)
    body = next(s.body for s in decision.plan.steps if _path(s).endswith("async"))
    assert body["model"] == {"providerID": "openrouter", "modelID": "anthropic/claude-sonnet"}


def test_server_side_issue_follows_the_server_version() -> None:
    cve = "server-unauthenticated-cve-2026-22812"
    new_client = stored_capabilities("1.18.33")
    old_server = replace(recorded_server("1.18.33"), version="1.0.152")
    decision = decide(new_client, old_server, REQUEST, MATRIX)
    assert decision.advisory(cve) in decision.warnings
    old_client = stored_capabilities("1.0.152")
    new_server = replace(recorded_server("1.0.152"), version="1.18.33")
    decision = decide(old_client, new_server, REQUEST, MATRIX)
    assert decision.strategy == "attach-tui-api"
    assert decision.advisory(cve) is None
    # server version unknown (1.0.152 has no health route): the client's version stands in
    decision = decide(old_client, recorded_server("1.0.152"), REQUEST, MATRIX)
    assert decision.advisory(cve) in decision.warnings
    # version unknown, but the server answers any origin: the measured fact shows the issue
    unknown = replace(recorded_server("1.18.33"), version=None, cors_any_origin=True)
    assert decide(new_client, unknown, REQUEST, MATRIX).advisory(cve) is not None


def test_verification_records_of_the_release_show_in_the_decision() -> None:
    from orch_doctor.matrix.load import merge

    record = (
        "[[verification]]\nrelease='1.18.33'\nstrategy='attach-session-api'\noutcome='{o}'\n"
        "date='2026-11-24'\norch_doctor_version='0.1.0'\nnote='why'\n"
    )
    import tomllib

    for outcome, in_reasons in (("verified", True), ("failed", False)):
        docs = [(f, {k: v for k, v in d.items()}) for f, d in _shipped_docs()]
        docs.append(("extra.toml", tomllib.loads(record.format(o=outcome))))
        matrix = merge(docs)
        decision = decide(
            stored_capabilities("1.18.33"), recorded_server("1.18.33"), REQUEST, matrix
        )
        assert any("verified on a real OpenCode 1.18.33" in r for r in decision.reasons) == (
            in_reasons
        )
        # a failed record of this exact release, its cause unknown: that strategy is not taken
        failed = decision.rejected.get("attach-session-api")
        assert (failed is not None and failed.code == "recorded-failure") == (not in_reasons)
        assert decision.strategy != "attach-session-api" or in_reasons


def _shipped_docs() -> list[tuple[str, dict]]:
    from orch_doctor.matrix.load import matrix_files, read_toml

    return [
        (str(p), {k: v for k, v in read_toml(p).items() if k != "verification"})
        for p in matrix_files(overrides=False)
    ]


def test_attach_tui_is_refused_when_the_server_serves_another_directory() -> None:
    # 1.0.x attach works in the server's directory whatever --dir says (measured on 1.0.152)
    caps = stored_capabilities("1.0.152")
    elsewhere = replace(recorded_server("1.0.152"), directory="/srv/other")
    decision = decide(caps, elsewhere, REQUEST, MATRIX)
    assert decision.strategy != "attach-tui-api"
    forbidden = decision.rejected["attach-tui-api"]
    assert forbidden.code == "known-issue"
    assert forbidden.issue == "attach-tui-works-in-server-directory"
    # what is chosen instead works in --dir (standalone-session opens `opencode D --session`)
    assert decision.plan is not None
    assert all(
        s.cwd == REQUEST.directory for s in decision.plan.steps if isinstance(s, ProcessStep)
    )
    # where attach-tui-api is the only allowed strategy: no plan, and the fix says why
    refused = decide(caps, elsewhere, REQUEST, MATRIX, allowed_strategies=["attach-tui-api"])
    assert refused.strategy == "none" and refused.plan is None
    assert refused.fix == f"cd {shlex.quote(REQUEST.directory)} && opencode serve"
    same = replace(recorded_server("1.0.152"), directory=REQUEST.directory)
    decision = decide(caps, same, REQUEST, MATRIX)
    assert decision.strategy == "attach-tui-api"
    assert decision.plan is not None
    tui_calls = [s for s in decision.plan.steps if _path(s).startswith("/tui/")]  # type: ignore[union-attr]
    assert tui_calls and all(not s.query for s in tui_calls)  # the TUI is in the server's dir


def test_decision_states_its_evidence_for_the_exact_release() -> None:
    from orch_doctor.probe.types import VersionInfo

    caps = stored_capabilities("1.18.33")
    verified = decide(caps, None, REQUEST, MATRIX)
    assert any(r.startswith("verified on a real OpenCode 1.18.33") for r in verified.reasons)
    assert verified.advisory("not-verified") is None
    # a release with no record: not verified, the nearest verified ones are named
    newer = replace(caps, version=VersionInfo(raw="1.18.40", text="1.18.40", release=True))
    decision = decide(newer, None, REQUEST, MATRIX)
    note = decision.advisory("not-verified")
    assert note is not None and note.severity == "info" and note.message in decision.reasons
    assert "not verified on OpenCode 1.18.40; nearest verified: 1.18.34, same strategy" in (
        note.message
    )


def test_every_rejection_has_a_code_and_the_json_keeps_the_sentences() -> None:
    """``rejected`` (name -> sentence) stays as it was; ``rejections`` adds the stable codes."""
    from orch_doctor.decide.rules import REJECTION_CODES

    caps = stored_capabilities("1.18.33")
    for server in (None, recorded_server("1.18.33")):
        decision = decide(caps, server, REQUEST, MATRIX)
        data = decision.to_json()
        assert set(data["rejected"]) == set(data["rejections"]) == set(decision.rejected)
        for name, why in decision.rejected.items():
            assert why.code in REJECTION_CODES
            assert data["rejected"][name] == why.message == data["rejections"][name]["message"]
            assert data["rejections"][name]["codes"][0] == why.code
    # several failed requirements: every code, the first first
    old = decide(stored_capabilities("0.5.29"), None, REQUEST, MATRIX)
    assert old.rejected["attach-session-api"].codes == ("missing-command", "no-server")


def test_recorded_routes_travel_on_the_matrix(tmp_path: Path) -> None:
    """A server whose OpenAPI document is incomplete (1.14.34: 3 routes) is read with the
    route set recorded for the nearest older release — from the folders the matrix value
    names, not from the disk decide() would look at: without them, the routes are missing;
    with a --matrix file's help/ folder, its recording stands in."""
    from orch_doctor.matrix.types import RecordedRoutes

    caps = stored_capabilities("1.14.34")
    thin = ServerStatus(
        url="http://127.0.0.1:4096",
        verdict="ok",
        is_opencode=True,
        version="1.14.34",
        routes=frozenset({"DELETE /auth/{id}", "POST /log", "PUT /auth/{id}"}),
        routes_source="GET /doc",
        auth="none",
    )
    shipped = decide(caps, thin, REQUEST, MATRIX)
    assert shipped.strategy == "attach-session-api"
    bare = decide(caps, thin, REQUEST, replace(MATRIX, recorded=RecordedRoutes(())))
    assert bare.strategy != "attach-session-api"
    assert bare.rejected["attach-session-api"].code == "missing-routes"
    # overrides included: the help/ folder beside a --matrix file
    (tmp_path / "help" / "1.14.30").mkdir(parents=True)
    (tmp_path / "help" / "1.14.30" / "routes.txt").write_text(
        "GET /session\nPOST /session\nPOST /session/{id}/prompt_async\n", encoding="utf-8"
    )
    extra = tmp_path / "extra.toml"
    extra.write_text("", encoding="utf-8")
    matrix = load_matrix([extra], overrides=False)
    assert str(tmp_path / "help") in matrix.recorded.folders
    assert matrix.recorded.fallback("1.14.34") == (
        "1.14.30",
        frozenset({"GET /session", "POST /session", "POST /session/{id}/prompt_async"}),
    )
    served = matrix.recorded.apply(thin)
    assert served.routes_source is not None and "1.14.30" in served.routes_source
