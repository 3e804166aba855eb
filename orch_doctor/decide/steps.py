"""A plan is data: ordered, typed steps. ``to_json`` gives the form of ``plan --format json``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from orch_doctor._util.text import REDACTED
from orch_doctor.decide.request import SpawnRequest

#: placeholder a plan uses for values only known while it runs (e.g. "{session_id}")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class HttpStep:
    """An HTTP call to the OpenCode server. ``save`` names values to keep from the JSON answer."""

    method: str
    path: str  # may hold placeholders: "/session/{session_id}/prompt_async"
    description: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    expect_status: tuple[int, ...] = (200, 204)
    save: Mapping[str, str] = field(default_factory=dict)  # {"session_id": "id"}
    kind: Literal["http"] = "http"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "body": self.body,
            "expect_status": list(self.expect_status),
            "save": dict(self.save),
        }


@dataclass(frozen=True)
class ProcessStep:
    """A process to start (in a terminal when ``terminal``). argv is a list, never a shell string.

    ``command`` names the parsed help the flags were checked against ("root", "attach", "run").
    ``env`` values equal to REDACTED-marked secret names are filled in from the caller's secrets
    at run time (see ``secret_env``); they never appear in argv.
    """

    argv: tuple[str, ...]
    command: str
    description: str
    cwd: str | None = None
    terminal: bool = True
    env: Mapping[str, str] = field(default_factory=dict)  # non-secret env for the child
    secret_env: tuple[str, ...] = ()  # names of env vars passed through from the caller's secrets
    kind: Literal["process"] = "process"

    def display(self) -> str:
        import shlex

        return shlex.join(self.argv)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "command": self.command,
            "argv": list(self.argv),
            "display": self.display(),
            "cwd": self.cwd,
            "terminal": self.terminal,
            "env": dict(self.env),
            "secret_env": {name: REDACTED for name in self.secret_env},
        }


class WaitCondition(StrEnum):
    """What a wait step waits for. Each condition carries its own parameters in
    ``WaitStep.params`` (see ``WAIT_PARAMS``); ``tui-ready`` carries the release's markers in
    ``WaitStep.ready_markers`` / ``failure_markers`` instead. Values are the JSON form."""

    TUI_READY = "tui-ready"
    SESSION_CREATED = "session-created"
    MESSAGE_STORED = "message-stored"


#: condition -> (required, optional) keys of ``WaitStep.params``; values may hold placeholders
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
    params: Mapping[str, str] = field(default_factory=dict)
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

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "condition": self.condition.value,
            "timeout_s": self.timeout_s,
            "params": dict(self.params),
            "ready_markers": list(self.ready_markers),
            "failure_markers": list(self.failure_markers),
        }


@dataclass(frozen=True)
class KeystrokeStep:
    """Keys typed into the terminal of the last process step ("Enter", or literal text)."""

    keys: tuple[str, ...]
    description: str
    literal: bool = False  # True: type the text as is; False: key names like "Enter"
    kind: Literal["keys"] = "keys"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "keys": list(self.keys),
            "literal": self.literal,
        }


Step = HttpStep | ProcessStep | WaitStep | KeystrokeStep


@dataclass(frozen=True)
class SpawnPlan:
    strategy: str  # a strategy name (orch_doctor.matrix.model.StrategyName)
    steps: tuple[Step, ...]
    server_url: str | None = None
    request: SpawnRequest | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "server_url": self.server_url,
            "steps": [s.to_json() for s in self.steps],
        }
