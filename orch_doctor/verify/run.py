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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

import httpx

from orch_doctor._util import cleanup
from orch_doctor._util.jsonable import json_fields
from orch_doctor._util.proc import THROWAWAY_GRACE_S, kill_groups
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SESSION_API_1X, Ref, SessionApi, SpawnPlan, Step
from orch_doctor.errors import VerifyRefused
from orch_doctor.execute.confirm import Confirmation
from orch_doctor.execute.executor import Executor, StepReport, fill, url_path
from orch_doctor.execute.spawn import SpawnResult, run_plan
from orch_doctor.execute.terminal import (
    Terminal,
    TerminalError,
    TmuxTerminal,
    attach_hint,
    make_terminal,
    tmux_socket_path,
)
from orch_doctor.matrix.types import Matrix, StrategyName
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.credentials import DEFAULT_USERNAME, Credentials, secrets_for
from orch_doctor.server.types import ServerStatus, route_key
from orch_doctor.verify.throwaway import (
    SERVE_1X,
    SERVE_2X,
    ServerStartError,
    ThrowawayServer,
    isolated_env,
    make_run_dir,
    start_server,
    temp_root,
)

if TYPE_CHECKING:
    from orch_doctor.resolve import Resolution
    from orch_doctor.schemas.shapes import VerifyJSON

DEFAULT_TIMEOUT_S = 120.0
#: how long the clean-up removes the scratch folder itself (an OpenCode of 1.18 installs
#: ~2,600 files of npm packages into its fresh HOME: 0.2-2 s on a loaded machine); the rest is
#: left to a detached ``rm -rf`` that ends by itself
REMOVE_WITHIN_S = 0.1


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
    allow_standalone: bool = False  # the --server given cannot be used: a standalone TUI
    refresh: bool = False  # probe the binary again (not the cached result)
    policy_file: str | None = None  # default: the policy found from the directory upward


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
    #: a successful run kept in the user's cache: what the decision now cites for this binary
    proof: str | None = None

    def to_json(self) -> VerifyJSON:
        decision = self.decision
        shown = json_fields(
            self,
            "verified strategy forced release binary server_url throwaway_server reasons warnings"
            " steps confirmation problem fix kept created removed left wall_s last_screen proof",
            reasons=list(decision.reasons) if decision else [],
            warnings=[a.to_json() for a in decision.warnings] if decision else [],
            wall_s=round(self.wall_s, 3),
        )
        return cast("VerifyJSON", shown)


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
    stopped and every temp dir removed before returning or raising (a folder that takes longer
    than :data:`REMOVE_WITHIN_S` is finished by a detached ``rm -rf``), unless ``options.keep``.

    Against a user's server (``server_url``) the run creates one session there (and its model
    call); it aborts that call and deletes the session again unless ``options.keep``.
    Everything started is registered (orch_doctor._util.cleanup) under this run's scope, so the
    CLI's signal handler stops it at any moment too. ``on_phase`` hears what the run starts
    before the plan's first step (probing, the throwaway server, the decision), as it starts,
    and the clean-up as it begins.

    The phases, each a function of its own: :func:`prepare` (probe the binary, the request),
    :func:`choose_server` (start the throwaway server, check it), :func:`decide_plan`,
    :func:`execute` (the plan's steps and the confirmation), :func:`finish` (keep or clean up),
    and :func:`build_report` from what each phase returned; a verified run is then kept as a
    proof on this machine (:func:`keep_proof`)."""
    begin = time.monotonic()
    deadline = begin + options.timeout_s
    phase = on_phase or _silent
    started = Started.open(options.tmp_root)
    prepared: Prepared | None = None
    server: ServerChoice | None = None
    decision: Decision | None = None
    outcome: SpawnResult | None = None
    failure: Failure | None = None
    try:
        prepared = prepare(options, started, phase)
        server = choose_server(options, prepared, started, deadline, phase)
        decision = decide_plan(options, prepared, server)
        if decision.plan is not None:
            outcome = execute(
                options, prepared, server, decision.plan, started, deadline, on_step, on_step_start
            )
    except ServerStartError as exc:
        failure = Failure(
            f"the throwaway server did not start: {exc}; its output: "
            + (exc.log_tail[-300:] or "none"),
            "opencode serve",  # run by hand, it shows why
        )
    except TerminalError as exc:
        failure = Failure(
            f"the terminal failed: {exc} (install tmux, or set ORCH_DOCTOR_TERMINAL=pty)",
            "apt-get install tmux",
        )
    finally:
        wall_s = time.monotonic() - begin
        ended = finish(started, keep=options.keep, phase=phase)
    report = build_report(
        options,
        prepared=prepared,
        server=server,
        decision=decision,
        outcome=outcome,
        failure=failure,
        ended=ended,
        wall_s=wall_s,
    )
    if report.verified and prepared is not None and report.strategy not in (None, "none"):
        report.proof = keep_proof(prepared, report)
    return report


def keep_proof(prepared: Prepared, report: VerifyReport) -> str | None:
    """Keep a successful run in the user's cache, keyed by the binary's sha256 and the
    strategy: from then on the decision cites it ("verified on this machine"). What it says,
    or None when the cache cannot be written."""
    from orch_doctor.resolve.proofs import record_proof

    if report.strategy is None:
        return None
    proof = record_proof(prepared.binary, report.strategy, prepared.release)
    return proof.message() if proof is not None else None


def _silent(_text: str) -> None:
    return None


# --- what a run started ------------------------------------------------------------------------


@dataclass
class Started:
    """What one run started, for its clean-up: its scope token and scratch folder (registered
    when the run opens), the throwaway servers, the executor (and its terminals), the sessions
    made in a user's server. Each phase adds what it starts, at once: a phase that raises leaves
    here everything the clean-up must stop."""

    scope: str
    run_dir: Path
    servers: list[ThrowawayServer] = field(default_factory=list)
    executor: Executor | None = None
    sessions: UserSessions | None = None

    @classmethod
    def open(cls, tmp_root: str | None) -> Started:
        scope = cleanup.new_token()
        run_dir = make_run_dir(temp_root(tmp_root))
        cleanup.register_dir(run_dir, "verify scratch folder", scope)
        return cls(scope, run_dir)

    def created(self) -> list[str]:
        return [
            *(f"throwaway server {srv.url} (pid {srv.pid})" for srv in self.servers),
            *(self.sessions.describe() if self.sessions is not None else []),
            f"scratch folder {self.run_dir}",
        ]


@dataclass(frozen=True)
class Failure:
    """A run that could not go on: what went wrong and what to do."""

    problem: str
    fix: str


# --- phase 1: the binary and the request -------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """The probed binary, the agent's directory, the run's isolated environment, the request
    and the matrix."""

    caps: Capabilities
    binary: str
    release: str | None
    project: Path
    home: Path
    env: dict[str, str]
    request: SpawnRequest
    matrix: Matrix
    resolution: Resolution  # the request resolution every command shares (binary, policy, …)


def prepare(options: VerifyOptions, started: Started, phase: Callable[[str], None]) -> Prepared:
    """Probe the binary (VerifyRefused: none), make the agent's directory and the isolated
    environment, load the matrix and refuse a forced strategy whose flags do not exist before
    anything is started (PlanValidationError). The binary, the policy, the matrix and
    ``allow_standalone`` are resolved as every command resolves them; the server is verify's
    own (``--server``, else a throwaway one)."""
    project = _project_dir(options.directory, started.run_dir)
    prompt = options.prompt or default_prompt()
    resolution = _resolution(options, project, prompt)
    phase("probe the OpenCode binary")
    caps = resolution.capabilities.get()
    if caps.binary_path is None:
        finding = caps.finding
        raise VerifyRefused(
            (finding.problem if finding else None) or "no OpenCode binary found",
            (finding.fix if finding else None) or "install OpenCode or pass --opencode PATH",
        )
    home = started.run_dir / "home"
    env = isolated_env(home)
    env[cleanup.SCOPE_ENV] = started.scope  # every process of the run, and what they start
    request = SpawnRequest(
        directory=str(project),
        model=options.model,
        prompt=prompt,
        server_url=options.server_url if not options.no_server else None,
    )
    matrix = resolution.matrix
    if options.strategy:  # refuse a forced strategy whose flags do not exist before starting
        stand_in = ServerStatus(url="http://127.0.0.1:9", verdict="ok")
        force_plan(options.strategy, caps, stand_in, request, matrix)
    return Prepared(
        caps=caps,
        binary=caps.binary_path,
        release=caps.version.text if caps.version else None,
        project=project,
        home=home,
        env=env,
        request=request,
        matrix=matrix,
        resolution=resolution,
    )


# --- phase 2: the server -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerChoice:
    """The server the plan runs against: the user's (``--server``), a throwaway one, or none
    (``--no-server``), its status, and the credentials its calls use."""

    url: str | None
    throwaway: bool
    status: ServerStatus | None
    credentials: Credentials | None


def choose_server(
    options: VerifyOptions,
    prepared: Prepared,
    started: Started,
    deadline: float,
    phase: Callable[[str], None],
) -> ServerChoice:
    """The user's server, or a throwaway ``opencode serve`` started now (ServerStartError), or
    none; a server is checked (its version, routes, directory)."""
    from orch_doctor.api import get_server_status

    if options.no_server:
        return ServerChoice(None, False, None, options.credentials)
    if options.server_url:
        url, throwaway, credentials = options.server_url, False, options.credentials
        if credentials is None:  # the user's registered 2.x service: its file's password
            from orch_doctor.server.registration import registered_credentials

            credentials = registered_credentials(url)
    else:
        phase("start a throwaway opencode serve (own HOME, free loopback port)")
        started.servers.append(_start(prepared, started, deadline))
        first = started.servers[0]
        url, throwaway = first.url, True
        # a 2.x serve forces auth: the password the run gave it (never shown)
        credentials = Credentials(DEFAULT_USERNAME, first.password) if first.password else None
    phase(f"check the server at {url}")
    status = get_server_status(
        url,
        credentials=credentials,
        client_version=prepared.release,
        timeout_s=max(min(15.0, deadline - time.monotonic()), 1.0),
    )
    return ServerChoice(url, throwaway, status, credentials)


# --- phase 3: the decision ---------------------------------------------------------------------


def decide_plan(options: VerifyOptions, prepared: Prepared, server: ServerChoice) -> Decision:
    """The decision for this OpenCode and server, or the forced strategy's plan."""
    if options.strategy:
        return force_plan(
            options.strategy, prepared.caps, server.status, prepared.request, prepared.matrix
        )
    return prepared.resolution.decide_for(
        prepared.caps,
        server.status,
        prepared.request,
        prepared.env,  # env: the TUI's
    )


# --- phase 4: the plan's steps and the confirmation --------------------------------------------


def execute(
    options: VerifyOptions,
    prepared: Prepared,
    server: ServerChoice,
    plan: SpawnPlan,
    started: Started,
    deadline: float,
    on_step: Callable[[StepReport], None] | None,
    on_step_start: Callable[[int, Step], None] | None,
) -> SpawnResult:
    """Run the plan's steps in a terminal of the run's own and confirm delivery. A session
    made in a user's server is registered for removal (a signal removes it too)."""
    credentials = server.credentials
    executor = Executor(
        base_url=plan.server_url,
        terminal_factory=partial(
            _terminal, started.run_dir, options.terminal, started.scope, deadline
        ),
        env=prepared.env,
        secrets=secrets_for(credentials),
        credentials=credentials,
        deadline=deadline,
        on_step=on_step,
        on_step_start=on_step_start,
        diagnostics=partial(opencode_log_errors, prepared.home),
    )
    started.executor = executor
    sessions: UserSessions | None = None
    if plan.server_url and not server.throwaway:
        # the user's own server: what the run makes there is removed again (a signal too)
        sessions = UserSessions(
            plan.server_url,
            credentials,
            server.status.routes if server.status is not None else None,
            str(prepared.project),
            executor.values,
            plan.session_api,
        )
        started.sessions = sessions
        cleanup.register_callback(
            sessions.remove, "the session in the user's server", started.scope
        )
    confirm_with = partial(_confirming_server, plan, executor, prepared, started, deadline)
    outcome = run_plan(executor, plan, target=None, before_confirm=confirm_with)
    if sessions is not None and outcome.session_id:
        sessions.add(outcome.session_id)
    return outcome


def _confirming_server(
    plan: SpawnPlan, executor: Executor, prepared: Prepared, started: Started, deadline: float
) -> None:
    """A plan without a server (standalone): one sharing the data dir reads what it stored."""
    if plan.server_url is None:
        if not started.servers:
            started.servers.append(_start(prepared, started, deadline))
        executor.base_url = started.servers[-1].url


# --- phase 5: keep or clean up -----------------------------------------------------------------


@dataclass(frozen=True)
class Ended:
    """What the run made, and what its end kept, removed or could not remove."""

    created: list[str]
    kept: list[str]
    removed: list[str]
    left: list[str]


def finish(started: Started, *, keep: bool, phase: Callable[[str], None]) -> Ended:
    """Close the executor; then leave everything for inspection (``keep``: how to look at it
    and remove it afterwards), or stop it all. The throwaway server and the TUI are stopped at
    once and without a grace period (their HOME is the run's and goes next); then the rest of
    the scope: a session in a user's server, any process that left its group (setsid) but
    carries the run's token, the scratch folder."""
    executor, servers, sessions = started.executor, started.servers, started.sessions
    if executor is not None:
        executor.close()
    created = started.created()
    if keep:
        kept = _keep_notes(executor, servers, started.run_dir, sessions)
        cleanup.release(started.scope)
        return Ended(created, kept, [], [])
    goes = _what_goes(started)
    if len(goes) > 1:  # more than the scratch folder: a moment worth announcing
        phase("clean up (" + ", ".join(goes) + ")")
    terminals = list(executor.terminals) if executor is not None else []
    groups = [srv.pid for srv in servers if srv.process.poll() is None]
    groups += [g for g in map(_tui_group, terminals) if g is not None]
    kill_groups(groups, grace_s=THROWAWAY_GRACE_S)
    for terminal in terminals:
        terminal.close()
    # a killed server takes ~0.1 s to tear down its memory: its folder goes meanwhile (it writes
    # nothing more), then it is reaped
    done = cleanup.stop_scope(started.scope, remove_within_s=REMOVE_WITHIN_S)
    for srv in servers:
        srv.stop()
    background = [b for b in done.background if not b.endswith("(NOT removed)")]
    removed = [
        *(f"throwaway server {srv.url}" for srv in servers),
        *done.removed,
        *(f"scratch folder {d}" for d in done.dirs),
        *(f"scratch folder {b}, finishing in the background" for b in background),
    ]
    not_removed = [b for b in done.background if b not in background]
    left = list(done.left) + not_removed + (sessions.problems if sessions else [])
    return Ended(created, [], removed, left)


def _what_goes(started: Started) -> list[str]:
    what = ["the throwaway server"] if started.servers else []
    if started.executor is not None and started.executor.terminals:
        what.append("the TUI")
    if started.sessions is not None and started.sessions.known():
        what.append("the session in your server")
    return [*what, "the scratch folder"]


# --- the report --------------------------------------------------------------------------------


def build_report(
    options: VerifyOptions,
    *,
    prepared: Prepared | None,
    server: ServerChoice | None,
    decision: Decision | None,
    outcome: SpawnResult | None,
    failure: Failure | None,
    ended: Ended,
    wall_s: float,
) -> VerifyReport:
    """The report of a run from what its phases returned (None: the phase was not reached)."""
    report = VerifyReport(
        verified=outcome.ok if outcome is not None else False,
        forced=options.strategy is not None,
        binary=prepared.binary if prepared else None,
        release=prepared.release if prepared else None,
        server_url=server.url if server else None,
        throwaway_server=server.throwaway if server else False,
        decision=decision,
        strategy=decision.strategy if decision else None,
        created=ended.created,
        kept=ended.kept,
        removed=ended.removed,
        left=ended.left,
        wall_s=wall_s,
    )
    if failure is not None:
        report.problem, report.fix = failure.problem, failure.fix
    elif decision is not None and decision.plan is None:
        report.problem = "no spawn strategy is possible: " + "; ".join(
            f"{k}: {v.message}" for k, v in decision.rejected.items()
        )
        report.fix = decision.fix
    if outcome is not None:
        report.steps = list(outcome.steps)
        report.confirmation = outcome.confirmation
        report.problem = outcome.problem
        report.fix = outcome.fix
        if outcome.code in ("timeout", "deadline"):
            report.fix = "orch-doctor verify --timeout 300"  # the machine may be loaded
        if not outcome.ok and outcome.confirmation is not None:
            report.fix = "orch-doctor verify --keep"  # then inspect the TUI (see the last screen)
        report.last_screen = outcome.last_screen
    return report


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


def _resolution(options: VerifyOptions, project: Path, prompt: str) -> Resolution:
    """The request resolution every command shares (orch_doctor.resolve), for this run."""
    from orch_doctor.resolve import Resolution, Selection

    selection = Selection(
        directory=str(project),
        model=options.model,
        prompt=prompt,
        server_url=options.server_url,
        opencode=options.opencode,
        allow_standalone=options.allow_standalone,
        discover=False,  # verify's server is its own: --server, else a throwaway one
        refresh=options.refresh,
        matrix_files=tuple(options.matrix_files),
        policy_file=options.policy_file,
        credentials=options.credentials,
    )
    return Resolution(selection)


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


@dataclass
class UserSessions:
    """The sessions a run made in a user's own server, and their removal by the plan's own
    session routes (``SpawnPlan.session_api``): stop a model call that may still run (1.x
    ``POST /session/{id}/abort``, 2.x ``POST /api/session/{id}/interrupt``), then ``DELETE``
    the session."""

    url: str
    credentials: Credentials | None
    routes: frozenset[str] | None  # the server's routes; None: unknown (try anyway)
    directory: str
    values: dict[str, str]  # the executor's saved values (live)
    api: SessionApi = SESSION_API_1X
    ids: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def route_keys(self) -> tuple[str, str]:
        """The route keys of DELETE (the session) and POST (stop its work)."""
        any_id = {"session_id": "{id}"}
        session, stop = (
            "/" + "/".join(fill(s, any_id)) for s in (self.api.session, self.api.abort)
        )
        return route_key("DELETE", session), route_key("POST", stop)

    def _path(self, segments: tuple[str | Ref, ...], session_id: str) -> str:
        """``/session/ID/abort``: one of the plan's session routes for that session."""
        return url_path(fill(segments, {"session_id": session_id}))

    def path(self, session_id: str) -> str:
        """The session's URL, for the removal hint ``--keep`` prints."""
        query = (
            "?" + urllib.parse.urlencode({"directory": self.directory})
            if self.api.directory_query
            else ""
        )
        return f"{self.url}{self._path(self.api.session, session_id)}{query}"

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
        delete_route, abort_route = self.route_keys()
        if self.routes is not None and delete_route not in self.routes:
            self.problems.append(
                f"session {', '.join(todo)} in {self.url}: this server has no {delete_route}"
            )
            return None
        auth = (
            httpx.BasicAuth(self.credentials.username, self.credentials.password)
            if self.credentials
            else None
        )
        query = {"directory": self.directory} if self.api.directory_query else {}
        deleted = []
        from orch_doctor.server.tls import tls_verify

        with httpx.Client(timeout=timeout_s, auth=auth, verify=tls_verify([self.url])) as client:
            for sid in todo:
                try:
                    if self.routes is None or abort_route in self.routes:
                        client.post(self.url + self._path(self.api.abort, sid), params=query)
                    answer = client.delete(
                        self.url + self._path(self.api.session, sid), params=query
                    )
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


def _start(prepared: Prepared, started: Started, deadline: float) -> ThrowawayServer:
    """A throwaway server of the binary's own release line (2.x: with a password of the run's)."""
    from orch_doctor.decide.rules import client_generation

    run_dir = started.run_dir
    log = run_dir / f"serve-{len(list(run_dir.glob('serve-*.log')))}.log"
    return start_server(
        prepared.binary,
        cwd=prepared.project,
        env=prepared.env,
        log=log,
        timeout_s=max(min(60.0, deadline - time.monotonic()), 1.0),
        scope=started.scope,
        kind=SERVE_2X if client_generation(prepared.caps) == "2.x" else SERVE_1X,
    )


def _terminal(
    run_dir: Path, prefer: str | None, scope: str | None = None, deadline: float | None = None
) -> Terminal:
    """The run's own terminal: its TUI is a throwaway (no grace period when it is closed)."""
    return make_terminal(run_dir, prefer, scope, deadline, stop_grace_s=THROWAWAY_GRACE_S)


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
        # a server with a password: curl asks for it (it is never printed)
        user = f"-u {shlex.quote(sessions.credentials.username)} " if sessions.credentials else ""
        for sid in sessions.known():
            where = shlex.quote(sessions.path(sid))
            notes.append(
                f"session {sid} in your server {sessions.url}; remove it: "
                f"curl {user}-X DELETE {where}"
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
