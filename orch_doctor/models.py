"""Shared data types of the pipeline.

discover -> probe binary -> probe server -> capabilities -> decision -> plan -> report / verify.

Every stage passes plain frozen dataclasses; each has ``to_json()`` giving the JSON form used by
``--format json`` (keys there are part of the public interface, see DESIGN.md).
These types import nothing heavy: the warm ``select_strategy`` path depends on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# ---------------------------------------------------------------------------------------------
# Help text and parsed commands (binary probe)
# ---------------------------------------------------------------------------------------------

#: the subcommands whose help the probe reads; "root" is ``opencode --help``
PROBED_COMMANDS: tuple[str, ...] = ("root", "attach", "run", "serve")
#: the only help texts the decision needs (run/serve are not used by any strategy)
DECISION_COMMANDS: tuple[str, ...] = ("root", "attach")


@dataclass(frozen=True)
class HelpText:
    """Raw output of one ``opencode [cmd] --help`` call (or a stored fixture)."""

    command: str  # "root", "attach", "run", "serve", ...
    text: str  # stdout + stderr as printed (ANSI codes kept; the parser strips them)
    returncode: int | None = 0
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0
    error: str | None = None  # could not run at all (exec error, ...)


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command as yargs prints it."""

    name: str  # long flag without the leading "--" ("session", "no-replay", "log-level")
    aliases: tuple[str, ...] = ()  # other names without dashes ("s",)
    type: str | None = None  # "string", "boolean", "number", "array", "count" or None
    choices: tuple[str, ...] = ()
    default: str | None = None  # as printed, e.g. '"127.0.0.1"', "0", "false"
    description: str = ""
    required: bool = False

    def flags(self) -> tuple[str, ...]:
        """All spellings accepted on a command line: --name, -s / --alias."""
        return (f"--{self.name}", *(f"-{a}" if len(a) == 1 else f"--{a}" for a in self.aliases))

    def to_json(self) -> dict[str, Any]:
        return {
            "aliases": list(self.aliases),
            "type": self.type,
            "choices": list(self.choices),
            "default": self.default,
            "description": self.description,
            "required": self.required,
        }


@dataclass(frozen=True)
class PositionalSpec:
    name: str
    type: str | None = None
    description: str = ""
    required: bool = False
    variadic: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "required": self.required,
            "variadic": self.variadic,
        }


@dataclass(frozen=True)
class CommandSpec:
    """What one subcommand really supports, parsed from its help."""

    name: str  # "root", "attach", ...
    exists: bool
    usage: str = ""
    positionals: tuple[PositionalSpec, ...] = ()
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    subcommands: tuple[str, ...] = ()  # names listed under "Commands:" (root only)
    warnings: tuple[str, ...] = ()

    def option_for_flag(self, flag: str) -> OptionSpec | None:
        """Find the option a command-line flag ("--session", "-s", "--no-replay") names."""
        bare = flag.split("=", 1)[0].lstrip("-")
        if bare in self.options:
            return self.options[bare]
        for opt in self.options.values():
            if bare in opt.aliases:
                return opt
        return None

    def has_flag(self, flag: str) -> bool:
        return self.option_for_flag(flag) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "exists": self.exists,
            "options": {name: opt.to_json() for name, opt in self.options.items()},
            "usage": self.usage,
            "positionals": [p.to_json() for p in self.positionals],
            "subcommands": list(self.subcommands),
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# Binary and version
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    raw: str  # whole --version output (stdout + stderr), log noise included
    text: str | None  # the version line picked from it, e.g. "1.18.33"
    release: bool  # parses with packaging and is a normal release (no pre/dev/local)
    problem: str | None = None  # why text is None or not a release

    @property
    def parsed(self) -> Any:
        """packaging.version.Version or None (imported lazily)."""
        if self.text is None:
            return None
        from packaging.version import InvalidVersion, Version

        try:
            return Version(self.text)
        except InvalidVersion:
            return None


@dataclass(frozen=True)
class BinaryCandidate:
    """One place an ``opencode`` may live, and what was found there."""

    path: str
    source: str  # "--opencode", "OPENCODE_BIN", "OPENCODE_BIN_PATH", "PATH", "install-dir"
    resolved: str | None = None  # realpath when it exists
    usable: bool = False
    problem: str | None = None  # "missing", "not executable", "directory", "broken symlink", ...
    fix: str | None = None
    version: str | None = None  # filled in when shadowing is reported


@dataclass(frozen=True)
class BinaryFinding:
    """Which binary runs, why, and what else was found."""

    chosen: BinaryCandidate | None
    candidates: tuple[BinaryCandidate, ...] = ()
    reason: str = ""  # why `chosen` wins
    shadowed: tuple[BinaryCandidate, ...] = ()  # other usable, different binaries
    problem: str | None = None  # nothing usable found: why
    fix: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What the installed OpenCode offers, as detected from the binary itself."""

    binary_path: str | None
    version: VersionInfo | None
    commands: Mapping[str, CommandSpec]
    warnings: tuple[str, ...] = ()
    finding: BinaryFinding | None = None

    def command(self, name: str) -> CommandSpec:
        return self.commands.get(name) or CommandSpec(name=name, exists=False)

    def to_json(self) -> dict[str, Any]:
        v = self.version
        return {
            "binary": {
                "path": self.binary_path,
                "version": v.text if v else None,
                "version_raw": v.raw if v else None,
                "release": bool(v and v.release),
            },
            "commands": {name: spec.to_json() for name, spec in self.commands.items()},
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Spawn request, plan and decision
# ---------------------------------------------------------------------------------------------

#: strategy names are part of the public interface
STRATEGY_NAMES: tuple[str, ...] = (
    "attach-session-api",
    "attach-tui-api",
    "standalone-session",
    "standalone-prompt",
    "none",
)

#: placeholder a plan uses for values only known while it runs (e.g. "{session_id}")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
#: shown instead of a secret anywhere a plan or report is printed
REDACTED = "***"


@dataclass(frozen=True)
class SpawnRequest:
    directory: str
    model: str | None = None  # "provider/model"
    prompt: str | None = None
    server_url: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class HttpStep:
    """An HTTP call to the OpenCode server. ``save`` names values to keep from the JSON answer."""

    method: str
    path: str  # may hold placeholders: "/session/{session_id}/prompt_async"
    description: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    expect_status: tuple[int, ...] = (200, 204)
    save: Mapping[str, str] = field(default_factory=dict)  # {"session_id": "id"}
    kind: Literal["http"] = "http"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "body": self.body,
            "expect_status": list(self.expect_status),
            "save": dict(self.save),
        }


@dataclass(frozen=True)
class ProcessStep:
    """A process to start (in a terminal when ``terminal``). argv is a list, never a shell string.

    ``command`` names the parsed help the flags were checked against ("root", "attach", "run").
    ``env`` values equal to REDACTED-marked secret names are filled in from the caller's secrets
    at run time (see ``secret_env``); they never appear in argv.
    """

    argv: tuple[str, ...]
    command: str
    description: str
    cwd: str | None = None
    terminal: bool = True
    env: Mapping[str, str] = field(default_factory=dict)  # non-secret env for the child
    secret_env: tuple[str, ...] = ()  # names of env vars passed through from the caller's secrets
    kind: Literal["process"] = "process"

    def display(self) -> str:
        import shlex

        return shlex.join(self.argv)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "command": self.command,
            "argv": list(self.argv),
            "display": self.display(),
            "cwd": self.cwd,
            "terminal": self.terminal,
            "env": dict(self.env),
            "secret_env": {name: REDACTED for name in self.secret_env},
        }


@dataclass(frozen=True)
class WaitStep:
    """Wait until a condition holds: "tui-ready", "session-created", "message-stored", ..."""

    condition: str
    description: str
    timeout_s: float = 30.0
    params: Mapping[str, str] = field(default_factory=dict)
    kind: Literal["wait"] = "wait"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "condition": self.condition,
            "timeout_s": self.timeout_s,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class KeystrokeStep:
    """Keys typed into the terminal of the last process step ("Enter", or literal text)."""

    keys: tuple[str, ...]
    description: str
    literal: bool = False  # True: type the text as is; False: key names like "Enter"
    kind: Literal["keys"] = "keys"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "keys": list(self.keys),
            "literal": self.literal,
        }


Step = HttpStep | ProcessStep | WaitStep | KeystrokeStep


@dataclass(frozen=True)
class SpawnPlan:
    strategy: str
    steps: tuple[Step, ...]
    server_url: str | None = None
    request: SpawnRequest | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "server_url": self.server_url,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass(frozen=True)
class KnownIssueHit:
    """A known issue from compat_matrix/ that applies to the detected release."""

    id: str
    title: str
    severity: str  # "info", "warn", "demote", "forbid"
    affects: tuple[str, ...]  # strategy names
    workaround: str | None
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "affects": list(self.affects),
            "workaround": self.workaround,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Decision:
    strategy: str  # one of STRATEGY_NAMES
    reasons: tuple[str, ...]
    rejected: Mapping[str, str]  # strategy name -> why not
    warnings: tuple[str, ...] = ()
    known_issues: tuple[KnownIssueHit, ...] = ()
    plan: SpawnPlan | None = None
    fix: str | None = None  # when strategy == "none": what to install or start

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "reasons": list(self.reasons),
            "rejected": dict(self.rejected),
            "warnings": list(self.warnings),
            "known_issues": [k.to_json() for k in self.known_issues],
            "steps": [s.to_json() for s in self.plan.steps] if self.plan else [],
            "server_url": self.plan.server_url if self.plan else None,
            "fix": self.fix,
        }


# ---------------------------------------------------------------------------------------------
# Doctor checks
# ---------------------------------------------------------------------------------------------

CheckStatus = Literal["pass", "warn", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: CheckStatus
    summary: str
    details: tuple[str, ...] = ()
    fix: str | None = None  # required for warn and fail
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "details": list(self.details),
            "fix": self.fix,
            "duration_s": round(self.duration_s, 3),
        }
