"""The JSON form of every ``--format json`` output, declared once as typed dicts.

Each ``to_json`` returns one of these (``mypy --strict`` checks every key and value against the
declaration), and ``tools/write_schemas.py`` derives the shipped JSON Schemas from the same
declarations: ``Literal`` is an enum, ``X | None`` nullable, a key without ``NotRequired`` is
required, a nested typed dict is a ``$defs`` entry, a union of typed dicts sharing a ``Literal``
``kind`` is one object with a branch per kind. ``Annotated[T, Schema(...)]`` adds what a type
cannot say (a pattern, a minimum, an enum taken from a constant). Objects stay open: extra keys
may be added without raising ``schema_version``.

Producers import this module only for type checking: the warm path never loads it.
"""

# no ``from __future__ import annotations``: the declarations are read at run time by the schema
# writer, and NotRequired inside string annotations is lost on Python 3.11
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired, TypedDict, get_args

from orch_doctor._util.text import REDACTED
from orch_doctor.advice import Severity
from orch_doctor.clients.types import ClientStatus
from orch_doctor.decide.rules import RejectionCode
from orch_doctor.decide.steps import WAIT_PARAMS, StepKind, WaitCondition
from orch_doctor.doctor.types import CheckStatus, DoctorStatus
from orch_doctor.execute.executor import FailureCode, StepOutcome
from orch_doctor.execute.spawn import SpawnFailureCode

# the strategy names: the one place they are taken from
from orch_doctor.matrix.types import PLAN_STRATEGIES, STRATEGY_NAMES, IssueSeverity, StrategyName
from orch_doctor.probe.types import PROBED_COMMANDS
from orch_doctor.server.types import ServerVerdict


class Schema:
    """JSON Schema keywords a type cannot say, merged over the derived schema (an ``enum`` or
    ``const`` replaces the derived ``type``)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords


class Def:
    """Names a union of typed dicts in ``$defs`` (a typed dict is named after its class)."""

    def __init__(self, name: str) -> None:
        self.name = name


Text = Annotated[str, Schema(minLength=1)]
Seconds = Annotated[float, Schema(minimum=0)]
PlanStrategy = Annotated[StrategyName, Schema(enum=list(PLAN_STRATEGIES))]
#: a strategy name held as text (a plan's, a spawn's)
StrategyText = Annotated[str, Schema(enum=list(STRATEGY_NAMES))]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Refs = Annotated[
    dict[str, Annotated[str, Schema(pattern="^[a-z][a-z0-9_]*$")]],
    Schema(
        description="JSON Pointer (relative to the step) of each string that stands for a value "
        "learned while running -> the name it was saved under (an earlier http step's `save`, a "
        "session-created wait's params.save). The executor replaces exactly these strings, whole; "
        "every other string (prompt, directory, title, model) is literal, braces included.",
        propertyNames={"pattern": "^(/[^/]*)+$"},
    ),
]


class AdvisoryJSON(TypedDict):
    id: Text
    severity: Severity
    message: str
    fix: str | None
    #: other ways out, for people (a setting, another release); ``fix`` is a command line
    alternatives: list[str]
    evidence: str | None


# --- plan steps ---------------------------------------------------------------------------------


class HttpStepJSON(TypedDict):
    kind: Literal["http"]
    description: str
    method: Annotated[str, Schema(enum=list(get_args(HttpMethod)))]
    #: for reading; a client builds the URL from path_segments (each percent-encoded whole)
    path: Annotated[str, Schema(pattern="^/")]
    path_segments: list[Text]
    query: dict[str, str]
    body: Any
    expect_status: list[int]
    save: dict[str, str]
    refs: Refs


class ProcessStepJSON(TypedDict):
    kind: Literal["process"]
    description: str
    command: Annotated[str, Schema(enum=list(PROBED_COMMANDS))]
    argv: Annotated[list[str], Schema(minItems=1)]
    display: str
    cwd: str | None
    terminal: bool
    env: dict[str, str]
    secret_env: dict[str, Annotated[str, Schema(const=REDACTED)]]
    refs: Refs


def _wait_params(condition: WaitCondition) -> dict[str, Any]:
    """The params a wait step of ``condition`` must and may carry (tui-ready: none; it carries
    the release's markers instead)."""
    required, optional = WAIT_PARAMS[condition]
    then: dict[str, Any] = {
        "properties": {
            "params": {
                "type": "object",
                "required": list(required),
                "properties": {k: {"type": "string", "minLength": 1} for k in required + optional},
                "additionalProperties": False,
            }
        }
    }
    return {"if": {"properties": {"condition": {"const": condition.value}}}, "then": then}


class WaitStepJSON(TypedDict):
    kind: Literal["wait"]
    description: str
    condition: Annotated[str, Schema(enum=[c.value for c in WaitCondition])]
    timeout_s: Annotated[float, Schema(exclusiveMinimum=0)]
    params: dict[str, str]
    ready_markers: list[str]
    failure_markers: list[str]
    refs: Refs


#: each wait condition carries its own parameters (added to the wait branch of a step)
WAIT_STEP_RULES = Schema(allOf=[_wait_params(c) for c in WaitCondition])


class KeysStepJSON(TypedDict):
    kind: Literal["keys"]
    description: str
    keys: list[str]
    literal: bool
    refs: Refs


StepJSON = Annotated[HttpStepJSON | ProcessStepJSON | WaitStepJSON | KeysStepJSON, Def("step")]


class PlanStepsJSON(TypedDict):
    """``SpawnPlan.to_json`` (the API's; no output of its own)."""

    strategy: StrategyText
    server_url: str | None
    steps: list[StepJSON]


class RejectionJSON(TypedDict):
    code: RejectionCode  # the first failed requirement's
    codes: list[RejectionCode]  # every failed requirement's, the first first
    message: str
    issue: str | None  # the known issue that forbids the strategy
    fix: str | None  # what a person can do, from the matrix (a condition's or known issue's)


class EvidenceJSON(TypedDict):
    """What stands behind the chosen strategy: ``local`` (a successful `orch-doctor verify` with
    this very binary on this machine), ``recorded`` (verified here on this exact release),
    ``contract`` (declared from the published contract only, not run), ``unverified``."""

    kind: Literal["local", "recorded", "contract", "unverified"]
    said: list[str]


class DecisionJSON(TypedDict):
    strategy: StrategyName
    forced: bool
    reasons: list[str]
    rejected: dict[str, str]
    rejections: dict[str, RejectionJSON]
    warnings: list[AdvisoryJSON]
    advisories: list[AdvisoryJSON]
    steps: list[StepJSON]
    server_url: str | None
    fix: str | None
    #: ✓: a plan, and every condition it relies on measured and holding (no condition-unmeasured)
    holds: bool
    #: None: no plan
    evidence: EvidenceJSON | None


class DiscoveredServerJSON(TypedDict):
    """The server found running here that the decision used, and why it was chosen."""

    url: str
    reason: str


class PlanJSON(DecisionJSON):
    matrix_files: list[str]
    policy_file: str | None  # the policy the request was resolved under (None: none found)
    discovered_server: DiscoveredServerJSON | None  # None: named, or no server found running


# --- servers ------------------------------------------------------------------------------------


class ServerPathsJSON(TypedDict):
    """Where the server keeps its files, from its ``GET /path`` (null: not said)."""

    home: str | None
    state: str | None
    config: str | None


class ServiceJSON(TypedDict):
    """An OpenCode 2.x background service (its GET /api/info; the registration file it was
    found through). Its password is never part of it."""

    pid: int
    urls: list[str]
    capabilities: list[str]
    registration: str | None
    registered_id: str | None


class ServerJSON(TypedDict):
    url: str
    verdict: ServerVerdict
    ok: bool
    summary: str
    fix: str | None
    alternatives: list[str]
    is_opencode: bool
    generation: str | None
    version: str | None
    version_source: str | None
    routes: list[str] | None
    routes_source: str | None
    directory: str | None
    paths: ServerPathsJSON | None  # GET /path: the server's home, state and config dirs
    auth: str | None
    skew: str | None
    skew_reason: str | None
    findings: list[AdvisoryJSON]
    cors_any_origin: bool
    health_route: bool | None
    duration_s: Seconds
    service: ServiceJSON | None  # OpenCode 2.x: its background service; None otherwise
    #: ``orch-doctor server``: the advisories for this server, and with ``--session`` whether
    #: that session exists (None: no clear answer)
    advisories: NotRequired[list[AdvisoryJSON]]
    session_exists: NotRequired[bool | None]
    #: ``orch-doctor server``: ``verdict`` is "ok" (the server answered as OpenCode); ``ok`` is
    #: then false when an advisory is an error (as the exit code), ``reachable`` is the verdict's
    reachable: NotRequired[bool]


class ServersJSON(TypedDict):
    client_version: str | None
    discovered: bool
    servers: list[ServerJSON]
    #: discovery: OpenCode 2.x registration files that were not used, and why
    registration_notes: NotRequired[list[str]]


# --- capabilities -------------------------------------------------------------------------------


class OptionJSON(TypedDict):
    aliases: list[str]
    type: str | None
    choices: list[str]
    default: str | None
    description: str
    required: bool


class PositionalJSON(TypedDict):
    name: str
    type: str | None
    description: str
    required: bool
    variadic: bool


class CommandJSON(TypedDict):
    exists: bool
    options: dict[str, OptionJSON]
    usage: str
    positionals: list[PositionalJSON]
    subcommands: list[str]
    warnings: list[str]


class BinaryJSON(TypedDict):
    path: str | None
    version: str | None
    version_raw: str | None
    release: bool
    identified_as: str | None


class CapabilitiesJSON(TypedDict):
    binary: BinaryJSON
    commands: dict[str, CommandJSON]
    warnings: list[str]


class CandidateJSON(TypedDict):
    path: str
    source: str
    resolved: str | None
    usable: bool
    problem: str | None
    fix: str | None
    version: str | None


class DiscoveryJSON(TypedDict):
    chosen: CandidateJSON | None
    reason: str
    shadowed: list[CandidateJSON]
    candidates: list[CandidateJSON]
    problem: str | None
    fix: str | None


class ProbeJSON(CapabilitiesJSON):
    discovery: DiscoveryJSON | None  # how the binary was found (when it was looked for)


# --- doctor -------------------------------------------------------------------------------------


class ToolJSON(TypedDict):
    name: Literal["orch-doctor"]
    version: str


class CheckJSON(TypedDict):
    id: str
    title: str
    status: CheckStatus
    summary: str
    details: list[str]
    #: a command line that runs when pasted; other ways out are ``alternatives``
    fix: str | None
    alternatives: list[str]
    duration_s: Seconds


class DoctorJSON(TypedDict):
    tool: ToolJSON
    status: DoctorStatus
    exit_code: Literal[0, 1]
    strict: bool
    duration_s: Seconds
    checks: Annotated[list[CheckJSON], Schema(minItems=1)]
    capabilities: CapabilitiesJSON | None
    server: ServerJSON | None
    decision: DecisionJSON | None
    matrix_files: list[str]
    policy_file: str | None


# --- spawn and verify ---------------------------------------------------------------------------


class StepReportJSON(TypedDict):
    index: Annotated[int, Schema(minimum=0)]
    kind: StepKind
    description: str
    outcome: StepOutcome
    duration_s: Seconds
    detail: str
    expected: str | None
    seen: str | None
    code: FailureCode | None  # on failure: why, as a stable code
    #: on failure: the known failure (a known issue's id, or condition:<id>) it shows
    issue: str | None


class ConfirmCheckJSON(TypedDict):
    name: str
    ok: bool
    detail: str


class ConfirmationJSON(TypedDict):
    verified: bool
    session_id: str | None
    checks: list[ConfirmCheckJSON]


class SpawnJSON(TypedDict):
    ok: bool
    session_id: str | None
    target: str | None
    window_id: str | None  # the tmux window made (@12)
    strategy: StrategyText
    steps: list[StepReportJSON]
    confirmation: ConfirmationJSON | None
    problem: str | None
    fix: str | None
    code: SpawnFailureCode | None  # on failure: why, as a stable code
    issue: str | None  # on failure: the known failure it shows (known issue id, condition:<id>)
    wall_s: Seconds
    last_screen: str
    #: ``orch-doctor spawn``: the decision's warnings (warn and error advisories), as in ``plan``
    warnings: NotRequired[list[AdvisoryJSON]]


class VerifyJSON(TypedDict):
    verified: bool
    strategy: StrategyName | None
    forced: bool
    release: str | None
    binary: str | None
    server_url: str | None
    throwaway_server: bool
    reasons: list[str]
    warnings: list[AdvisoryJSON]
    steps: list[StepReportJSON]
    confirmation: ConfirmationJSON | None
    problem: str | None
    fix: str | None
    kept: list[str]  # with --keep: what is left, how to inspect and remove it
    created: list[str]  # servers, sessions in a given server, scratch folder
    removed: list[str]  # what its clean-up removed (empty with --keep)
    left: list[str]  # what its clean-up could not remove
    wall_s: Seconds
    last_screen: str
    #: a verified run kept in the user's cache (by the binary's sha256 and the strategy): what
    #: the decision cites from now on; None: not verified, or the cache could not be written
    proof: str | None


# --- matrix -------------------------------------------------------------------------------------


class StrategyJSON(TypedDict):
    name: PlanStrategy
    preference: int
    needs_server: bool
    commands: dict[str, list[str]]
    routes: list[str]
    summary: str
    evidence: str


class KnownIssueJSON(TypedDict):
    id: str
    title: str
    versions: str
    severity: IssueSeverity
    affects: list[str]
    workaround: str | None
    evidence: str
    see_also: list[str]
    side: str


class BlockedJSON(TypedDict):
    versions: str
    reason: str
    evidence: str


class PolicyJSON(TypedDict):
    minimum: str | None
    tested: str | None
    known_majors: list[int]
    blocked: list[BlockedJSON]


class MatrixShowJSON(TypedDict):
    files: list[str]
    strategies: list[StrategyJSON]
    known_issues: list[KnownIssueJSON]
    policy: PolicyJSON
    #: release -> strategy -> what the verify records say
    verification: dict[str, dict[str, str]]


class ReleaseCheckJSON(TypedDict):
    release: str
    synthesized: bool
    without_server: StrategyName | None
    with_server: StrategyName | None
    routes_source: str
    error: str | None


class MatrixCheckJSON(TypedDict):
    files: list[str]
    ok: bool
    releases: list[ReleaseCheckJSON]


# --- the API's values (no output of their own) --------------------------------------------------


class ShapeJSON(TypedDict):
    kind: str
    fields: list[str] | None
    items: "ShapeJSON | None"


class ClientInstallJSON(TypedDict):
    name: str
    version: str | None
    commit: str | None
    where: str
    how: str


class EntryResultJSON(TypedDict):
    id: str
    name: str
    ok: bool
    checked: str
    problem: str | None
    source: list[str]


class ClientReportJSON(TypedDict):
    status: ClientStatus
    summary: str
    client: ClientInstallJSON | None
    contract: str | None
    server_url: str | None
    entries: list[EntryResultJSON]
    advisories: list[AdvisoryJSON]
    costs: dict[str, AdvisoryJSON]


#: what ``emit_json`` prints: one of the shipped outputs
Output = (
    DoctorJSON
    | ProbeJSON
    | ServersJSON
    | PlanJSON
    | VerifyJSON
    | SpawnJSON
    | MatrixShowJSON
    | MatrixCheckJSON
)
#: each shipped schema: its name (orch_doctor/schemas/<name>.schema.json), title and declaration
OUTPUTS: Mapping[str, tuple[str, type]] = {
    "doctor": ("orch-doctor report", DoctorJSON),
    "probe": ("orch-doctor probe", ProbeJSON),
    "server": ("orch-doctor server", ServersJSON),
    "plan": ("orch-doctor plan", PlanJSON),
    "verify": ("orch-doctor verify", VerifyJSON),
    "spawn": ("orch-doctor spawn", SpawnJSON),
    "matrix-show": ("orch-doctor matrix show", MatrixShowJSON),
    "matrix-check": ("orch-doctor matrix check", MatrixCheckJSON),
}
#: schema keywords added to a declaration's own (the wait step's params per condition)
EXTRA: Mapping[type, Schema] = {WaitStepJSON: WAIT_STEP_RULES}
