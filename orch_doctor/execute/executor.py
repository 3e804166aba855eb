"""Execute a :class:`SpawnPlan` for real: HTTP steps through the API, process steps in a
terminal, wait-until conditions with timeouts, keystrokes. Each step is reported with its
duration and outcome; a failure says what was expected and what was seen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import httpx

from orch_doctor._util.jsonable import json_fields
from orch_doctor._util.text import REDACTED, one_line
from orch_doctor.decide.steps import (
    SESSION_API_1X,
    HttpStep,
    KeystrokeStep,
    MessageShape,
    ProcessStep,
    Ref,
    SessionApi,
    SpawnPlan,
    Step,
    StepKind,
    WaitCondition,
    WaitStep,
)
from orch_doctor.execute.confirm import screen_probe
from orch_doctor.execute.terminal import Terminal, TerminalError, terminal_label
from orch_doctor.server.credentials import Credentials

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import StepReportJSON

HTTP_TIMEOUT_S = 10.0
HTTP_BODY_CAP = 16 << 20  # raw bytes read from one answer (a session's messages can be long)
#: a condition is looked at again after a pause of 3 times what its last look took (its looks
#: take at most a quarter of the wait, whatever the machine's load), within these bounds: a look
#: at a TUI is one tmux call of a few ms, so its readiness is seen within ~25 ms on an idle host
POLL_MIN_S = 0.02
POLL_S = 0.1
POLL_PAUSE_FACTOR = 3.0

#: how a step ended ("skipped": a step after a failed one)
StepOutcome = Literal["ok", "failed", "skipped"]
#: why a step failed: stable codes (the JSON's ``code``); ``expected``/``seen`` say it for people
FailureCode = Literal[
    "no-server",  # a step talks to a server and the plan has none
    "unreadable-answer",  # the server's answer could not be decoded
    "http-status",  # the server answered with another status than the step expects
    "not-json",  # the answer is not JSON
    "answer-shape",  # the JSON answer lacks what the step reads from it
    "deadline",  # the overall timeout ran out before the step
    "timeout",  # a wait's condition did not hold within its time, or a call ran out of time
    "unknown-step",  # a step of a kind the executor does not know
    "secret-missing",  # a secret the step passes was not given by the caller
    "no-terminal",  # keys or a TUI wait without a process step before
    "no-ready-markers",  # a TUI wait without the release's ready markers
    "failure-marker",  # the TUI shows one of the release's failure markers
    "tui-exited",  # the TUI stopped
    "ref-unknown",  # a value learned while running (the session id) is not known yet
    "prompt-not-stored",  # the session's user messages do not hold the prompt
    "http-error",  # the call failed (connection refused or reset, a protocol error)
    "terminal",  # the terminal failed
    "error",  # anything else (an answer of a shape nothing foresaw, an OS error)
]
FAILURE_CODES: tuple[FailureCode, ...] = get_args(FailureCode)


@dataclass(frozen=True)
class StepReport:
    index: int
    kind: StepKind
    description: str
    outcome: StepOutcome
    duration_s: float
    detail: str = ""  # what was done / seen (redacted)
    expected: str | None = None  # on failure
    seen: str | None = None  # on failure: the server's answer or the terminal's last screen
    code: FailureCode | None = None  # on failure: why, as a stable code
    #: on failure: the known failure (the plan's ``known_failures``) its screen or log shows
    issue: str | None = None

    def to_json(self) -> StepReportJSON:
        return cast("StepReportJSON", json_fields(self, duration_s=round(self.duration_s, 3)))


@dataclass
class ExecutionResult:
    steps: list[StepReport] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # saved run-time values (session_id)
    ok: bool = True

    @property
    def failed_step(self) -> StepReport | None:
        return next((s for s in self.steps if s.outcome == "failed"), None)


class StepFailed(Exception):
    def __init__(self, code: FailureCode, expected: str, seen: str, detail: str = "") -> None:
        super().__init__(expected)
        self.code: FailureCode = code
        self.expected = expected
        self.seen = seen
        self.detail = detail


#: what fails a step: the executor's own StepFailed, and what a call raises (ValueError and
#: TypeError: an answer of a shape nothing foresaw, untrusted data)
STEP_FAILURES = (StepFailed, httpx.HTTPError, TerminalError, OSError, ValueError, TypeError)


def failure_code(exc: Exception) -> FailureCode:
    """The code of a failure the executor did not raise itself."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"  # one call ran out of the time left (or of its own limit)
    if isinstance(exc, httpx.HTTPError):
        return "http-error"
    if isinstance(exc, TerminalError):
        return "terminal"
    return "error"


class RefUnknown(StepFailed):
    """A step uses a value learned while running (a :class:`Ref`) that no earlier step saved."""

    def __init__(self, name: str) -> None:
        super().__init__(
            "ref-unknown",
            f"the value of {name} (saved by an earlier step)",
            f"{name} is not known yet",
        )
        self.name = name


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every :class:`Ref` replaced by its saved value (at any depth of lists,
    tuples and mappings; tuples become lists). Strings are data and stay exactly as they are.
    Raises :class:`RefUnknown` for a Ref whose value is not known."""
    if isinstance(value, Ref):
        if value.name not in values:
            raise RefUnknown(value.name)
        return values[value.name]
    if isinstance(value, Mapping):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill(v, values) for v in value]
    return value


def url_path(segments: list[str]) -> str:
    """``/a/b`` from path segments, each percent-encoded whole (a value holding '/', '?' or
    '#' stays one segment)."""
    from urllib.parse import quote

    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def json_path(data: Any, path: str) -> Any:
    """``"id"`` or ``"info.id"`` from a JSON answer; None when absent."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def user_texts(messages: Any, shape: MessageShape = "1.x") -> list[str]:
    """Text parts of the user messages in a ``GET /session/{id}/message`` answer (1.x), or the
    texts of the ``type: user`` messages in a 2.x ``GET /api/session/{id}/message`` page."""
    texts: list[str] = []
    if shape == "2.x":
        page = messages.get("data") if isinstance(messages, dict) else None
        for message in page if isinstance(page, list) else []:
            if isinstance(message, dict) and message.get("type") == "user":
                text = message.get("text")
                if isinstance(text, str):
                    texts.append(text)
        return texts
    if not isinstance(messages, list):
        return texts
    for message in messages:
        if not isinstance(message, dict):
            continue
        info, parts = message.get("info"), message.get("parts")
        if not isinstance(info, dict) or info.get("role") != "user" or not isinstance(parts, list):
            continue
        for part in parts:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text", "")))
    return texts


def created_ms(session: Any) -> int:
    """A session's ``time.created`` (ms since the epoch); 0 for anything that is not a number."""
    value = json_path(session, "time.created")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if abs(value) < 1e15 else 0


def poll_pause(look_s: float) -> float:
    """The pause before the next look at a condition whose last look took ``look_s``."""
    return min(max(POLL_PAUSE_FACTOR * look_s, POLL_MIN_S), POLL_S)


#: how many lines of a screen a failure's ``seen`` keeps (the last ones that carry text)
SEEN_LINES = 25
# box drawing and block elements: a TUI's frames and padding, no text of their own
_FRAME = {chr(c) for c in range(0x2500, 0x25A0)}


def carries_text(line: str) -> bool:
    """Whether a screen line holds anything besides spaces and frame characters."""
    return any(not ch.isspace() and ch not in _FRAME for ch in line)


def screen_tail(screen: str, lines: int | None = SEEN_LINES) -> str:
    """The screen's lines that carry text (trailing spaces cut, the indent all of them share
    removed), the last ``lines`` of them (None: all)."""
    kept = [line.rstrip() for line in screen.splitlines() if carries_text(line)]
    if lines is not None:
        kept = kept[-lines:]
    indent = min((len(line) - len(line.lstrip()) for line in kept), default=0)
    return "\n".join(line[indent:] for line in kept)


def failure_markers(plan: SpawnPlan) -> tuple[str, ...]:
    """What the plan's TUI shows when it refused what it was asked (from its tui-ready steps)."""
    found: list[str] = []
    for step in plan.steps:
        if isinstance(step, WaitStep):
            found += [m for m in step.failure_markers if m not in found]
    return tuple(found)


class Executor:
    """Runs one plan. ``terminal_factory`` makes the terminal for process steps."""

    def __init__(
        self,
        *,
        base_url: str | None,
        terminal_factory: Callable[[], Terminal],
        env: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        credentials: Credentials | None = None,
        deadline: float | None = None,
        http_timeout_s: float = HTTP_TIMEOUT_S,
        on_step: Callable[[StepReport], None] | None = None,
        on_step_start: Callable[[int, Step], None] | None = None,
        diagnostics: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.terminal_factory = terminal_factory
        self.env = dict(env)
        self.secrets = dict(secrets or {})
        self.credentials = credentials
        self.deadline = deadline
        self.http_timeout_s = http_timeout_s
        self.on_step = on_step
        self.diagnostics = diagnostics  # extra evidence when the TUI dies (its log's errors)
        self.terminal: Terminal | None = None  # the latest process step's
        self.terminals: list[Terminal] = []
        self.on_step_start = on_step_start
        self.started_ms = 0
        self.prompt: str | None = None
        self.failure_markers: tuple[str, ...] = ()  # from the plan's tui-ready steps
        self.values: dict[str, str] = {}  # the run's saved values so far (session_id)
        self.session_api: SessionApi = SESSION_API_1X  # the plan's (set by run)
        self._client: httpx.Client | None = None
        self._client_for: str | None = None  # the base_url it was made for
        #: when the latest step of the run began, and the latest read of a session's user
        #: messages: (where: server, session, directory, routes; the texts; when answered)
        self.last_step_began: float | None = None
        self._last_read: tuple[tuple[object, ...], tuple[str, ...], float] | None = None

    # --- helpers ---------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        for secret in self.secrets.values():
            if secret:
                text = text.replace(secret, REDACTED)
        if self.credentials is not None:
            text = self.credentials.redact(text)
        return text

    def client(self) -> httpx.Client:
        """The client for ``base_url`` (made again when it changed: verify points the executor
        at another server before the confirmation)."""
        if self._client is not None and self._client_for != self.base_url:
            self.close()
        if self._client is None:
            auth = (
                httpx.BasicAuth(self.credentials.username, self.credentials.password)
                if self.credentials
                else None
            )
            from orch_doctor.server.tls import tls_verify

            # it talks to base_url only (no redirects): a plain-http server needs no trust store
            verify = tls_verify([self.base_url or ""])
            self._client = httpx.Client(timeout=self.http_timeout_s, auth=auth, verify=verify)
            self._client_for = self.base_url
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def remaining(self, step_timeout: float | None = None) -> float:
        left = (self.deadline - time.monotonic()) if self.deadline is not None else 1e9
        if step_timeout is not None:
            left = min(left, step_timeout)
        return max(left, 0.0)

    def screen(self) -> str:
        return self.terminal.capture() if self.terminal is not None else ""

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, bytes]:
        """One call to the plan's server: (status, body). The answer is read as raw bytes,
        capped at HTTP_BODY_CAP before anything is inflated (a bounded decompressor)."""
        if self.base_url is None:
            raise StepFailed("no-server", "a server to ask", "no server URL in this plan")
        from orch_doctor.server.body import IDENTITY, BodyError, decode_body

        timeout = max(min(self.http_timeout_s, self.remaining()), 0.5)
        with self.client().stream(
            method,
            self.base_url + path,
            params=dict(query or {}),
            json=body,
            timeout=timeout,
            headers=IDENTITY,
        ) as response:
            raw = bytearray()
            for chunk in response.iter_raw():
                raw.extend(chunk)
                if len(raw) > HTTP_BODY_CAP:
                    del raw[HTTP_BODY_CAP:]
                    break
            status, encoding = response.status_code, response.headers.get("content-encoding")
        try:
            decoded, _ = decode_body(bytes(raw), encoding, HTTP_BODY_CAP)
        except BodyError as exc:
            raise StepFailed(
                "unreadable-answer", f"{method} {path} -> a readable answer", str(exc)
            ) from None
        return status, decoded

    def answer_text(self, body: bytes, limit: int = 300) -> str:
        """The head of an answer as one printable, redacted line."""
        return self.redact(one_line(body[:limit].decode("utf-8", "replace")))

    def parse_json(self, where: str, body: bytes) -> Any:
        from orch_doctor.server.body import loads

        try:
            return loads(body)  # a bounded depth
        except ValueError as exc:
            raise StepFailed(
                "not-json", f"{where} -> JSON", f"not JSON ({exc}): {self.answer_text(body, 200)}"
            ) from None

    def get_json(self, path: str, query: Mapping[str, str] | None = None) -> Any:
        status, body = self.request("GET", path, query)
        if status != 200:
            raise StepFailed(
                "http-status", f"GET {path} -> 200", f"{status}: {self.answer_text(body)}"
            )
        return self.parse_json(f"GET {path}", body)

    def new_sessions(self, query: Mapping[str, str]) -> tuple[list[dict[str, Any]], int]:
        """Sessions of ``query``'s directory created during this run (2 s of clock slack),
        newest first, and how many the server listed in all."""
        sessions = self.get_json("/session", query)
        if not isinstance(sessions, list):
            raise StepFailed(
                "answer-shape", "GET /session -> a list", one_line(json.dumps(sessions)[:300])
            )
        fresh = [
            s for s in sessions if isinstance(s, dict) and created_ms(s) >= self.started_ms - 2000
        ]
        fresh.sort(key=created_ms, reverse=True)
        return fresh, len(sessions)

    def session_with_prompt(
        self, query: Mapping[str, str], prompt: str | None
    ) -> tuple[dict[str, Any] | None, str]:
        """The newest session created during this run that holds ``prompt`` as a user message
        (without a prompt: the newest one created during this run), and what was seen."""
        fresh, listed = self.new_sessions(query)
        for session in fresh:
            if not prompt:
                return session, ""
            messages = self.get_json(
                url_path(["session", str(session.get("id")), "message"]), query
            )
            if any(prompt in t for t in user_texts(messages)):
                return session, ""
        return None, f"{listed} sessions, {len(fresh)} new, none holding the prompt"

    def stored_user_texts(self, session_id: str, directory: str | None) -> list[str]:
        """The user messages' texts of ``session_id``, read through the plan's session routes
        (``SpawnPlan.session_api``: 1.x ``/session/{id}/message``, 2.x
        ``/api/session/{id}/message``)."""
        api = self.session_api
        query = dict(api.messages_query)
        if directory and api.directory_query:
            query["directory"] = directory
        path = url_path(fill(api.messages, {**self.values, "session_id": session_id}))
        texts = user_texts(self.get_json(path, query), api.shape)
        where = (self.base_url, session_id, directory, api)
        self._last_read = (where, tuple(texts), time.monotonic())
        return texts

    def texts_read_by_last_step(self, session_id: str, directory: str | None) -> list[str] | None:
        """What the server answered for ``session_id``'s user messages (the same server and
        routes) since the plan's last step began — the answer the confirmation would ask for
        again — or None when no such read was made."""
        if self._last_read is None or self.last_step_began is None:
            return None
        where, texts, at = self._last_read
        if where != (self.base_url, session_id, directory, self.session_api):
            return None
        return list(texts) if at >= self.last_step_began else None

    # --- running ---------------------------------------------------------------------------

    def run(self, plan: SpawnPlan) -> ExecutionResult:
        self.values.clear()  # live: a clean-up after a signal reads what was made so far
        result = ExecutionResult(values=self.values)
        self.started_ms = int(time.time() * 1000)
        self.prompt = plan.request.prompt if plan.request else None
        self.failure_markers = failure_markers(plan)
        self.session_api = plan.session_api
        self.last_step_began, self._last_read = None, None
        for index, step in enumerate(plan.steps):
            begin = self.last_step_began = time.monotonic()
            if self.on_step_start is not None:
                self.on_step_start(index, step)
            try:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    raise StepFailed(
                        "deadline", "time left to run this step", "the overall timeout ran out"
                    )
                detail = self.run_step(step, result.values)
                report = StepReport(
                    index, step.kind, step.description, "ok", time.monotonic() - begin,
                    self.redact(detail),
                )  # fmt: skip
            except STEP_FAILURES as exc:
                failed = exc if isinstance(exc, StepFailed) else StepFailed(
                    failure_code(exc), "the step to run", f"{type(exc).__name__}: {exc}"
                )  # fmt: skip
                report = StepReport(
                    index, step.kind, step.description, "failed", time.monotonic() - begin,
                    self.redact(failed.detail),
                    expected=self.redact(failed.expected),
                    seen=self.redact(failed.seen),
                    code=failed.code,
                )  # fmt: skip
            if report.outcome == "failed":
                known = next((k for k in plan.known_failures if k.seen_in(report.seen or "")), None)
                if known is not None:  # the matrix knows this failure by what it shows
                    report = replace(report, issue=known.id)
            result.steps.append(report)
            if self.on_step is not None:
                self.on_step(report)
            if report.outcome == "failed":
                result.ok = False
                for later, rest in enumerate(plan.steps[index + 1 :], start=index + 1):
                    result.steps.append(
                        StepReport(later, rest.kind, rest.description, "skipped", 0)
                    )
                break
        return result

    def run_step(self, step: Step, values: dict[str, str]) -> str:
        if isinstance(step, HttpStep):
            return self.http(step, values)
        if isinstance(step, ProcessStep):
            return self.process(step, values)
        if isinstance(step, WaitStep):
            return self.wait(step, values)
        if isinstance(step, KeystrokeStep):
            return self.keys(step)
        raise StepFailed("unknown-step", "a known step kind", f"unknown step {step!r}")

    def http(self, step: HttpStep, values: dict[str, str]) -> str:
        if self.base_url is None:
            raise StepFailed("no-server", "a server URL for an HTTP step", "the plan has no server")
        path = url_path(fill(step.path, values))
        query = fill(step.query, values)
        body = fill(step.body, values)
        status, answer = self.request(step.method, path, query, body)
        where = f"{step.method} {path}"
        if status not in step.expect_status:
            expected = " or ".join(str(s) for s in step.expect_status)
            raise StepFailed(
                "http-status",
                f"{where} -> {expected}",
                f"{status}: {self.answer_text(answer, 400)}",
            )
        saved: list[str] = []
        if step.save:
            data = self.parse_json(where, answer)
            for name, source in step.save.items():
                value = json_path(data, source)
                if not isinstance(value, str | int) or isinstance(value, bool):
                    raise StepFailed(
                        "answer-shape",
                        f"{where} answer has {source!r}",
                        one_line(json.dumps(data)[:300]),
                    )
                values[name] = str(value)
                saved.append(f"{name}={value}")
        return f"{where} -> {status}" + (f" ({', '.join(saved)})" if saved else "")

    def process(self, step: ProcessStep, values: dict[str, str]) -> str:
        argv: list[str] = fill(step.argv, values)
        env = dict(self.env)
        env.update(step.env)
        for name in step.secret_env:
            if name not in self.secrets:
                raise StepFailed(
                    "secret-missing", f"the secret {name} from the caller", "not given"
                )
            env[name] = self.secrets[name]
        # several process steps: each gets a terminal; waits and keys use the latest one
        self.terminal = self.terminal_factory()
        self.terminals.append(self.terminal)
        self.terminal.start(argv, step.cwd, env)
        import shlex

        return f"started in {terminal_label(self.terminal)}: {shlex.join(argv)}"

    def keys(self, step: KeystrokeStep) -> str:
        if self.terminal is None:
            raise StepFailed("no-terminal", "a terminal to type into", "no process step ran before")
        self.terminal.send_keys(step.keys, literal=step.literal)
        return "typed " + (" ".join(step.keys) if not step.literal else repr("".join(step.keys)))

    # --- conditions ------------------------------------------------------------------------

    def wait(self, step: WaitStep, values: dict[str, str]) -> str:
        params: dict[str, str] = fill(step.params, values)
        shown = [""]  # this poll's screen: captured once, read by the failure and ready checks
        checks: dict[WaitCondition, Callable[[dict[str, str], dict[str, str]], str | None]] = {
            WaitCondition.TUI_READY: lambda _params, _values: self._tui_ready(step, shown[0]),
            WaitCondition.SESSION_CREATED: self._session_created,
            WaitCondition.MESSAGE_STORED: self._message_stored,
        }
        check = checks[step.condition]
        limit = self.remaining(step.timeout_s)
        end = time.monotonic() + limit
        last_seen = ""
        while True:
            began = time.monotonic()
            shown[0] = self._fail_fast()
            try:
                found = check(params, values)
            except StepFailed as exc:
                found, last_seen = None, exc.seen
            if found is not None:
                return found
            now = time.monotonic()
            if now >= end:
                break
            time.sleep(min(poll_pause(now - began), end - now))
        seen = last_seen or "nothing yet"
        if self.terminal is not None:
            seen += "\n--- last screen ---\n" + (screen_tail(self.screen()) or "(empty)")
        raise StepFailed("timeout", f"{step.condition.value} within {limit:.1f}s", seen)

    def _fail_fast(self) -> str:
        """Raise StepFailed when the TUI shows a failure marker or exited; else its screen
        (with whether it runs, from one look where the terminal has one: tmux)."""
        if self.terminal is None:
            return ""
        look: Callable[[], tuple[str, bool]] | None = getattr(self.terminal, "look", None)
        screen, running = look() if callable(look) else (self.screen(), None)
        for marker in self.failure_markers:
            if marker in screen:
                raise StepFailed("failure-marker", f"no {marker!r}", screen_tail(screen))
        if not (self.terminal.alive() if running is None else running):
            seen = "it exited\n" + screen_tail(screen)
            extra = self.diagnostics() if self.diagnostics is not None else ""
            raise StepFailed(
                "tui-exited", "the TUI to keep running", seen + (f"\n{extra}" if extra else "")
            )
        return screen

    def _tui_ready(self, step: WaitStep, screen: str) -> str | None:
        if self.terminal is None:
            raise StepFailed(
                "no-terminal", "a TUI started by a process step", "no process step ran before"
            )
        if not step.ready_markers:
            raise StepFailed(
                "no-ready-markers",
                "ready markers in the plan's step",
                "none (see compat_matrix/tui.toml)",
            )
        hit = next((m for m in step.ready_markers if m in screen), None)
        if hit:
            return f"the screen shows {hit!r}"
        # a TUI started with the prompt may go straight to work (its footer then shows no idle
        # hint until the model answers): showing the prompt is just as sure a sign it is up
        probe = screen_probe(self.prompt) if self.prompt else ""
        return f"the screen shows the prompt ({probe!r})" if probe and probe in screen else None

    def _session_created(self, params: dict[str, str], values: dict[str, str]) -> str | None:
        query = {"directory": params["directory"]} if params.get("directory") else {}
        session, seen = self.session_with_prompt(query, self.prompt)
        if session is None:
            raise StepFailed(
                "timeout",
                "a session created during this run"
                + (" holding the prompt" if self.prompt else ""),
                seen or "no session created during this run",
            )
        sid = str(session.get("id"))
        values[params["save"]] = sid
        return f"session {sid} (directory {session.get('directory')})"

    def _message_stored(self, params: dict[str, str], values: dict[str, str]) -> str | None:
        sid = params.get("session_id") or values.get("session_id")
        if not sid:
            raise StepFailed("ref-unknown", "a session id", "none known yet")
        texts = self.stored_user_texts(sid, params.get("directory"))
        if self.prompt is None:
            return f"{len(texts)} user messages" if texts else None
        if any(self.prompt in t for t in texts):
            return f"session {sid} has the prompt as a user message"
        raise StepFailed(
            "prompt-not-stored",
            "the prompt as a user message",
            f"user messages: {json.dumps(texts)[:300]}",
        )
