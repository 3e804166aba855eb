"""Check `opencode-flags`: flags parsed from help."""

from __future__ import annotations

from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    caps = ctx.capabilities.get()
    if caps.binary_path is None:
        return verdict("skip", "no OpenCode to probe")
    root = caps.command("root")
    details = []
    for name, spec in caps.commands.items():
        where = "opencode" if name == "root" else f"opencode {name}"
        if spec.exists:
            details.append(f"{where}: " + " ".join(f"--{o}" for o in spec.options))
        else:
            details.append(f"{where}: not in this release")
    if not root.exists or not root.options:
        return verdict(
            "fail",
            "the help of `opencode` could not be read",
            *details,
            *caps.warnings,
            fix="opencode --help",
        )
    if caps.warnings:
        return verdict(
            "warn",
            f"read with {len(caps.warnings)} warning(s)",
            *details,
            *caps.warnings,
            alternatives=("report the help layout; the decision uses what could be read",),
        )
    attach = caps.command("attach")
    flags = ", ".join("--" + o for o in attach.options if o not in ("help", "version"))
    summary = f"attach: {flags}" if attach.exists else "no `attach` in this release"
    return verdict("pass", summary, *details)


CHECK = Check("opencode-flags", "flags parsed from help", judge)
