"""The facts the conditions are read with (``decide/conditions.Facts``), measured at the edge of
the decision: the environment the TUI will get, and whether the hosts that the known issues
applying to this release need answer (nothing is checked when none applies). The decision
itself (``decide/decision.py``) stays pure: it is given these facts."""

from __future__ import annotations

import os
from collections.abc import Mapping

from orch_doctor.decide import conditions, rules
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.types import Matrix
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.types import ServerStatus


def measure_facts(
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
    env: Mapping[str, str] | None = None,
) -> conditions.Facts:
    """``env`` (default: this process's) is the environment the TUI will get; each host an
    applicable known issue needs gets one bounded HTTPS connect (``probe/hosts.reachable``)."""
    tui_env = dict(os.environ if env is None else env)
    needed = conditions.hosts_needed(rules.applicable_issues(matrix, caps, server, request))
    if not needed:
        return conditions.Facts(tui_env=tui_env)
    from orch_doctor.probe.hosts import reachable

    return conditions.Facts(tui_env=tui_env, hosts={h: reachable(h) for h in needed})
