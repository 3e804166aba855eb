"""The Python API ``orch spawn`` calls on every spawn.

    from orch_doctor.api import select_strategy

    decision = select_strategy("/path/to/project", model="opencode/big-pickle",
                               prompt="fix the tests", server_url="http://127.0.0.1:4096")
    if decision.plan is None:
        raise SystemExit(f"cannot spawn: {decision.fix}")
    result = execute_plan(decision.plan, tmux_target="orch:agent-7")
    print(result.ok, result.session_id, result.target)

Warm path (binary probe cached on disk, matrix passed in or loaded): a few milliseconds, no rich,
no subprocess. Only what the decision needs is imported here.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orch_doctor._util.timeouts import check_timeout
from orch_doctor.advice import Advisory, Severity
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.plan import validate_plan
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.rules import REJECTION_CODES, Rejection, RejectionCode
from orch_doctor.decide.steps import (
    SESSION_ID,
    WAIT_PARAMS,
    HttpStep,
    KeystrokeStep,
    ProcessStep,
    Ref,
    SpawnPlan,
    Step,
    WaitCondition,
    WaitStep,
)
from orch_doctor.errors import (
    ConfigFileError,
    MatrixError,
    OrchDoctorError,
    PlanValidationError,
    PolicyError,
    TmuxTargetError,
    VerifyRefused,
)
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.types import STRATEGY_NAMES, Matrix, StrategyName
from orch_doctor.probe.binary import DEFAULT_TIMEOUT_S, start_decision_probe
from orch_doctor.probe.types import Capabilities, CommandSpec, OptionSpec
from orch_doctor.resolve.policy import Policy
from orch_doctor.server.credentials import Credentials, credentials_from_env, split_userinfo
from orch_doctor.server.types import ServerStatus

if TYPE_CHECKING:
    from orch_doctor.clients.types import ClientInstall, ClientReport, EntryResult
    from orch_doctor.execute.executor import StepReport
    from orch_doctor.execute.spawn import SpawnResult, execute_plan
    from orch_doctor.execute.terminal import (
        PtyTerminal,
        Terminal,
        TmuxWindowTerminal,
    )

#: the executor's names, imported on first use (the decision's warm path stays light)
_LAZY = {
    "ClientInstall": "orch_doctor.clients.types",
    "ClientReport": "orch_doctor.clients.types",
    "EntryResult": "orch_doctor.clients.types",
    "StepReport": "orch_doctor.execute.executor",
    "SpawnResult": "orch_doctor.execute.spawn",
    "execute_plan": "orch_doctor.execute.spawn",
    "PtyTerminal": "orch_doctor.execute.terminal",
    "Terminal": "orch_doctor.execute.terminal",
    "TmuxWindowTerminal": "orch_doctor.execute.terminal",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "REJECTION_CODES",
    "SESSION_ID",
    "STRATEGY_NAMES",
    "WAIT_PARAMS",
    "Advisory",
    "Capabilities",
    "ClientInstall",
    "ClientReport",
    "CommandSpec",
    "ConfigFileError",
    "Credentials",
    "Decision",
    "EntryResult",
    "HttpStep",
    "KeystrokeStep",
    "Matrix",
    "MatrixError",
    "OptionSpec",
    "OrchDoctorError",
    "PlanValidationError",
    "Policy",
    "PolicyError",
    "ProcessStep",
    "PtyTerminal",
    "Ref",
    "Rejection",
    "RejectionCode",
    "ServerStatus",
    "Severity",
    "SpawnPlan",
    "SpawnRequest",
    "SpawnResult",
    "Step",
    "StepReport",
    "StrategyName",
    "Terminal",
    "TmuxTargetError",
    "TmuxWindowTerminal",
    "VerifyRefused",
    "WaitCondition",
    "WaitStep",
    "check_orch_client",
    "execute_plan",
    "get_capabilities",
    "get_server_status",
    "load_matrix",
    "select_strategy",
    "validate_plan",
]


def get_capabilities(
    opencode: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    refresh: bool = False,
    use_cache: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Capabilities:
    """Discover and probe the installed OpenCode: what the decision needs, cached by binary
    identity (the same cache entry the doctor uses). ValueError for a ``timeout_s`` that is not
    a finite number of seconds above 0."""
    timeout_s = check_timeout(timeout_s)
    from orch_doctor.matrix import identify_published

    return start_decision_probe(
        opencode,
        env,
        timeout_s=timeout_s,
        use_cache=use_cache,
        refresh=refresh,
        known=None if refresh else identify_published,
    ).result()


def get_server_status(
    url: str,
    *,
    credentials: Credentials | None = None,
    client_version: str | None = None,
    timeout_s: float = 5.0,
    matrix: Matrix | None = None,
) -> ServerStatus:
    """What the server at ``url`` is and offers, and its skew against the CLI
    ``client_version`` by the matrix's rule (``matrix``, or the shipped one with overrides).
    ValueError for a ``timeout_s`` that is not a finite number of seconds above 0."""
    timeout_s = check_timeout(timeout_s)
    from orch_doctor.decide.rules import with_skew
    from orch_doctor.server.probe import probe_server

    status = probe_server(url, timeout_s=timeout_s, credentials=credentials)
    if not status.is_opencode:
        return status
    return with_skew(status, client_version, matrix or load_matrix())


def check_orch_client(
    server_url: str | None,
    orch_version: str | None = None,
    *,
    orch_path: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    credentials: Credentials | None = None,
    matrix_files: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
) -> ClientReport:
    """Hold orch's own OpenCode client (its contract in compat_matrix/clients/) against the
    server at ``server_url``: the doctor's ``orch-client`` check, for orch to run on itself.

    Which orch: ``orch_version`` (orch passes its own), else the checkout at ``orch_path``, else
    the orch installed here. ``directory``: where the agents are spawned (for orch's unscoped
    session list). Credentials default to OPENCODE_SERVER_PASSWORD / the URL's user:password@.
    ``ClientReport.status`` is ``pass``, ``warn`` (``advisories``: one per call that breaks, with
    the orch commands it breaks and a fix) or ``skip`` (``summary`` says why);
    ``ClientReport.cost("password")`` says what a server password costs this orch. Only GETs are
    sent: nothing is created on the server."""
    from orch_doctor.clients.check import run_check
    from orch_doctor.matrix.clients import load_contracts

    bare_url, url_credentials = split_userinfo(server_url) if server_url else (None, None)
    creds = credentials or credentials_from_env(env) or url_credentials
    return run_check(
        bare_url,
        version=orch_version,
        checkout=os.fspath(orch_path) if orch_path is not None else None,
        directory=os.path.abspath(directory) if directory is not None else None,
        credentials=creds,
        timeout_s=timeout_s,
        contracts=load_contracts(matrix_files),
    )


def directory_decision(directory: str) -> Decision | None:
    """Strategy ``none`` when ``directory`` (absolute) cannot be the agent's directory, else
    None — the check at the edge, so that the decision itself stays pure."""
    from orch_doctor.resolve import directory_decision as refused

    return refused(directory)


def select_strategy(
    directory: str | os.PathLike[str],
    *,
    model: str | None = None,
    prompt: str | None = None,
    server_url: str | None = None,
    opencode: str | None = None,
    credentials: Credentials | None = None,
    matrix: Matrix | None = None,
    matrix_files: Sequence[str] = (),
    allowed_strategies: Collection[str] | None = None,
    allow_standalone: bool = False,
    refresh: bool = False,
    env: Mapping[str, str] | None = None,
    capabilities: Capabilities | None = None,
    server: ServerStatus | None = None,
    discover: bool = True,
    policy: Policy | None = None,
    policy_file: str | os.PathLike[str] | None = None,
) -> Decision:
    """Pick the spawn strategy and build its exact plan (``Decision.plan``): the same request
    resolution and decision as ``orch-doctor``, ``plan``, ``spawn`` and ``verify``.

    The server: ``server_url``, else the policy's ``server_url``, else (``discover``, the
    default) the servers running here, a usable one serving ``directory`` first — as the
    doctor finds them; ``discover=False`` decides without a server instead. Pass
    ``capabilities`` / ``server`` / ``matrix`` / ``policy`` to reuse what the caller already
    has (a ``server`` status given is used as is: nothing is probed or discovered).
    Credentials default to OPENCODE_SERVER_PASSWORD / OPENCODE_SERVER_USERNAME, then the URL's
    ``user:password@``.

    The policy: ``policy``, else ``policy_file``, else the nearest ``.orch-doctor.toml`` /
    pyproject ``[tool.orch-doctor]`` from ``directory`` upward (its ``allowed_strategies``
    unless ``allowed_strategies`` is given, ``require_server``, ``server_url``); an invalid
    policy or matrix file raises its ConfigFileError (PolicyError, MatrixError).

    A ``directory`` that does not exist, is not a directory or cannot be reached by this user
    is no plan: strategy ``none`` with the reason and a fix (nothing is probed).
    """
    from orch_doctor.resolve import Resolution, Selection

    selection = Selection(
        directory=os.fspath(directory),
        model=model,
        prompt=prompt,
        server_url=server_url,
        opencode=opencode,
        allow_standalone=allow_standalone,
        discover=discover,
        refresh=refresh,
        matrix_files=tuple(matrix_files),
        policy_file=os.fspath(policy_file) if policy_file is not None else None,
        allowed_strategies=tuple(allowed_strategies) if allowed_strategies is not None else None,
        credentials=credentials,
    )
    resolution = Resolution(
        selection,
        policy=policy,
        matrix=matrix,
        capabilities=capabilities,
        server=server,
        env=env,
    )
    return resolution.decision.get()
