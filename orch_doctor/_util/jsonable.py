"""A dataclass as a JSON object: what the ``to_json`` of a result mostly is, its fields."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def json_fields(obj: Any, keys: str = "", **values: Any) -> dict[str, Any]:
    """The dataclass ``obj`` as a JSON object with ``keys`` (names split on white space: its
    fields and properties), in that order; no ``keys``: every field, in the order declared. A
    key's value is the one ``values`` gives (one worked out, or a key that names no attribute),
    else its attribute's, as :func:`json_value` makes it."""
    names = keys.split() or [f.name for f in fields(obj)]
    unshown = values.keys() - set(names)
    if unshown:
        raise TypeError(f"values given for keys not shown: {', '.join(sorted(unshown))}")
    return {
        name: values[name] if name in values else json_value(getattr(obj, name)) for name in names
    }


def json_value(value: Any) -> Any:
    """``value`` as JSON: its ``to_json()`` when it has one, a tuple or list as a new list and a
    dict as a new dict (their items made likewise); anything else (None, a string, a number)
    as it is."""
    if hasattr(type(value), "to_json"):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    return value
