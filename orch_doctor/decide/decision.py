"""From capabilities + server status + request + matrix to a :class:`Decision`. Pure.

Feature detection decides which strategies are possible; known issues for the detected version
forbid, demote or add a workaround; preference picks. Every rejected strategy says exactly why.
One entry point, :func:`decide`, serves the chosen and the forced (``force=``) strategy alike.

Intent is explicit: a server the caller named (``request.server_url``) that cannot be used
means no plan, unless ``allow_standalone`` — and then the substitute is said first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from orch_doctor.advice import Advisory
from orch_doctor.decide import conditions, rules
from orch_doctor.decide.advisories import (
    CONDITION_UNMEASURED,
    CONTRACT_ONLY,
    NOT_VERIFIED,
    STANDALONE_INSTEAD,
    VERIFIED,
    VERIFY_FAILED,
    failed_record,
    issue_advisory,
    release_advisories,
    request_advisories,
    server_advisories,
    verification_advisory,
)
from orch_doctor.decide.conditions import Facts
from orch_doctor.decide.evidence import Evidence, LocalProof
from orch_doctor.decide.plan import build_plan
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.rules import Rejection, RejectionCode
from orch_doctor.decide.steps import KnownFailure, SpawnPlan
from orch_doctor.errors import PlanValidationError
from orch_doctor.matrix.types import PLAN_STRATEGIES, KnownIssue, Matrix, Strategy, StrategyName
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.types import ServerStatus

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import DecisionJSON


@dataclass(frozen=True)
class Decision:
    strategy: StrategyName
    reasons: tuple[str, ...]
    rejected: Mapping[str, Rejection]  # strategy name -> why not (a code and a sentence)
    advisories: tuple[Advisory, ...] = ()
    plan: SpawnPlan | None = None
    fix: str | None = None  # when strategy == "none": what to install or start
    forced: bool = False
    #: what stands behind the chosen strategy, by kind (None: no plan)
    evidence: Evidence | None = None

    @property
    def holds(self) -> bool:
        """✓: a plan, and every condition its strategy relies on was measured and holds (no
        ``condition-unmeasured`` advisory): ``plan`` exits 0 exactly then."""
        return self.plan is not None and self.advisory(CONDITION_UNMEASURED) is None

    @property
    def warnings(self) -> tuple[Advisory, ...]:
        """The advisories a person must read (severity warn or error)."""
        return tuple(a for a in self.advisories if a.severity != "info")

    def advisory(self, advisory_id: str) -> Advisory | None:
        return next((a for a in self.advisories if a.id == advisory_id), None)

    def to_json(self) -> DecisionJSON:
        return {
            "strategy": self.strategy,
            "forced": self.forced,
            "reasons": list(self.reasons),
            "rejected": {name: r.message for name, r in self.rejected.items()},
            "rejections": {name: r.to_json() for name, r in self.rejected.items()},
            "warnings": [a.to_json() for a in self.warnings],
            "advisories": [a.to_json() for a in self.advisories],
            "steps": [s.to_json() for s in self.plan.steps] if self.plan else [],
            "server_url": self.plan.server_url if self.plan else None,
            "fix": self.fix,
            "holds": self.holds,
            "evidence": self.evidence.to_json() if self.evidence is not None else None,
        }


@dataclass(frozen=True)
class _Refusal:
    """Why every strategy is refused, whatever the flags (each None when it does not hold)."""

    newer_major: str | None = None
    blocked: str | None = None
    bad_model: str | None = None
    major_mismatch: rules.MajorMismatch | None = None

    def rejection(self) -> Rejection | None:
        """The first refusal that holds, as the rejection of every strategy."""
        mismatch = self.major_mismatch
        if mismatch is not None:
            return Rejection("major-mismatch", mismatch.message, fix=mismatch.fix)
        found: list[tuple[RejectionCode, str | None]] = [
            ("newer-major", self.newer_major),
            ("version-blocked", self.blocked),
            ("bad-model", self.bad_model),
        ]
        return next((Rejection(code, why) for code, why in found if why), None)


@dataclass
class _Candidate:
    strategy: Strategy
    hits: list[KnownIssue] = field(default_factory=list)
    demoted: bool = False
    #: conditions (and needed hosts) that could not be measured: (id, why, fix)
    unmeasured: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: what was measured and holds (reasons)
    measured: list[str] = field(default_factory=list)
    #: a successful local `verify` of this strategy with this very binary
    proof: LocalProof | None = None


def decide(
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
    *,
    allowed_strategies: Collection[str] | None = None,
    allow_standalone: bool = False,
    force: StrategyName | None = None,
    facts: Facts | None = None,
    proofs: Mapping[str, LocalProof] | None = None,
) -> Decision:
    """The strategy to use and its validated plan.

    ``facts``: what was measured here for the conditions strategies rely on (the TUI's
    environment, the hosts applicable known issues need: ``resolve/measure.measure_facts``); a
    condition not measured leaves the strategy possible but the decision not ✓ (``holds``).

    ``proofs``: the successful local `orch-doctor verify` runs of this very binary, by
    strategy name (read from the user's cache at the edge: orch_doctor/resolve/proofs.py); the
    decision cites the chosen strategy's ("verified on this machine") and it clears a
    contract-only strategy's warning and a recorded failure of the release.

    ``force``: build that strategy's plan even where the matrix demotes or forbids it (for
    verify); its flags must still exist (:class:`PlanValidationError` otherwise) and a strategy
    that needs a server must get one (``ValueError``). ``allowed_strategies`` names must be
    known strategies (``ValueError``).
    """
    if allowed_strategies is not None:
        unknown = sorted(set(allowed_strategies) - set(PLAN_STRATEGIES))
        if unknown:
            raise ValueError(
                f"unknown strategy name(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(PLAN_STRATEGIES)})"
            )
    if server is not None:
        server = matrix.recorded.apply(server)  # an incomplete OpenAPI document: recorded routes
    advisories = release_advisories(caps, matrix)
    advisories += server_advisories(server, caps, matrix)
    applicable = rules.applicable_issues(matrix, caps, server, request)
    facts = facts if facts is not None else Facts()
    proofs = proofs if proofs is not None else {}
    if force is not None:
        return _forced(force, caps, server, request, matrix, applicable, advisories, facts, proofs)

    rejected: dict[str, Rejection] = {}
    mismatch = rules.major_mismatch(caps, server)
    # a named server of the other OpenCode line, and a standalone TUI accepted in its place:
    # only the strategies that would use that server are refused
    mismatch_instead = mismatch if mismatch is not None and allow_standalone else None
    refusal = _Refusal(
        major_mismatch=mismatch if mismatch_instead is None else None,
        newer_major=rules.newer_major(caps, matrix),
        blocked=rules.blocked_range(caps, matrix),
        bad_model=rules.model_problem(request.model),
    )
    refused_all = refusal.rejection()
    named_server_down = request.server_url is not None and (
        server is None or not server.ok or mismatch_instead is not None
    )
    candidates: list[_Candidate] = []
    for strategy in matrix.strategies:
        if refused_all:
            rejected[strategy.name] = refused_all
            continue
        if allowed_strategies is not None and strategy.name not in allowed_strategies:
            rejected[strategy.name] = Rejection(
                "policy", "not allowed by policy (allowed strategies)"
            )
            continue
        if request.server_url and not strategy.needs_server and not allow_standalone:
            rejected[strategy.name] = Rejection(
                "not-the-named-server",
                f"does not use the server you named ({request.server_url}); "
                "pass --allow-standalone (allow_standalone=True) to accept it",
            )
            continue
        if mismatch_instead is not None and strategy.needs_server:
            rejected[strategy.name] = Rejection(
                "major-mismatch", mismatch_instead.message, fix=mismatch_instead.fix
            )
            continue
        missing = rules.missing_requirements(strategy, caps, server, request)
        if missing:
            rejected[strategy.name] = Rejection.joined(missing)
            continue
        hits = [i for i in applicable if strategy.name in i.affects]
        forbid = next((i for i in hits if i.severity == "forbid"), None)
        if forbid is not None:
            rejected[strategy.name] = Rejection(
                "known-issue",
                f"known issue {forbid.id}: {forbid.title} ({forbid.evidence})",
                issue=forbid.id,
            )
            continue
        cand = _Candidate(
            strategy,
            hits,
            demoted=any(i.severity == "demote" for i in hits),
            proof=proofs.get(strategy.name),
        )
        failed = _conditions(cand, caps, server, request, matrix, facts)
        if failed:
            rejected[strategy.name] = Rejection.joined(failed)
            continue
        candidates.append(cand)

    # measured ones first, then those with an unmeasured condition; demoted ones last of each
    ordered = sorted(candidates, key=lambda c: (c.demoted, bool(c.unmeasured)))
    for cand in ordered:
        name = cand.strategy.name
        try:
            plan = _build(cand.strategy, cand.hits, caps, server, request, matrix)
        except (PlanValidationError, ValueError) as exc:
            rejected[name] = Rejection("plan-invalid", f"plan not valid for this OpenCode: {exc}")
            continue
        for other in ordered:
            if other is not cand and other.strategy.name not in rejected:
                rejected[other.strategy.name] = _not_chosen(other, cand)
        first: list[Advisory] = []
        if named_server_down and not cand.strategy.needs_server:
            first.append(_standalone_instead(server, request, mismatch_instead))
        # the evidence for this strategy is a reason: a local proof, verified here on this
        # exact release, contract only, or the nearest verified releases
        evidence = _evidence(cand, caps, matrix)
        return Decision(
            strategy=name,
            evidence=evidence,
            reasons=(*_reasons(cand, server), *cand.measured, *evidence.said),
            rejected=rejected,
            advisories=tuple(
                first
                + advisories
                + _chosen_advisories(cand, caps, request, matrix, facts)
                + _unmeasured_advisories(cand)
            ),
            plan=_with_failures(plan, cand, matrix),
        )
    return _none(caps, server, request, rejected, applicable, advisories, refusal)


# --- building ----------------------------------------------------------------------------------


def _build(
    strategy: Strategy,
    hits: list[KnownIssue],
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
) -> SpawnPlan:
    return build_plan(
        strategy.name,
        caps,
        request,
        server_url=server.url if (server is not None and strategy.needs_server) else None,
        workarounds={i.workaround for i in hits if i.workaround},
        auth=bool(server and server.auth == "basic"),
        tui=matrix.tui_screen(rules.client_version(caps)),
        terminal=strategy.terminal,
    )


def _forced(
    name: StrategyName,
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
    applicable: list[KnownIssue],
    advisories: list[Advisory],
    facts: Facts,
    proofs: Mapping[str, LocalProof],
) -> Decision:
    strategy = matrix.strategy(name)
    if strategy is None:
        raise ValueError(f"no strategy {name!r} in the matrix")
    if strategy.needs_server and server is None:
        raise ValueError(f"{name} needs a server")
    hits = [i for i in applicable if name in i.affects]
    plan = _build(strategy, hits, caps, server, request, matrix)
    cand = _Candidate(
        strategy, hits, demoted=any(i.severity == "demote" for i in hits), proof=proofs.get(name)
    )
    return Decision(
        strategy=name,
        evidence=_evidence(cand, caps, matrix),
        reasons=(f"forced: {name} (not necessarily the decision's choice)", strategy.summary),
        rejected={},
        advisories=tuple(advisories + _chosen_advisories(cand, caps, request, matrix, facts)),
        plan=_with_failures(plan, cand, matrix),
        forced=True,
    )


def _chosen_advisories(
    cand: _Candidate,
    caps: Capabilities,
    request: SpawnRequest,
    matrix: Matrix,
    facts: Facts,
) -> list[Advisory]:
    found = []
    cleared = False  # an issue whose cause was measured and does not hold here
    for issue in cand.hits:
        if issue.side == "server":  # server-side ones are already among the server's advisories
            continue
        advisory = issue_advisory(issue, applied=bool(issue.workaround))
        if issue.needs_hosts:
            answered, why = conditions.hosts_answer(issue, facts)
            if answered:
                cleared = True
                advisory = replace(
                    advisory,
                    severity="info",
                    message=f"{advisory.message} (does not hold here: {why})",
                )
        found.append(advisory)
    record = verification_advisory(matrix, caps, cand.strategy.name)
    proof = cand.proof
    if (
        record is not None
        and record.id == NOT_VERIFIED
        and (proof is not None or cand.strategy.evidence_kind == "contract")
    ):
        record = None  # said by the evidence: verified on this machine, or contract only
    if record is not None and record.id != VERIFIED:  # verified: a reason, not advice
        if record.id == VERIFY_FAILED and proof is not None:
            record = replace(
                record,
                severity="info",
                message=f"{record.message} (since {proof.message()})",
            )
        elif record.id == VERIFY_FAILED and cleared:
            record = replace(
                record,
                severity="info",
                message=f"{record.message} (its known cause does not hold here)",
            )
        found.append(record)
    if (
        cand.strategy.evidence_kind == "contract"
        and proof is None
        and not _recorded(matrix, caps, cand.strategy.name)
    ):
        found.append(_contract_only(cand.strategy))
    return found + request_advisories(cand.strategy, request)


def _recorded(matrix: Matrix, caps: Capabilities, strategy: str) -> bool:
    record = verification_advisory(matrix, caps, strategy)
    return record is not None and record.id == VERIFIED


def _contract_only(strategy: Strategy) -> Advisory:
    return Advisory(
        CONTRACT_ONLY,
        "warn",
        f"{strategy.name} is declared from OpenCode's published contract (docs, SDK, source) "
        "and was not run here: nothing has verified it with this OpenCode yet",
        fix=f"orch-doctor verify --strategy {strategy.name}",
        evidence=strategy.evidence,
    )


def _evidence(cand: _Candidate, caps: Capabilities, matrix: Matrix) -> Evidence:
    """The kind of evidence behind ``cand`` and what it says (reasons): a local proof first,
    with the recorded one of this release beside it."""
    record = verification_advisory(matrix, caps, cand.strategy.name)
    recorded = [record.message] if record is not None and record.id == VERIFIED else []
    if cand.proof is not None:
        return Evidence("local", (cand.proof.message(), *recorded))
    if recorded:
        return Evidence("recorded", tuple(recorded))
    if cand.strategy.evidence_kind == "contract":
        return Evidence(
            "contract",
            (
                f"contract only: {cand.strategy.name} is declared from OpenCode's published "
                f"contract ({cand.strategy.evidence}), not run here",
            ),
        )
    said = [record.message] if record is not None and record.id == NOT_VERIFIED else []
    return Evidence("unverified", tuple(said))


def _conditions(
    cand: _Candidate,
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
    facts: Facts,
) -> list[Rejection]:
    """Why ``cand`` is removed by what was measured here (its conditions, the hosts an
    applicable known issue needs, a recorded failure of this exact release whose cause was not
    cleared); what could not be measured goes to ``cand.unmeasured``."""
    failed: list[Rejection] = []
    for cid in cand.strategy.conditions:
        condition = matrix.condition(cid)
        fix = condition.fix if condition is not None else None
        holds, why = conditions.check(cid, server, request, facts)
        if holds is False:
            title = condition.title if condition is not None else cid
            others = "".join(f"; or: {a}" for a in condition.alternatives) if condition else ""
            failed.append(
                Rejection(
                    "condition-failed", f"condition {cid} ({title}) fails: {why}{others}", fix=fix
                )
            )
        elif holds is None:
            cand.unmeasured.append((cid, why, fix))
        else:
            cand.measured.append(f"condition {cid}: {why}")
    causes: list[tuple[KnownIssue, bool | None]] = []
    for issue in cand.hits:
        if not issue.needs_hosts:
            continue
        answered, why = conditions.hosts_answer(issue, facts)
        causes.append((issue, answered))
        if answered is False:
            failed.append(
                Rejection(
                    "condition-failed",
                    f"known issue {issue.id}: {issue.title}; {why}",
                    issue=issue.id,
                    fix=issue.fix,
                )
            )
        elif answered is None:
            cand.unmeasured.append((issue.id, why, issue.fix))
    record = failed_record(matrix, caps, cand.strategy.name)
    # a successful local verify of this very binary clears a recorded failure of its release
    cleared = cand.proof is not None or (bool(causes) and all(answered for _, answered in causes))
    if record is not None and not cleared and not failed:
        cause = next((i for i, _ in causes), None)
        failed.append(
            Rejection(
                "recorded-failure",
                f"`orch-doctor verify` of {cand.strategy.name} failed on this exact release "
                f"({record.date}) and nothing measured here clears its cause"
                + (f": {record.note}" if record.note else ""),
                issue=cause.id if cause else None,
                fix=(cause.fix if cause else None)
                or f"orch-doctor verify --strategy {cand.strategy.name}",
            )
        )
    return failed


def _unmeasured_advisories(cand: _Candidate) -> list[Advisory]:
    return [
        Advisory(
            CONDITION_UNMEASURED,
            "error",
            f"{cand.strategy.name} relies on {cid}, which could not be measured here ({why}): "
            "the plan may not deliver",
            fix=fix,
        )
        for cid, why, fix in cand.unmeasured
    ]


def _with_failures(plan: SpawnPlan, cand: _Candidate, matrix: Matrix) -> SpawnPlan:
    """``plan`` with the failures known for its strategy on this release: the signatures (and
    fix) of its conditions and of the known issues that apply to it, read when a step fails."""
    known: list[KnownFailure] = []
    for cid in cand.strategy.conditions:
        condition = matrix.condition(cid)
        if condition is not None and condition.signatures:
            known.append(
                KnownFailure(
                    f"condition:{cid}", condition.title, condition.signatures, condition.fix
                )
            )
    for issue in cand.hits:
        if issue.signatures:
            known.append(KnownFailure(issue.id, issue.title, issue.signatures, issue.fix))
    return replace(plan, known_failures=tuple(known)) if known else plan


def _standalone_instead(
    server: ServerStatus | None,
    request: SpawnRequest,
    mismatch: rules.MajorMismatch | None = None,
) -> Advisory:
    fix: str | None
    if mismatch is not None:  # it answers, as the other OpenCode line
        verdict, fix = mismatch.message, mismatch.fix
        alternatives: tuple[str, ...] = (*mismatch.alternatives, "drop --server")
    else:
        verdict = f"{server.verdict}: {server.summary}" if server is not None else "not probed"
        fix = server.fix if server is not None else None
        alternatives = (*(server.alternatives if server is not None else ()), "drop --server")
    return Advisory(
        STANDALONE_INSTEAD,
        "warn",
        f"the server you named ({request.server_url}) cannot be used ({verdict}); as allowed "
        "(--allow-standalone), the plan runs a standalone TUI instead",
        fix=fix,
        alternatives=alternatives,
    )


# --- explaining --------------------------------------------------------------------------------


def _not_chosen(other: _Candidate, chosen: _Candidate) -> Rejection:
    if other.demoted:
        demoting = [i.id for i in other.hits if i.severity == "demote"]
        return Rejection(
            "demoted",
            f"possible, but demoted by known issue {', '.join(demoting)}; "
            f"{chosen.strategy.name} is preferred",
            issue=demoting[0],
        )
    return Rejection("not-chosen", f"possible, but {chosen.strategy.name} is preferred")


def _reasons(cand: _Candidate, server: ServerStatus | None) -> list[str]:
    strategy = cand.strategy
    reasons = [strategy.summary]
    for command, options in strategy.commands.items():
        where = rules.command_label(command)
        if options:
            flags = ", ".join(f"--{o}" for o in options)
            reasons.append(f"`{where}` has {flags} (from its help)")
        else:
            reasons.append(f"`{where}` exists (from its help)")
    if strategy.needs_server and server is not None:
        who = f"OpenCode {server.version}" if server.version else "OpenCode, version unknown"
        reasons.append(f"server {server.url} is up ({who})")
        if strategy.routes:
            source = server.routes_source or "GET /doc"
            where = "from its OpenAPI document" if source == "GET /doc" else source
            reasons.append(f"server has {', '.join(strategy.routes)} ({where})")
    elif not strategy.needs_server:
        reasons.append("needs no server")
    for issue in cand.hits:
        if issue.workaround:
            reasons.append(f"applies workaround {issue.workaround} for {issue.id}")
    if cand.demoted:
        reasons.append("chosen although demoted: nothing better is possible")
    return reasons


def _none(
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    rejected: dict[str, Rejection],
    applicable: list[KnownIssue],
    advisories: list[Advisory],
    refusal: _Refusal,
) -> Decision:
    reasons: list[str] = []
    named = request.server_url
    if named and (server is None or not server.ok):
        verdict = f"{server.verdict}: {server.summary}" if server is not None else "not probed"
        reasons.append(f"the server you named ({named}) cannot be used: {verdict}")
    reasons.append("no spawn strategy is possible with this OpenCode and server")
    hits = [issue_advisory(i) for i in applicable if i.side != "server"]
    mismatch = refusal.major_mismatch
    if mismatch is not None:
        reasons.insert(0, mismatch.message)
        hits.insert(
            0,
            Advisory(
                "major-mismatch",
                "error",
                mismatch.message,
                fix=mismatch.fix,
                alternatives=mismatch.alternatives,
            ),
        )
    return Decision(
        strategy="none",
        reasons=tuple(reasons),
        rejected=rejected,
        advisories=tuple(advisories + hits),
        plan=None,
        fix=_measured_fix(rejected) or _fix(caps, server, request, refusal),
    )


def _measured_fix(rejected: Mapping[str, Rejection]) -> str | None:
    """The fix of the most preferred strategy removed by a measured condition or a recorded
    failure (from the matrix), when that is why nothing is possible."""
    for name in PLAN_STRATEGIES:
        why = rejected.get(name)
        if why is not None and why.code in ("condition-failed", "recorded-failure") and why.fix:
            return why.fix
    return None


def _fix(
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    refusal: _Refusal,
) -> str | None:
    """A command line that runs when pasted (the reasons say why), or None: the server's own
    verdict has none (its alternatives are in the reasons)."""
    if refusal.major_mismatch is not None:
        return refusal.major_mismatch.fix
    if request.server_url and server is not None and not server.ok:
        return server.fix
    if refusal.newer_major:
        return "npm install -g opencode-ai@1"
    if refusal.blocked:
        return "npm install -g opencode-ai@latest"
    if refusal.bad_model:
        return "opencode models"
    # a prompt too long for argv goes through a server's API
    if server is None and rules.prompt_argv_problem(request.prompt):
        return rules.start_server_fix(caps)
    if caps.binary_path is None:
        return "npm install -g opencode-ai"
    if not caps.command("attach").exists and not caps.command("root").has_flag("--prompt"):
        return "npm install -g opencode-ai@latest"
    if server is None:
        return rules.start_server_fix(caps)
    if not server.ok:
        return server.fix
    if server.directory and not rules.same_directory(server.directory, request.directory):
        return f"cd {_quote(request.directory)} && opencode serve"
    return "npm install -g opencode-ai@latest"


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


def no_plan(reason: str, fix: str | None, advisory: Advisory, *, code: RejectionCode) -> Decision:
    """Strategy ``none`` for a reason found before deciding (e.g. at the edge: a ``--dir`` that
    does not exist): every strategy is rejected with that reason and ``code``. Pure."""
    return Decision(
        strategy="none",
        reasons=(reason,),
        rejected={name: Rejection(code, reason) for name in PLAN_STRATEGIES},
        advisories=(advisory,),
        plan=None,
        fix=fix,
    )
