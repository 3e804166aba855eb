"""Check `opencode-version`: OpenCode version and release policy."""

from __future__ import annotations

from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    caps = ctx.capabilities.get()
    if caps.binary_path is None:
        return verdict("skip", "no OpenCode to check")
    version = caps.version
    if version is None or version.text is None:
        problem = version.problem if version else "no version"
        return verdict(
            "warn",
            f"version unknown: {problem}",
            "capabilities (the parsed help) decide",
            fix="opencode --version",
        )
    from packaging.version import Version

    from orch_doctor.decide.rules import version_policy

    parsed = version.parsed
    if parsed is None or not version.release:
        return verdict(
            "warn",
            f"{version.text}: {version.problem}",
            fix="npm install -g opencode-ai@latest",
        )
    policy = ctx.matrix.policy
    # the matrix's policy: the same reading as the decision's (decide/rules.version_policy)
    found = {f.code: f for f in version_policy(parsed, version.text, policy)}
    if "below-minimum" in found:
        return verdict(
            "fail",
            found["below-minimum"].message,
            fix="npm install -g opencode-ai@latest",
            alternatives=(f"any release >= {policy.minimum}",),
        )
    minimum = ctx.policy.minimum_version  # the project's own policy may raise the minimum
    if minimum and parsed < Version(minimum):
        return verdict(
            "fail",
            f"{version.text} is older than {minimum} (the policy in {ctx.policy.source})",
            fix="npm install -g opencode-ai@latest",
            alternatives=(f"any release >= {minimum}",),
        )
    if "version-blocked" in found:
        return verdict(
            "fail",
            found["version-blocked"].message,
            fix="npm install -g opencode-ai@latest",
            alternatives=("any release outside the blocked range",),
        )
    if "untested" in found:
        from orch_doctor.resolve.proofs import read_proofs

        proofs = read_proofs(caps.binary_path)
        if proofs:  # `orch-doctor verify` already proved this very binary here
            newest = max(proofs.values(), key=lambda proof: proof.date)
            return verdict("pass", f"{found['untested'].message}; {newest.message()}")
        return verdict(
            "warn",
            found["untested"].message,
            "the flags come from its own help, but known issues may be missing",
            fix="orch-doctor verify",
            alternatives=("install a tested release",),
        )
    return verdict("pass", f"{version.text} (tested range {policy.tested})")


CHECK = Check("opencode-version", "OpenCode version and release policy", judge)
