"""One verify run: pick (or force) the strategy, run its plan against a throwaway server in an
isolated data dir, confirm delivery, clean up everything (unless ``keep``).
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from orch_doctor.decide.decision import Decision
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SpawnPlan
from orch_doctor.errors import VerifyRefused
from orch_doctor.matrix.model import Matrix, StrategyName
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.credentials import PASSWORD_ENV, Credentials
from orch_doctor.server.types import ServerStatus
from orch_doctor.verify.confirm import Confirmation, evaluate
from orch_doctor.verify.executor import (
    ExecutionResult,
    Executor,
    StepFailed,
    StepReport,
    failure_markers,
    json_path,
    user_texts,
)
from orch_doctor.verify.terminal import Terminal, TerminalError, make_terminal
from orch_doctor.verify.throwaway import (
    ServerStartError,
    ThrowawayServer,
    isolated_env,
    make_run_dir,
    start_server,
    temp_root,
)

DEFAULT_TIMEOUT_S = 120.0
CONFIRM_GRACE_S = 10.0


@dataclass(frozen=True)
class VerifyOptions:
    opencode: str | None = None
    directory: str | None = None  # default: a fresh project dir inside the run's temp dir
    model: str | None = None
    prompt: str | None = None  # default: a unique marker sentence
    strategy: StrategyName | None = None  # force this strategy
    server_url: str | None = None  # use this server instead of a throwaway one
    no_server: bool = False  # decide as if no server ran (standalone strategies)
    keep: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    tmp_root: str | None = None
    terminal: str | None = None  # "tmux" or "pty"
    matrix_files: Sequence[str] = ()
    credentials: Credentials | None = None  # for a given --server (never printed)


@dataclass
class VerifyReport:
    verified: bool
    strategy: str | None = None
    release: str | None = None
    binary: str | None = None
    forced: bool = False
    decision: Decision | None = None
    steps: list[StepReport] = field(default_factory=list)
    confirmation: Confirmation | None = None
    problem: str | None = None
    fix: str | None = None
    server_url: str | None = None
    throwaway_server: bool = False
    kept: list[str] = field(default_factory=list)  # how to inspect what --keep left
    wall_s: float = 0.0
    last_screen: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "strategy": self.strategy,
            "forced": self.forced,
            "release": self.release,
            "binary": self.binary,
            "server_url": self.server_url,
            "throwaway_server": self.throwaway_server,
            "reasons": list(self.decision.reasons) if self.decision else [],
            "warnings": [a.to_json() for a in self.decision.warnings] if self.decision else [],
            "steps": [s.to_json() for s in self.steps],
            "confirmation": self.confirmation.to_json() if self.confirmation else None,
            "problem": self.problem,
            "fix": self.fix,
            "kept": list(self.kept),
            "wall_s": round(self.wall_s, 3),
            "last_screen": self.last_screen,
        }


def default_prompt() -> str:
    return f"orch-doctor verify {uuid.uuid4().hex[:10]}: reply with OK"


def force_plan(
    strategy: StrategyName,
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
    matrix: Matrix,
) -> Decision:
    """The plan of ``strategy`` even when the matrix demoted (or forbade) it for a known issue:
    the decision's own entry point with ``force``. Its flags must still exist
    (PlanValidationError otherwise)."""
    from orch_doctor.decide.decision import decide

    return decide(caps, server, request, matrix, force=strategy)


def run_verify(
    options: VerifyOptions, *, on_step: Callable[[StepReport], None] | None = None
) -> VerifyReport:
    """Run one verify. Raises VerifyRefused when nothing could be run as asked (and
    PlanValidationError when a forced strategy's flags do not exist); everything started is
    stopped and every temp dir removed before returning or raising, unless ``options.keep``."""
    from orch_doctor.api import get_capabilities, get_server_status
    from orch_doctor.matrix.load import load_matrix

    begin = time.monotonic()
    deadline = begin + options.timeout_s
    report = VerifyReport(verified=False, forced=options.strategy is not None)
    run_dir = make_run_dir(temp_root(options.tmp_root))
    servers: list[ThrowawayServer] = []
    executor: Executor | None = None
    try:
        caps = get_capabilities(options.opencode)
        if caps.binary_path is None:
            finding = caps.finding
            raise VerifyRefused(
                (finding.problem if finding else None) or "no OpenCode binary found",
                (finding.fix if finding else None) or "install OpenCode or pass --opencode PATH",
            )
        report.binary = caps.binary_path
        report.release = caps.version.text if caps.version else None
        home = run_dir / "home"
        env = isolated_env(home)
        project = Path(options.directory or (run_dir / "project")).absolute()
        project.mkdir(parents=True, exist_ok=True)
        prompt = options.prompt or default_prompt()
        request = SpawnRequest(
            directory=str(project),
            model=options.model,
            prompt=prompt,
            server_url=options.server_url if not options.no_server else None,
        )

        matrix = load_matrix(list(options.matrix_files))
        if options.strategy:  # refuse a forced strategy whose flags do not exist before starting
            stand_in = ServerStatus(url="http://127.0.0.1:9", verdict="ok")
            force_plan(options.strategy, caps, stand_in, request, matrix)

        server: ServerStatus | None = None
        credentials = options.credentials
        if options.server_url and not options.no_server:
            report.server_url = options.server_url
        elif not options.no_server:
            servers.append(_start(caps, project, env, run_dir, deadline))
            report.server_url = servers[0].url
            report.throwaway_server = True
            credentials = None
        if report.server_url:
            server = get_server_status(
                report.server_url,
                credentials=credentials,
                client_version=report.release,
                timeout_s=max(min(15.0, deadline - time.monotonic()), 1.0),
            )
        if options.strategy:
            decision = force_plan(options.strategy, caps, server, request, matrix)
        else:
            from orch_doctor.decide.decision import decide

            decision = decide(caps, server, request, matrix)
        report.decision = decision
        report.strategy = decision.strategy
        if decision.plan is None:
            report.problem = "no spawn strategy is possible: " + "; ".join(
                f"{k}: {v}" for k, v in decision.rejected.items()
            )
            report.fix = decision.fix
            return report

        secrets = {PASSWORD_ENV: credentials.password} if credentials else {}
        executor = Executor(
            base_url=decision.plan.server_url,
            terminal_factory=lambda: _terminal(run_dir, options.terminal),
            env=env,
            secrets=secrets,
            credentials=credentials,
            deadline=deadline,
            on_step=on_step,
            diagnostics=lambda: opencode_log_errors(home),
        )
        result = executor.run(decision.plan)
        report.steps = list(result.steps)
        if not result.ok:
            failed = result.failed_step
            report.problem = (
                f"step {failed.index + 1} ({failed.description}) failed: expected "
                f"{failed.expected}; saw {failed.seen}"
                if failed
                else "a step failed"
            )
            report.fix = _fix_for(decision.plan, failed)
        else:
            report.confirmation = _confirm(
                decision.plan, result, executor, caps, project, env, run_dir, servers, deadline
            )
            report.verified = report.confirmation.verified
            if not report.verified:
                report.problem = "delivery not confirmed: " + "; ".join(
                    c.detail for c in report.confirmation.checks if not c.ok
                )
                report.fix = "see the last screen; rerun with --keep to inspect the TUI"
        report.last_screen = executor.screen()
        return report
    except ServerStartError as exc:
        report.problem = f"the throwaway server did not start: {exc}"
        report.fix = "check that `opencode serve` runs: " + (exc.log_tail[-300:] or "no output")
        return report
    except TerminalError as exc:
        report.problem = f"the terminal failed: {exc}"
        report.fix = "install tmux (apt install tmux) or set ORCH_DOCTOR_TERMINAL=pty"
        return report
    finally:
        report.wall_s = time.monotonic() - begin
        if executor is not None:
            executor.close()
        if options.keep:
            report.kept = _keep_notes(executor, servers, run_dir)
        else:
            if executor is not None and executor.terminal is not None:
                executor.terminal.close()
            for srv in servers:
                srv.stop()
            shutil.rmtree(run_dir, ignore_errors=True)


def opencode_log_errors(home: Path, limit: int = 5) -> str:
    """The last ERROR lines of OpenCode's own logs in the isolated data dir."""
    logs = sorted((home / ".local" / "share" / "opencode" / "log").glob("*.log"))
    lines: list[str] = []
    for log in logs[-3:]:
        with contextlib.suppress(OSError):
            lines += [ln for ln in log.read_text("utf-8", "replace").splitlines() if "ERROR" in ln]
    if not lines:
        return ""
    return "opencode log: " + "\n".join(line[:400] for line in lines[-limit:])


def _start(
    caps: Capabilities, project: Path, env: dict[str, str], run_dir: Path, deadline: float
) -> ThrowawayServer:
    assert caps.binary_path is not None
    log = run_dir / f"serve-{len(list(run_dir.glob('serve-*.log')))}.log"
    return start_server(
        caps.binary_path,
        cwd=project,
        env=env,
        log=log,
        timeout_s=max(min(60.0, deadline - time.monotonic()), 1.0),
    )


def _terminal(run_dir: Path, prefer: str | None) -> Terminal:
    return make_terminal(run_dir, prefer)


def _confirm(
    plan: SpawnPlan,
    result: ExecutionResult,
    executor: Executor,
    caps: Capabilities,
    project: Path,
    env: dict[str, str],
    run_dir: Path,
    servers: list[ThrowawayServer],
    deadline: float,
) -> Confirmation:
    """Poll (up to a grace period) until delivery is confirmed or the time is up."""
    prompt = plan.request.prompt if plan.request else None
    directory = plan.request.directory if plan.request else str(project)
    if plan.server_url is None:
        # standalone without a server: a server sharing the data dir reads what the TUI stored
        if not servers:
            servers.append(_start(caps, project, env, run_dir, deadline))
        executor.base_url = servers[-1].url
    end = min(deadline, time.monotonic() + CONFIRM_GRACE_S + 20.0)
    confirmation = evaluate(prompt=prompt, session_id=None, user_texts=None, screen=None)
    while True:
        session_id = result.values.get("session_id")
        texts: list[str] | None = None
        with contextlib.suppress(StepFailed, httpx.HTTPError):
            if session_id is None:
                session_id = _find_session(executor, directory, prompt)
            if session_id is not None:
                texts = user_texts(
                    executor.get_json(f"/session/{session_id}/message", {"directory": directory})
                )
        screen = executor.screen() if executor.terminal is not None else None
        confirmation = evaluate(
            prompt=prompt,
            session_id=session_id,
            user_texts=texts,
            screen=screen,
            failure_markers=failure_markers(plan),
        )
        if confirmation.verified or time.monotonic() >= end:
            return confirmation
        time.sleep(0.5)


def _find_session(executor: Executor, directory: str, prompt: str | None) -> str | None:
    sessions = executor.get_json("/session", {"directory": directory})
    if not isinstance(sessions, list):
        return None
    for session in sorted(
        (s for s in sessions if isinstance(s, dict)),
        key=lambda s: int(json_path(s, "time.created") or 0),
        reverse=True,
    ):
        sid = str(session.get("id"))
        if prompt is None:
            return sid
        messages = executor.get_json(f"/session/{sid}/message", {"directory": directory})
        if any(prompt in t for t in user_texts(messages)):
            return sid
    return None


def _fix_for(plan: SpawnPlan, failed: StepReport | None) -> str:
    if failed is None:
        return "rerun with --keep and inspect the TUI"
    seen = failed.seen or ""
    if "BunInstallFailedError" in seen:
        return (
            "this OpenCode installs its default plugins from the npm registry when it starts, "
            "and that failed: allow registry access or upgrade OpenCode (npm i -g opencode-ai@1)"
        )
    if "it exited" in seen and "models.dev" in seen:
        return (
            "the TUI stopped while models.dev was unreachable (this machine is offline?): "
            "allow access to https://models.dev or try another OpenCode release"
        )
    if "Session not found" in seen:
        return (
            "the attach TUI could not find the session: pass --dir <the session's directory> "
            "(#7149) or use a release >= 1.1.25"
        )
    if "timeout ran out" in seen or "within" in (failed.expected or ""):
        return (
            "the step timed out: raise --timeout (the machine may be loaded) or rerun with --keep"
        )
    if failed.kind == "http":
        return (
            "the server refused the call: check the server's version and routes "
            "(orch-doctor server --server URL)"
        )
    return "rerun with --keep and inspect the TUI and the server log"


def _keep_notes(
    executor: Executor | None, servers: list[ThrowawayServer], run_dir: Path
) -> list[str]:
    notes = []
    if executor is not None and executor.terminal is not None:
        notes.append(f"attach to the TUI: {executor.terminal.attach_hint()}")
    for srv in servers:
        notes.append(f"server: {srv.url} (pid {srv.pid}, log {srv.log})")
    notes.append(f"temp dir (isolated HOME and data): {run_dir}")
    return notes
