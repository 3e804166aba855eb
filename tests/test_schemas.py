"""Every JSON output has a schema in the package, written from one source, versioned."""

from __future__ import annotations

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
