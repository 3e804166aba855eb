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
