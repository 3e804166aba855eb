"""Advisories the decision gives: each with a stable id, a severity, a fix and its evidence.

Ids given here (besides known-issue ids from compat_matrix/known_issues.toml and the server
probe's own findings) are listed in ``DECISION_ADVISORY_IDS``.
"""

from __future__ import annotations

from dataclasses import replace

from orch_doctor.advice import Advisory, Severity
from orch_doctor.decide import rules
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.types import IssueSeverity, KnownIssue, Matrix, Strategy, Verification
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.types import ServerStatus

#: how a known issue's matrix severity reads as advice on the strategy it touches
ISSUE_SEVERITY: dict[IssueSeverity, Severity] = {
    "info": "info",
    "workaround": "info",
    "warn": "warn",
    "demote": "warn",
    "forbid": "error",
}

VERSION_UNKNOWN = "version-unknown"
VERSION_HELP_MISMATCH = "version-help-mismatch"
BELOW_MINIMUM = "below-minimum"
VERIFY_FAILED = "verify-failed"
VERIFIED = "verified"
NOT_VERIFIED = "not-verified"
MODEL_NOT_SETTABLE = "model-not-settable"
NO_PROMPT = "no-prompt"
SERVER_VERSION_INFERRED = "server-version-inferred"
STANDALONE_INSTEAD = "standalone-instead-of-server"
FORCED = "forced-strategy"
CONDITION_UNMEASURED = "condition-unmeasured"
#: the chosen strategy is declared from the published contract only, not run here
CONTRACT_ONLY = "contract-only"
DECISION_ADVISORY_IDS = (
    CONTRACT_ONLY,
    CONDITION_UNMEASURED,
    VERSION_UNKNOWN,
    VERSION_HELP_MISMATCH,
    BELOW_MINIMUM,
    VERIFY_FAILED,
    VERIFIED,
    NOT_VERIFIED,
    MODEL_NOT_SETTABLE,
    NO_PROMPT,
    SERVER_VERSION_INFERRED,
    STANDALONE_INSTEAD,
    FORCED,
)


def issue_advisory(issue: KnownIssue, *, applied: bool = False) -> Advisory:
    """A known issue as advice; ``applied``: the plan carries its workaround."""
    applies = f" (the plan applies workaround {issue.workaround})" if applied else ""
    return Advisory(
        id=issue.id,
        severity=ISSUE_SEVERITY[issue.severity],
        message=f"known issue {issue.id}: {issue.title} — {issue.breaks}"
        + (applies if issue.workaround else ""),
        fix=issue.fix,
        evidence=issue.evidence,
        alternatives=issue.alternatives,
    )


def release_advisories(caps: Capabilities, matrix: Matrix) -> list[Advisory]:
    """About the release itself: unknown version, help/version disagreement, below minimum."""
    found: list[Advisory] = []
    if rules.client_version(caps) is None and matrix.issues:
        found.append(
            Advisory(
                VERSION_UNKNOWN,
                "warn",
                "the OpenCode version is unknown: known issues tied to versions were not applied",
                fix="opencode --version",
            )
        )
    for text in rules.help_disagreements(caps, matrix):
        found.append(
            Advisory(
                VERSION_HELP_MISMATCH,
                "warn",
                f"{text}: going by the help",
                fix="npm install -g opencode-ai",
            )
        )
    old = rules.below_minimum(caps, matrix)
    if old:
        found.append(
            Advisory(
                BELOW_MINIMUM,
                "warn",
                old,
                fix="npm install -g opencode-ai@1",
                evidence=matrix.policy.minimum_evidence,
            )
        )
    return found


def server_advisories(
    server: ServerStatus | None, caps: Capabilities, matrix: Matrix
) -> list[Advisory]:
    """About the server: its measured findings, the server-side known issues that apply to it
    (security ones as errors), and what its missing health route says about its age."""
    if server is None or not server.ok:
        return []
    found = list(server.findings)
    for issue in rules.applicable_issues(matrix, caps, server):
        if issue.side != "server":
            continue
        advisory = issue_advisory(issue)
        if issue.security:
            advisory = replace(advisory, severity="error")
        found.append(advisory)
    facts = matrix.server
    if server.version is None and server.health_route is False and facts.health_route_since:
        found.append(
            Advisory(
                SERVER_VERSION_INFERRED,
                "info",
                f"the server's version is unknown — inferred older than "
                f"{facts.health_route_since}: it has no GET /global/health",
                evidence=facts.health_route_evidence,
            )
        )
    return found


def failed_record(matrix: Matrix, caps: Capabilities, strategy: str) -> Verification | None:
    """The recorded failed `verify` of ``strategy`` on this exact release, if any."""
    release = caps.version.text if caps.version else None
    return next(
        (
            v
            for v in matrix.verifications
            if v.release == release and v.strategy == strategy and v.outcome == "failed"
        ),
        None,
    )


def verification_advisory(matrix: Matrix, caps: Capabilities, strategy: str) -> Advisory | None:
    """What `orch-doctor verify` records say about ``strategy`` on this exact release."""
    release = caps.version.text if caps.version else None
    record = next(
        (v for v in matrix.verifications if v.release == release and v.strategy == strategy),
        None,
    )
    if record is None:
        return _nearest_verified(matrix, release, strategy)
    when = f"{record.date}, orch-doctor {record.orch_doctor_version}"
    if record.outcome == "verified":
        return Advisory(
            VERIFIED,
            "info",
            f"verified on a real OpenCode {release} ({when})",
            evidence="compat_matrix/verified.toml",
        )
    if record.outcome == "failed":
        note = f": {record.note}" if record.note else ""
        return Advisory(
            VERIFY_FAILED,
            "warn",
            f"`orch-doctor verify` of {strategy} failed on OpenCode {release} ({when}){note}",
            fix=f"orch-doctor verify --strategy {strategy}",
            evidence="compat_matrix/verified.toml",
        )
    return None


def _nearest_verified(matrix: Matrix, release: str | None, strategy: str) -> Advisory | None:
    """No record for this exact release: the nearest releases below and above it where
    ``strategy`` was verified."""
    from packaging.version import InvalidVersion, Version

    if release is None:
        return None
    try:
        wanted = Version(release)
    except InvalidVersion:
        return None
    verified = []
    for v in matrix.verifications:
        if v.strategy != strategy or v.outcome != "verified":
            continue
        try:
            verified.append(Version(v.release))
        except InvalidVersion:
            continue
    below = max((v for v in verified if v < wanted), default=None)
    above = min((v for v in verified if v > wanted), default=None)
    near = " and ".join(str(v) for v in (below, above) if v is not None)
    return Advisory(
        NOT_VERIFIED,
        "info",
        f"{strategy} is not verified on OpenCode {release}"
        + (f"; nearest verified: {near}, same strategy" if near else "; verified on no release"),
        fix="orch-doctor verify",
        evidence="compat_matrix/verified.toml",
    )


def request_advisories(strategy: Strategy, request: SpawnRequest) -> list[Advisory]:
    found = []
    if request.model and strategy.model == "none":
        found.append(
            Advisory(
                MODEL_NOT_SETTABLE,
                "warn",
                f"{strategy.name} cannot choose the model: the TUI uses its default model "
                f"(requested {request.model})",
                fix="npm install -g opencode-ai@latest",
                alternatives=("OpenCode >= 1.0.162 takes the model with the prompt",),
            )
        )
    if not request.prompt:
        found.append(Advisory(NO_PROMPT, "info", "no prompt given: the plan only opens the TUI"))
    return found
