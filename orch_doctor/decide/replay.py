"""Replay stored real help texts (and recorded route sets) through the decision. Pure I/O-free
apart from reading compat_matrix/; used by ``orch-doctor matrix check`` and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from orch_doctor.decide.decision import Decision, decide
from orch_doctor.decide.plan import validate_plan
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.recorded import (
    fallback_routes,
    release_meta,
    routes_complete,
    stored_capabilities,
    stored_releases,
    stored_routes,
)
from orch_doctor.matrix.types import Matrix
from orch_doctor.server.types import ServerStatus

REPLAY_URL = "http://127.0.0.1:4096"
REPLAY_REQUEST = SpawnRequest(
    directory="/tmp/orch doctor/replay", model="opencode/big-pickle", prompt="replay"
)


@dataclass(frozen=True)
class ReplayRow:
    release: str
    synthesized: bool
    without_server: Decision | None
    with_server: Decision | None
    routes_source: str
    error: str | None = None


def recorded_server(version: str, url: str = REPLAY_URL) -> ServerStatus:
    """A reachable server of ``version`` as its recorded OpenAPI document describes it."""
    routes = stored_routes(version)
    source = f"recorded {version}"
    if routes is None or not routes_complete(routes):
        stand_in = fallback_routes(version)
        if stand_in is None:
            routes, source = None, "none"
        else:
            routes, source = stand_in[1], f"recorded {stand_in[0]} (stand-in)"
    return ServerStatus(
        url=url,
        verdict="ok",
        is_opencode=True,
        generation="1.x",
        version=version,
        routes=routes,
        routes_source=source,
        auth="none",
    )


def replay(matrix: Matrix, request: SpawnRequest = REPLAY_REQUEST) -> list[ReplayRow]:
    rows = []
    for version in stored_releases():
        synthesized = bool(release_meta(version).get("synthesized", False))
        try:
            caps = stored_capabilities(version)
            server = recorded_server(version)
            alone = decide(caps, None, request, matrix)
            served = decide(caps, server, request, matrix)
            for decision in (alone, served):
                if decision.plan is not None:
                    validate_plan(decision.plan, caps)
            rows.append(ReplayRow(version, synthesized, alone, served, server.routes_source or ""))
        except Exception as exc:  # a crash is what `matrix check` exists to catch
            rows.append(
                ReplayRow(version, synthesized, None, None, "", f"{type(exc).__name__}: {exc}")
            )
    return rows
