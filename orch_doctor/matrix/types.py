"""The compatibility knowledge as typed values: strategies, known issues, expected capabilities,
the version policy and verify records. Loaded and validated by :mod:`orch_doctor.matrix.load`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from packaging.version import Version

    from orch_doctor.probe.types import Capabilities
    from orch_doctor.server.types import ServerStatus

#: strategy names are part of the public interface. This Literal is the one list of them: every
#: other list (the schemas, the CLI's choices, the tools) is derived from it, and the registry of
#: plan builders (orch_doctor/decide/strategies.py) has exactly one entry for each.
PlanStrategyName = Literal[
    "service-session-api",
    "attach-session-api",
    "attach-tui-api",
    "standalone-session",
    "standalone-prompt",
]
#: a decision's strategy: one that has a plan, or "none"
StrategyName = Literal[PlanStrategyName, "none"]
PLAN_STRATEGIES: tuple[PlanStrategyName, ...] = get_args(PlanStrategyName)
STRATEGY_NAMES: tuple[StrategyName, ...] = get_args(StrategyName)


@lru_cache(maxsize=4096)
def in_range(versions: str, version: Version) -> bool:
    """``version`` is in the range ``versions`` (a PEP 440 specifier set; prereleases included).
    Remembered: every decision matches the same few versions against the same ranges."""
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(versions).contains(version, prereleases=True)


def strategy_name(value: str) -> PlanStrategyName | None:
    """``value`` as the name of a strategy that has a plan, or None when it is not one."""
    return next((name for name in PLAN_STRATEGIES if name == value), None)


IssueSeverity = Literal["info", "warn", "workaround", "demote", "forbid"]
SEVERITIES: tuple[IssueSeverity, ...] = ("info", "warn", "workaround", "demote", "forbid")
Outcome = Literal["verified", "failed", "not-run"]
ModelVia = Literal["api", "flag", "none"]
#: which OpenCode CLI/server line a strategy is for ("2.x": one background service, /api/*)
Generation = Literal["1.x", "2.x"]
GENERATIONS: tuple[Generation, ...] = get_args(Generation)
#: where a strategy's flow comes from: run here on recorded releases (verified.toml), or only
#: the published contract (docs, SDK, source) — not run here; a run on this machine is a local
#: proof (the user's cache), not a kind a strategy is declared with
EvidenceKind = Literal["recorded", "contract"]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = get_args(EvidenceKind)
MODEL_VIA: tuple[ModelVia, ...] = ("api", "flag", "none")
#: measured server facts a known issue can be detected by, whatever the version says
SERVER_FACTS = ("cors-any-origin",)
#: changes to the server an issue's fix asks for, which a client contract prices (clients/)
SERVER_CHANGES = ("password", "port")
#: request-dependent conditions a known issue can carry (``when.server_directory``)
SERVER_DIRECTORY_CONDITIONS = ("other",)
WORKAROUNDS = (
    "attach-cwd-is-session-dir",
    "check-session-exists",
    "press-enter",
    "prompt-via-api",
)
OUTCOMES: tuple[Outcome, ...] = ("verified", "failed", "not-run")
#: conditions a strategy can rely on beyond flags and routes, each measured where it is decided
#: (``decide/conditions.py``): the TUI shares the server's data dir; the server serves --dir
ConditionId = Literal["shares-data-dir", "serves-dir"]
CONDITION_IDS: tuple[ConditionId, ...] = get_args(ConditionId)
COMMANDS = ("root", "attach", "run", "serve")


@dataclass(frozen=True)
class Strategy:
    name: PlanStrategyName
    summary: str
    preference: int
    needs_server: bool
    terminal: bool
    commands: Mapping[str, tuple[str, ...]]
    routes: tuple[str, ...]
    evidence: str
    source: str
    #: the TUI shares the server's data dir, so the server must run on this machine
    needs_local_server: bool = False
    #: how a requested model reaches the agent: with the prompt through the API, as the root's
    #: --model flag, or not at all (the TUI's default model)
    model: ModelVia = "api"
    #: conditions beyond flags and routes the strategy relies on (``CONDITION_IDS``), each
    #: measured here before the strategy is chosen
    conditions: tuple[ConditionId, ...] = ()
    #: the OpenCode line it is for: a client (and server) of the other line cannot run it
    generation: Generation = "1.x"
    #: ``recorded``: its flow was run here on recorded releases; ``contract``: declared from the
    #: published contract only (a decision for it says so until a local verify proves it)
    evidence_kind: EvidenceKind = "recorded"


@dataclass(frozen=True)
class Condition:
    """A condition a strategy relies on (``[[condition]]`` in strategies.toml): what it means,
    what goes wrong without it, its fix, and the text it shows on screen or in a log."""

    id: ConditionId
    title: str
    breaks: str
    fix: str
    evidence: str
    signatures: tuple[str, ...] = ()
    source: str = ""
    alternatives: tuple[str, ...] = ()  # other ways out, in words


@dataclass(frozen=True)
class CliFeature:
    """A command of the OpenCode CLI (one of ``COMMANDS``), or one long option of it: what a
    release's help shows or not (a ``[[capability]]``, a known issue's ``when``)."""

    command: str
    option: str | None = None  # without dashes; None: the command itself

    def shown_by(self, caps: Capabilities) -> bool:
        """The release's help has the command, and the option when one is named."""
        spec = caps.command(self.command)
        return spec.exists and (self.option is None or self.option in spec.options)


@dataclass(frozen=True)
class IssueWhen:
    """What else a known issue needs to apply (its ``when`` table); nothing: its versions do."""

    cli: CliFeature | None = None  # the release's help shows this command (option)
    #: "other": applies only when the server serves another directory than the request's
    server_directory: str | None = None


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    versions: str
    severity: IssueSeverity
    affects: tuple[str, ...]
    breaks: str
    evidence: str
    when: IssueWhen = IssueWhen()
    #: a measured server fact that shows the issue whatever the version (``SERVER_FACTS``)
    detected_by: str | None = None
    #: a security finding: the doctor's server check fails on it unless the policy allows it
    security: bool = False
    workaround: str | None = None
    fix: str | None = None  # a command line that runs when pasted
    alternatives: tuple[str, ...] = ()  # other ways out than ``fix``, said for people
    see_also: tuple[str, ...] = ()
    side: str = "client"  # whose version `versions` is matched against: "client" or "server"
    #: what following ``fix`` changes on the server (``SERVER_CHANGES``): a client may pay for it
    changes_server: tuple[str, ...] = ()
    #: hosts the release needs to reach (at start): the issue bites only where one of them does
    #: not answer, which is measured (a bounded HTTPS connect) only when the issue applies
    needs_hosts: tuple[str, ...] = ()
    #: text on the TUI's screen or in its log that shows this issue happened
    signatures: tuple[str, ...] = ()
    source: str = ""

    def covers(self, version: Version) -> bool:
        """``version`` is in :attr:`versions` (prereleases included)."""
        return in_range(self.versions, version)


@dataclass(frozen=True)
class ExpectedCapability:
    id: str
    cli: CliFeature  # what the help of a release from ``since`` on shows
    since: str
    evidence: str
    absent_through: str | None = None
    source: str = ""


@dataclass(frozen=True)
class BlockedRange:
    versions: str
    reason: str
    evidence: str


@dataclass(frozen=True)
class VersionPolicy:
    minimum: str | None = None
    tested: str | None = None
    known_majors: tuple[int, ...] = (0, 1)
    blocked: tuple[BlockedRange, ...] = ()
    minimum_evidence: str | None = None

    def blocked_entry(self, version: Version) -> BlockedRange | None:
        """The blocked range ``version`` (a packaging Version) falls in, if any."""
        from packaging.specifiers import SpecifierSet

        return next(
            (
                entry
                for entry in self.blocked
                if SpecifierSet(entry.versions).contains(version, prereleases=True)
            ),
            None,
        )


@dataclass(frozen=True)
class Verification:
    release: str
    strategy: str
    outcome: Outcome
    date: str
    orch_doctor_version: str
    wall_s: float | None = None
    note: str | None = None
    source: str = ""


@dataclass(frozen=True)
class TuiScreen:
    """What a TUI of the releases in ``versions`` shows on screen: any ready marker means it is
    up; any failure marker means it refused what it was asked (e.g. an unknown session)."""

    versions: str
    ready_markers: tuple[str, ...]
    failure_markers: tuple[str, ...]
    evidence: str
    source: str = ""

    def covers(self, version: Version) -> bool:
        """``version`` is in :attr:`versions` (prereleases included)."""
        return in_range(self.versions, version)


#: which CLI and server releases a TUI is supported across: the very same release, the same
#: major.minor, or the same major
SkewRule = Literal["release", "minor", "major"]
SKEW_RULES: tuple[SkewRule, ...] = get_args(SkewRule)


@dataclass(frozen=True)
class ServerFacts:
    """Measured facts about OpenCode servers that the server probe's findings are read with."""

    health_route_since: str | None = None  # first release with GET /global/health
    health_route_evidence: str | None = None
    #: the client/server skew rule: a CLI and a server are supported together when they share
    #: this much of their version (the server probe measures the versions; decide/rules applies)
    skew_supported: SkewRule = "minor"
    skew_evidence: str | None = None


@dataclass(frozen=True)
class RecordedRoutes:
    """The route sets recorded from real servers (``help/<version>/routes.txt``) in ``folders``
    (the ``help/`` folder beside each matrix file: shipped, then overrides, then ``--matrix``
    files; a later folder's release replaces an earlier one's). Nothing is read until a server's
    own OpenAPI document is incomplete, and then once per process."""

    folders: tuple[str, ...] = ()

    def fallback(self, version: str) -> tuple[str, frozenset[str]] | None:
        """The complete recorded route set of the newest recorded release <= ``version`` of the
        same major: what stands in when a server's own OpenAPI document is incomplete."""
        from orch_doctor.matrix.recorded import fallback_routes_in

        return fallback_routes_in(self.folders, version)

    def apply(self, server: ServerStatus) -> ServerStatus:
        """``server`` as measured, except that an incomplete OpenAPI document (measured on
        1.14.34: 3 paths) is replaced by the fallback route set; ``routes_source`` says so. Any
        other status is returned unchanged."""
        from orch_doctor.matrix.recorded import contract_routes, routes_complete

        if server.generation == "2.x" and server.ok and server.routes is None:
            contract = contract_routes("2.x")
            if contract is None:
                return server
            from dataclasses import replace as replaced

            return replaced(
                server,
                routes=contract,
                routes_source=(
                    "contract only: the 2.x server lists no routes; these are the routes the 2.x "
                    "contract defines (opencode-python-sdk 0.2.3), not measured here"
                ),
            )
        if server.routes is None or not server.version or routes_complete(server.routes):
            return server
        stand_in = self.fallback(server.version)
        if stand_in is None:
            return server
        from dataclasses import replace

        return replace(
            server,
            routes=stand_in[1],
            routes_source=(
                f"recorded from a real {stand_in[0]} server: this server's OpenAPI document is "
                f"incomplete ({len(server.routes)} routes, no GET /session)"
            ),
        )


@dataclass(frozen=True)
class Matrix:
    strategies: tuple[Strategy, ...]  # sorted by preference
    issues: tuple[KnownIssue, ...]
    capabilities: tuple[ExpectedCapability, ...]
    policy: VersionPolicy
    verifications: tuple[Verification, ...]
    files: tuple[str, ...] = field(default=())
    tui: tuple[TuiScreen, ...] = ()
    server: ServerFacts = field(default_factory=ServerFacts)
    recorded: RecordedRoutes = field(default_factory=RecordedRoutes)
    conditions: tuple[Condition, ...] = ()

    def condition(self, condition_id: str) -> Condition | None:
        return next((c for c in self.conditions if c.id == condition_id), None)

    def strategy(self, name: str) -> Strategy | None:
        return next((s for s in self.strategies if s.name == name), None)

    def tui_screen(self, version: Version | None) -> TuiScreen | None:
        """The screen markers for a release (a packaging Version, or None: the last entry,
        which describes the newest releases)."""
        if version is None:
            return self.tui[-1] if self.tui else None
        return next(
            (t for t in self.tui if t.covers(version)),
            self.tui[-1] if self.tui else None,
        )
