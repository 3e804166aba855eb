"""What the binary probe measures: help texts, the commands and options parsed from them, the
version, which binary was found, and the resulting :class:`Capabilities`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from orch_doctor._util.jsonable import json_fields

if TYPE_CHECKING:
    from packaging.version import Version

    from orch_doctor.schemas.shapes import CapabilitiesJSON, CommandJSON, OptionJSON, PositionalJSON

#: the subcommands whose help the probe reads; "root" is ``opencode --help``
PROBED_COMMANDS: tuple[str, ...] = ("root", "attach", "run", "serve")
#: the only help texts the decision needs (run/serve are not used by any strategy)
DECISION_COMMANDS: tuple[str, ...] = ("root", "attach")


@dataclass(frozen=True)
class HelpText:
    """Raw output of one ``opencode [cmd] --help`` call (or a stored fixture)."""

    command: str  # "root", "attach", "run", "serve", ...
    text: str  # stdout + stderr as printed (ANSI codes kept; the parser strips them)
    returncode: int | None = 0
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0
    error: str | None = None  # could not run at all (exec error, ...)


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command as yargs prints it."""

    name: str  # long flag without the leading "--" ("session", "no-replay", "log-level")
    aliases: tuple[str, ...] = ()  # other names without dashes ("s",)
    type: str | None = None  # "string", "boolean", "number", "array", "count" or None
    choices: tuple[str, ...] = ()
    default: str | None = None  # as printed, e.g. '"127.0.0.1"', "0", "false"
    description: str = ""
    required: bool = False

    def flags(self) -> tuple[str, ...]:
        """All spellings accepted on a command line: --name, -s / --alias."""
        return (f"--{self.name}", *(f"-{a}" if len(a) == 1 else f"--{a}" for a in self.aliases))

    def to_json(self) -> OptionJSON:
        keys = "aliases type choices default description required"
        return cast("OptionJSON", json_fields(self, keys))  # the name is its key


@dataclass(frozen=True)
class PositionalSpec:
    name: str
    type: str | None = None
    description: str = ""
    required: bool = False
    variadic: bool = False

    def to_json(self) -> PositionalJSON:
        return cast("PositionalJSON", json_fields(self))


@dataclass(frozen=True)
class CommandSpec:
    """What one subcommand really supports, parsed from its help."""

    name: str  # "root", "attach", ...
    exists: bool
    usage: str = ""
    positionals: tuple[PositionalSpec, ...] = ()
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    subcommands: tuple[str, ...] = ()  # names listed under "Commands:" (root only)
    warnings: tuple[str, ...] = ()

    def option_for_flag(self, flag: str) -> OptionSpec | None:
        """Find the option a command-line flag ("--session", "-s", "--no-replay") names."""
        bare = flag.split("=", 1)[0].lstrip("-")
        if bare in self.options:
            return self.options[bare]
        for opt in self.options.values():
            if bare in opt.aliases:
                return opt
        return None

    def has_flag(self, flag: str) -> bool:
        return self.option_for_flag(flag) is not None

    def to_json(self) -> CommandJSON:
        return {
            "exists": self.exists,
            "options": {name: opt.to_json() for name, opt in self.options.items()},
            "usage": self.usage,
            "positionals": [p.to_json() for p in self.positionals],
            "subcommands": list(self.subcommands),
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# Binary and version
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    raw: str  # whole --version output (stdout + stderr), log noise included
    text: str | None  # the version line picked from it, e.g. "1.18.33"
    release: bool  # parses with packaging and is a normal release (no pre/dev/local)
    problem: str | None = None  # why text is None or not a release

    @property
    def parsed(self) -> Version | None:
        """The version as a packaging Version, or None (packaging is imported lazily)."""
        return None if self.text is None else _version(self.text)


@lru_cache(maxsize=256)  # a decision reads the same version some fifty times
def _version(text: str) -> Version | None:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class BinaryCandidate:
    """One place an ``opencode`` may live, and what was found there."""

    path: str  # absolute: the exact file that is run (and reported, and cached by)
    source: str  # "--opencode", "OPENCODE_BIN", "OPENCODE_BIN_PATH", "PATH", "install-dir"
    resolved: str | None = None  # realpath when it exists
    usable: bool = False
    problem: str | None = None  # "missing", "not executable", "directory", "broken symlink", ...
    fix: str | None = None
    version: str | None = None  # filled in when shadowing is reported
    #: how an explicit value (``--opencode``, ``$OPENCODE_BIN``...) became ``path``: as given,
    #: and "path" (it names a file) or "PATH" (a bare name looked up on $PATH)
    given: str | None = None
    lookup: str | None = None
    #: "2.x" when the install says so (``opencode2``, the 2.x beta's name, or a file inside the
    #: ``@opencode/cli`` package); None: nothing in the path tells (the help decides)
    generation: str | None = None


#: where a caller names the binary: what they name runs, whatever else is installed
EXPLICIT_SOURCES: tuple[str, ...] = ("--opencode", "OPENCODE_BIN", "OPENCODE_BIN_PATH")


@dataclass(frozen=True)
class BinaryFinding:
    """Which binary runs, why, and what else was found."""

    chosen: BinaryCandidate | None
    candidates: tuple[BinaryCandidate, ...] = ()
    reason: str = ""  # why `chosen` wins
    #: other usable, different binaries: hidden by the chosen one when it was found by looking
    #: (see :attr:`named`), merely also installed when the caller named it
    shadowed: tuple[BinaryCandidate, ...] = ()
    problem: str | None = None  # nothing usable found: why
    fix: str | None = None

    @property
    def named(self) -> bool:
        """The caller named the binary that runs (``--opencode``, ``$OPENCODE_BIN``,
        ``$OPENCODE_BIN_PATH``): the other installs are no surprise, nothing shadows them."""
        return self.chosen is not None and self.chosen.source in EXPLICIT_SOURCES


@dataclass(frozen=True)
class RecordedProbe:
    """What a probe would read from a binary, known without running it: ``--version`` output
    and help texts by command, with how it was known."""

    version_output: str
    help: Mapping[str, str]
    identified_as: str


@dataclass(frozen=True)
class Capabilities:
    """What the installed OpenCode offers, as detected from the binary itself."""

    binary_path: str | None
    version: VersionInfo | None
    commands: Mapping[str, CommandSpec]
    warnings: tuple[str, ...] = ()
    finding: BinaryFinding | None = None
    #: "identical to published 1.18.33 (...)" when known by digest, without running it
    identified_as: str | None = None

    def command(self, name: str) -> CommandSpec:
        return self.commands.get(name) or CommandSpec(name=name, exists=False)

    def to_json(self) -> CapabilitiesJSON:
        v = self.version
        return {
            "binary": {
                "path": self.binary_path,
                "version": v.text if v else None,
                "version_raw": v.raw if v else None,
                "release": bool(v and v.release),
                "identified_as": self.identified_as,
            },
            "commands": {name: spec.to_json() for name, spec in self.commands.items()},
            "warnings": list(self.warnings),
        }
