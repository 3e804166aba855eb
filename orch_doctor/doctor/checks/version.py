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
            fix="check that `opencode --version` prints a version",
        )
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    parsed = version.parsed
    if parsed is None or not version.release:
        return verdict(
            "warn",
            f"{version.text}: {version.problem}",
            fix="install a release: npm install -g opencode-ai@latest",
        )
    policy = ctx.matrix.policy
    minimums = [(policy.minimum, "the matrix's minimum supported")]
    if ctx.policy.minimum_version:
        minimums.append((ctx.policy.minimum_version, f"the policy in {ctx.policy.source}"))
    for minimum, where in minimums:
        if minimum and parsed < Version(minimum):
            return verdict(
                "fail",
                f"{version.text} is older than {minimum} ({where})",
                fix=f"npm install -g opencode-ai@latest   (needs >= {minimum})",
            )
    blocked = policy.blocked_entry(parsed)
    if blocked is not None:
        return verdict(
            "fail",
            f"{version.text} is blocked: {blocked.reason}",
            blocked.evidence,
            fix="install another release",
        )
    if policy.tested and not SpecifierSet(policy.tested).contains(parsed, prereleases=True):
        return verdict(
            "warn",
            f"{version.text} is outside the tested range {policy.tested}",
            "the flags come from its own help, but known issues may be missing",
            fix="run `orch-doctor verify` on this release, or install a tested one",
        )
    return verdict("pass", f"{version.text} (tested range {policy.tested})")


CHECK = Check("opencode-version", "OpenCode version and release policy", judge)
