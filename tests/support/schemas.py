"""Validate real JSON output against the schema the package ships for it."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

from orch_doctor.schemas import SCHEMA_VERSION, load_schema


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def assert_valid(name: str, data: Any) -> None:
    """``data`` follows orch_doctor/schemas/<name>.schema.json and carries the schema version."""
    assert isinstance(data, dict) and data.get("schema_version") == SCHEMA_VERSION, data
    _validator(name).validate(data)
