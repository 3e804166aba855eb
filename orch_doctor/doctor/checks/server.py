"""Check `server`: OpenCode server."""

from __future__ import annotations

import shlex
from dataclasses import replace

from orch_doctor.advice import Advisory
from orch_doctor.decide.rules import start_server_fix
from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext
from orch_doctor.server.types import ServerStatus


def judge(ctx: DoctorContext) -> Verdict:
    server = ctx.server.get()
    if server is None:
        if ctx.policy.require_server:
            return verdict(
                "fail",
                f"no server given or running, and the policy ({ctx.policy.source}) requires one",
                fix=start_server_fix(ctx.capabilities.get()),
            )
        from orch_doctor._util.text import one_line

        # a registration file, or servers of the other OpenCode line, found and not used
        unused = [one_line(f"not used: {note}") for note in ctx.resolution.service_notes]
        return verdict("skip", "no server given (--server URL) and none running here", *unused)
    found_here = ctx.discovery.details() if ctx.discovery is not None else []
    if ctx.discovery is not None and ctx.discovery.others:
        # several servers run here: which one was taken, and why, is part of the answer
        return _with_choice(_judge(ctx, server, found_here), ctx.discovery.reason)
    return _judge(ctx, server, found_here)


def _with_choice(found: Verdict, reason: str) -> Verdict:
    return replace(found, summary=f"{found.summary} — chosen: {reason}")


def _judge(ctx: DoctorContext, server: ServerStatus, found_here: list[str]) -> Verdict:
    if not server.ok:
        named = bool(ctx.server_url or ctx.policy.require_server)
        return verdict(
            "fail" if named else "warn",
            f"{server.url}: {server.verdict}: {server.summary}",
            *found_here,
            fix=server.fix,
            alternatives=server.alternatives,
        )
    from orch_doctor.decide.rules import version_skew

    caps = ctx.capabilities.get()
    client = caps.version.text if caps.version else None
    skew, skew_reason = version_skew(client, server.version, ctx.matrix.server)
    details = [
        f"identity: {server.summary}",
        f"version source: {server.version_source}",
        f"auth: {server.auth}",
        f"routes: {len(server.routes) if server.routes is not None else 'unknown'}"
        + (f" ({server.routes_source})" if server.routes_source else ""),
        f"skew: {skew} — {skew_reason}",
    ]
    if ctx.server_discovered:
        details[:0] = ["found running on this machine", *found_here]
    found = ctx.server_advisories()
    # advice that changes the server (a password, a port) says what it costs the orch found here
    costs = {a.id: c for a, c in ctx.client_costs(found)}
    details += [f"cost of the {a} fix: {c.message} — {c.fix}" for a, c in costs.items()]
    errors = [a for a in found if a.severity == "error"]
    if errors and not ctx.policy.allow_insecure_server:
        first = errors[0]
        return verdict(
            "fail",
            f"{server.url}: {first.message}",
            *details,
            *(f"evidence: {a.evidence}" for a in errors if a.evidence),
            fix=first.fix,
            alternatives=(
                *first.alternatives,
                *_cost_note(costs.get(first.id)),
                "allow_insecure_server = true in the policy",
            ),
        )
    details += [f"{a.severity}: {a.message}" for a in found if a.severity == "info"]
    warnings = [a for a in found if a.severity == "warn"] + errors
    if warnings:
        return verdict(
            "warn",
            f"{server.url}: {warnings[0].message}",
            *details,
            fix=warnings[0].fix,
            alternatives=(
                *warnings[0].alternatives,
                *_cost_note(costs.get(warnings[0].id)),
                *(() if warnings[0].fix or warnings[0].alternatives else ("see details",)),
            ),
        )
    from orch_doctor.decide.rules import major_mismatch

    mismatch = major_mismatch(caps, server)
    if mismatch is not None:
        return verdict(
            "fail",
            f"{server.url}: {mismatch.message}",
            *details,
            fix=mismatch.fix,
            alternatives=mismatch.alternatives,
        )
    if skew == "unsupported":
        return verdict(
            "warn",
            f"{server.url}: {skew_reason}",
            *details,
            fix=f"npm install -g {shlex.quote(f'opencode-ai@{client}')} && opencode serve",
            alternatives=("run the server with the CLI's release",),
        )
    return verdict("pass", f"{server.url}: {server.summary}", *details)


def _cost_note(cost: Advisory | None) -> tuple[str, ...]:
    """What following a fix costs the client found here, said beside the fix."""
    if cost is None:
        return ()
    return (f"but {cost.message}" + (f"; then: {cost.fix}" if cost.fix else ""),)


CHECK = Check("server", "OpenCode server", judge)
