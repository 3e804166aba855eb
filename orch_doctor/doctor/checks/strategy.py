"""Check `strategy`: spawn strategy."""

from __future__ import annotations

from orch_doctor.advice import Advisory, most_severe
from orch_doctor.decide.advisories import BELOW_MINIMUM, NO_PROMPT, VERSION_UNKNOWN
from orch_doctor.decide.steps import ProcessStep
from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext

#: reported by other checks (the version check owns the version policy; the server check owns
#: the server's advisories); no prompt is normal for the doctor
OWNED_ELSEWHERE = frozenset({NO_PROMPT, BELOW_MINIMUM, VERSION_UNKNOWN})


def advisory_line(a: Advisory) -> str:
    return f"{a.severity}: {a.message}" + (f" ({a.evidence})" if a.evidence else "")


def judge(ctx: DoctorContext) -> Verdict:
    decision = ctx.decision.get()
    rejected = [f"not {name}: {why.message}" for name, why in decision.rejected.items()]
    server_ids = {a.id for a in ctx.server_advisories()}
    own = [a for a in decision.advisories if a.id not in OWNED_ELSEWHERE | server_ids]
    if decision.plan is None:
        server = ctx.server.get()
        summary = "no spawn strategy works here"
        if ctx.server_url and (server is None or not server.ok):
            # the caller named a server: its verdict is the reason, said first
            summary += f": the server you named ({ctx.server_url}) cannot be used" + (
                f" ({server.verdict})" if server is not None else ""
            )
        return verdict(
            "fail",
            summary,
            *decision.reasons,
            *rejected,
            *(advisory_line(a) for a in own),
            fix=decision.fix,
        )
    steps = []
    for step in decision.plan.steps:
        line = f"step: [{step.kind}] {step.description}"
        if isinstance(step, ProcessStep):
            line += f": {step.display()}"
        steps.append(line)
    details = [*decision.reasons, *steps, *(advisory_line(a) for a in own), *rejected]
    warnings = [a for a in own if a.severity != "info"]
    worst = most_severe(warnings)
    if worst is not None:
        return verdict(
            "fail" if worst.severity == "error" else "warn",
            f"{decision.strategy} (with {len(warnings)} warning(s)): {worst.message}",
            *details,
            fix=worst.fix,
            alternatives=worst.alternatives or ("read the warnings in the details",),
        )
    return verdict("pass", decision.strategy, *details)


CHECK = Check("strategy", "spawn strategy", judge)
