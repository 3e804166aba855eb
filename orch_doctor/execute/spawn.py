"""``execute_plan``: run a :class:`SpawnPlan` in the caller's terminal and confirm delivery.

The one executor: ``orch-doctor spawn`` and orch call it with a window of their tmux session,
``verify`` with a terminal of its own against a throwaway server. A delivery failure is a result
(``ok=False`` with the failed step, what was expected, what was seen and a fix), never an
exception; only a programming error raises (no target, a tmux session that does not exist).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast, get_args

import httpx

from orch_doctor._util import cleanup
from orch_doctor._util.jsonable import json_fields
from orch_doctor._util.timeouts import check_timeout
from orch_doctor.decide.steps import SpawnPlan, Step
from orch_doctor.errors import OrchDoctorError
from orch_doctor.execute.confirm import Confirmation, evaluate
from orch_doctor.execute.executor import (
    ExecutionResult,
    Executor,
    FailureCode,
    StepFailed,
    StepReport,
    failure_markers,
    fill,
    screen_tail,
    url_path,
)
from orch_doctor.execute.terminal import Terminal, TerminalError, TmuxWindowTerminal
from orch_doctor.server.credentials import (
    PASSWORD_ENVS,
    Credentials,
    credentials_from_env,
    secrets_for,
)

#: why a spawn failed: its failed step's code, delivery not confirmed, no strategy at all, or a
#: strategy that rests on a condition nobody could measure here (``spawn`` refuses it: not ✓)
SpawnFailureCode = Literal[FailureCode, "not-confirmed", "no-strategy", "not-measured"]
SPAWN_FAILURE_CODES: tuple[SpawnFailureCode, ...] = get_args(SpawnFailureCode)

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import SpawnJSON

DEFAULT_TIMEOUT_S = 120.0
CONFIRM_S = 30.0  # how long delivery is polled after the last step
CONFIRM_POLL_S = 0.2


@dataclass
class SpawnResult:
    """What a spawn did. ``steps``: each step's description, outcome and seconds; on failure
    ``failed_step`` has ``expected`` and ``seen``, and ``fix`` says what to do."""

    ok: bool
    session_id: str | None
    target: str | None
    steps: list[StepReport] = field(default_factory=list)
    #: the tmux window made (its unique id, ``@12``); ``target`` stays the SESSION:WINDOW given
    window_id: str | None = None
    strategy: str | None = None
    confirmation: Confirmation | None = None
    problem: str | None = None
    fix: str | None = None
    #: on failure, why as a stable code: the failed step's (``FailureCode``), or
    #: "not-confirmed" (every step ran, delivery was not confirmed) or "terminal"
    code: SpawnFailureCode | None = None
    #: on failure: the known failure its screen or log shows (a known issue's id, or
    #: ``condition:<id>``), whose fix ``fix`` is
    issue: str | None = None
    #: the terminal's last screen: its lines that carry text (blank and frame-only lines and
    #: the shared indent dropped), in JSON and text alike
    last_screen: str = ""
    wall_s: float = 0.0

    @property
    def failed_step(self) -> StepReport | None:
        return next((s for s in self.steps if s.outcome == "failed"), None)

    def to_json(self) -> SpawnJSON:
        shown = json_fields(
            self,
            "ok session_id target window_id strategy steps confirmation problem fix code issue"
            " wall_s last_screen",
            strategy=self.strategy or "none",
            wall_s=round(self.wall_s, 3),
        )
        return cast("SpawnJSON", shown)


def execute_plan(
    plan: SpawnPlan,
    *,
    tmux_target: str | None = None,
    terminal: Terminal | None = None,
    tmux_socket: str | None = None,
    credentials: Credentials | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_step: Callable[[StepReport], None] | None = None,
    on_step_start: Callable[[int, Step], None] | None = None,
) -> SpawnResult:
    """Run ``plan`` (``Decision.plan``) and confirm the prompt arrived; the agent keeps running.

    ``tmux_target="SESSION:WINDOW"`` opens WINDOW in the existing SESSION of the user's tmux
    server (``$TMUX`` / ``TMUX_TMPDIR``, or ``tmux_socket`` as ``tmux -L``) and leaves the
    agent running there; ``terminal`` is any :class:`Terminal` instead. ``credentials``
    default to OPENCODE_SERVER_PASSWORD / OPENCODE_SERVER_USERNAME; the password reaches the
    TUI through its environment only. ``env`` (default: this process's) is the TUI's.
    ``timeout_s`` bounds the whole call, every tmux call included.

    WINDOW must not name a window of SESSION yet; the new window's unique id is
    ``result.window_id``. Until the call returns, a clean-up (a signal, through
    orch_doctor._util.cleanup; or an exception such as KeyboardInterrupt) kills the window and
    deletes the session this run created; once it returns, both stay (a delivered agent runs on,
    a failed one is left to inspect).

    Returns ``SpawnResult(ok, session_id, target, steps, ...)``: a delivery failure is
    ``ok=False`` with ``failed_step`` (expected, seen) and ``fix``, never an exception. Raises
    ValueError / TmuxTargetError (an OrchDoctorError) only when called wrongly: no tmux session
    SESSION, or a window WINDOW already in it (nothing was started), or a ``timeout_s`` that is
    not a finite number of seconds above 0.
    """
    timeout_s = check_timeout(timeout_s)
    if not isinstance(plan, SpawnPlan):
        raise ValueError("execute_plan needs a SpawnPlan (decision.plan is None: no strategy)")
    if (tmux_target is None) == (terminal is None):
        raise ValueError("give exactly one of tmux_target='SESSION:WINDOW' or terminal=")
    begin = time.monotonic()
    deadline = begin + timeout_s
    target: str | None
    window: TmuxWindowTerminal | None = None
    if tmux_target is not None:
        window = TmuxWindowTerminal(tmux_target, socket_name=tmux_socket, deadline=deadline)
        window.check_session()  # TmuxTargetError: nothing was started
        chosen: Terminal = window
        target = tmux_target
    else:
        assert terminal is not None
        chosen, target = terminal, str(getattr(terminal, "name", type(terminal).__name__))
    child_env = dict(os.environ if env is None else env)
    creds = credentials or credentials_from_env(child_env)
    if creds is None and plan.server_url:
        # the user's registered OpenCode 2.x service: the password its registration file gives
        from orch_doctor.server.registration import registered_credentials

        creds = registered_credentials(plan.server_url, child_env)
    for name in PASSWORD_ENVS:
        child_env.pop(name, None)  # only through the plan's secret_env
    made: list[Terminal] = []

    def factory() -> Terminal:
        if made:  # a second process step: a second terminal only for the tmux case
            if tmux_target is None:
                raise TerminalError("one terminal was given, the plan has two process steps")
            extra = TmuxWindowTerminal(tmux_target, socket_name=tmux_socket, deadline=deadline)
            made.append(extra)
            return extra
        made.append(chosen)
        return chosen

    executor = Executor(
        base_url=plan.server_url,
        terminal_factory=factory,
        env=child_env,
        secrets=secrets_for(creds),
        credentials=creds,
        deadline=deadline,
        on_step=on_step,
        on_step_start=on_step_start,
    )
    session_handle = _register_session_removal(plan, executor, creds)

    def inspect() -> str | None:
        """A command that shows the TUI, while its window exists (the failed step and the
        last screen say the rest)."""
        if window is not None and window.exists():
            return window.attach_hint()
        return None

    try:
        # a window of the user's session has the size of its client: a short one may not show
        # the prompt, so the stored user message and no failure marker are the proof there
        result = run_plan(
            executor, plan, target=target, prompt_on_screen=tmux_target is None, inspect=inspect
        )
    except BaseException:  # an interrupt (KeyboardInterrupt): undo what the run made
        _undo(
            [session_handle, *(m.cleanup_handle for m in made if isinstance(m, TmuxWindowTerminal))]
        )
        raise
    finally:
        executor.close()
    cleanup.forget(session_handle)  # returned: the agent (or what failed, to inspect) stays
    for each in made:
        if isinstance(each, TmuxWindowTerminal):
            each.release()
    if window is not None:
        result.window_id = window.window_id
    result.wall_s = time.monotonic() - begin
    return result


def _register_session_removal(
    plan: SpawnPlan, executor: Executor, creds: Credentials | None
) -> int | None:
    """While the spawn runs, a clean-up deletes the session it created in the plan's server
    (its id read live from the executor's values)."""
    if plan.server_url is None:
        return None
    url = plan.server_url.rstrip("/")
    directory = plan.request.directory if plan.request else None
    values = executor.values

    def remove(timeout_s: float) -> str | None:
        sid = values.get("session_id")
        if not sid:
            return None
        import shlex
        import urllib.parse

        api = plan.session_api
        query = {"directory": directory} if directory and api.directory_query else {}
        address = url + url_path(fill(api.session, {"session_id": sid}))
        stop = url + url_path(fill(api.abort, {"session_id": sid}))
        auth = httpx.BasicAuth(creds.username, creds.password) if creds else None
        try:
            from orch_doctor.server.tls import tls_verify

            with httpx.Client(timeout=timeout_s, auth=auth, verify=tls_verify([url])) as client:
                with contextlib.suppress(httpx.HTTPError):
                    client.post(stop, params=query)
                answer = client.delete(address, params=query)
            if answer.status_code not in (200, 204):
                raise httpx.HTTPError(f"DELETE answered {answer.status_code}")
        except httpx.HTTPError as exc:
            shown = address + ("?" + urllib.parse.urlencode(query) if query else "")
            user = " -u USER:PASSWORD" if creds else ""
            raise cleanup.NotRemoved(
                f"session {sid} in {url} ({exc}): remove it with "
                f"`curl{user} -X DELETE {shlex.quote(shown)}`"
            ) from None
        return f"session {sid} from {url}"

    return cleanup.register_callback(remove, f"the session this spawn created in {url}")


def _undo(handles: list[int | None]) -> None:
    entries = [e for e in cleanup.registered() if e.seq in handles]
    with contextlib.suppress(Exception):
        cleanup.stop(entries, callback_timeout_s=2.0)


def run_plan(
    executor: Executor,
    plan: SpawnPlan,
    *,
    target: str | None,
    before_confirm: Callable[[], None] | None = None,
    prompt_on_screen: bool = True,
    inspect: str | Callable[[], str | None] | None = "orch-doctor verify --keep",
) -> SpawnResult:
    """Run the steps, then poll delivery; ``before_confirm`` may point the executor at a
    server that can read what a serverless plan stored (verify). ``inspect`` (or what it
    returns, asked only when needed) is the fix where nothing more specific is known: a
    command, or None."""
    outcome = SpawnResult(ok=False, session_id=None, target=target, strategy=plan.strategy)
    judged: str | None = None  # the screen the confirmation judged
    try:
        result = executor.run(plan)
        outcome.steps = list(result.steps)
        if not result.ok:
            failed = result.failed_step
            outcome.problem = (
                f"step {failed.index + 1} ({failed.description}) failed: expected "
                f"{failed.expected}; saw {failed.seen}"
                if failed
                else "a step failed"
            )
            outcome.fix = fix_for(failed, inspect() if callable(inspect) else inspect, plan=plan)
            outcome.issue = failed.issue if failed else None
            known = plan.known_failure(outcome.issue)
            if known is not None:
                outcome.problem = f"{known.title} ({known.id}): {outcome.problem}"
            outcome.code = (failed.code if failed else None) or "error"
            outcome.session_id = result.values.get("session_id")
        else:
            if before_confirm is not None:
                before_confirm()
            confirmation = confirm_delivery(
                plan, result, executor, prompt_on_screen=prompt_on_screen
            )
            outcome.confirmation = confirmation
            judged = confirmation.screen
            outcome.session_id = confirmation.session_id
            outcome.ok = confirmation.verified
            if not outcome.ok:
                outcome.problem = "delivery not confirmed: " + "; ".join(
                    c.detail for c in confirmation.checks if not c.ok
                )
                outcome.fix = inspect() if callable(inspect) else inspect
                outcome.code = "not-confirmed"
        # the lines that carry text, all of them (a screen is bounded by its height), redacted:
        # the screen the confirmation just judged, else the terminal's now
        shown = judged if judged is not None else executor.screen()
        outcome.last_screen = executor.redact(screen_tail(shown, lines=None))
    except TerminalError as exc:
        outcome.problem = f"the terminal failed: {exc} (is tmux installed, the session alive?)"
        outcome.fix = "tmux list-sessions"
        outcome.code = "terminal"
    return outcome


def confirm_delivery(
    plan: SpawnPlan,
    result: ExecutionResult,
    executor: Executor,
    grace_s: float = CONFIRM_S,
    *,
    prompt_on_screen: bool = True,
) -> Confirmation:
    """Poll (up to ``grace_s``, within the executor's deadline) until delivery is confirmed."""
    prompt = plan.request.prompt if plan.request else None
    directory = plan.request.directory if plan.request else None
    end = min(
        executor.deadline or float("inf"),
        time.monotonic() + grace_s,
    )
    query = {"directory": directory} if directory else {}
    server = executor.base_url is not None
    executor.session_api = plan.session_api  # the routes that hold the session's messages
    first = True
    while True:
        session_id = result.values.get("session_id")
        texts: list[str] | None = None
        reused = False
        if server:
            # the server's answers are untrusted: any trouble reading them is "not yet"
            with contextlib.suppress(StepFailed, httpx.HTTPError, ValueError, TypeError):
                if session_id is None:
                    found, _ = executor.session_with_prompt(query, prompt)
                    session_id = str(found.get("id")) if found else None
                if session_id is not None:
                    # the first look takes the answer the last step read from this server
                    # (after every step ran: what a read now would say), when it read one
                    if first:
                        texts = executor.texts_read_by_last_step(session_id, directory)
                        reused = texts is not None
                    if texts is None:
                        texts = executor.stored_user_texts(session_id, directory)
        screen = executor.screen() if executor.terminal is not None else None
        confirmation = evaluate(
            prompt=prompt,
            session_id=session_id,
            user_texts=texts,
            screen=screen,
            failure_markers=failure_markers(plan),
            prompt_on_screen=prompt_on_screen,
            server=server,
        )
        if confirmation.verified or time.monotonic() >= end:
            return confirmation
        first = False
        if not reused:  # else the server is read again at once
            time.sleep(CONFIRM_POLL_S)


def fix_for(
    failed: StepReport | None,
    inspect: str | None = None,
    *,
    plan: SpawnPlan | None = None,
) -> str | None:
    """What to do about a failed step: the fix the matrix gives for the known failure it
    shows (``failed.issue``, among ``plan.known_failures``), else by its failure code;
    ``inspect`` (a command, or None) where nothing more specific is known. No text is matched
    here."""
    if failed is None:
        return inspect
    if plan is not None:
        known = plan.known_failure(failed.issue)
        if known is not None:
            return known.fix or inspect  # a command (its title is in the problem)
    if failed.code in ("deadline", "timeout"):
        return inspect  # the step timed out: raise the timeout (the machine may be loaded)
    if failed.kind == "http" or (failed.code == "tui-exited" and plan and plan.server_url):
        # the server refused the call, or the TUI left it (is it gone?): its state and routes
        server = plan.server_url if plan is not None else None
        return "orch-doctor server" + (f" {shlex.quote(server)}" if server else "")
    return inspect


__all__ = ["OrchDoctorError", "SpawnResult", "execute_plan", "fix_for", "run_plan"]
