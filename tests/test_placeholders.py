"""What a user gives stays data: a plan refers to a value it learns while running (the session
id) with a typed Ref, never with text, so prompts and folders holding braces, ``#(…)``, ``;``,
quotes, newlines or 100 KB of text reach the server and the TUI's argv exactly as given.

Plans are built from stored real help texts and recorded route sets; they run through the real
Executor against a small loopback HTTP server that records the exact bytes it receives, and a
terminal that records the argv it is asked to start (it runs nothing: what is checked here is
what the executor hands over)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch_doctor.decide.decision import Decision, decide
from orch_doctor.decide.plan import build_plan
from orch_doctor.decide.replay import recorded_server
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.rules import ARG_STRLEN_MAX, PROMPT_ARGV_MAX_BYTES
from orch_doctor.decide.steps import (
    SESSION_ID,
    HttpStep,
    ProcessStep,
    Ref,
    SpawnPlan,
    WaitCondition,
    WaitStep,
    ref_names,
)
from orch_doctor.execute.executor import Executor, RefUnknown, fill
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities
from tests.support.examples import examples

MATRIX = load_matrix(overrides=False)
CAPS = {v: stored_capabilities(v) for v in ("1.0.152", "1.18.33")}

#: every shape of user text the executor once took for template syntax, or tmux/shell reads
HOSTILE_PROMPTS = [
    "In utils.py, make greet() return f'Hello {user_name}'",
    "use {session_id} and {dir} here",
    "{}",
    "#(touch X) and #{session_name}",
    "keep going;",
    "keep going\\;",
    'it\'s "quoted" `back` $HOME',
    "line one\nline two\n\tindented {user_name}",
    "-starts with a dash {session_id}",
    ("{user_name} #(touch X); 'q' \"qq\" \\; ünï 🚀\n" * 3000)[:100_000],
]
HOSTILE_DIRS = [
    "/tmp/tpl-{name}",
    "/tmp/{session_id}",
    "/tmp/a##b/#(touch X)",
    "/x/proj;",
    '/tmp/it\'s "q"/{}',
]
SID = "ses_1"


def _id(text: str) -> str:
    return f"{len(text)}b:{text[:24]!r}"


# --- the loopback server -------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str  # as sent on the request line (still percent-encoded)
    query: dict[str, list[str]]
    body: bytes


@dataclass
class Server:
    """An OpenCode-shaped server on 127.0.0.1 that records each request's exact bytes.

    POST /session answers ``{"id": session_id}``; prompt_async and /tui/append-prompt store the
    text as the session's user message, which GET /session/ID/message and GET /session return.
    """

    session_id: str = SID
    seen: list[Seen] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    url: str = ""

    def session(self) -> dict[str, Any]:
        return {"id": self.session_id, "time": {"created": int(time.time() * 1000)}}

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        from urllib.parse import quote

        own = "/session/" + quote(self.session_id, safe="")
        if (method, path) == ("POST", "/session"):
            return 200, self.session()
        if (method, path) == ("GET", "/session"):
            return 200, [self.session()] if self.texts else []
        if (method, path) == ("GET", own):
            return 200, self.session()
        if (method, path) == ("POST", own + "/prompt_async"):
            self.texts.append(json.loads(body)["parts"][0]["text"])
            return 204, None
        if (method, path) == ("POST", "/tui/append-prompt"):
            self.texts.append(json.loads(body)["text"])
            return 200, True
        if (method, path) == ("POST", "/tui/submit-prompt"):
            return 200, True
        if (method, path) == ("GET", own + "/message"):
            return 200, [
                {"info": {"role": "user"}, "parts": [{"type": "text", "text": t}]}
                for t in self.texts
            ]
        return 404, {"name": "NotFound", "path": path}

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            server.seen.append(Seen(self.command, parts.path, parse_qs(parts.query), body))
            status, data = server.answer(self.command, parts.path, body)
            out = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = handle_one

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


class RecordingTerminal:
    """Runs nothing; records what it was asked to start and shows the TUI's ready screen."""

    name = "recording"

    def __init__(self, screen: str) -> None:
        self.screen = screen
        self.started: list[tuple[list[str], str | None, dict[str, str]]] = []
        self.keys: list[tuple[str, ...]] = []

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        self.started.append((list(argv), cwd, dict(env)))

    def capture(self) -> str:
        return self.screen

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None:
        self.keys.append(tuple(keys))

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        return None


def run(plan: SpawnPlan, url: str | None) -> tuple[bool, RecordingTerminal, Any]:
    markers = [m for s in plan.steps if isinstance(s, WaitStep) for m in s.ready_markers]
    terminal = RecordingTerminal("\n".join(markers))
    executor = Executor(
        base_url=url, terminal_factory=lambda: terminal, env={}, deadline=time.monotonic() + 20
    )
    try:
        result = executor.run(plan)
    finally:
        executor.close()
    return result.ok, terminal, result


def plan_for(strategy: str, version: str, request: SpawnRequest, url: str) -> Decision:
    server = recorded_server(version, url)
    return decide(CAPS[version], server, request, MATRIX, force=strategy)  # type: ignore[arg-type]


def expected_title(prompt: str) -> str:
    first = prompt.strip().splitlines()
    return "orch: " + first[0][:60] if first else "orch spawn"


def flag_value(argv: list[str], name: str) -> str:
    """The value of ``--name V`` or ``--name=V`` in argv."""
    for i, token in enumerate(argv):
        if token == f"--{name}":
            return argv[i + 1]
        if token.startswith(f"--{name}="):
            return token.split("=", 1)[1]
    raise AssertionError(f"no --{name} in {argv}")


# --- the executor hands user text over verbatim ---------------------------------------------


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS, ids=_id)
@pytest.mark.parametrize("directory", HOSTILE_DIRS[:2] + HOSTILE_DIRS[3:4], ids=_id)
def test_attach_session_api_sends_prompt_title_and_directory_verbatim(
    prompt: str, directory: str
) -> None:
    request = SpawnRequest(directory=directory, model="opencode/big-pickle", prompt=prompt)
    with serving(Server()) as server:
        decision = decide(CAPS["1.18.33"], recorded_server("1.18.33", server.url), request, MATRIX)
        assert decision.strategy == "attach-session-api" and decision.plan is not None
        ok, terminal, result = run(decision.plan, server.url)
    assert ok, result.failed_step
    (create,) = server.requests("POST", "/session")
    assert create.query == {"directory": [directory]}
    assert json.loads(create.body) == {"title": expected_title(prompt)}
    (sent,) = server.requests("POST", f"/session/{SID}/prompt_async")
    assert sent.query == {"directory": [directory]}
    body = json.loads(sent.body)
    assert body["parts"] == [{"type": "text", "text": prompt}]
    # the exact bytes: the JSON string of the prompt is in the body as the client encoded it
    assert json.dumps(prompt, ensure_ascii=False).encode() in sent.body or (
        json.dumps(prompt).encode() in sent.body
    )
    assert server.texts == [prompt]
    (started,) = terminal.started
    argv, cwd, _ = started
    assert argv[1:5] == ["attach", server.url, "--session", SID]
    assert flag_value(argv, "dir") == directory and cwd == directory
    # nothing else was asked of the server: no path came from user text
    assert {s.path for s in server.seen} <= {"/session", f"/session/{SID}/prompt_async",
                                              f"/session/{SID}/message"}  # fmt: skip


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS, ids=_id)
def test_attach_tui_api_types_the_prompt_verbatim(prompt: str) -> None:
    directory = HOSTILE_DIRS[0]
    request = SpawnRequest(directory=directory, prompt=prompt)
    with serving(Server()) as server:
        decision = decide(CAPS["1.0.152"], recorded_server("1.0.152", server.url), request, MATRIX)
        assert decision.strategy == "attach-tui-api" and decision.plan is not None
        ok, terminal, result = run(decision.plan, server.url)
    assert ok, result.failed_step
    (typed,) = server.requests("POST", "/tui/append-prompt")
    assert json.loads(typed.body) == {"text": prompt}
    assert all(s.query == {"directory": [directory]} for s in server.requests("GET", "/session"))
    (started,) = terminal.started
    assert flag_value(started[0], "dir") == directory


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS[:3], ids=_id)
@pytest.mark.parametrize("directory", HOSTILE_DIRS, ids=_id)
def test_standalone_session_opens_the_saved_session_with_the_directory_verbatim(
    prompt: str, directory: str
) -> None:
    request = SpawnRequest(directory=directory, model="opencode/big-pickle", prompt=prompt)
    with serving(Server()) as server:
        decision = plan_for("standalone-session", "1.18.33", request, server.url)
        assert decision.plan is not None
        ok, terminal, result = run(decision.plan, server.url)
    assert ok, result.failed_step
    (started,) = terminal.started
    argv, cwd, _ = started
    assert argv[1] == directory and cwd == directory
    assert flag_value(argv, "session") == SID
    assert flag_value(argv, "model") == "opencode/big-pickle"
    assert server.texts == [prompt]


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS, ids=_id)
@pytest.mark.parametrize("directory", HOSTILE_DIRS[:3], ids=_id)
def test_standalone_prompt_puts_prompt_and_directory_in_argv_verbatim(
    prompt: str, directory: str
) -> None:
    request = SpawnRequest(directory=directory, prompt=prompt)
    decision = decide(CAPS["1.18.33"], None, request, MATRIX)
    assert decision.strategy == "standalone-prompt" and decision.plan is not None
    step = decision.plan.steps[0]
    assert isinstance(step, ProcessStep) and step.to_json()["refs"] == {}
    ok, terminal, result = run(decision.plan, None)
    assert ok, result.failed_step
    (started,) = terminal.started
    argv, cwd, _ = started
    assert argv[1] == directory and cwd == directory
    assert flag_value(argv, "prompt") == prompt


def test_a_session_id_is_one_path_segment_whatever_it_holds() -> None:
    """The value a Ref stands for is percent-encoded whole: an id holding '/', '?', '#' or
    '..' cannot reach another route."""
    odd = "ses/../tui/submit-prompt?x=#y {z}"
    request = SpawnRequest(directory="/tmp/p", prompt="hello")
    with serving(Server(session_id=odd)) as server:
        decision = decide(CAPS["1.18.33"], recorded_server("1.18.33", server.url), request, MATRIX)
        assert decision.plan is not None
        ok, terminal, result = run(decision.plan, server.url)
    assert ok, result.failed_step
    encoded = "ses%2F..%2Ftui%2Fsubmit-prompt%3Fx%3D%23y%20%7Bz%7D"
    assert [s.path for s in server.seen if s.method == "POST"] == [
        "/session",
        f"/session/{encoded}/prompt_async",
    ]
    assert flag_value(terminal.started[0][0], "session") == odd


def test_a_ref_nobody_saved_fails_its_step_and_starts_nothing() -> None:
    start = ProcessStep(("opencode", "attach", "http://x", "--session", SESSION_ID), "attach", "a")
    plan = SpawnPlan("attach-session-api", (start,), server_url=None)
    ok, terminal, result = run(plan, None)
    assert not ok and terminal.started == []
    failed = result.failed_step
    assert failed is not None and failed.index == 0
    assert failed.code == "ref-unknown"
    with pytest.raises(RefUnknown):
        fill({"a": [Ref("message_id")]}, {"session_id": "s"})


def test_text_that_looks_like_a_placeholder_is_never_filled() -> None:
    values = {"session_id": "ses_1", "user_name": "x", "name": "y"}
    texts = ["{session_id}", "{user_name}", "/tmp/tpl-{name}", "{}", "{{session_id}}"]
    assert fill(texts, values) == texts
    assert fill({"k": texts, "t": tuple(texts)}, values) == {"k": texts, "t": texts}


# --- the plan's JSON says where a Ref stands ------------------------------------------------


def test_the_plan_json_marks_refs_by_pointer_and_user_text_is_not_one() -> None:
    request = SpawnRequest(directory="/tmp/{session_id}", prompt="say {session_id}")
    decision = decide(CAPS["1.18.33"], recorded_server("1.18.33"), request, MATRIX)
    assert decision.plan is not None
    steps = [s.to_json() for s in decision.plan.steps]
    by_kind = {(s["kind"], s.get("path") or s.get("condition")): s for s in steps}
    create = by_kind[("http", "/session")]
    assert create["refs"] == {} and create["query"] == {"directory": "/tmp/{session_id}"}
    send = by_kind[("http", "/session/{session_id}/prompt_async")]
    assert send["path_segments"] == ["session", "{session_id}", "prompt_async"]
    assert send["refs"] == {"/path_segments/1": "session_id"}
    assert send["body"]["parts"][0]["text"] == "say {session_id}"
    process = next(s for s in steps if s["kind"] == "process")
    assert process["argv"][4] == "{session_id}" and process["argv"][6] == "/tmp/{session_id}"
    assert process["refs"] == {"/argv/4": "session_id"}  # argv[6] is text, though it looks alike
    stored = by_kind[("wait", "message-stored")]
    assert stored["refs"] == {"/params/session_id": "session_id"}
    assert stored["params"]["directory"] == "/tmp/{session_id}"


def test_pointers_escape_keys_and_http_paths_take_no_text_placeholders() -> None:
    step = HttpStep("POST", ("x",), "d", query={"a/b~c": SESSION_ID}, body={"l": [1, SESSION_ID]})
    assert step.to_json()["refs"] == {"/query/a~1b~0c": "session_id", "/body/l/1": "session_id"}
    assert ref_names(step.body) == ["session_id"]
    assert HttpStep("GET", "/tui/x", "d").path == ("tui", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Ref segment"):
        HttpStep("GET", "/session/{session_id}", "d")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Ref("Session-ID")


# --- the property ---------------------------------------------------------------------------


def _leaves(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{where}/{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{where}/{i}")
    else:
        yield where, value


def _fields(step: Any) -> dict[str, Any]:
    if isinstance(step, HttpStep):
        return {"path": step.path, "query": step.query, "body": step.body}
    if isinstance(step, ProcessStep):
        return {"argv": step.argv}
    if isinstance(step, WaitStep):
        return {"params": step.params}
    return {}


PLANS = [
    ("attach-session-api", "1.18.33", True),
    ("standalone-session", "1.18.33", True),
    ("attach-tui-api", "1.0.152", True),
    ("standalone-prompt", "1.18.33", False),
]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prompt=st.text(min_size=1, max_size=300),
    directory=st.text(min_size=1, max_size=40).map(lambda t: "/" + t),
    model=st.none() | st.just("opencode/big-pickle"),
)
def test_filling_a_plan_leaves_every_user_text_unchanged(
    prompt: str, directory: str, model: str | None
) -> None:
    request = SpawnRequest(directory=directory, model=model, prompt=prompt)
    values = {"session_id": SID}
    for strategy, version, needs_server in PLANS:
        plan = build_plan(
            strategy,
            CAPS[version],
            request,
            server_url="http://127.0.0.1:4096" if needs_server else None,
        )
        for step in plan.steps:
            before = _fields(step)
            after = fill(before, values)
            pairs = list(zip(_leaves(before), _leaves(after), strict=True))
            for (where, old), (_, new) in pairs:
                assert new == (values[old.name] if isinstance(old, Ref) else old), where
            texts = [v for _, v in _leaves(after) if isinstance(v, str)]
            if isinstance(step, ProcessStep):
                assert directory in texts
                if "--prompt" in texts or any(t.startswith("--prompt=") for t in texts):
                    assert prompt in texts or f"--prompt={prompt}" in texts
            if isinstance(step, HttpStep) and step.body and "parts" in step.body:
                assert after["body"]["parts"][0]["text"] == prompt
            if isinstance(step, HttpStep) and step.query:
                assert after["query"] == {"directory": directory}


# --- length ---------------------------------------------------------------------------------


def test_a_prompt_one_argument_can_carry_is_planned_standalone() -> None:
    for prompt in ("p" * PROMPT_ARGV_MAX_BYTES, "-" + "é" * ((PROMPT_ARGV_MAX_BYTES - 1) // 2)):
        decision = decide(CAPS["1.18.33"], None, SpawnRequest("/tmp/p", prompt=prompt), MATRIX)
        assert decision.strategy == "standalone-prompt" and decision.plan is not None
        step = decision.plan.steps[0]
        assert isinstance(step, ProcessStep)
        longest = max(len(str(a).encode()) for a in step.argv)
        assert longest + 1 <= ARG_STRLEN_MAX


@pytest.mark.parametrize(
    "prompt",
    ["p" * (PROMPT_ARGV_MAX_BYTES + 1), "é" * (PROMPT_ARGV_MAX_BYTES // 2 + 1), "x" * 200_000],
    ids=["one-byte-over", "multibyte-over", "200KB"],
)
def test_a_prompt_too_long_for_one_argument_never_gets_a_standalone_prompt_plan(
    prompt: str,
) -> None:
    size = len(prompt.encode())
    alone = decide(CAPS["1.18.33"], None, SpawnRequest("/tmp/p", prompt=prompt), MATRIX)
    assert alone.strategy == "none" and alone.plan is None
    why = alone.rejected["standalone-prompt"]
    assert why.code == "prompt-too-long"
    # the sentence gives the measured size and the limit
    assert f"{size:,} bytes" in why.message and f"{PROMPT_ARGV_MAX_BYTES:,}" in why.message
    assert alone.fix == "opencode serve --port 4096 --hostname 127.0.0.1"  # then --server
    # through a server, the API carries it
    served = decide(
        CAPS["1.18.33"], recorded_server("1.18.33"), SpawnRequest("/tmp/p", prompt=prompt), MATRIX
    )
    assert served.strategy == "attach-session-api" and served.plan is not None
    assert served.rejected["standalone-prompt"].code == "prompt-too-long"
    with pytest.raises(ValueError, match="one process argument"):
        build_plan("standalone-prompt", CAPS["1.18.33"], SpawnRequest("/tmp/p", prompt=prompt),
                   server_url=None)  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MAX_ARG_STRLEN is Linux's")
def test_the_argument_limit_is_the_kernels() -> None:
    """The limit the decision applies is the one exec enforces: the longest argument runs, one
    byte more fails with E2BIG."""
    true = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
    fits = "p" * (ARG_STRLEN_MAX - 1)
    assert subprocess.run([true, fits], timeout=10, check=False).returncode == 0
    with pytest.raises(OSError) as info:
        subprocess.run([true, fits + "p"], timeout=10, check=False)
    assert info.value.errno == 7  # E2BIG


def test_wait_steps_take_refs_as_params() -> None:
    step = WaitStep(WaitCondition.MESSAGE_STORED, "d", params={"session_id": SESSION_ID})
    assert step.to_json()["params"] == {"session_id": "{session_id}"}
    assert fill(step.params, {"session_id": "ses_9"}) == {"session_id": "ses_9"}
