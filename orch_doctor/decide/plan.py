"""Build a :class:`SpawnPlan` for a strategy, and check every flag against the parsed help.

Building always validates: a plan whose argv carries a flag the installed OpenCode lacks cannot be
built (:class:`PlanValidationError` names the command and the missing flags). Secrets never go in
argv: a password reaches the child through its environment (``ProcessStep.secret_env``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import (
    SESSION_ID,
    HttpStep,
    ProcessStep,
    Ref,
    SpawnPlan,
    Step,
    WaitCondition,
    WaitStep,
)
from orch_doctor.errors import PlanValidationError
from orch_doctor.matrix.types import TuiScreen, strategy_name
from orch_doctor.probe.types import Capabilities, CommandSpec
from orch_doctor.server.credentials import PASSWORD_ENVS

TUI_READY_TIMEOUT_S = 60.0
DELIVERY_TIMEOUT_S = 30.0


# --- validation --------------------------------------------------------------------------------


def validate_argv(argv: Sequence[str | Ref], command: str, caps: Capabilities) -> None:
    """Raise unless every flag in ``argv`` exists in the parsed help of ``command``.

    ``argv[0]`` is the binary; for a subcommand ``argv[1]`` is its name. Values that follow a
    flag taking a value are skipped; ``--flag=value`` is checked as ``--flag``. A :class:`Ref`
    (a value learned while running, e.g. the session id) is a value, never a flag.
    """
    spec = caps.command(command)
    if not spec.exists:
        raise PlanValidationError(command, ())
    start = 1 if command == "root" else 2
    if command != "root" and (len(argv) < 2 or argv[1] != command):
        raise PlanValidationError(command, (), f"argv does not run `{command}`")
    missing: list[str] = []
    i = start
    while i < len(argv):
        token = argv[i]
        i += 1
        if isinstance(token, Ref):
            continue  # a value (the flag before it was checked)
        if token == "--":
            break
        if not token.startswith("-") or token == "-":
            continue  # a positional
        flag, has_value = token.split("=", 1)[0], "=" in token
        option = spec.option_for_flag(flag)
        if option is None:
            missing.append(flag)
            if not has_value and i < len(argv) and not _looks_like_flag(argv[i]):
                i += 1  # its (presumed) value
            continue
        if not has_value and option.type not in ("boolean", "count") and i < len(argv):
            i += 1
    if missing:
        raise PlanValidationError(command, missing)


def _looks_like_flag(token: str | Ref) -> bool:
    return isinstance(token, str) and token.startswith("-")


def talks_to_server(step: Step) -> bool:
    """Whether ``step`` needs the plan's server (an HTTP call, or a wait that asks it)."""
    if isinstance(step, HttpStep):
        return True
    return isinstance(step, WaitStep) and step.condition is not WaitCondition.TUI_READY


def validate_plan(plan: SpawnPlan, caps: Capabilities) -> None:
    if not plan.server_url and any(talks_to_server(step) for step in plan.steps):
        raise ValueError(f"{plan.strategy} needs a server URL")
    for step in plan.steps:
        if isinstance(step, ProcessStep):
            validate_argv(step.argv, step.command, caps)
            if any(
                isinstance(arg, str) and any(name in arg for name in PASSWORD_ENVS)
                for arg in step.argv
            ):
                raise ValueError("a process step mentions the server password in argv")


# --- building ----------------------------------------------------------------------------------


def flag(spec: CommandSpec, name: str, value: str | Ref | None = None) -> list[str | Ref]:
    """``--name value`` by the option's long name (never a short alias: ``-p`` changed meaning
    across releases). A value that starts with '-' is glued (``--name=-x``) so it is not read
    as a flag; a :class:`Ref` stays a whole element of its own."""
    option = spec.options.get(name)
    if option is None:
        raise PlanValidationError(spec.name, (f"--{name}",))
    if value is None:
        return [f"--{option.name}"]
    if isinstance(value, Ref):
        return [f"--{option.name}", value]
    if value.startswith("-"):
        return [f"--{option.name}={value}"]
    return [f"--{option.name}", value]


def model_body(model: str | None) -> dict[str, str] | None:
    if not model:
        return None
    provider, _, model_id = model.partition("/")
    return {"providerID": provider, "modelID": model_id}


def build_plan(
    strategy: str,
    caps: Capabilities,
    request: SpawnRequest,
    *,
    server_url: str | None,
    workarounds: Collection[str] = (),
    auth: bool = False,
    binary: str | None = None,
    tui: TuiScreen | None = None,
    terminal: bool = True,
) -> SpawnPlan:
    """The exact steps of ``strategy`` for this OpenCode and request; validated before return."""
    from orch_doctor.decide.strategies import STRATEGIES

    name = strategy_name(strategy)
    if name is None:
        raise ValueError(f"no plan for strategy {strategy!r}")
    entry = STRATEGIES[name]
    build = Build(
        strategy=strategy,
        caps=caps,
        request=request,
        opencode=binary or caps.binary_path or "opencode",
        server_url=server_url,
        workarounds=frozenset(workarounds),
        secret_env=(entry.password_env,) if auth else (),
        tui=tui,
        terminal=terminal,
    )
    steps = entry.builder(build)
    plan = SpawnPlan(
        strategy=strategy,
        steps=tuple(steps),
        server_url=server_url,
        request=request,
        session_api=entry.session_api,
    )
    validate_plan(plan, caps)
    return plan


@dataclass(frozen=True)
class Build:
    """What every strategy's plan is built from (its builder: orch_doctor/decide/strategies.py)."""

    strategy: str
    caps: Capabilities
    request: SpawnRequest
    opencode: str
    server_url: str | None
    workarounds: frozenset[str]
    secret_env: tuple[str, ...]
    tui: TuiScreen | None
    terminal: bool  # the strategy's process runs in a terminal (compat_matrix: strategy.terminal)

    @property
    def url(self) -> str:
        """The server's URL, for a step that talks to it; a plan without a server has none."""
        if not self.server_url:
            raise ValueError(f"{self.strategy} needs a server URL")
        return self.server_url


def title(request: SpawnRequest) -> str:
    if request.title:
        return request.title
    prompt = (request.prompt or "").strip().splitlines()
    return ("orch: " + prompt[0][:60]) if prompt else "orch spawn"


def create_session(request: SpawnRequest) -> HttpStep:
    return HttpStep(
        method="POST",
        path=("session",),
        description="create the session for the directory",
        query={"directory": request.directory},
        body={"title": title(request)},
        expect_status=(200,),
        save={"session_id": "id"},
    )


def check_session(request: SpawnRequest) -> HttpStep:
    return HttpStep(
        method="GET",
        path=("session", SESSION_ID),
        description="check the session exists before attaching (an invalid one hangs the TUI)",
        query={"directory": request.directory},
        expect_status=(200,),
    )


def prompt_async(request: SpawnRequest) -> HttpStep:
    body: dict[str, object] = {"parts": [{"type": "text", "text": request.prompt or ""}]}
    model = model_body(request.model)
    if model:
        body["model"] = model
    return HttpStep(
        method="POST",
        path=("session", SESSION_ID, "prompt_async"),
        description="send the prompt" + (" and model" if model else "") + " to the session",
        query={"directory": request.directory},
        body=body,
        expect_status=(200, 204),
    )


def delivered(request: SpawnRequest) -> WaitStep:
    return WaitStep(
        condition=WaitCondition.MESSAGE_STORED,
        description="the prompt is stored as the session's user message",
        timeout_s=DELIVERY_TIMEOUT_S,
        params={"session_id": SESSION_ID, "directory": request.directory},
    )


def tui_ready(b: Build) -> WaitStep:
    return WaitStep(
        condition=WaitCondition.TUI_READY,
        description="wait until the TUI is up",
        timeout_s=TUI_READY_TIMEOUT_S,
        ready_markers=b.tui.ready_markers if b.tui else (),
        failure_markers=b.tui.failure_markers if b.tui else (),
    )
