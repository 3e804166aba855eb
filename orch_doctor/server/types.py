"""What the server probe measures: one :class:`ServerStatus` per URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

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
class Finding:
    """A security or compatibility finding attached to a probe result."""

    id: str
    severity: Literal["info", "warn", "fail"]
    message: str
    fix: str | None = None
    evidence: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class ServerStatus:
    url: str
    verdict: ServerVerdict
    summary: str = ""
    fix: str | None = None
    is_opencode: bool = False
    generation: str | None = None  # "1.x", "2.x" or None
    version: str | None = None
    version_source: str | None = None  # "GET /global/health", "inferred from ...", ...
    routes: frozenset[str] | None = None  # route_key() names from GET /doc; None = unknown
    routes_source: str | None = None  # "GET /doc", or which recorded route set stood in
    directory: str | None = None  # GET /path
    auth: str | None = None  # "none", "basic"
    skew: str | None = None  # "same", "supported", "unsupported", "unknown"
    skew_reason: str | None = None
    findings: tuple[Finding, ...] = ()
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def has_route(self, method: str, path: str) -> bool:
        return self.routes is not None and route_key(method, path) in self.routes

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "verdict": self.verdict,
            "ok": self.ok,
            "summary": self.summary,
            "fix": self.fix,
            "is_opencode": self.is_opencode,
            "generation": self.generation,
            "version": self.version,
            "version_source": self.version_source,
            "routes": sorted(self.routes) if self.routes is not None else None,
            "routes_source": self.routes_source,
            "directory": self.directory,
            "auth": self.auth,
            "skew": self.skew,
            "skew_reason": self.skew_reason,
            "findings": [f.to_json() for f in self.findings],
            "duration_s": round(self.duration_s, 3),
        }
