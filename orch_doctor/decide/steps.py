"""A plan is data: ordered, typed steps. ``to_json`` gives the form of ``plan --format json``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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


#: what a wait step waits for; each executor implements these from the step's own fields
WaitCondition = Literal["tui-ready", "session-created", "message-stored"]
WAIT_CONDITIONS: tuple[WaitCondition, ...] = ("tui-ready", "session-created", "message-stored")


@dataclass(frozen=True)
class WaitStep:
    """Wait until a condition holds, at most ``timeout_s``.

    - ``tui-ready``: the terminal of the last process step shows any of ``ready_markers`` (and
      none of ``failure_markers``) while its process is alive; markers come from compat_matrix/
      (tui.toml) for the release.
    - ``session-created``: ``GET /session?directory=params["directory"]`` lists a session
      holding the prompt; its id is saved as ``params["save"]``.
    - ``message-stored``: ``GET /session/{params["session_id"]}/message`` holds the prompt as a
      user message.
    """

    condition: WaitCondition
    description: str
    timeout_s: float = 30.0
    params: Mapping[str, str] = field(default_factory=dict)
    ready_markers: tuple[str, ...] = ()
    failure_markers: tuple[str, ...] = ()
    kind: Literal["wait"] = "wait"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "condition": self.condition,
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
