"""Every time limit is a finite number of seconds above zero: anything else is refused up front
(a usage error on the command line, ValueError in the API), never an unbounded wait."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from orch_doctor import api
from orch_doctor._util.timeouts import check_timeout
from orch_doctor.cli import main
from orch_doctor.decide.steps import SpawnPlan

NON_FINITE = ["nan", "NaN", "inf", "+Infinity", "1e400"]
BAD = [*NON_FINITE, "-inf", "0", "-1", "0.0", "-0", "0.01", "five"]
COMMANDS = {
    "probe": ["probe"],
    "server": ["server", "http://127.0.0.1:9"],
    "spawn": ["spawn", "--server", "http://127.0.0.1:9", "--dir", ".", "--prompt", "hi",
              "--tmux-target", "s:w"],
    "verify": ["verify"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("value", BAD)
def test_a_timeout_that_does_not_bound_is_a_usage_error(command: str, value: str) -> None:
    result = CliRunner().invoke(main, [*COMMANDS[command], "--timeout", value])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--timeout'" in result.output
    if value in NON_FINITE:
        assert "is not a finite number of seconds" in result.output
    elif value != "five":
        assert "is not in the range x>=" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_timeout_checked_by_the_same_rule(command: str) -> None:
    # the option's own help shows the minimum and the type, so the check is the shared one
    result = CliRunner().invoke(main, [*COMMANDS[command][:1], "--help"])
    assert result.exit_code == 0
    assert "--timeout SECONDS" in result.output


def test_a_finite_timeout_is_accepted_as_seconds() -> None:
    assert check_timeout(3) == 3.0
    assert check_timeout(0.25) == 0.25


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0, 0.0, -1.5, True, "5"])
def test_the_api_refuses_a_timeout_that_does_not_bound(value: object) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        api.get_capabilities("/nonexistent/opencode", timeout_s=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        api.get_server_status("http://127.0.0.1:9", timeout_s=value)  # type: ignore[arg-type]
    plan = SpawnPlan.__new__(SpawnPlan)  # never looked at: the limit is refused first
    with pytest.raises(ValueError, match="timeout_s"):
        api.execute_plan(plan, tmux_target="s:w", timeout_s=value)  # type: ignore[arg-type]
