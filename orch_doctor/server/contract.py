"""Measure what a client's calls meet on a live server: each route's documented answer (the
OpenAPI document's success response, as a shape) and, for the routes named, the live answer (GET
only: nothing is created or changed), with and without credentials. Knows no client: the routes
are given; comparing them with what a client assumes is the clients stage's."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orch_doctor.server.credentials import Credentials, split_userinfo
from orch_doctor.server.openapi import METHODS
from orch_doctor.server.tls import tls_verify
from orch_doctor.server.types import route_key

if TYPE_CHECKING:
    import httpx

    from orch_doctor.schemas.shapes import ShapeJSON

#: $ref chains and nested schemas followed this deep (a document is data, never trusted)
MAX_DEPTH = 12
#: an object with this many fields or more is shown without them
_MAX_FIELDS = 400


@dataclass(frozen=True)
class Shape:
    """An answer's shape: ``array`` (``items``), ``object`` (``fields``; None: not known),
    ``keyed-object`` (an object keyed by ids, ``items`` its values), ``boolean``, ``string``,
    ``number``, ``none`` (no body), ``mixed`` (alternatives of different kinds), ``unknown``."""

    kind: str
    fields: tuple[str, ...] | None = None
    items: Shape | None = None

    def describe(self) -> str:
        if self.kind == "array":
            if self.items is not None and self.items.kind == "object":
                return "a list of " + self.items.describe().replace("an object", "objects", 1)
            return f"a list of {self.items.describe()}" if self.items else "a list"
        if self.kind == "keyed-object":
            inner = self.items.describe() if self.items else "values"
            return f"an object keyed by id (of {inner})"
        if self.kind == "object":
            if self.fields:
                shown = ", ".join(self.fields[:6]) + (", …" if len(self.fields) > 6 else "")
                return f"an object ({shown})"
            return "an object"
        if self.kind == "none":
            return "no body"
        return {"boolean": "true/false", "string": "a string", "number": "a number"}.get(
            self.kind, f"{self.kind} answers"
        )

    def to_json(self) -> ShapeJSON:
        return {
            "kind": self.kind,
            "fields": list(self.fields) if self.fields is not None else None,
            "items": self.items.to_json() if self.items else None,
        }


@dataclass(frozen=True)
class DocumentedRoute:
    route: str  # route_key: "GET /session/{id}"
    listed: bool
    status: int | None = None  # the success status the document gives
    shape: Shape = field(default_factory=lambda: Shape("unknown"))


@dataclass(frozen=True)
class LiveAnswer:
    path: str
    status: int | None
    shape: Shape | None = None
    error: str | None = None


@dataclass(frozen=True)
class CallsProbe:
    url: str
    documented: bool  # an OpenAPI document was read
    routes: Mapping[str, DocumentedRoute]
    live: Mapping[str, LiveAnswer]  # GETs with the caller's credentials
    anonymous: LiveAnswer | None  # the same GET without credentials
    error: str | None = None  # why there is no document
    duration_s: float = 0.0


def probe_calls(
    url: str,
    routes: Sequence[str],
    *,
    live_paths: Sequence[str] = (),
    anonymous_path: str | None = None,
    credentials: Credentials | None = None,
    timeout_s: float = 5.0,
) -> CallsProbe:
    """``routes``: "METHOD /path" names; ``live_paths``: GET paths to read with credentials;
    ``anonymous_path``: one GET path to read without any."""
    import asyncio

    import httpx

    from orch_doctor.server.probe import normalise_url

    bare, from_url = split_userinfo(url)
    creds = credentials if credentials is not None else from_url
    start = time.monotonic()
    base, problem = normalise_url(bare)
    if problem:
        return CallsProbe(bare, False, {}, {}, None, error=problem)

    async def run() -> CallsProbe:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, verify=tls_verify([base])) as client:
            doc_task = _document(client, base, timeout_s, creds)
            live_tasks = [_live(client, base, p, timeout_s, creds) for p in live_paths]
            anon_task = (
                _live(client, base, anonymous_path, timeout_s, None) if anonymous_path else None
            )
            gathered = await asyncio.gather(
                doc_task, *live_tasks, *([anon_task] if anon_task else [])
            )
        doc, doc_error = gathered[0]
        live_answers: list[LiveAnswer] = list(gathered[1 : 1 + len(live_tasks)])
        anonymous = gathered[-1] if anon_task else None
        documented = {
            r: documented_route(doc, r) if doc is not None else DocumentedRoute(r, False)
            for r in (route_key(*name.split(" ", 1)) for name in routes)
        }
        return CallsProbe(
            base,
            doc is not None,
            documented,
            {a.path: a for a in live_answers},
            anonymous if isinstance(anonymous, LiveAnswer) else None,
            error=doc_error,
            duration_s=time.monotonic() - start,
        )

    return asyncio.run(run())


async def _document(
    client: httpx.AsyncClient, base: str, timeout_s: float, creds: Credentials | None
) -> tuple[Mapping[str, Any] | None, str | None]:
    import httpx

    from orch_doctor.server.probe import DOC_CAP, DOC_TIMEOUT_S, _Failed, _get

    try:
        answer = await _get(
            client, f"{base}/doc", max(timeout_s, DOC_TIMEOUT_S), creds, cap=DOC_CAP
        )
    except _Failed as exc:
        return None, exc.summary
    except httpx.HTTPError as exc:
        return None, f"GET /doc failed ({type(exc).__name__})"
    if answer.status != 200 or answer.truncated:
        return None, f"GET /doc answered HTTP {answer.status}" + (
            " (too large)" if answer.truncated else ""
        )
    data = answer.json()
    if not isinstance(data, Mapping) or not isinstance(data.get("paths"), Mapping):
        return None, "GET /doc is not an OpenAPI document"
    return data, None


async def _live(
    client: httpx.AsyncClient, base: str, path: str, timeout_s: float, creds: Credentials | None
) -> LiveAnswer:
    import httpx

    from orch_doctor.server.probe import _Failed, _get

    try:
        answer = await _get(client, f"{base}{path}", timeout_s, creds)
    except _Failed as exc:
        return LiveAnswer(path, None, error=exc.summary)
    except httpx.HTTPError as exc:
        return LiveAnswer(path, None, error=type(exc).__name__)
    if answer.status != 200 or answer.truncated:
        return LiveAnswer(path, answer.status)
    if not answer.body.strip():
        return LiveAnswer(path, answer.status, Shape("none"))
    data = answer.json()
    return LiveAnswer(path, answer.status, value_shape(data) if data is not None else None)


def value_shape(value: Any, depth: int = 0) -> Shape:
    """The shape of a parsed JSON answer (a list's first item stands for all)."""
    if isinstance(value, bool):
        return Shape("boolean")
    if isinstance(value, int | float):
        return Shape("number")
    if isinstance(value, str):
        return Shape("string")
    if isinstance(value, list):
        return Shape(
            "array", items=value_shape(value[0], depth + 1) if value and depth < 3 else None
        )
    if isinstance(value, dict):
        keys = tuple(str(k) for k in list(value)[:_MAX_FIELDS])
        return Shape("object", fields=keys)
    return Shape("unknown")


def documented_route(doc: Mapping[str, Any], name: str) -> DocumentedRoute:
    """What ``doc`` says ``name`` ("GET /session/{id}") answers on success."""
    method = name.partition(" ")[0]
    paths = doc.get("paths")
    if not isinstance(paths, Mapping):
        return DocumentedRoute(name, False)
    for path, ops in paths.items():
        if not isinstance(path, str) or not isinstance(ops, Mapping):
            continue
        if route_key(method, path) != name:
            continue
        op = next(
            (v for k, v in ops.items() if isinstance(k, str) and k.lower() == method.lower()),
            None,
        )
        if not isinstance(op, Mapping) or method.lower() not in METHODS:
            continue
        status, shape = _success(doc, op.get("responses"))
        return DocumentedRoute(name, True, status, shape)
    return DocumentedRoute(name, False)


def _success(doc: Mapping[str, Any], responses: Any) -> tuple[int | None, Shape]:
    if not isinstance(responses, Mapping):
        return None, Shape("unknown")
    codes = sorted(
        int(c) for c in responses if isinstance(c, str) and c.isdigit() and c.startswith("2")
    )
    if not codes:
        return None, Shape("unknown")
    answer = responses.get(str(codes[0]))
    content = answer.get("content") if isinstance(answer, Mapping) else None
    if not content:
        return codes[0], Shape("none")
    if not isinstance(content, Mapping):
        return codes[0], Shape("unknown")
    media = content.get("application/json")
    if not isinstance(media, Mapping):
        return codes[0], Shape("unknown")
    return codes[0], schema_shape(doc, media.get("schema"))


def schema_shape(doc: Mapping[str, Any], schema: Any, depth: int = 0) -> Shape:
    """The shape an OpenAPI (JSON Schema) ``schema`` describes; ``$ref``s resolved in ``doc``."""
    if depth > MAX_DEPTH or not isinstance(schema, Mapping):
        return Shape("unknown")
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return schema_shape(doc, _resolve(doc, ref), depth + 1)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            shapes = [schema_shape(doc, o, depth + 1) for o in options[:20]]
            kinds = {s.kind for s in shapes}
            if len(kinds) == 1:
                if shapes[0].kind == "object":  # fields every alternative has
                    common = set.intersection(*(set(s.fields or ()) for s in shapes))
                    return Shape("object", tuple(f for f in shapes[0].fields or () if f in common))
                return shapes[0]
            return Shape("mixed")
    parts = schema.get("allOf")
    if isinstance(parts, list) and parts:
        fields: list[str] = []
        for part in parts[:20]:
            shape = schema_shape(doc, part, depth + 1)
            if shape.kind != "object":
                return shape if len(parts) == 1 else Shape("unknown")
            fields += [f for f in shape.fields or () if f not in fields]
        return Shape("object", tuple(fields))
    kind = schema.get("type")
    if kind == "array":
        return Shape("array", items=schema_shape(doc, schema.get("items"), depth + 1))
    props = schema.get("properties")
    if kind == "object" or isinstance(props, Mapping):
        if isinstance(props, Mapping) and props:
            return Shape("object", tuple(str(p) for p in list(props)[:_MAX_FIELDS]))
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return Shape("keyed-object", items=schema_shape(doc, extra, depth + 1))
        return Shape("object")
    if kind in ("boolean", "string"):
        return Shape(kind)
    if kind in ("number", "integer"):
        return Shape("number")
    return Shape("unknown")


def _resolve(doc: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        return None
    node: Any = doc
    for part in ref[2:].split("/")[:8]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
