"""A plan is data: ordered, typed steps. ``to_json`` gives the form of ``plan --format json``.

A value the plan only learns while it runs (the id of the session it creates) is a :class:`Ref`
object wherever a step uses it: a whole argv element, a whole path segment, a query, body or
wait-parameter value. Text is never scanned for placeholders: a prompt, folder, title or model
holding ``{session_id}`` is sent exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from orch_doctor._util.text import REDACTED
from orch_doctor.decide.request import SpawnRequest

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import (
        HttpStepJSON,
        KeysStepJSON,
        PlanStepsJSON,
        ProcessStepJSON,
        WaitStepJSON,
    )

_REF_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Ref:
    """A value learned while the plan runs, saved under ``name`` by an earlier step (an
    ``HttpStep``'s ``save`` or a ``session-created`` wait). The executor puts the value in its
    place; a Ref no earlier step saved fails the step that uses it."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _REF_NAME.fullmatch(self.name):
            raise ValueError(f"a run-time value's name is lowercase [a-z0-9_]: {self.name!r}")

    @property
    def shown(self) -> str:
        """How the plan's text and JSON show it: ``{session_id}`` (the JSON's ``refs`` say
        where a Ref stands; a string that looks like this elsewhere is plain text)."""
        return "{" + self.name + "}"


#: the id of the session the plan creates (or finds)
SESSION_ID = Ref("session_id")


def shown(value: Any) -> Any:
    """``value`` with every Ref replaced by its shown form (lists for tuples): for JSON/text."""
    if isinstance(value, Ref):
        return value.shown
    if isinstance(value, Mapping):
        return {k: shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(v) for v in value]
    return value


def _pointer_token(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def ref_pointers(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON Pointer, name) of every Ref in ``value`` (RFC 6901, relative to ``pointer``)."""
    if isinstance(value, Ref):
        yield pointer, value.name
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from ref_pointers(item, f"{pointer}/{_pointer_token(key)}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from ref_pointers(item, f"{pointer}/{index}")


def ref_names(value: Any) -> list[str]:
    """The names of the Refs in ``value``, in order, once each."""
    names: list[str] = []
    for _, name in ref_pointers(value):
        if name not in names:
            names.append(name)
    return names


def _refs(**parts: Any) -> dict[str, str]:
    return {p: n for key, value in parts.items() for p, n in ref_pointers(value, f"/{key}")}


def _segments(path: str) -> tuple[str, ...]:
    if not path.startswith("/"):
        raise ValueError(f"an HTTP step's path starts with '/': {path!r}")
    if "{" in path or "}" in path:
        raise ValueError(
            f"a value learned while running is a Ref segment, not text: {path!r} "
            '(e.g. path=("session", Ref("session_id"), "message"))'
        )
    return tuple(part for part in path.split("/") if part)


@dataclass(frozen=True)
class HttpStep:
    """An HTTP call to the OpenCode server. ``save`` names values to keep from the JSON answer.

    ``path`` is its segments, each a literal string or a :class:`Ref` (``("session", SESSION_ID,
    "prompt_async")``); each segment is percent-encoded whole when the call is made. A literal
    path may be given as a string (``"/tui/submit-prompt"``). ``query`` values and ``body``
    (at any depth) may be Refs too.
    """

    method: str
    path: tuple[str | Ref, ...]
    description: str
    query: Mapping[str, str | Ref] = field(default_factory=dict)
    body: Any = None
    expect_status: tuple[int, ...] = (200, 204)
    save: Mapping[str, str] = field(default_factory=dict)  # {"session_id": "id"}
    kind: Literal["http"] = "http"

    def __post_init__(self) -> None:
        path: Any = self.path
        if isinstance(path, str):
            path = _segments(path)
        path = tuple(path)
        if not all(isinstance(p, str | Ref) and p != "" for p in path):
            raise ValueError(f"an HTTP step's path segments are non-empty strings or Refs: {path}")
        object.__setattr__(self, "path", path)

    def display_path(self) -> str:
        """The path as text, a Ref shown as ``{name}``: ``/session/{session_id}/prompt_async``."""
        return "/" + "/".join(shown(list(self.path)))

    def to_json(self) -> HttpStepJSON:
        return {
            "kind": self.kind,
            "description": self.description,
            "method": self.method,
            "path": self.display_path(),
            "path_segments": shown(list(self.path)),
            "query": shown(dict(self.query)),
            "body": shown(self.body),
            "expect_status": list(self.expect_status),
            "save": dict(self.save),
            "refs": _refs(path_segments=self.path, query=self.query, body=self.body),
        }


@dataclass(frozen=True)
class ProcessStep:
    """A process to start (in a terminal when ``terminal``). argv is a list, never a shell string;
    an element that is a :class:`Ref` is replaced whole by the value learned while running.

    ``command`` names the parsed help the flags were checked against ("root", "attach", "run").
    ``env`` values equal to REDACTED-marked secret names are filled in from the caller's secrets
    at run time (see ``secret_env``); they never appear in argv.
    """

    argv: tuple[str | Ref, ...]
    command: str
    description: str
    cwd: str | None = None
    terminal: bool = True
    env: Mapping[str, str] = field(default_factory=dict)  # non-secret env for the child
    secret_env: tuple[str, ...] = ()  # names of env vars passed through from the caller's secrets
    kind: Literal["process"] = "process"

    def display(self) -> str:
        import shlex

        return shlex.join(shown(list(self.argv)))

    def to_json(self) -> ProcessStepJSON:
        return {
            "kind": self.kind,
            "description": self.description,
            "command": self.command,
            "argv": shown(list(self.argv)),
            "display": self.display(),
            "cwd": self.cwd,
            "terminal": self.terminal,
            "env": dict(self.env),
            "secret_env": {name: REDACTED for name in self.secret_env},
            "refs": _refs(argv=self.argv),
        }


class WaitCondition(StrEnum):
    """What a wait step waits for. Each condition carries its own parameters in
    ``WaitStep.params`` (see ``WAIT_PARAMS``); ``tui-ready`` carries the release's markers in
    ``WaitStep.ready_markers`` / ``failure_markers`` instead. Values are the JSON form."""

    TUI_READY = "tui-ready"
    SESSION_CREATED = "session-created"
    MESSAGE_STORED = "message-stored"


#: condition -> (required, optional) keys of ``WaitStep.params``; a value may be a Ref
WAIT_PARAMS: dict[WaitCondition, tuple[tuple[str, ...], tuple[str, ...]]] = {
    WaitCondition.TUI_READY: ((), ()),
    WaitCondition.SESSION_CREATED: (("directory", "save"), ()),
    WaitCondition.MESSAGE_STORED: (("session_id",), ("directory",)),
}
WAIT_CONDITIONS: tuple[WaitCondition, ...] = tuple(WaitCondition)


@dataclass(frozen=True)
class WaitStep:
    """Wait until a condition holds, at most ``timeout_s``.

    - ``tui-ready``: the terminal of the last process step shows any of ``ready_markers`` (and
      none of ``failure_markers``) while its process is alive; markers come from compat_matrix/
      (tui.toml) for the release. A screen showing the request's prompt counts too (a TUI
      started with the prompt may go straight to work, past its idle hints).
    - ``session-created``: ``GET /session?directory=params["directory"]`` lists a session
      created during the run holding the prompt; its id is saved under the name
      ``params["save"]``.
    - ``message-stored``: ``GET /session/{params["session_id"]}/message`` (with
      ``?directory=params["directory"]`` when given) holds the prompt as a user message.

    A step whose params lack a required key or carry one its condition does not know cannot be
    made (``ValueError``: a programming error, not a delivery failure).
    """

    condition: WaitCondition
    description: str
    timeout_s: float = 30.0
    params: Mapping[str, str | Ref] = field(default_factory=dict)
    ready_markers: tuple[str, ...] = ()
    failure_markers: tuple[str, ...] = ()
    kind: Literal["wait"] = "wait"

    def __post_init__(self) -> None:
        try:
            condition = WaitCondition(self.condition)
        except ValueError:
            known = ", ".join(c.value for c in WaitCondition)
            raise ValueError(
                f"unknown wait condition {self.condition!r} (known: {known})"
            ) from None
        object.__setattr__(self, "condition", condition)
        required, optional = WAIT_PARAMS[condition]
        missing = [k for k in required if not self.params.get(k)]
        missing += [k for k in optional if k in self.params and not self.params[k]]
        unknown = sorted(set(self.params) - set(required) - set(optional))
        if missing or unknown:
            raise ValueError(
                f"wait {condition.value}: "
                + "; ".join(
                    ([f"missing params {missing}"] if missing else [])
                    + ([f"params it does not take {unknown}"] if unknown else [])
                )
            )
        if self.timeout_s <= 0:
            raise ValueError(f"wait {condition.value}: timeout_s must be > 0")

    def to_json(self) -> WaitStepJSON:
        return {
            "kind": self.kind,
            "description": self.description,
            "condition": self.condition.value,
            "timeout_s": self.timeout_s,
            "params": shown(dict(self.params)),
            "ready_markers": list(self.ready_markers),
            "failure_markers": list(self.failure_markers),
            "refs": _refs(params=self.params),
        }


@dataclass(frozen=True)
class KeystrokeStep:
    """Keys typed into the terminal of the last process step ("Enter", or literal text)."""

    keys: tuple[str, ...]
    description: str
    literal: bool = False  # True: type the text as is; False: key names like "Enter"
    kind: Literal["keys"] = "keys"

    def to_json(self) -> KeysStepJSON:
        return {
            "kind": self.kind,
            "description": self.description,
            "keys": list(self.keys),
            "literal": self.literal,
            "refs": {},
        }


Step = HttpStep | ProcessStep | WaitStep | KeystrokeStep
#: the ``kind`` of each step above
StepKind = Literal["http", "process", "wait", "keys"]


@dataclass(frozen=True)
class KnownFailure:
    """A failure the matrix knows (a known issue's id, or ``condition:<id>``), the text that
    shows it on a TUI's screen or in its log, and its fix."""

    id: str
    title: str
    signatures: tuple[str, ...]
    fix: str | None = None

    def seen_in(self, text: str) -> bool:
        return any(s in text for s in self.signatures)


#: how a server lists a session's messages: "1.x" (``[{"info": {"role"}, "parts": [...]}]``)
#: or "2.x" (``{"data": [{"type": "user", "text": ...}], "cursor": ...}``)
MessageShape = Literal["1.x", "2.x"]


@dataclass(frozen=True)
class SessionApi:
    """Where the plan's server keeps a session (paths as segments, ``SESSION_ID`` where the id
    goes): what confirms delivery (the session's user messages) and what removes the session
    when a spawn is undone. Data on the plan, so the executor knows no server line's routes."""

    messages: tuple[str | Ref, ...] = ("session", SESSION_ID, "message")
    messages_query: Mapping[str, str] = field(default_factory=dict)
    shape: MessageShape = "1.x"
    #: ``?directory=D`` on these calls (1.x scopes a session by directory; 2.x by its location)
    directory_query: bool = True
    session: tuple[str | Ref, ...] = ("session", SESSION_ID)  # DELETE removes it
    abort: tuple[str | Ref, ...] = ("session", SESSION_ID, "abort")  # POST stops its work


#: OpenCode 1.x: ``GET /session/{id}/message?directory=D``
SESSION_API_1X = SessionApi()
#: OpenCode 2.x (opencode-python-sdk 0.2.3): ``GET /api/session/{id}/message?type=user``
SESSION_API_2X = SessionApi(
    messages=("api", "session", SESSION_ID, "message"),
    messages_query={"type": "user", "order": "desc", "limit": "50"},
    shape="2.x",
    directory_query=False,
    session=("api", "session", SESSION_ID),
    abort=("api", "session", SESSION_ID, "interrupt"),
)


@dataclass(frozen=True)
class SpawnPlan:
    strategy: str  # a strategy name (orch_doctor.matrix.types.StrategyName)
    steps: tuple[Step, ...]
    server_url: str | None = None
    request: SpawnRequest | None = None
    #: the failures known for this strategy on this release (from compat_matrix/): a failed
    #: step whose screen or log shows one of their signatures is reported as that failure
    known_failures: tuple[KnownFailure, ...] = ()
    #: the server's session routes this plan's confirmation and clean-up use
    session_api: SessionApi = SESSION_API_1X

    def known_failure(self, failure_id: str | None) -> KnownFailure | None:
        """The known failure a failed step was reported as (its ``issue``), if any."""
        return next((k for k in self.known_failures if k.id == failure_id), None)

    def to_json(self) -> PlanStepsJSON:
        return {
            "strategy": self.strategy,
            "server_url": self.server_url,
            "steps": [s.to_json() for s in self.steps],
        }
