"""One verify run: pick (or force) the strategy, run its plan against a throwaway server in an
isolated data dir, confirm delivery, clean up everything (unless ``keep``).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from orch_doctor._util import cleanup
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import Step
from orch_doctor.errors import VerifyRefused
from orch_doctor.execute.confirm import Confirmation
from orch_doctor.execute.executor import Executor, StepReport
from orch_doctor.execute.spawn import run_plan
from orch_doctor.execute.terminal import (
    Terminal,
    TerminalError,
    TmuxTerminal,
    attach_hint,
    make_terminal,
    tmux_socket_path,
)
from orch_doctor.matrix.model import Matrix, StrategyName
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.credentials import PASSWORD_ENV, Credentials
from orch_doctor.server.types import ServerStatus
from orch_doctor.verify.throwaway import (
    ServerStartError,
    ThrowawayServer,
    isolated_env,
    make_run_dir,
    start_server,
    temp_root,
)

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import VerifyJSON

DEFAULT_TIMEOUT_S = 120.0


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
    strategy: StrategyName | None = None
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
    created: list[str] = field(default_factory=list)  # what this run made (servers, sessions)
    removed: list[str] = field(default_factory=list)  # what its clean-up removed again
    left: list[str] = field(default_factory=list)  # what its clean-up could not remove
    wall_s: float = 0.0
    last_screen: str = ""

    def to_json(self) -> VerifyJSON:
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
            "created": list(self.created),
            "removed": list(self.removed),
            "left": list(self.left),
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
    options: VerifyOptions,
    *,
    on_step: Callable[[StepReport], None] | None = None,
    on_step_start: Callable[[int, Step], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Run one verify. Raises VerifyRefused when nothing could be run as asked (and
    PlanValidationError when a forced strategy's flags do not exist); everything started is
    stopped and every temp dir removed before returning or raising, unless ``options.keep``.

    Against a user's server (``server_url``) the run creates one session there (and its model
    call); it aborts that call and deletes the session again unless ``options.keep``.
    Everything started is registered (orch_doctor._util.cleanup) under this run's scope, so the
    CLI's signal handler stops it at any moment too. ``on_phase`` hears what the run starts
    before the plan's first step (probing, the throwaway server, the decision), as it starts."""
    from orch_doctor.api import get_capabilities, get_server_status
    from orch_doctor.matrix.load import load_matrix

    begin = time.monotonic()
    deadline = begin + options.timeout_s
    report = VerifyReport(verified=False, forced=options.strategy is not None)
    scope = cleanup.new_token()
    run_dir = make_run_dir(temp_root(options.tmp_root))
    cleanup.register_dir(run_dir, "verify scratch folder", scope)
    servers: list[ThrowawayServer] = []
    executor: Executor | None = None
    sessions: UserSessions | None = None
    try:

        def phase(text: str) -> None:
            if on_phase is not None:
                on_phase(text)

        project = _project_dir(options.directory, run_dir)
        phase("probe the OpenCode binary")
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
        env[cleanup.SCOPE_ENV] = scope  # every process of the run, and what they start
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
            phase("start a throwaway opencode serve (own HOME, free loopback port)")
            servers.append(_start(caps, project, env, run_dir, deadline, scope))
            report.server_url = servers[0].url
            report.throwaway_server = True
            credentials = None
        if report.server_url:
            phase(f"check the server at {report.server_url}")
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
                f"{k}: {v.message}" for k, v in decision.rejected.items()
            )
            report.fix = decision.fix
            return report

        secrets = {PASSWORD_ENV: credentials.password} if credentials else {}
        executor = Executor(
            base_url=decision.plan.server_url,
            terminal_factory=lambda: _terminal(run_dir, options.terminal, scope, deadline),
            env=env,
            secrets=secrets,
            credentials=credentials,
            deadline=deadline,
            on_step=on_step,
            on_step_start=on_step_start,
            diagnostics=lambda: opencode_log_errors(home),
        )
        if decision.plan.server_url and not report.throwaway_server:
            # the user's own server: what the run makes there is removed again (a signal too)
            sessions = UserSessions(
                decision.plan.server_url,
                credentials,
                server.routes if server is not None else None,
                str(project),
                executor.values,
            )
            cleanup.register_callback(sessions.remove, "the session in the user's server", scope)
        plan = decision.plan

        def confirm_server() -> None:
            if plan.server_url is None and executor is not None:
                # standalone without a server: one sharing the data dir reads what it stored
                if not servers:
                    servers.append(_start(caps, project, env, run_dir, deadline, scope))
                executor.base_url = servers[-1].url

        outcome = run_plan(executor, plan, target=None, before_confirm=confirm_server)
        report.steps = list(outcome.steps)
        report.confirmation = outcome.confirmation
        if sessions is not None and outcome.session_id:
            sessions.add(outcome.session_id)
        report.verified = outcome.ok
        report.problem = outcome.problem
        report.fix = outcome.fix
        if outcome.code in ("timeout", "deadline"):
            report.fix = "orch-doctor verify --timeout 300"  # the machine may be loaded
        if not outcome.ok and outcome.confirmation is not None:
            report.fix = "orch-doctor verify --keep"  # then inspect the TUI (see the last screen)
        report.last_screen = outcome.last_screen
        return report
    except ServerStartError as exc:
        report.problem = f"the throwaway server did not start: {exc}; its output: " + (
            exc.log_tail[-300:] or "none"
        )
        report.fix = "opencode serve"  # run by hand, it shows why
        return report
    except TerminalError as exc:
        report.problem = (
            f"the terminal failed: {exc} (install tmux, or set ORCH_DOCTOR_TERMINAL=pty)"
        )
        report.fix = "apt-get install tmux"
        return report
    finally:
        report.wall_s = time.monotonic() - begin
        if executor is not None:
            executor.close()
        report.created = [
            *(f"throwaway server {srv.url} (pid {srv.pid})" for srv in servers),
            *(sessions.describe() if sessions is not None else []),
            f"scratch folder {run_dir}",
        ]
        if options.keep:
            report.kept = _keep_notes(executor, servers, run_dir, sessions)
            cleanup.release(scope)
        else:
            if executor is not None and executor.terminal is not None:
                executor.terminal.close()
            for srv in servers:
                srv.stop()
            # the rest of the scope: the session in a user's server, any process that left its
            # group (setsid) but carries the run's token, the scratch folder
            done = cleanup.stop_scope(scope)
            report.removed = [
                *(f"throwaway server {srv.url}" for srv in servers),
                *done.removed,
                *(f"scratch folder {d}" for d in done.dirs),
            ]
            report.left = list(done.left) + (sessions.problems if sessions else [])


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


def _project_dir(directory: str | None, run_dir: Path) -> Path:
    """The agent's directory: ``--dir`` (made if missing) or a fresh one in the run dir."""
    if directory is None:
        project = run_dir / "project"
        project.mkdir()
        return project
    project = Path(directory).absolute()
    if project.exists() and not project.is_dir():
        raise VerifyRefused(
            f"--dir {shlex.quote(str(project))} is not a directory",
            "pass the agent's directory (or a new path: it is created)",
        )
    try:
        project.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VerifyRefused(
            f"cannot create --dir {shlex.quote(str(project))}: {exc.strerror or exc}",
            f"create it first: mkdir -p {shlex.quote(str(project))}",
        ) from exc
    return project


_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
ABORT_ROUTE = "POST /session/{id}/abort"
DELETE_ROUTE = "DELETE /session/{id}"


@dataclass
class UserSessions:
    """The sessions a run made in a user's own server, and their removal: abort a model call
    that may still run (``POST /session/{id}/abort``), then ``DELETE /session/{id}``."""

    url: str
    credentials: Credentials | None
    routes: frozenset[str] | None  # the server's routes; None: unknown (try anyway)
    directory: str
    values: dict[str, str]  # the executor's saved values (live)
    ids: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, session_id: str) -> None:
        if session_id not in self.ids:
            self.ids.append(session_id)

    def describe(self) -> list[str]:
        return [f"session {sid} in {self.url}" for sid in self.known()]

    def known(self) -> list[str]:
        found = list(self.ids)
        saved = self.values.get("session_id")
        if saved and saved not in found:
            found.insert(0, saved)
        return [sid for sid in found if _SESSION_ID.fullmatch(sid)]

    def remove(self, timeout_s: float) -> str | None:
        """Abort and delete every known session; what was deleted, or None."""
        todo = [sid for sid in self.known() if sid not in self.removed]
        if not todo:
            return None
        if self.routes is not None and DELETE_ROUTE not in self.routes:
            self.problems.append(
                f"session {', '.join(todo)} in {self.url}: this server has no {DELETE_ROUTE}"
            )
            return None
        auth = (
            httpx.BasicAuth(self.credentials.username, self.credentials.password)
            if self.credentials
            else None
        )
        query = {"directory": self.directory}
        deleted = []
        with httpx.Client(timeout=timeout_s, auth=auth) as client:
            for sid in todo:
                try:
                    if self.routes is None or ABORT_ROUTE in self.routes:
                        client.post(f"{self.url}/session/{sid}/abort", params=query)
                    answer = client.delete(f"{self.url}/session/{sid}", params=query)
                except httpx.HTTPError as exc:
                    self.problems.append(f"session {sid} in {self.url}: {type(exc).__name__}")
                    continue
                if answer.status_code in (200, 204):
                    deleted.append(sid)
                else:
                    self.problems.append(
                        f"session {sid} in {self.url}: DELETE answered {answer.status_code}"
                    )
        self.removed += deleted
        return f"session {', '.join(deleted)} from {self.url}" if deleted else None


def _start(
    caps: Capabilities,
    project: Path,
    env: dict[str, str],
    run_dir: Path,
    deadline: float,
    scope: str | None = None,
) -> ThrowawayServer:
    assert caps.binary_path is not None
    log = run_dir / f"serve-{len(list(run_dir.glob('serve-*.log')))}.log"
    return start_server(
        caps.binary_path,
        cwd=project,
        env=env,
        log=log,
        timeout_s=max(min(60.0, deadline - time.monotonic()), 1.0),
        scope=scope,
    )


def _terminal(
    run_dir: Path, prefer: str | None, scope: str | None = None, deadline: float | None = None
) -> Terminal:
    return make_terminal(run_dir, prefer, scope, deadline)


def _tui_group(terminal: object) -> int | None:
    """The process group of the TUI a terminal runs (tmux pane or pseudo-terminal), if any."""
    for name in ("pane_pid", "process_group"):
        value = getattr(terminal, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _keep_notes(
    executor: Executor | None,
    servers: list[ThrowawayServer],
    run_dir: Path,
    sessions: UserSessions | None = None,
) -> list[str]:
    """How to inspect what ``--keep`` left, and how to remove it afterwards."""
    notes = []
    terminal = executor.terminal if executor is not None else None
    if terminal is not None:
        notes.append(f"attach to the TUI: {attach_hint(terminal)}")
    for srv in servers:
        notes.append(f"server: {srv.url} (pid {srv.pid}, log {srv.log})")
    if sessions is not None:
        for sid in sessions.known():
            query = shlex.quote(
                f"{sessions.url}/session/{sid}?"
                + urllib.parse.urlencode({"directory": sessions.directory})
            )
            notes.append(
                f"session {sid} in your server {sessions.url}; remove it: curl -X DELETE {query}"
            )
    notes.append(f"temp dir (isolated HOME and data): {run_dir}")
    # process groups (each its own session): the servers' and the TUI's, in tmux or in the
    # pseudo-terminal (which outlives this process: it is killed by its group, not its pty)
    groups = [srv.pid for srv in servers]
    tui = _tui_group(terminal)
    if tui is not None:
        groups.append(tui)
    targets = " ".join(f"-{group}" for group in groups)
    cleanup_steps = [f"kill -s TERM -- {targets}"] if groups else []  # sh, bash, procps
    if isinstance(terminal, TmuxTerminal):
        socket = shlex.quote(str(tmux_socket_path(terminal.socket)))
        cleanup_steps.append(f"tmux -S {socket} kill-server")
        cleanup_steps.append(f"rm -f {socket}")
    cleanup_steps.append("sleep 1")
    if groups:  # what did not stop on SIGTERM within a second
        cleanup_steps.append(f"kill -s KILL -- {targets} 2>/dev/null")
    cleanup_steps.append(f"rm -rf {shlex.quote(str(run_dir))}")
    notes.append("clean up: " + "; ".join(cleanup_steps))
    return notes
