"""The doctor's checks. Each takes the shared context and returns a CheckResult; every warn and
fail carries a fix (a command or an exact action)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from orch_doctor.decide.steps import ProcessStep
from orch_doctor.doctor.context import PROMPT_PLACEHOLDER, DoctorContext
from orch_doctor.doctor.types import CheckResult

CheckFn = Callable[[DoctorContext], CheckResult]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: CheckFn
    timeout_s: float = 60.0


def _result(
    check_id: str, title: str, status: str, summary: str, *details: str, fix: str | None = None
) -> CheckResult:
    return CheckResult(check_id, title, status, summary, tuple(details), fix)  # type: ignore[arg-type]


# --- OpenCode installed ------------------------------------------------------------------------


def check_found(ctx: DoctorContext) -> CheckResult:
    cid, title = "opencode-found", "OpenCode installed"
    caps = ctx.capabilities.get()
    finding = caps.finding
    if finding is None or finding.chosen is None:
        problem = finding.problem if finding else "OpenCode not found"
        fix = finding.fix if finding and finding.fix else "npm install -g opencode-ai"
        candidates = finding.candidates if finding else ()
        details = [f"{c.source}: {c.path}: {c.problem}" for c in candidates if c.problem]
        return _result(cid, title, "fail", problem or "not found", *details, fix=fix)
    chosen = finding.chosen
    details = [f"runs {chosen.path} ({finding.reason})"]
    if chosen.resolved and chosen.resolved != chosen.path:
        details.append(f"resolves to {chosen.resolved}")
    if finding.shadowed:
        hidden = [
            f"{c.path} ({c.source}, version {c.version or 'unknown'})" for c in finding.shadowed
        ]
        return _result(
            cid,
            title,
            "warn",
            f"{chosen.path} shadows {len(hidden)} other OpenCode install(s)",
            *details,
            *(f"hidden: {h}" for h in hidden),
            fix=f"remove the installs you do not use, or set OPENCODE_BIN={chosen.path}",
        )
    return _result(cid, title, "pass", f"{chosen.path}", *details)


def check_version(ctx: DoctorContext) -> CheckResult:
    cid, title = "opencode-version", "OpenCode version and release policy"
    caps = ctx.capabilities.get()
    if caps.binary_path is None:
        return _result(cid, title, "skip", "no OpenCode to check")
    version = caps.version
    if version is None or version.text is None:
        problem = version.problem if version else "no version"
        return _result(
            cid,
            title,
            "warn",
            f"version unknown: {problem}",
            "capabilities (the parsed help) decide",
            fix="check that `opencode --version` prints a version",
        )
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    parsed = version.parsed
    if parsed is None or not version.release:
        return _result(
            cid,
            title,
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
            return _result(
                cid,
                title,
                "fail",
                f"{version.text} is older than {minimum} ({where})",
                fix=f"npm install -g opencode-ai@latest   (needs >= {minimum})",
            )
    blocked = policy.blocked_entry(parsed)
    if blocked is not None:
        return _result(
            cid,
            title,
            "fail",
            f"{version.text} is blocked: {blocked.reason}",
            blocked.evidence,
            fix="install another release",
        )
    if policy.tested and not SpecifierSet(policy.tested).contains(parsed, prereleases=True):
        return _result(
            cid,
            title,
            "warn",
            f"{version.text} is outside the tested range {policy.tested}",
            "the flags come from its own help, but known issues may be missing",
            fix="run `orch-doctor verify` on this release, or install a tested one",
        )
    return _result(cid, title, "pass", f"{version.text} (tested range {policy.tested})")


def check_flags(ctx: DoctorContext) -> CheckResult:
    cid, title = "opencode-flags", "flags parsed from help"
    caps = ctx.capabilities.get()
    if caps.binary_path is None:
        return _result(cid, title, "skip", "no OpenCode to probe")
    root = caps.command("root")
    details = []
    for name, spec in caps.commands.items():
        where = "opencode" if name == "root" else f"opencode {name}"
        if spec.exists:
            details.append(f"{where}: " + " ".join(f"--{o}" for o in spec.options))
        else:
            details.append(f"{where}: not in this release")
    if not root.exists or not root.options:
        return _result(
            cid,
            title,
            "fail",
            "the help of `opencode` could not be read",
            *details,
            *caps.warnings,
            fix="run `opencode --help` by hand: it should print the usage",
        )
    if caps.warnings:
        return _result(
            cid,
            title,
            "warn",
            f"read with {len(caps.warnings)} warning(s)",
            *details,
            *caps.warnings,
            fix="report the help layout; the decision uses what could be read",
        )
    attach = caps.command("attach")
    flags = ", ".join("--" + o for o in attach.options if o not in ("help", "version"))
    summary = f"attach: {flags}" if attach.exists else "no `attach` in this release"
    return _result(cid, title, "pass", summary, *details)


# --- server ------------------------------------------------------------------------------------


def check_server(ctx: DoctorContext) -> CheckResult:
    cid, title = "server", "OpenCode server"
    server = ctx.server.get()
    if server is None:
        if ctx.policy.require_server:
            return _result(
                cid,
                title,
                "fail",
                f"no server given or running, and the policy ({ctx.policy.source}) requires one",
                fix="opencode serve --port 4096 --hostname 127.0.0.1",
            )
        return _result(cid, title, "skip", "no server given (--server URL) and none running here")
    if not server.ok:
        status = "fail" if (ctx.server_url or ctx.policy.require_server) else "warn"
        return _result(
            cid, title, status, f"{server.url}: {server.verdict}: {server.summary}", fix=server.fix
        )
    from orch_doctor.server.probe import compare_versions

    caps = ctx.capabilities.get()
    client = caps.version.text if caps.version else None
    skew, skew_reason = compare_versions(client, server.version)
    details = [
        f"identity: {server.summary}",
        f"version source: {server.version_source}",
        f"auth: {server.auth}",
        f"routes: {len(server.routes) if server.routes is not None else 'unknown'}"
        + (f" ({server.routes_source})" if server.routes_source else ""),
        f"skew: {skew} — {skew_reason}",
    ]
    if ctx.server_discovered:
        details.insert(0, "found running on this machine")
    failing = [f for f in server.findings if f.severity == "fail"]
    if failing and not ctx.policy.allow_insecure_server:
        first = failing[0]
        return _result(
            cid,
            title,
            "fail",
            f"{server.url}: {first.message}",
            *details,
            *(f"evidence: {f.evidence}" for f in failing if f.evidence),
            fix=(first.fix or "") + "   (or allow_insecure_server = true in the policy)",
        )
    warnings = [f for f in server.findings if f.severity == "warn"] + failing
    if warnings:
        return _result(
            cid,
            title,
            "warn",
            f"{server.url}: {warnings[0].message}",
            *details,
            fix=warnings[0].fix or "see details",
        )
    if skew == "unsupported":
        return _result(
            cid,
            title,
            "warn",
            f"{server.url}: {skew_reason}",
            *details,
            fix=f"run the server with the CLI's release: npm install -g "
            f"opencode-ai@{client} && opencode serve",
        )
    return _result(cid, title, "pass", f"{server.url}: {server.summary}", *details)


# --- decision ----------------------------------------------------------------------------------


def check_strategy(ctx: DoctorContext) -> CheckResult:
    cid, title = "strategy", "spawn strategy"
    decision = ctx.decision.get()
    rejected = [f"not {name}: {why}" for name, why in decision.rejected.items()]
    if decision.plan is None:
        return _result(
            cid,
            title,
            "fail",
            "no spawn strategy works here",
            *decision.reasons,
            *rejected,
            *decision.warnings,
            fix=decision.fix,
        )
    steps = []
    for step in decision.plan.steps:
        line = f"step: [{step.kind}] {step.description}"
        if isinstance(step, ProcessStep):
            line += f": {step.display()}"
        steps.append(line)
    issues = [
        f"known issue {k.id} ({k.severity}): {k.title} — {k.evidence}"
        for k in decision.known_issues
    ]
    # the version check reports the version policy; no prompt is normal for the doctor
    owned_elsewhere = ("no prompt given", "older than the minimum supported")
    warnings = [w for w in decision.warnings if not any(o in w for o in owned_elsewhere)]
    details = [*decision.reasons, *steps, *issues, *rejected, *warnings]
    if warnings:
        return _result(
            cid,
            title,
            "warn",
            f"{decision.strategy} (with {len(warnings)} warning(s))",
            *details,
            fix=_warning_fix(warnings),
        )
    return _result(cid, title, "pass", decision.strategy, *details)


def _warning_fix(warnings: list[str]) -> str:
    text = " ".join(warnings)
    if "cve-2026-22812" in text.lower():
        return "upgrade OpenCode to >= 1.0.216 and set OPENCODE_SERVER_PASSWORD"
    if "going by the help" in text:
        return "reinstall OpenCode (its help and version disagree): npm install -g opencode-ai"
    if "cannot choose the model" in text:
        return "upgrade OpenCode to >= 1.0.162 so the model can be sent with the prompt"
    return "read the warnings in the details"


# --- environment -------------------------------------------------------------------------------


def check_directory(ctx: DoctorContext) -> CheckResult:
    cid, title = "directory", "spawn directory"
    path = ctx.directory
    if not os.path.exists(path):
        return _result(cid, title, "fail", f"{path} does not exist", fix=f"mkdir -p '{path}'")
    if not os.path.isdir(path):
        return _result(
            cid, title, "fail", f"{path} is not a directory", fix="pass --dir with a directory"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        return _result(
            cid,
            title,
            "fail",
            f"{path} is not writable",
            fix=f"chmod u+w '{path}' or choose another --dir",
        )
    return _result(cid, title, "pass", f"{path} exists and is writable")


def check_model(ctx: DoctorContext) -> CheckResult:
    cid, title = "model", "model"
    model = ctx.options.model
    if not model:
        return _result(cid, title, "skip", "no model given (--model provider/model)")
    from orch_doctor.decide.decision import model_problem

    provider = model.partition("/")[0]
    if model_problem(model) is not None:
        return _result(
            cid,
            title,
            "fail",
            f"{model!r} is not provider/model",
            fix="pass --model like opencode/big-pickle",
        )
    server = ctx.server.get()
    if server is None or not server.ok:
        return _result(cid, title, "pass", f"{model} (format ok; no server to ask)")
    from orch_doctor.server.credentials import credentials_from_env
    from orch_doctor.server.probe import server_models

    known = server_models(
        server.url, credentials=credentials_from_env(), timeout_s=ctx.options.server_timeout_s
    )
    if known is None:
        return _result(
            cid,
            title,
            "warn",
            f"{model}: the server did not list its models",
            fix=f"check {server.url}/config/providers",
        )
    if model not in known:
        same = sorted(m for m in known if m.startswith(provider + "/"))[:8]
        return _result(
            cid,
            title,
            "fail",
            f"{model} is not known to the server",
            *(f"known: {m}" for m in same),
            fix="pick a model from `opencode models`, or configure the provider",
        )
    return _result(cid, title, "pass", f"{model} is known to the server")


def check_terminal(ctx: DoctorContext) -> CheckResult:
    cid, title = "terminal", "terminal for the TUI"
    decision = ctx.decision.get()
    needs = decision.plan is not None and any(
        isinstance(s, ProcessStep) and s.terminal for s in decision.plan.steps
    )
    if not needs:
        return _result(cid, title, "skip", "the plan starts no TUI")
    tmux = shutil.which("tmux")
    if tmux is None:
        return _result(
            cid,
            title,
            "warn",
            "tmux is not installed; the plan runs a TUI",
            "orch needs a terminal to host it (verify falls back to a pseudo-terminal)",
            fix="apt-get install tmux   (or brew install tmux)",
        )
    return _result(cid, title, "pass", f"tmux at {tmux}")


CHECKS: tuple[Check, ...] = (
    Check("opencode-found", "OpenCode installed", check_found),
    Check("opencode-version", "OpenCode version and release policy", check_version),
    Check("opencode-flags", "flags parsed from help", check_flags),
    Check("server", "OpenCode server", check_server),
    Check("strategy", "spawn strategy", check_strategy),
    Check("directory", "spawn directory", check_directory),
    Check("model", "model", check_model),
    Check("terminal", "terminal for the TUI", check_terminal),
)
CHECK_IDS = {c.id for c in CHECKS}
assert PROMPT_PLACEHOLDER
