"""Check `opencode-found`: OpenCode installed."""

from __future__ import annotations

import shlex

from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    caps = ctx.capabilities.get()
    finding = caps.finding
    if finding is None or finding.chosen is None:
        problem = finding.problem if finding else "OpenCode not found"
        fix = finding.fix if finding and finding.fix else "npm install -g opencode-ai"
        candidates = finding.candidates if finding else ()
        details = [f"{c.source}: {c.path}: {c.problem}" for c in candidates if c.problem]
        return verdict("fail", problem or "not found", *details, fix=fix)
    chosen = finding.chosen
    details = [f"runs {chosen.path} ({finding.reason})"]
    if chosen.resolved and chosen.resolved != chosen.path:
        details.append(f"resolves to {chosen.resolved}")
    if caps.identified_as:
        details.append(caps.identified_as)
    others = [f"{c.path} ({c.source}, version {c.version or 'unknown'})" for c in finding.shadowed]
    if not others or finding.named:  # the caller chose: the others are news, not a warning
        news = (
            f"also installed, not run ({chosen.source} names the one to run): {o}" for o in others
        )
        return verdict("pass", f"{chosen.path}", *details, *news)
    return verdict(
        "warn",
        f"{chosen.path} shadows {len(others)} other OpenCode install(s)",
        *details,
        *(f"hidden: {h}" for h in others),
        fix=f"export OPENCODE_BIN={shlex.quote(chosen.path)}",
        alternatives=("remove the installs you do not use",),
    )


CHECK = Check("opencode-found", "OpenCode installed", judge)
