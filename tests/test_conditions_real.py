"""Conditions measured on real releases: a real 1.0.152 ``opencode serve`` under another HOME
(and in another folder) is no standalone-session; under the TUI's HOME it is, and it delivers;
a real 1.1.34 on this (offline) machine gets no plan, with the known issue's fix."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orch_doctor.api import execute_plan, get_capabilities, get_server_status, select_strategy
from orch_doctor.decide.decision import decide
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.load import load_matrix
from orch_doctor.probe.hosts import reachable
from orch_doctor.resolve.measure import measure_facts
from tests.support.opencode import isolated_env, real_server
from tests.support.tmux import needs_tmux, own_tmux_session

pytestmark = [pytest.mark.real, pytest.mark.slow]
MATRIX = load_matrix(overrides=False)
SESSION = "conds"
#: a release CI does not install (tools/releases.py TEST_RELEASES): tested where it is installed
OFFLINE_RELEASE = "1.1.34"


@pytest.fixture
def tmux_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A tmux server of this test's own (own TMUX_TMPDIR) with session ``conds``."""
    with own_tmux_session(monkeypatch, SESSION) as session:
        yield session


@pytest.fixture(scope="module")
def other_home_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real 1.0.152 server under its own HOME, started in its own folder."""
    base = tmp_path_factory.mktemp("other-home")
    with real_server("1.0.152", base / "server-home", base / "server-folder") as server:
        yield server


@needs_tmux
def test_a_1_0_152_server_under_another_home_is_refused_and_under_the_tuis_home_delivers(
    other_home_server: Any,
    opencode_release: Callable[[str], Path],
    tmux_session: str,
    tmp_path: Path,
) -> None:
    server = other_home_server
    binary = str(opencode_release("1.0.152"))
    project = tmp_path / "project"
    project.mkdir()
    caller_env = isolated_env(tmp_path / "caller-home")
    prompt = f"orch conditions test {uuid.uuid4().hex[:8]}: reply OK"

    def plan(env: dict[str, str]) -> Any:
        return select_strategy(
            project, prompt=prompt, server_url=server.url, opencode=binary, env=env
        )

    # the TUI would get another HOME than the server's: not standalone-session, no ✓
    refused = plan(caller_env)
    assert refused.strategy == "none" and not refused.holds
    why = refused.rejected["standalone-session"]
    assert why.code == "condition-failed"
    assert str(server.home) in why.message and str(tmp_path / "caller-home") in why.message
    condition = MATRIX.condition("shares-data-dir")
    assert condition is not None and refused.fix == condition.fix

    # what the spawn of that plan would have done: it fails on the TUI's screen, and the
    # failure is known by the matrix's signature (never blamed on attach / #7149)
    request = SpawnRequest(str(project), prompt=prompt, server_url=server.url)
    caps = get_capabilities(binary)
    status = get_server_status(server.url, matrix=MATRIX)
    facts = measure_facts(caps, status, request, MATRIX, caller_env)
    forced = decide(caps, status, request, MATRIX, force="standalone-session", facts=facts)
    assert forced.plan is not None
    failed = execute_plan(
        forced.plan, tmux_target=f"{SESSION}:other-home", env=caller_env, timeout_s=60
    )
    assert not failed.ok
    assert failed.failed_step is not None and failed.failed_step.code == "failure-marker"
    assert failed.issue == "condition:shares-data-dir"
    assert failed.fix and condition.fix in failed.fix and "7149" not in failed.fix

    # the TUI gets the server's HOME: standalone-session, ✓, and the spawn delivers
    same_env = isolated_env(server.home)
    chosen = plan(same_env)
    assert chosen.strategy == "standalone-session" and chosen.holds, chosen.to_json()
    assert chosen.plan is not None
    delivered = execute_plan(
        chosen.plan, tmux_target=f"{SESSION}:same-home", env=same_env, timeout_s=90
    )
    assert delivered.ok, delivered.to_json()


def test_1_1_34_offline_is_no_plan_with_the_known_issues_fix(tmp_path: Path) -> None:
    """CI installs only the test releases, and is online: there this test skips."""
    import os

    from tools.releases import binary_path

    binary = binary_path(OFFLINE_RELEASE)
    if not os.access(binary, os.X_OK):
        pytest.skip(f"OpenCode {OFFLINE_RELEASE} is not installed here (not a test release)")
    if reachable("models.dev"):
        pytest.skip("models.dev answers from here: the offline case cannot be measured")
    decision = select_strategy(tmp_path, prompt="hi", opencode=str(binary))
    assert decision.rejected["standalone-prompt"].code == "condition-failed", decision.to_json()
    issue = next(i for i in MATRIX.issues if i.id == "tui-exits-offline")
    assert decision.strategy == "none" and not decision.holds
    assert decision.rejected["standalone-prompt"].code == "condition-failed"
    assert decision.rejected["standalone-prompt"].issue == issue.id
    assert decision.fix == issue.fix
