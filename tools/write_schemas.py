"""Write the JSON Schemas of every ``--format json`` output into orch_doctor/schemas/.

    python -m tools.write_schemas [--check]

Each schema is derived from the typed declaration its ``to_json`` returns
(orch_doctor/schemas/shapes.py), so an output and its schema cannot drift apart. ``--check``
exits 1 when a written file differs (a test runs it in CI).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "orch_doctor" / "schemas"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from orch_doctor.schemas import SCHEMA_VERSION  # noqa: E402
from orch_doctor.schemas.shapes import EXTRA, OUTPUTS, Def, Schema  # noqa: E402

JSONSchema = dict[str, Any]
_SCALARS: dict[Any, JSONSchema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
    Any: {},
}


class Deriver:
    """JSON Schema of a declared type; every typed dict it meets lands in ``defs``."""

    def __init__(self) -> None:
        self.defs: dict[str, JSONSchema] = {}
        self.named: dict[str, object] = {}

    def ref(self, name: str, declared: object, build: Any) -> JSONSchema:
        if self.named.setdefault(name, declared) != declared:
            raise ValueError(f"two declarations are named {name!r} in $defs")
        if name not in self.defs:
            self.defs[name] = {}  # a declaration that refers to itself finds its name
            self.defs[name] = build()
        return {"$ref": f"#/$defs/{name}"}

    def of(self, tp: Any) -> JSONSchema:
        origin, args = get_origin(tp), get_args(tp)
        if origin is Annotated:
            named = next((m for m in tp.__metadata__ if isinstance(m, Def)), None)
            if named is not None:
                return self.ref(named.name, tp, lambda: self.tagged(get_args(args[0])))
            schema = self.of(args[0])
            for meta in tp.__metadata__:
                if isinstance(meta, Schema):
                    if "enum" in meta.keywords or "const" in meta.keywords:
                        schema = {k: v for k, v in schema.items() if k not in ("type", "enum")}
                    schema = {**schema, **meta.keywords}
            return schema
        if is_typeddict(tp):
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", tp.__name__.removesuffix("JSON")).lower()
            return self.ref(name, tp, lambda: self.obj(tp))
        if origin is Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin in (Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if len(rest) == len(args) or len(rest) != 1:
                raise ValueError(f"a union is nullable or a Def-named union of kinds: {tp}")
            schema = self.of(rest[0])
            if isinstance(schema.get("type"), str):
                return {**schema, "type": [schema["type"], "null"]}
            if "enum" in schema:
                return {**schema, "enum": [*schema["enum"], None]}
            return {"oneOf": [{"type": "null"}, schema]}
        if origin is list:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict and args[0] is str:
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        raise ValueError(f"no JSON Schema for {tp!r}")

    def obj(self, declared: Any) -> JSONSchema:
        hints = {
            k: get_args(v)[0] if get_origin(v) is NotRequired else v
            for k, v in get_type_hints(declared, include_extras=True).items()
        }
        schema: JSONSchema = {
            "type": "object",
            "required": [k for k in hints if k in declared.__required_keys__],
            "properties": {k: self.of(v) for k, v in hints.items()},
        }
        extra = EXTRA.get(declared)
        return {**schema, **(extra.keywords if extra else {})}

    def tagged(self, members: tuple[Any, ...]) -> JSONSchema:
        """Typed dicts told apart by their ``kind`` (a Literal): the keys all share, then what
        each kind adds."""
        shapes = [self.obj(m) for m in members]
        first = shapes[0]["properties"]
        common = [
            k
            for k in first
            if k != "kind" and all(s["properties"].get(k) == first[k] for s in shapes)
        ]
        required = [k for k in shapes[0]["required"] if all(k in s["required"] for s in shapes)]
        branches = []
        for shape in shapes:
            kind = shape["properties"]["kind"]["const"]
            then = {k: v for k, v in shape.items() if k not in ("type", "required", "properties")}
            branches.append(
                {
                    "if": {"properties": {"kind": {"const": kind}}},
                    "then": {
                        "required": [k for k in shape["required"] if k not in required],
                        "properties": {
                            k: v
                            for k, v in shape["properties"].items()
                            if k not in common and k != "kind"
                        },
                        **then,
                    },
                }
            )
        kinds = [b["if"]["properties"]["kind"]["const"] for b in branches]
        return {
            "type": "object",
            "required": required,
            "properties": {"kind": {"enum": kinds}, **{k: first[k] for k in common}},
            "allOf": branches,
        }


def document(name: str, title: str, declared: Any) -> JSONSchema:
    deriver = Deriver()
    body = deriver.obj(declared)
    schema: JSONSchema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://orch-doctor.invalid/schemas/{name}.schema.json",
        "title": title,
        "description": f"Output of `orch-doctor {name.replace('-', ' ')} --format json` "
        "(extra keys may be added; a breaking change raises schema_version).",
        **body,
        "required": ["schema_version", *body["required"]],
        "properties": {**body["properties"], "schema_version": {"const": SCHEMA_VERSION}},
    }
    if deriver.defs:
        schema["$defs"] = {k: deriver.defs[k] for k in sorted(deriver.defs)}
    return schema


def schemas() -> dict[str, JSONSchema]:
    return {name: document(name, title, declared) for name, (title, declared) in OUTPUTS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m tools.{Path(__file__).stem}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    written = schemas()
    for name, schema in written.items():
        path = OUT / f"{name}.schema.json"
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run python -m tools.write_schemas)")
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(written)} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
