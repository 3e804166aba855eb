"""Check `orch-client`: orch's own OpenCode client against the server it will talk to."""

from __future__ import annotations

from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    report = ctx.orch_client.get()
    if report.status == "skip" or report.client is None:
        return verdict("skip", report.summary)
    client = report.client
    details = [
        f"client: {client.label()} ({client.how}" + (f": {client.where})" if client.where else ")"),
        f"contract: {report.contract}",
    ]
    for entry in report.entries:
        mark = "✓" if entry.ok else "✗"
        line = f"{mark} {entry.name}: {entry.checked}"
        if entry.problem:
            line += f" — {entry.problem}"
        details.append(line + f" [{', '.join(entry.source)}]")
    for advisory in report.advisories:
        details.append(f"{advisory.id}: {advisory.message} — fix: {advisory.fix}")
    for advisory, cost in ctx.client_costs(ctx.server_advisories()):
        details.append(f"cost of the {advisory.id} fix: {cost.message} — {cost.fix}")
    if report.status == "warn":
        fixes = []
        for advisory in report.advisories:
            if advisory.fix and advisory.fix not in fixes:
                fixes.append(advisory.fix)
        return verdict("warn", report.summary, *details, fix=" | ".join(fixes))
    return verdict("pass", report.summary, *details)


CHECK = Check("orch-client", "orch's OpenCode client", judge)
