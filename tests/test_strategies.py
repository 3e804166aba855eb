"""One list of strategies: the name Literal, the registry of builders, the shipped TOML and every
list derived from them agree; needs_server (TOML) is what each builder's plan does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest

from orch_doctor.decide.plan import build_plan
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.strategies import STRATEGIES
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.matrix.types import (
    PLAN_STRATEGIES,
    STRATEGY_NAMES,
    PlanStrategyName,
    StrategyName,
)

MATRIX = load_matrix(overrides=False)
SCHEMAS = Path(__file__).resolve().parent.parent / "orch_doctor" / "schemas"
REQUEST = SpawnRequest(directory="/tmp/p", prompt="hi", model="opencode/big-pickle")


def test_the_registry_has_every_name_exactly_once() -> None:
    assert tuple(STRATEGIES) == get_args(PlanStrategyName) == PLAN_STRATEGIES
    assert STRATEGY_NAMES == (*PLAN_STRATEGIES, "none") == get_args(StrategyName)
    assert len(set(PLAN_STRATEGIES)) == len(PLAN_STRATEGIES)


def test_the_shipped_toml_has_one_entry_per_registered_strategy() -> None:
    assert sorted(s.name for s in MATRIX.strategies) == sorted(STRATEGIES)


@pytest.mark.parametrize("name", PLAN_STRATEGIES)
def test_needs_server_in_the_toml_is_what_the_builder_does(name: PlanStrategyName) -> None:
    """A strategy the TOML says needs no server builds without one; one that needs a server
    cannot be built without one (its steps talk to it)."""
    strategy = MATRIX.strategy(name)
    assert strategy is not None
    caps = stored_capabilities("2.0.0" if strategy.generation == "2.x" else "1.18.33")
    with_server = build_plan(name, caps, REQUEST, server_url="http://127.0.0.1:4096")
    assert with_server.steps
    if strategy.needs_server:
        with pytest.raises(ValueError, match="needs a server URL"):
            build_plan(name, caps, REQUEST, server_url=None)
    else:
        assert build_plan(name, caps, REQUEST, server_url=None).server_url is None


def test_an_unknown_name_has_no_plan() -> None:
    with pytest.raises(ValueError, match="no plan for strategy"):
        build_plan("none", stored_capabilities("1.18.33"), REQUEST, server_url=None)


def test_the_schemas_name_exactly_the_registered_strategies() -> None:
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            enum = node.get("enum")
            if isinstance(enum, list) and "attach-session-api" in enum:
                found.update(v for v in enum if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in SCHEMAS.glob("*.schema.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    assert found == set(STRATEGY_NAMES)
