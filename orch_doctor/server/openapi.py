"""Read the route set out of an OpenCode server's OpenAPI document (``GET /doc``). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orch_doctor._util.text import has_control
from orch_doctor.server.types import route_key

METHODS = ("get", "post", "put", "patch", "delete")


def routes_from_openapi(doc: Any) -> frozenset[str] | None:
    """``{"POST /session", "POST /session/{id}/prompt_async", ...}``; None if not OpenAPI."""
    if not isinstance(doc, Mapping):
        return None
    paths = doc.get("paths")
    if not isinstance(paths, Mapping) or not ("openapi" in doc or "swagger" in doc):
        return None
    routes = set()
    for path, ops in paths.items():
        if not isinstance(path, str) or not isinstance(ops, Mapping):
            continue
        if len(path) > 1000 or has_control(path):  # not a route anyone calls: never shown
            continue
        for method in ops:
            if isinstance(method, str) and method.lower() in METHODS:
                routes.add(route_key(method, path))
    return frozenset(routes)
