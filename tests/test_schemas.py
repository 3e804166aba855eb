"""Every JSON output has a schema in the package, written from one source, versioned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from orch_doctor.schemas import NAMES, SCHEMA_VERSION, load_schema, schema_path
from tools.write_schemas import main as write_schemas


def test_shipped_schemas_are_the_written_ones() -> None:
    assert write_schemas(["--check"]) == 0


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_valid_and_demands_the_version(name: str) -> None:
    schema = load_schema(name)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert "schema_version" in schema["required"]
    validator = jsonschema.Draft202012Validator(schema)
    assert not validator.is_valid({})  # an empty document is never valid
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_every_shipped_schema_has_a_declaration() -> None:
    from orch_doctor.schemas.shapes import OUTPUTS

    assert tuple(OUTPUTS) == NAMES


def test_unknown_schema_name_is_an_error() -> None:
    with pytest.raises(ValueError):
        schema_path("docter")


@pytest.mark.parametrize(
    "args",
    [[], ["doctor"], ["probe"], ["server"], ["plan"], ["verify"], ["spawn"], ["matrix"]],
)
def test_every_help_has_exit_codes_environment_and_an_example(args: list[str]) -> None:
    from click.testing import CliRunner

    from orch_doctor.cli import main

    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    text = result.output
    assert "Exit codes: 0" in text and "Environment:" in text and "Examples:" in text
    assert "orch-doctor" in text.split("Examples:")[1]


def test_unknown_command_suggests_the_near_one() -> None:
    from click.testing import CliRunner

    from orch_doctor.cli import main

    result = CliRunner().invoke(main, ["docter"])
    assert result.exit_code == 2 and "Did you mean 'doctor'?" in result.output


def test_a_stale_schema_fails_the_check_and_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import tools.write_schemas as writer

    for name in NAMES:
        shutil.copy(schema_path(name), tmp_path / f"{name}.schema.json")
    stale = tmp_path / "plan.schema.json"
    stale.write_text(stale.read_text().replace('"server_url"', '"server-url"'), encoding="utf-8")
    monkeypatch.setattr(writer, "OUT", tmp_path)
    assert writer.main(["--check"]) == 1
    assert writer.main([]) == 0
    assert stale.read_text(encoding="utf-8") == schema_path("plan").read_text(encoding="utf-8")
    assert writer.main(["--check"]) == 0


def _plan_document(*steps: Any) -> dict[str, Any]:
    from orch_doctor.schemas import versioned

    return versioned(
        {
            "strategy": "attach-session-api", "forced": False, "reasons": [], "rejected": {},
            "rejections": {},
            "warnings": [], "advisories": [], "steps": [s.to_json() for s in steps],
            "server_url": None, "fix": None, "holds": True, "evidence": None, "matrix_files": [],
            "policy_file": None, "discovered_server": None,
        }
    )  # fmt: skip


def test_the_derived_plan_schema_keeps_each_wait_conditions_params() -> None:
    from orch_doctor.decide.steps import SESSION_ID, ProcessStep, WaitCondition, WaitStep

    validator = jsonschema.Draft202012Validator(load_schema("plan"))
    wait = WaitStep(WaitCondition.SESSION_CREATED, "d", params={"directory": "/p", "save": "x"})
    process = ProcessStep(("opencode", "--session", SESSION_ID), "attach", "d", secret_env=("P",))
    document = _plan_document(wait, process)
    validator.validate(document)
    steps: list[dict[str, Any]] = document["steps"]
    broken = [
        {**steps[0], "params": {"directory": "/p"}},  # session-created must save the id
        {**steps[0], "params": {"directory": "/p", "save": "x", "other": "y"}},  # unknown param
        {**steps[0], "condition": "later"},
        {**steps[1], "secret_env": {"P": "the password"}},  # a secret is never printed
        {**steps[1], "argv": []},
        {**steps[1], "refs": {"argv/2": "session_id"}},  # a JSON Pointer starts with /
        {key: value for key, value in steps[1].items() if key != "display"},
    ]
    for step in broken:
        assert not validator.is_valid({**document, "steps": [step]}), step
    assert not validator.is_valid({**document, "strategy": "attach-anyhow"})
    assert validator.is_valid({**document, "strategy": "none", "steps": [], "extra": 1})


def test_every_declared_key_is_required_and_optional_ones_are_not() -> None:
    server = load_schema("server")["$defs"]["server"]
    assert {"url", "verdict", "ok", "findings", "duration_s"} <= set(server["required"])
    assert "advisories" in server["properties"] and "advisories" not in server["required"]
    assert "session_exists" not in server["required"]
    assert server["properties"]["routes"] == {
        "type": ["array", "null"],
        "items": {"type": "string"},
    }
    doctor = load_schema("doctor")["properties"]
    assert doctor["decision"] == {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/decision"}]}
    verify = load_schema("verify")["properties"]
    assert None in verify["strategy"]["enum"] and "none" in verify["strategy"]["enum"]


def _results() -> list[Any]:
    """One value of each result whose ``to_json`` is built from its fields (json_fields)."""
    from orch_doctor.advice import Advisory
    from orch_doctor.clients.types import ClientInstall, ClientReport, EntryResult
    from orch_doctor.decide.rules import Rejection
    from orch_doctor.doctor.types import CheckResult
    from orch_doctor.execute.executor import StepReport
    from orch_doctor.execute.spawn import SpawnResult
    from orch_doctor.probe.types import OptionSpec, PositionalSpec
    from orch_doctor.server.types import ServerStatus, ServiceInfo
    from orch_doctor.verify.run import VerifyReport

    advisory = Advisory("a", "warn", "m", alternatives=("x",))
    step = StepReport(0, "http", "d", "ok", 0.5)
    return [
        advisory,
        ClientInstall("orch", None, None, "", "given"),
        EntryResult("auth", "credentials", True, "c", ("a.py:1@c",)),
        ClientReport("warn", "s", entries=(EntryResult("e", "n", True, "c", ()),),
                     costs=(("port", advisory),)),
        Rejection("flag-missing", "m", more=("route-missing",)),
        CheckResult("id", "t", "pass", "s"),
        step,
        SpawnResult(True, "ses", None, [step]),
        OptionSpec("session", ("s",)),
        PositionalSpec("url"),
        ServerStatus("http://127.0.0.1:1", "ok", routes=frozenset({"GET /doc"}),
                     findings=(advisory,), service=ServiceInfo(1)),
        ServiceInfo(1, ("http://127.0.0.1:1",)),
        VerifyReport(False, steps=[step]),
    ]  # fmt: skip


@pytest.mark.parametrize("result", _results(), ids=lambda r: type(r).__name__)
def test_a_results_json_has_the_keys_its_shape_declares_in_their_order(result: Any) -> None:
    """What mypy cannot see through ``to_json``'s cast: the keys its TypedDict declares, in that
    order (the NotRequired ones a caller adds aside), with plain JSON values."""
    import typing

    from orch_doctor.schemas import shapes

    shape = typing.get_type_hints(type(result).to_json, vars(shapes))["return"]
    document = result.to_json()
    assert list(document) == [k for k in shape.__annotations__ if k in shape.__required_keys__]
    assert json.loads(json.dumps(document)) == document  # plain JSON values (no tuples)


def test_json_fields_refuses_a_value_for_a_key_it_does_not_show() -> None:
    from orch_doctor._util.jsonable import json_fields
    from orch_doctor.advice import Advisory

    advisory = Advisory("a", "info", "m")
    assert json_fields(advisory, "id message", message="M") == {"id": "a", "message": "M"}
    with pytest.raises(TypeError, match="severity"):
        json_fields(advisory, "id message", severity="warn")
