"""Build a :class:`SpawnPlan` for a strategy, and check every flag against the parsed help.

Building always validates: a plan whose argv carries a flag the installed OpenCode lacks cannot be
built (:class:`PlanValidationError` names the command and the missing flags). Secrets never go in
argv: a password reaches the child through its environment (``ProcessStep.secret_env``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.rules import prompt_argv_problem
from orch_doctor.decide.steps import (
    SESSION_ID,
    HttpStep,
    KeystrokeStep,
    ProcessStep,
    Ref,
    SpawnPlan,
    Step,
    WaitCondition,
    WaitStep,
)
from orch_doctor.errors import PlanValidationError
from orch_doctor.matrix.model import TuiScreen
from orch_doctor.probe.types import Capabilities, CommandSpec
from orch_doctor.server.credentials import PASSWORD_ENV

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


def validate_plan(plan: SpawnPlan, caps: Capabilities) -> None:
    for step in plan.steps:
        if isinstance(step, ProcessStep):
            validate_argv(step.argv, step.command, caps)
            if any(isinstance(arg, str) and PASSWORD_ENV in arg for arg in step.argv):
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
    opencode = binary or caps.binary_path or "opencode"
    builders = {
        "attach-session-api": _attach_session_api,
        "attach-tui-api": _attach_tui_api,
        "standalone-session": _standalone_session,
        "standalone-prompt": _standalone_prompt,
    }
    if strategy not in builders:
        raise ValueError(f"no plan for strategy {strategy!r}")
    if builders[strategy] is not _standalone_prompt and not server_url:
        raise ValueError(f"{strategy} needs a server URL")
    build = _Build(
        caps=caps,
        request=request,
        opencode=opencode,
        url=server_url or "",
        workarounds=frozenset(workarounds),
        secret_env=(PASSWORD_ENV,) if auth else (),
        tui=tui,
        terminal=terminal,
    )
    steps = builders[strategy](build)
    plan = SpawnPlan(strategy=strategy, steps=tuple(steps), server_url=server_url, request=request)
    validate_plan(plan, caps)
    return plan


@dataclass(frozen=True)
class _Build:
    """What every strategy's plan is built from."""

    caps: Capabilities
    request: SpawnRequest
    opencode: str
    url: str
    workarounds: frozenset[str]
    secret_env: tuple[str, ...]
    tui: TuiScreen | None
    terminal: bool  # the strategy's process runs in a terminal (compat_matrix: strategy.terminal)


def _title(request: SpawnRequest) -> str:
    if request.title:
        return request.title
    prompt = (request.prompt or "").strip().splitlines()
    return ("orch: " + prompt[0][:60]) if prompt else "orch spawn"


def _create_session(request: SpawnRequest) -> HttpStep:
    return HttpStep(
        method="POST",
        path=("session",),
        description="create the session for the directory",
        query={"directory": request.directory},
        body={"title": _title(request)},
        expect_status=(200,),
        save={"session_id": "id"},
    )


def _check_session(request: SpawnRequest) -> HttpStep:
    return HttpStep(
        method="GET",
        path=("session", SESSION_ID),
        description="check the session exists before attaching (an invalid one hangs the TUI)",
        query={"directory": request.directory},
        expect_status=(200,),
    )


def _prompt_async(request: SpawnRequest) -> HttpStep:
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


def _delivered(request: SpawnRequest) -> WaitStep:
    return WaitStep(
        condition=WaitCondition.MESSAGE_STORED,
        description="the prompt is stored as the session's user message",
        timeout_s=DELIVERY_TIMEOUT_S,
        params={"session_id": SESSION_ID, "directory": request.directory},
    )


def _tui_ready(b: _Build) -> WaitStep:
    return WaitStep(
        condition=WaitCondition.TUI_READY,
        description="wait until the TUI is up",
        timeout_s=TUI_READY_TIMEOUT_S,
        ready_markers=b.tui.ready_markers if b.tui else (),
        failure_markers=b.tui.failure_markers if b.tui else (),
    )


def _on_a_created_session(b: _Build, process: ProcessStep) -> list[Step]:
    """Create the session through the API, (check it,) start ``process`` on it, wait for the
    TUI, then deliver the prompt (and model) through prompt_async."""
    steps: list[Step] = [_create_session(b.request)]
    if "check-session-exists" in b.workarounds:
        steps.append(_check_session(b.request))
    steps += [process, _tui_ready(b)]
    if b.request.prompt:
        steps += [_prompt_async(b.request), _delivered(b.request)]
    return steps


def _attach_session_api(b: _Build) -> list[Step]:
    attach = b.caps.command("attach")
    argv: list[str | Ref] = [
        b.opencode,
        "attach",
        b.url,
        *flag(attach, "session", SESSION_ID),
        *flag(attach, "dir", b.request.directory),
    ]
    from_dir = (
        " (from the session's directory)" if "attach-cwd-is-session-dir" in b.workarounds else ""
    )
    process = ProcessStep(
        argv=tuple(argv),
        command="attach",
        description="attach a TUI to the session" + from_dir,
        cwd=b.request.directory,
        terminal=b.terminal,
        secret_env=b.secret_env,
    )
    return _on_a_created_session(b, process)


def _attach_tui_api(b: _Build) -> list[Step]:
    caps, request, opencode = b.caps, b.request, b.opencode
    attach = caps.command("attach")
    argv: list[str | Ref] = [opencode, "attach", b.url, *flag(attach, "dir", request.directory)]
    steps: list[Step] = [
        ProcessStep(
            argv=tuple(argv),
            command="attach",
            description="attach a TUI to the server",
            cwd=request.directory,
            terminal=b.terminal,
            secret_env=b.secret_env,
        ),
        _tui_ready(b),
    ]
    if request.prompt:
        steps += [
            HttpStep(
                method="POST",
                path=("tui", "append-prompt"),
                description="type the prompt into the attached TUI",
                body={"text": request.prompt},
                expect_status=(200,),
            ),
            HttpStep(
                method="POST",
                path=("tui", "submit-prompt"),
                description="submit it (the TUI creates the session)",
                expect_status=(200,),
            ),
            WaitStep(
                condition=WaitCondition.SESSION_CREATED,
                description="find the new session holding the prompt (GET /session?directory=D)",
                timeout_s=DELIVERY_TIMEOUT_S,
                params={"directory": request.directory, "save": "session_id"},
            ),
            _delivered(request),
        ]
    return steps


def _standalone_session(b: _Build) -> list[Step]:
    root = b.caps.command("root")
    argv: list[str | Ref] = [b.opencode, b.request.directory, *flag(root, "session", SESSION_ID)]
    if b.request.model and "model" in root.options:
        argv += flag(root, "model", b.request.model)
    # never --prompt together with --session: several releases drop it (prompt-via-api)
    process = ProcessStep(
        argv=tuple(argv),
        command="root",
        description="open the session in a standalone TUI",
        cwd=b.request.directory,
        terminal=b.terminal,
    )
    return _on_a_created_session(b, process)


def _standalone_prompt(b: _Build) -> list[Step]:
    caps, request, opencode = b.caps, b.request, b.opencode
    root = caps.command("root")
    argv: list[str | Ref] = [opencode, request.directory]
    if request.model and "model" in root.options:
        argv += flag(root, "model", request.model)
    if request.prompt:
        too_long = prompt_argv_problem(request.prompt)
        if too_long:
            raise ValueError(too_long)  # no plan that cannot deliver its prompt
        argv += flag(root, "prompt", request.prompt)
    steps: list[Step] = [
        ProcessStep(
            argv=tuple(argv),
            command="root",
            description="start a standalone TUI with the prompt",
            cwd=request.directory,
            terminal=b.terminal,
        ),
        _tui_ready(b),
    ]
    if request.prompt and "press-enter" in b.workarounds:
        steps.append(
            KeystrokeStep(keys=("Enter",), description="submit the pre-filled prompt (Enter)")
        )
    return steps
