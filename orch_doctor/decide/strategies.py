"""The registry of spawn strategies: for each name of ``PlanStrategyName`` (the one list of
names, orch_doctor/matrix/types.py), the builder of its plan.

Everything else about a strategy is data in compat_matrix/strategies.toml (its summary,
preference, requirements, whether it needs a server, ...). Adding a strategy is: its name in
``PlanStrategyName``, its builder and entry here, its ``[[strategy]]`` in strategies.toml, and its
tests; the schemas, the CLI's choices, the policy's and the tools' lists derive from the name.
A builder returns the steps; ``build_plan`` validates them (flags against the help; a step that
talks to a server needs one: ``Build.url``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from orch_doctor.decide.plan import (
    DELIVERY_TIMEOUT_S,
    Build,
    check_session,
    create_session,
    delivered,
    flag,
    prompt_async,
    title,
    tui_ready,
)
from orch_doctor.decide.rules import prompt_argv_problem
from orch_doctor.decide.steps import (
    SESSION_API_1X,
    SESSION_API_2X,
    SESSION_ID,
    HttpStep,
    KeystrokeStep,
    ProcessStep,
    Ref,
    SessionApi,
    Step,
    WaitCondition,
    WaitStep,
)
from orch_doctor.matrix.types import PlanStrategyName
from orch_doctor.server.credentials import PASSWORD_ENV, PASSWORD_ENV_2X


@dataclass(frozen=True)
class StrategyDef:
    """What a strategy needs in code: the builder of its steps, and the server's session routes
    its confirmation and clean-up read (``SpawnPlan.session_api``)."""

    builder: Callable[[Build], list[Step]]
    session_api: SessionApi = SESSION_API_1X
    #: the variable its TUI reads the server's password from (2.x: OPENCODE_PASSWORD, then the
    #: legacy name; anomalyco/opencode packages/cli/src/env.ts)
    password_env: str = PASSWORD_ENV


def tui_process(b: Build, command: str, argv: list[str | Ref], description: str) -> ProcessStep:
    """The TUI: ``argv`` (checked against ``command``'s help) in the request's directory and the
    plan's terminal; one that attaches to the server gets its credentials (``Build.secret_env``)."""
    return ProcessStep(
        argv=tuple(argv),
        command=command,
        description=description,
        cwd=b.request.directory,
        terminal=b.terminal,
        secret_env=b.secret_env if command == "attach" else (),
    )


def on_a_created_session(b: Build, process: ProcessStep) -> list[Step]:
    """Create the session through the API, (check it,) start ``process`` on it, wait for the
    TUI, then deliver the prompt (and model) through prompt_async."""
    steps: list[Step] = [create_session(b.request)]
    if "check-session-exists" in b.workarounds:
        steps.append(check_session(b.request))
    steps += [process, tui_ready(b)]
    if b.request.prompt:
        steps += [prompt_async(b.request), delivered(b.request)]
    return steps


def _attach_session_api(b: Build) -> list[Step]:
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
    process = tui_process(b, "attach", argv, "attach a TUI to the session" + from_dir)
    return on_a_created_session(b, process)


def _attach_tui_api(b: Build) -> list[Step]:
    caps, request, opencode = b.caps, b.request, b.opencode
    attach = caps.command("attach")
    argv: list[str | Ref] = [opencode, "attach", b.url, *flag(attach, "dir", request.directory)]
    steps: list[Step] = [
        tui_process(b, "attach", argv, "attach a TUI to the server"),
        tui_ready(b),
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
            delivered(request),
        ]
    return steps


def _standalone_session(b: Build) -> list[Step]:
    root = b.caps.command("root")
    argv: list[str | Ref] = [b.opencode, b.request.directory, *flag(root, "session", SESSION_ID)]
    if b.request.model and "model" in root.options:
        argv += flag(root, "model", b.request.model)
    # never --prompt together with --session: several releases drop it (prompt-via-api)
    process = tui_process(b, "root", argv, "open the session in a standalone TUI")
    return on_a_created_session(b, process)


def _standalone_prompt(b: Build) -> list[Step]:
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
        tui_process(b, "root", argv, "start a standalone TUI with the prompt"),
        tui_ready(b),
    ]
    if request.prompt and "press-enter" in b.workarounds:
        steps.append(
            KeystrokeStep(keys=("Enter",), description="submit the pre-filled prompt (Enter)")
        )
    return steps


def _service_session_api(b: Build) -> list[Step]:
    """OpenCode 2.x: the session is created in the user's service for the directory, the TUI
    opens on it through ``--server`` (``--session`` selects it; the positional is the
    directory), the prompt goes through the API and is read back as the session's user message.
    Routes and bodies from the published 2.x contract (compat_matrix: evidence_kind contract)."""
    root, request = b.caps.command("root"), b.request
    body: dict[str, object] = {
        "title": title(request),
        "location": {"directory": request.directory},
    }
    if request.model:
        provider, _, model_id = request.model.partition("/")
        body["model"] = {"id": model_id, "providerID": provider}
    argv: list[str | Ref] = [
        b.opencode,
        request.directory,
        *flag(root, "server", b.url),
        *flag(root, "session", SESSION_ID),
    ]
    steps: list[Step] = [
        HttpStep(
            method="POST",
            path=("api", "session"),
            description="create the session in the service for the directory"
            + (" (with the model)" if request.model else ""),
            body=body,
            expect_status=(200,),
            save={"session_id": "data.id"},
        ),
        ProcessStep(
            argv=tuple(argv),
            command="root",
            description="open a TUI on the session through the service (--server, --session)",
            cwd=request.directory,
            terminal=b.terminal,
            secret_env=b.secret_env,
        ),
        tui_ready(b),
    ]
    if request.prompt:
        steps += [
            HttpStep(
                method="POST",
                path=("api", "session", SESSION_ID, "prompt"),
                description="send the prompt to the session",
                body={"text": request.prompt},
                expect_status=(200,),
            ),
            WaitStep(
                condition=WaitCondition.MESSAGE_STORED,
                description="the prompt is stored as the session's user message",
                timeout_s=DELIVERY_TIMEOUT_S,
                params={"session_id": SESSION_ID},
            ),
        ]
    return steps


#: every strategy that has a plan, exactly once (tests/test_strategies.py checks it against
#: ``PlanStrategyName`` and compat_matrix/strategies.toml)
STRATEGIES: Mapping[PlanStrategyName, StrategyDef] = {
    "service-session-api": StrategyDef(_service_session_api, SESSION_API_2X, PASSWORD_ENV_2X),
    "attach-session-api": StrategyDef(_attach_session_api),
    "attach-tui-api": StrategyDef(_attach_tui_api),
    "standalone-session": StrategyDef(_standalone_session),
    "standalone-prompt": StrategyDef(_standalone_prompt),
}
