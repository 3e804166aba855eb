"""What the server probe measures: one :class:`ServerStatus` per URL."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from orch_doctor._util.jsonable import json_fields
from orch_doctor.advice import Advisory

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import ServerJSON, ServerPathsJSON, ServiceJSON

ServerVerdict = Literal[
    "ok",
    "connection-refused",
    "connect-timeout",
    "read-timeout",
    "name-not-resolved",
    "tls-error",
    "auth-required",
    "auth-rejected",
    "not-opencode",
    "server-error",
    "invalid-url",
    "error",
]

_PARAM = re.compile(r"\{[^}/]*\}")


def route_key(method: str, path: str) -> str:
    """Normalised route name: 'POST /session/{id}/prompt_async' (every path parameter -> {id})."""
    return f"{method.upper()} {_PARAM.sub('{id}', path)}"


@dataclass(frozen=True)
class ServerPaths:
    """Where the server keeps its files, as its ``GET /path`` says (None: not said)."""

    home: str | None = None
    state: str | None = None  # the state dir: $XDG_STATE_HOME/opencode or ~/.local/state/opencode
    config: str | None = None

    def to_json(self) -> ServerPathsJSON:
        return {"home": self.home, "state": self.state, "config": self.config}


@dataclass(frozen=True)
class ServiceInfo:
    """An OpenCode 2.x background service: what its ``GET /api/info`` says, and where it was
    found (its registration file, when discovery read one; the password never is kept)."""

    pid: int
    urls: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()  # the capability flags it sets true
    registration: str | None = None  # the registration file it was found through
    registered_id: str | None = None  # the ``id`` that file gives

    def to_json(self) -> ServiceJSON:
        return cast("ServiceJSON", json_fields(self))


@dataclass(frozen=True)
class ServerStatus:
    url: str
    verdict: ServerVerdict
    summary: str = ""
    fix: str | None = None  # a command line that runs when pasted
    is_opencode: bool = False
    generation: str | None = None  # "1.x", "2.x" or None
    version: str | None = None
    version_source: str | None = None  # "GET /global/health", "inferred from ...", ...
    routes: frozenset[str] | None = None  # route_key() names from GET /doc; None = unknown
    routes_source: str | None = None  # "GET /doc", or which recorded route set stood in
    directory: str | None = None  # GET /path
    paths: ServerPaths | None = None  # GET /path: the server's home and state dirs
    auth: str | None = None  # "none", "basic"
    #: "same", "supported", "unsupported", "unknown": the probe measures the versions and leaves
    #: these None; the matrix's rule fills them (decide/rules.with_skew)
    skew: str | None = None
    skew_reason: str | None = None
    findings: tuple[Advisory, ...] = ()  # measured security findings (e.g. open on the network)
    cors_any_origin: bool = False  # answered a foreign Origin with Access-Control-Allow-Origin
    health_route: bool | None = None  # GET /global/health exists (None: not known)
    duration_s: float = 0.0
    alternatives: tuple[str, ...] = ()  # other ways out than ``fix``, said for people
    service: ServiceInfo | None = None  # 2.x: the background service's GET /api/info

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def redacted(self, redact: Callable[[str], str]) -> ServerStatus:
        """This status with ``redact`` applied to every string it holds (each field, every
        route, every finding): what a server echoes back never leaves the probe unredacted."""
        redacted: ServerStatus = _redact_strings(self, redact)
        return redacted

    def to_json(self) -> ServerJSON:
        shown = json_fields(
            self,
            "url verdict ok summary fix alternatives is_opencode generation version version_source"
            " routes routes_source directory paths auth skew skew_reason findings cors_any_origin"
            " health_route duration_s service",
            routes=sorted(self.routes) if self.routes is not None else None,
            duration_s=round(self.duration_s, 3),
        )
        return cast("ServerJSON", shown)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a URL's hostname, brackets stripped) is this machine's loopback."""
    if not host:
        return False
    host = host.strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _redact_strings(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` with ``redact`` applied to every string in it, at any depth of frozen
    dataclasses, tuples and frozensets (the types a status is made of)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return tuple(_redact_strings(v, redact) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_redact_strings(v, redact) for v in value)
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        changed = {f.name: _redact_strings(getattr(value, f.name), redact) for f in fields(value)}
        return replace(value, **changed)
    return value
