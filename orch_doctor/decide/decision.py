"""From capabilities + server status + request + matrix to a :class:`Decision`. Pure.

Feature detection decides which strategies are possible; known issues for the detected version
forbid, demote or add a workaround; preference picks. Every rejected strategy says exactly why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from orch_doctor.decide.plan import PlanValidationError, build_plan
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SpawnPlan
from orch_doctor.matrix.model import KnownIssue, Matrix, Strategy
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.types import ServerStatus


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


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class _Candidate:
    strategy: Strategy
    hits: list[KnownIssue] = field(default_factory=list)
    demoted: bool = False


def decide(
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
    *,
    allowed_strategies: Collection[str] | None = None,
) -> Decision:
    warnings: list[str] = list(version_warnings(caps, matrix))
    rejected: dict[str, str] = {}
    version = _version(caps)
    newer_major = _newer_major(caps, matrix)
    blocked = blocked_range(caps, matrix)
    bad_model = model_problem(request.model)
    warnings.extend(policy_warnings(caps, matrix))

    served = _server_version(server)
    applicable = [
        issue
        for issue in matrix.issues
        if issue_applies(issue, caps, version, server_version=served)
    ]
    if version is None and matrix.issues:
        warnings.append(
            "the OpenCode version is unknown: known issues tied to versions were not applied"
        )

    candidates: list[_Candidate] = []
    for strategy in matrix.strategies:
        if newer_major:
            rejected[strategy.name] = newer_major
            continue
        if blocked:
            rejected[strategy.name] = blocked
            continue
        if bad_model:
            rejected[strategy.name] = bad_model
            continue
        if allowed_strategies is not None and strategy.name not in allowed_strategies:
            rejected[strategy.name] = "not allowed by policy (allowed strategies)"
            continue
        missing = missing_requirements(strategy, caps, server, request)
        if missing:
            rejected[strategy.name] = "; ".join(missing)
            continue
        hits = [i for i in applicable if strategy.name in i.affects]
        forbid = next((i for i in hits if i.severity == "forbid"), None)
        if forbid is not None:
            rejected[strategy.name] = f"known issue {forbid.id}: {forbid.title} ({forbid.evidence})"
            continue
        candidates.append(
            _Candidate(strategy, hits, demoted=any(i.severity == "demote" for i in hits))
        )

    ordered = [c for c in candidates if not c.demoted] + [c for c in candidates if c.demoted]
    for cand in ordered:
        name = cand.strategy.name
        workarounds = {i.workaround for i in cand.hits if i.workaround}
        try:
            plan = build_plan(
                name,
                caps,
                request,
                server_url=server.url if (server and cand.strategy.needs_server) else None,
                workarounds=workarounds,
                auth=bool(server and server.auth == "basic"),
            )
        except (PlanValidationError, ValueError) as exc:
            rejected[name] = f"plan not valid for this OpenCode: {exc}"
            continue
        for other in ordered:
            if other is not cand and other.strategy.name not in rejected:
                rejected[other.strategy.name] = _not_chosen(other, cand)
        reasons = _reasons(cand, caps, server)
        evidence, verify_warning = verification_evidence(matrix, caps, name)
        if evidence:
            reasons.append(evidence)
        if verify_warning:
            warnings.append(verify_warning)
        warnings.extend(_issue_warnings(cand.hits))
        warnings.extend(_request_warnings(name, caps, request))
        warnings.extend(_directory_warnings(name, server, request))
        return Decision(
            strategy=name,
            reasons=tuple(reasons),
            rejected=rejected,
            warnings=tuple(warnings),
            known_issues=tuple(_hit(i) for i in cand.hits),
            plan=plan,
        )
    return Decision(
        strategy="none",
        reasons=("no spawn strategy is possible with this OpenCode and server",),
        rejected=rejected,
        warnings=tuple(warnings),
        known_issues=tuple(_hit(i) for i in applicable),
        plan=None,
        fix=_fix(caps, server, rejected, newer_major, blocked, bad_model),
    )


# --- requirements ------------------------------------------------------------------------------


def missing_requirements(
    strategy: Strategy,
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
) -> list[str]:
    """Every requirement of ``strategy`` this OpenCode/server/request does not meet."""
    missing: list[str] = []
    for command, options in strategy.commands.items():
        spec = caps.command(command)
        where = "opencode" if command == "root" else f"opencode {command}"
        if not spec.exists:
            missing.append(f"`{where}` does not exist in this release")
            continue
        absent = [f"--{o}" for o in options if o not in spec.options]
        if absent:
            missing.append(f"`{where}` has no {', '.join(absent)}")
    if strategy.needs_server:
        if server is None:
            missing.append("no OpenCode server given (--server URL)")
        elif not server.ok:
            missing.append(f"server {server.url} is not usable: {server.verdict}")
        elif server.routes is None:
            missing.append(
                f"the routes of server {server.url} are unknown (no OpenAPI document): "
                "a route is never assumed from a 200"
            )
        else:
            absent_routes = [r for r in strategy.routes if r not in server.routes]
            if absent_routes:
                missing.append(f"server {server.url} has no {', '.join(absent_routes)}")
        if (
            strategy.name == "standalone-session"
            and server is not None
            and urlsplit(server.url).hostname not in LOOPBACK
        ):
            missing.append("the server is not on this machine, so it cannot share the data dir")
    standalone = strategy.name.startswith("standalone")
    if standalone and request.model and "model" not in caps.command("root").options:
        missing.append("a model was requested but `opencode` has no --model")
    return missing


def issue_applies(
    issue: KnownIssue, caps: Capabilities, version: object, *, server_version: object = None
) -> bool:
    """Whether ``issue`` concerns this OpenCode. A server-side issue is matched against the
    server's version when it is known (else the client's: usually the same install)."""
    if issue.side == "server" and server_version is not None:
        version = server_version
    if version is None:
        return False
    if not issue.specifier().contains(version, prereleases=True):
        return False
    if issue.when_command:
        spec = caps.command(issue.when_command)
        if not spec.exists:
            return False
        if issue.when_option and issue.when_option not in spec.options:
            return False
    return True


def version_warnings(caps: Capabilities, matrix: Matrix) -> list[str]:
    """Where the version string and the detected flags disagree: the flags win, say so."""
    from packaging.version import Version

    version = _version(caps)
    if version is None:
        return []
    warnings = []
    for expected in matrix.capabilities:
        if expected.command not in caps.commands:
            continue  # not probed (the doctor reads only what the decision needs)
        spec = caps.command(expected.command)
        present = spec.exists and (expected.option is None or expected.option in spec.options)
        what = f"`opencode {expected.command}`" if expected.command != "root" else "`opencode`"
        if expected.option:
            what += f" --{expected.option}"
        if version >= Version(expected.since) and not present:
            warnings.append(
                f"version {caps.version.text if caps.version else '?'} should have {what} "
                f"(from {expected.since}: {expected.evidence}) but its help does not show it: "
                "going by the help"
            )
        elif expected.absent_through and version <= Version(expected.absent_through) and present:
            warnings.append(
                f"version {caps.version.text if caps.version else '?'} should not have {what} "
                f"(absent up to {expected.absent_through}) but its help shows it: "
                "going by the help"
            )
    return warnings


def policy_warnings(caps: Capabilities, matrix: Matrix) -> list[str]:
    """A release older than the matrix's minimum supported one still gets a plan, with a warning."""
    from packaging.version import Version

    version = _version(caps)
    minimum = matrix.policy.minimum
    if version is None or minimum is None or not version < Version(minimum):
        return []
    why = f" ({matrix.policy.minimum_evidence})" if matrix.policy.minimum_evidence else ""
    return [
        f"OpenCode {caps.version.text if caps.version else '?'} is older than the minimum "
        f"supported {minimum}{why}: upgrade (npm install -g opencode-ai@1)"
    ]


def blocked_range(caps: Capabilities, matrix: Matrix) -> str | None:
    """Why every strategy is refused when the version is in a blocked range of the policy."""
    version = _version(caps)
    entry = matrix.policy.blocked_entry(version) if version is not None else None
    if entry is None:
        return None
    return (
        f"OpenCode {caps.version.text if caps.version else '?'} is blocked by the version "
        f"policy ({entry.versions}): {entry.reason} ({entry.evidence})"
    )


def model_problem(model: str | None) -> str | None:
    """OpenCode takes a model as provider/model (both in --model and in the API body)."""
    if model is None:
        return None
    provider, sep, model_id = model.partition("/")
    if not sep or not provider.strip() or not model_id.strip() or " " in provider:
        return f"the model {model!r} is not of the form provider/model"
    return None


# --- helpers -----------------------------------------------------------------------------------


def _version(caps: Capabilities) -> object:
    if caps.version is None or caps.version.text is None:
        return None
    return caps.version.parsed


def _server_version(server: ServerStatus | None) -> object:
    from packaging.version import InvalidVersion, Version

    if server is None or not server.version:
        return None
    try:
        return Version(server.version)
    except InvalidVersion:
        return None


def _newer_major(caps: Capabilities, matrix: Matrix) -> str | None:
    version = _version(caps)
    major = getattr(version, "major", None)
    root = caps.command("root")
    looks_2x = "server" in root.options and not caps.command("attach").exists
    if major is not None and major not in matrix.policy.known_majors:
        known = ", ".join(f"{m}.x" for m in matrix.policy.known_majors)
        return (
            f"OpenCode {caps.version.text if caps.version else '?'} is a major release this "
            f"matrix does not know (known: {known})"
            + ("; its CLI has no `attach` and the root takes --server" if looks_2x else "")
        )
    if major is None and looks_2x:
        return (
            "this OpenCode looks like a 2.x release (no `attach`, the root takes --server), "
            "which the matrix does not know"
        )
    return None


def _not_chosen(other: _Candidate, chosen: _Candidate) -> str:
    if other.demoted:
        ids = ", ".join(i.id for i in other.hits if i.severity == "demote")
        return f"possible, but demoted by known issue {ids}; {chosen.strategy.name} is preferred"
    return f"possible, but {chosen.strategy.name} is preferred"


def _reasons(cand: _Candidate, caps: Capabilities, server: ServerStatus | None) -> list[str]:
    strategy = cand.strategy
    reasons = [strategy.summary]
    for command, options in strategy.commands.items():
        where = "opencode" if command == "root" else f"opencode {command}"
        if options:
            flags = ", ".join(f"--{o}" for o in options)
            reasons.append(f"`{where}` has {flags} (from its help)")
        else:
            reasons.append(f"`{where}` exists (from its help)")
    if strategy.needs_server and server is not None:
        who = f"OpenCode {server.version}" if server.version else "OpenCode, version unknown"
        reasons.append(f"server {server.url} is up ({who})")
        if strategy.routes:
            reasons.append(f"server has {', '.join(strategy.routes)} (from its OpenAPI document)")
    elif not strategy.needs_server:
        reasons.append("needs no server")
    for issue in cand.hits:
        if issue.workaround:
            reasons.append(f"applies workaround {issue.workaround} for {issue.id}")
    if cand.demoted:
        reasons.append("chosen although demoted: nothing better is possible")
    return reasons


def verification_evidence(
    matrix: Matrix, caps: Capabilities, strategy: str
) -> tuple[str | None, str | None]:
    """(reason, warning) from `orch-doctor verify` records of this exact release."""
    release = caps.version.text if caps.version else None
    record = next(
        (v for v in matrix.verifications if v.release == release and v.strategy == strategy),
        None,
    )
    if record is None:
        return None, None
    when = f"{record.date}, orch-doctor {record.orch_doctor_version}"
    if record.outcome == "verified":
        return f"verified on a real OpenCode {release} ({when})", None
    if record.outcome == "failed":
        note = f": {record.note}" if record.note else ""
        return None, (
            f"`orch-doctor verify` of {strategy} failed on OpenCode {release} ({when}){note}"
        )
    return None, None


def _directory_warnings(
    strategy: str, server: ServerStatus | None, request: SpawnRequest
) -> list[str]:
    """attach-tui-api runs on releases (1.0.x) whose attach TUI works in the server's directory,
    whatever --dir says (measured on 1.0.152)."""
    if strategy != "attach-tui-api" or server is None or not server.directory:
        return []
    if server.directory.rstrip("/") == request.directory.rstrip("/"):
        return []
    return [
        f"the attached TUI will work in the server's directory {server.directory}, not in "
        f"{request.directory} (1.0.x attach ignores --dir; measured on 1.0.152): start the "
        f"server from {request.directory}"
    ]


def _issue_warnings(hits: list[KnownIssue]) -> list[str]:
    return [
        f"known issue {i.id}: {i.title} ({i.evidence})"
        for i in hits
        if i.severity in ("warn", "demote")
    ]


def _request_warnings(strategy: str, caps: Capabilities, request: SpawnRequest) -> list[str]:
    warnings = []
    if request.model and strategy == "attach-tui-api":
        warnings.append(
            "attach-tui-api cannot choose the model: the TUI uses its default model "
            f"(requested {request.model})"
        )
    if not request.prompt:
        warnings.append("no prompt given: the plan only opens the TUI")
    return warnings


def _hit(issue: KnownIssue) -> KnownIssueHit:
    return KnownIssueHit(
        id=issue.id,
        title=issue.title,
        severity=issue.severity,
        affects=issue.affects,
        workaround=issue.workaround,
        evidence=issue.evidence,
    )


def _fix(
    caps: Capabilities,
    server: ServerStatus | None,
    rejected: dict[str, str],
    newer_major: str | None,
    blocked: str | None = None,
    bad_model: str | None = None,
) -> str:
    if bad_model:
        return "give the model as provider/model, e.g. --model opencode/big-pickle"
    if blocked:
        return "install a release outside the blocked range (npm install -g opencode-ai@<version>)"
    if newer_major:
        return "install a 1.x release (npm install -g opencode-ai@1) or upgrade orch-doctor"
    if caps.binary_path is None:
        return "install OpenCode: npm install -g opencode-ai (or set OPENCODE_BIN)"
    if not caps.command("attach").exists and not caps.command("root").has_flag("--prompt"):
        return "upgrade OpenCode: npm install -g opencode-ai@latest"
    if server is None:
        return "start a server (opencode serve --port 4096) and pass --server http://127.0.0.1:4096"
    if not server.ok:
        return server.fix or f"make the server at {server.url} reachable"
    return "upgrade OpenCode (npm install -g opencode-ai@latest) or start a newer server"
