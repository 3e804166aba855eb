"""The compatibility knowledge as typed values: strategies, known issues, expected capabilities,
the version policy and verify records. Loaded and validated by :mod:`orch_doctor.matrix.load`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from orch_doctor._util.config_file import ConfigFileError

#: strategy names are part of the public interface
StrategyName = Literal[
    "attach-session-api", "attach-tui-api", "standalone-session", "standalone-prompt", "none"
]
STRATEGY_NAMES: tuple[StrategyName, ...] = (
    "attach-session-api",
    "attach-tui-api",
    "standalone-session",
    "standalone-prompt",
    "none",
)

SEVERITIES = ("info", "warn", "workaround", "demote", "forbid")
WORKAROUNDS = (
    "attach-cwd-is-session-dir",
    "check-session-exists",
    "press-enter",
    "prompt-via-api",
)
OUTCOMES = ("verified", "failed", "not-run")
PLAN_STRATEGIES: tuple[StrategyName, ...] = tuple(s for s in STRATEGY_NAMES if s != "none")
COMMANDS = ("root", "attach", "run", "serve")


class MatrixError(ConfigFileError):
    """An invalid matrix file: names the file and the key."""


@dataclass(frozen=True)
class Strategy:
    name: str
    summary: str
    preference: int
    needs_server: bool
    terminal: bool
    commands: Mapping[str, tuple[str, ...]]
    routes: tuple[str, ...]
    evidence: str
    source: str


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    versions: str
    severity: str
    affects: tuple[str, ...]
    breaks: str
    evidence: str
    when_command: str | None = None
    when_option: str | None = None
    workaround: str | None = None
    fix: str | None = None
    see_also: tuple[str, ...] = ()
    side: str = "client"  # whose version `versions` is matched against: "client" or "server"
    source: str = ""

    def specifier(self) -> Any:
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(self.versions)


@dataclass(frozen=True)
class ExpectedCapability:
    id: str
    command: str
    since: str
    evidence: str
    option: str | None = None
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

    def blocked_entry(self, version: Any) -> BlockedRange | None:
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
    outcome: str
    date: str
    orch_doctor_version: str
    wall_s: float | None = None
    note: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Matrix:
    strategies: tuple[Strategy, ...]  # sorted by preference
    issues: tuple[KnownIssue, ...]
    capabilities: tuple[ExpectedCapability, ...]
    policy: VersionPolicy
    verifications: tuple[Verification, ...]
    files: tuple[str, ...] = field(default=())

    def strategy(self, name: str) -> Strategy | None:
        return next((s for s in self.strategies if s.name == name), None)
