"""Conditions a strategy relies on are measured facts: the TUI's data dir (the server's GET /path
against the TUI's environment), the hosts a known issue needs; a recorded failure of the exact
release whose cause still holds removes the strategy; failures are known by matrix signatures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from orch_doctor.decide import conditions
from orch_doctor.decide.conditions import Facts, tui_dirs
from orch_doctor.decide.decision import decide
from orch_doctor.decide.replay import recorded_server
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.errors import MatrixError
from orch_doctor.execute.executor import StepReport
from orch_doctor.execute.spawn import fix_for
from orch_doctor.matrix.load import load_matrix, merge, read_toml
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.server.probe import server_paths
from orch_doctor.server.types import ServerPaths, ServerStatus

MATRIX = load_matrix(overrides=False)
REQUEST = SpawnRequest(directory="/srv/proj", model="opencode/big-pickle", prompt="do it")
#: the caller named the server (plan --server URL)
NAMED = replace(REQUEST, server_url="http://127.0.0.1:4096")
CALLER = {"HOME": "/home/caller"}
CALLER_STATE = "/home/caller/.local/state/opencode"


def _server(version: str, *, home: str, state: str, directory: str = "/elsewhere") -> ServerStatus:
    """A recorded real server of ``version`` whose GET /path says ``home`` and ``state``."""
    base = recorded_server(version)
    assert base is not None
    return replace(base, directory=directory, paths=ServerPaths(home=home, state=state))


# --- the TUI's directories, from its environment ----------------------------------------------


def test_the_tuis_dirs_follow_its_home_and_xdg_variables() -> None:
    plain = tui_dirs({"HOME": "/home/a/"})
    assert (plain.home, plain.state, plain.data) == (
        "/home/a",
        "/home/a/.local/state/opencode",
        "/home/a/.local/share/opencode",
    )
    assert plain.data_is_default
    xdg = tui_dirs({"HOME": "/home/a", "XDG_STATE_HOME": "/s", "XDG_DATA_HOME": "/d"})
    assert (xdg.state, xdg.data, xdg.data_is_default) == ("/s/opencode", "/d/opencode", False)
    # the XDG spec ignores a relative value; an XDG_DATA_HOME that is HOME's default is default
    relative = tui_dirs({"HOME": "/h", "XDG_STATE_HOME": "rel", "XDG_DATA_HOME": "/h/.local/share"})
    assert relative.state == "/h/.local/state/opencode" and relative.data_is_default
    assert tui_dirs({}).home is None and tui_dirs({"HOME": "relative"}).state is None


def test_get_path_gives_the_servers_home_and_state() -> None:
    answer = {
        "home": "/home/s",
        "state": "/home/s/.local/state/opencode",
        "config": "/home/s/.config/opencode",
        "worktree": "/",
        "directory": "/p",
    }  # as 1.0.152 answers
    assert server_paths(answer) == ServerPaths(
        "/home/s", "/home/s/.local/state/opencode", "/home/s/.config/opencode"
    )
    assert server_paths({"home": "rel", "state": "/x\n/y", "config": 3}) is None
    assert server_paths([1]) is None
    found = server_paths({"home": "/h\x1b[2J", "state": "/s"})
    assert found == ServerPaths(None, "/s", None)


@pytest.mark.parametrize(
    ("home", "state", "env", "holds"),
    [
        ("/home/caller", CALLER_STATE, CALLER, True),
        ("/home/other", "/home/other/.local/state/opencode", CALLER, False),
        ("/home/caller", "/srv/state/opencode", CALLER, False),  # XDG_STATE_HOME on the server
        ("/home/caller", CALLER_STATE, {**CALLER, "XDG_DATA_HOME": "/data"}, None),
        ("/home/caller", CALLER_STATE, {}, None),  # the TUI gets no HOME
    ],
)
def test_shares_data_dir_is_measured_from_path_and_the_tuis_env(
    home: str, state: str, env: dict[str, str], holds: bool | None
) -> None:
    server = _server("1.0.152", home=home, state=state)
    found, why = conditions.shares_data_dir(server, Facts(tui_env=env))
    assert found is holds, why
    if holds is False:
        assert state in why and "does not share" in why


def test_without_get_path_or_the_tuis_env_shares_data_dir_is_unmeasured() -> None:
    server = replace(_server("1.0.152", home="/h", state="/s"), paths=None)
    assert conditions.shares_data_dir(server, Facts(tui_env=CALLER))[0] is None
    assert conditions.shares_data_dir(server, Facts())[0] is None


# --- the decision ------------------------------------------------------------------------------


def test_a_1_0_152_server_under_another_home_is_no_standalone_session() -> None:
    """The seed's symptom: the server under another HOME and in another folder."""
    caps = stored_capabilities("1.0.152")
    server = _server("1.0.152", home="/home/other", state="/home/other/.local/state/opencode")
    decision = decide(caps, server, NAMED, MATRIX, facts=Facts(tui_env=CALLER))
    assert decision.strategy == "none" and not decision.holds
    why = decision.rejected["standalone-session"]
    assert why.code == "condition-failed"
    assert "/home/other/.local/state/opencode" in why.message and CALLER_STATE in why.message
    fix = MATRIX.condition("shares-data-dir")
    assert fix is not None and why.fix == fix.fix == decision.fix
    assert "7149" not in (decision.fix or "")
    # the same server under the caller's HOME: standalone-session, and ✓
    same = _server("1.0.152", home="/home/caller", state=CALLER_STATE)
    ok = decide(caps, same, NAMED, MATRIX, facts=Facts(tui_env=CALLER))
    assert ok.strategy == "standalone-session" and ok.holds
    assert any("condition shares-data-dir" in r for r in ok.reasons)
    # allowed a substitute, the other HOME gives standalone-prompt (no server needed)
    alone = decide(
        caps, server, NAMED, MATRIX,
        allow_standalone=True, facts=Facts(tui_env=CALLER),
    )  # fmt: skip
    assert alone.strategy == "standalone-prompt" and alone.holds


def test_an_unmeasured_condition_is_said_and_the_plan_is_not_a_check_mark() -> None:
    caps = stored_capabilities("1.0.152")
    server = replace(_server("1.0.152", home="/h", state="/s"), paths=None)
    decision = decide(caps, server, NAMED, MATRIX, facts=Facts(tui_env=CALLER))
    assert decision.strategy == "standalone-session" and decision.plan is not None
    unmeasured = decision.advisory("condition-unmeasured")
    assert unmeasured is not None and unmeasured.severity == "error"
    assert "shares-data-dir" in unmeasured.message and unmeasured.fix
    assert not decision.holds and decision.to_json()["holds"] is False


def test_a_measured_strategy_is_preferred_to_one_whose_condition_is_unmeasured() -> None:
    """A test matrix where standalone-session would otherwise be preferred to attach-tui-api."""
    docs = [(str(p), dict(read_toml(p))) for p in _files()]
    for _, doc in docs:
        for strategy in doc.get("strategy", []):
            if strategy["name"] == "standalone-session":
                strategy["preference"] = 1
    matrix = merge(docs)
    caps = stored_capabilities("1.0.152")
    server = replace(
        _server("1.0.152", home="/h", state="/s", directory=REQUEST.directory), paths=None
    )
    decision = decide(caps, server, REQUEST, matrix, facts=Facts(tui_env=CALLER))
    assert decision.strategy == "attach-tui-api" and decision.holds


@pytest.mark.parametrize(
    ("answered", "strategy", "holds"),
    [(False, "none", False), (True, "attach-session-api", True), (None, "none", False)],
)
def test_1_1_34_offline_is_no_plan_online_a_check_mark(
    answered: bool | None, strategy: str, holds: bool
) -> None:
    """tui-exits-offline needs models.dev, and verify of 1.1.34 failed for every strategy."""
    caps = stored_capabilities("1.1.34")
    hosts = {} if answered is None else {"models.dev": answered}
    facts = Facts(tui_env=CALLER, hosts=hosts)
    decision = decide(caps, recorded_server("1.1.34"), REQUEST, MATRIX, facts=facts)
    assert decision.strategy == strategy and decision.holds is holds
    issue = next(i for i in MATRIX.issues if i.id == "tui-exits-offline")
    if answered is False:
        for name in ("attach-session-api", "attach-tui-api", "standalone-prompt"):
            assert decision.rejected[name].code == "condition-failed", name
            assert decision.rejected[name].issue == "tui-exits-offline"
        assert decision.fix == issue.fix
    elif answered is None:  # not checked: the recorded failures stand
        assert decision.rejected["attach-session-api"].code == "recorded-failure"
        assert decision.fix == issue.fix
    else:  # the cause does not hold here: the known issue and the record are only information
        offline = decision.advisory("tui-exits-offline")
        failed = decision.advisory("verify-failed")
        assert offline is not None and offline.severity == "info"
        assert failed is not None and failed.severity == "info"


def test_hosts_are_checked_only_where_an_applicable_issue_needs_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orch_doctor.probe import hosts
    from orch_doctor.resolve import measure

    asked: list[str] = []

    def reachable(host: str, timeout_s: float = 2.0) -> bool:
        asked.append(host)
        return False

    monkeypatch.setattr(hosts, "reachable", reachable)
    for version, wanted in (("1.18.33", []), ("1.0.152", []), ("1.1.34", ["models.dev"])):
        asked.clear()
        facts = measure.measure_facts(
            stored_capabilities(version), recorded_server(version), REQUEST, MATRIX, CALLER
        )
        assert asked == wanted and dict(facts.hosts) == dict.fromkeys(wanted, False)
        assert facts.tui_env == CALLER


def test_reachability_is_bounded_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from orch_doctor.probe import hosts

    calls: list[float] = []

    def refuse(address: tuple[str, int], timeout: float) -> socket.socket:
        calls.append(timeout)
        raise OSError("unreachable")

    monkeypatch.setattr(hosts, "_answered", {})
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert hosts.reachable("models.dev") is False
    assert hosts.reachable("models.dev") is False
    assert calls == [hosts.REACH_TIMEOUT_S]


# --- the matrix ---------------------------------------------------------------------------------


def _files() -> list[Path]:
    from orch_doctor.matrix.load import matrix_files

    return matrix_files(overrides=False)


def test_every_strategys_condition_is_declared_and_standalone_session_relies_on_the_data_dir() -> (
    None
):
    session = MATRIX.strategy("standalone-session")
    assert session is not None and session.conditions == ("shares-data-dir",)
    for strategy in MATRIX.strategies:
        for cid in strategy.conditions:
            assert MATRIX.condition(cid) is not None
    offline = next(i for i in MATRIX.issues if i.id == "tui-exits-offline")
    assert offline.needs_hosts == ("models.dev",)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[[strategy]]\nname='standalone-prompt'\nsummary='s'\npreference=40\nevidence='e'\n"
         "conditions=['shares-data-dir', 'moon-phase']\n", "conditions"),
        ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='info'\naffects=['standalone-prompt']\n"
         "breaks='b'\nevidence='https://e.invalid'\nneeds_hosts=['models dev']\n", "needs_hosts"),
        ("[[issue]]\nid='x'\ntitle='t'\nversions='>=1'\nseverity='info'\naffects=['standalone-prompt']\n"
         "breaks='b'\nevidence='https://e.invalid'\nsignatures=['  ']\n", "signatures"),
        ("[[condition]]\nid='serves-dir'\ntitle='t'\nbreaks='b'\nevidence='https://e.invalid'\n",
         "fix"),
    ],
)  # fmt: skip
def test_bad_condition_data_is_an_error_naming_the_key(extra: str, key: str) -> None:
    import tomllib

    docs = [(str(p), dict(read_toml(p))) for p in _files()]
    with pytest.raises(MatrixError, match=key):
        merge([*docs, ("extra.toml", tomllib.loads(extra))])


# --- failures known by data ---------------------------------------------------------------------


def test_the_plan_carries_the_failures_known_for_its_strategy_and_release_only() -> None:
    caps = stored_capabilities("1.1.11")  # attach-session-not-found-cwd applies (1.1.0 - 1.1.25)
    server = recorded_server("1.1.11")
    online = Facts(tui_env=CALLER, hosts={"models.dev": True})
    attach = decide(caps, server, REQUEST, MATRIX, facts=online)
    assert attach.strategy == "attach-session-api" and attach.plan is not None
    assert "attach-session-not-found-cwd" in {k.id for k in attach.plan.known_failures}
    forced = decide(caps, server, REQUEST, MATRIX, force="standalone-session", facts=online)
    assert forced.plan is not None
    known = {k.id for k in forced.plan.known_failures}
    assert "condition:shares-data-dir" in known and "attach-session-not-found-cwd" not in known


def test_a_failed_step_showing_a_signature_gets_the_matrix_fix_never_text_matched_in_code() -> None:
    caps = stored_capabilities("1.0.152")
    same = _server("1.0.152", home="/home/caller", state=CALLER_STATE)
    decision = decide(caps, same, REQUEST, MATRIX, facts=Facts(tui_env=CALLER))
    assert decision.plan is not None
    step = StepReport(
        3, "wait", "wait until the TUI is up", "failed", 1.0,
        expected="no 'Session not found'", seen="Session not found: ses_1", code="failure-marker",
        issue="condition:shares-data-dir",
    )  # fmt: skip
    condition = MATRIX.condition("shares-data-dir")
    assert condition is not None
    fix = fix_for(step, plan=decision.plan)
    assert condition.fix in fix and "7149" not in fix and "attach" not in fix.split(":")[0]
    # the same text with no known failure in the plan: no guess from the text
    assert fix_for(replace(step, issue=None), "inspect", plan=decision.plan) == "inspect"
    bun = replace(step, seen="BunInstallFailedError", issue=None, code="tui-exited")
    assert fix_for(bun, "inspect") == "inspect"


class _ExitedTerminal:
    """Runs nothing: the TUI 'exits' at once, leaving ``screen``."""

    name = "exited"

    def __init__(self, screen: str) -> None:
        self.screen = screen

    def start(self, argv: object, cwd: str | None, env: object) -> None:
        return None

    def capture(self) -> str:
        return self.screen

    def send_keys(self, keys: object, *, literal: bool = False) -> None:
        return None

    def alive(self) -> bool:
        return False

    def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("screen", "issue"),
    [
        ('"UnknownError", "Error: Unable to connect. Is the computer able to access the url?"',
         "tui-exits-offline"),
        ("Error: something nobody recorded", None),
    ],
)  # fmt: skip
def test_the_executor_reports_the_known_failure_its_screen_shows(
    screen: str, issue: str | None
) -> None:
    import time

    from orch_doctor.execute.executor import Executor
    from orch_doctor.execute.spawn import run_plan

    caps = stored_capabilities("1.1.34")
    decision = decide(caps, None, REQUEST, MATRIX, force="standalone-prompt")
    assert decision.plan is not None
    assert "tui-exits-offline" in {k.id for k in decision.plan.known_failures}
    terminal = _ExitedTerminal(screen)
    executor = Executor(
        base_url=None,
        terminal_factory=lambda: terminal,  # type: ignore[arg-type,return-value]
        env={},
        deadline=time.monotonic() + 10,
    )
    try:
        result = run_plan(executor, decision.plan, target=None, inspect="inspect")
    finally:
        executor.close()
    failed = result.failed_step
    assert failed is not None and failed.code == "tui-exited"
    assert failed.issue == issue == result.issue == result.to_json()["issue"]
    offline = next(i for i in MATRIX.issues if i.id == "tui-exits-offline")
    assert (offline.fix is not None and offline.fix in (result.fix or "")) == (issue is not None)


def test_spawn_refuses_a_plan_that_is_not_a_check_mark(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """plan exits 1 on an unmeasured condition, so spawn of the same request runs nothing: it
    says which condition and its fix, exit 1, no tmux touched."""
    import json
    import types

    from click.testing import CliRunner

    from orch_doctor.cli import main

    caps = stored_capabilities("1.0.152")
    server = replace(_server("1.0.152", home="/h", state="/s"), paths=None)
    decision = decide(caps, server, NAMED, MATRIX, facts=Facts(tui_env=CALLER))
    assert decision.plan is not None and not decision.holds
    resolution = types.SimpleNamespace(
        credentials=None,
        server_url=NAMED.server_url,
        discovery=None,
        decision=types.SimpleNamespace(get=lambda: decision),
    )
    monkeypatch.setattr("orch_doctor.cli.spawn.resolve_selection", lambda _request: resolution)
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path))  # a tmux server would show up here
    args = ["spawn", "--dir", str(tmp_path), "--server", str(NAMED.server_url)]
    args += ["--prompt", "p", "--tmux-target", "s:w"]
    out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 1, out.output
    data = json.loads(out.output)
    assert data["ok"] is False and data["code"] == "not-measured"
    assert data["strategy"] == "standalone-session" and data["steps"] == []
    unmeasured = decision.advisory("condition-unmeasured")
    assert unmeasured is not None and data["fix"] == unmeasured.fix
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 1 and "NOT SPAWNED" in text.output
    assert "shares-data-dir" in text.output
    assert not list(tmp_path.iterdir())
