"""The rules the decision applies, as pure functions of measured facts and matrix data.

Each returns why something does not hold (a sentence for people, or a :class:`Rejection`: a
stable code with the sentence) or ``None``; none reads prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast, get_args
from urllib.parse import urlsplit

from orch_doctor._util.jsonable import json_fields
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.types import (
    BlockedRange,
    KnownIssue,
    Matrix,
    ServerFacts,
    Strategy,
    VersionPolicy,
)
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.types import ServerStatus, is_loopback

#: why a strategy was not taken: stable codes (the JSON's ``rejections``), each with a sentence
RejectionCode = Literal[
    "newer-major",  # a major release (or a 2.x-looking CLI) the matrix does not know
    "major-mismatch",  # a 1.x CLI against an OpenCode 2.x server, or a 2.x CLI against a 1.x one
    "version-blocked",  # the version is in a blocked range of the version policy
    "bad-model",  # the requested model is not provider/model
    "policy",  # not among the allowed strategies (or the policy requires a server)
    "not-the-named-server",  # needs no server, while the caller named one (no allow_standalone)
    "directory-unusable",  # the request's directory cannot be the agent's (at the edge)
    "other-generation",  # the strategy is for the other OpenCode line (1.x vs 2.x)
    "missing-command",  # a command the strategy runs does not exist in this release
    "missing-flags",  # a flag the strategy passes is not in the command's help
    "no-server",  # needs a server, none given
    "server-unusable",  # the server given is not usable (its verdict says why)
    "routes-unknown",  # the server's routes are unknown (no OpenAPI document)
    "missing-routes",  # the server lacks a route the strategy calls
    "server-not-local",  # the TUI must share the server's data dir; the server is elsewhere
    "prompt-too-long",  # the prompt does not fit in one process argument
    "known-issue",  # a known issue of this release forbids it
    "condition-failed",  # a condition it relies on (compat_matrix/) was measured and does not hold
    "recorded-failure",  # `verify` of this exact release and strategy failed, its cause not cleared
    "plan-invalid",  # its plan could not be built for this OpenCode
    "not-chosen",  # possible, but a preferred strategy was chosen
    "demoted",  # possible but demoted by a known issue, and another was chosen
]
REJECTION_CODES: tuple[RejectionCode, ...] = get_args(RejectionCode)

if TYPE_CHECKING:
    from packaging.version import Version

    from orch_doctor.schemas.shapes import RejectionJSON


@dataclass(frozen=True)
class Rejection:
    """Why a strategy was not taken: ``code`` (stable, for programs and tests) and ``message``
    (for people; its wording may change). When several requirements fail, ``code`` is the
    first one's and ``more`` holds the others'; ``issue`` names the known issue that forbids."""

    code: RejectionCode
    message: str
    more: tuple[RejectionCode, ...] = ()
    issue: str | None = None
    fix: str | None = None  # what a person can do (from the matrix), where one is known

    @property
    def codes(self) -> tuple[RejectionCode, ...]:
        return (self.code, *self.more)

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> RejectionJSON:
        return cast("RejectionJSON", json_fields(self, "code codes message issue fix"))

    @staticmethod
    def joined(found: list[Rejection]) -> Rejection:
        """Several failed requirements as one rejection (the first's code first)."""
        return Rejection(
            found[0].code,
            "; ".join(r.message for r in found),
            tuple(r.code for r in found[1:]),
            issue=next((r.issue for r in found if r.issue), None),
            fix=next((r.fix for r in found if r.fix), None),
        )


def command_label(command: str) -> str:
    """How a person types the command: ``opencode`` or ``opencode attach``."""
    return "opencode" if command == "root" else f"opencode {command}"


def client_version(caps: Capabilities) -> Version | None:
    """The binary's version as a packaging Version, or None."""
    if caps.version is None or caps.version.text is None:
        return None
    return caps.version.parsed


def server_version(server: ServerStatus | None) -> Version | None:
    from packaging.version import InvalidVersion, Version

    if server is None or not server.version:
        return None
    try:
        return Version(server.version)
    except InvalidVersion:
        return None


def version_text(caps: Capabilities) -> str:
    return caps.version.text if caps.version and caps.version.text else "?"


def same_directory(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


#: Linux caps one argument string of a new process at MAX_ARG_STRLEN: 32 pages, 131072 bytes
#: with its terminating NUL (a longer one fails the exec with E2BIG)
ARG_STRLEN_MAX = 131072
#: the longest prompt (UTF-8 bytes) one argument carries, even glued as ``--prompt=P``
PROMPT_ARGV_MAX_BYTES = ARG_STRLEN_MAX - 1 - len("--prompt=")


def prompt_argv_problem(prompt: str | None) -> str | None:
    """Why ``prompt`` cannot be passed as one argument (``opencode D --prompt P``), or None."""
    if not prompt:
        return None
    size = len(prompt.encode("utf-8", "surrogatepass"))
    if size <= PROMPT_ARGV_MAX_BYTES:
        return None
    return (
        f"the prompt is {size:,} bytes and one process argument carries at most "
        f"{PROMPT_ARGV_MAX_BYTES:,} (Linux caps an argument at 128 KiB), so `opencode --prompt` "
        "cannot take it; a strategy that sends it through a server's API can (--server URL)"
    )


def looks_2x(caps: Capabilities) -> bool:
    """The CLI's own help says 2.x: no `attach`, the root takes --server."""
    return "server" in caps.command("root").options and not caps.command("attach").exists


#: a server for a 1.x CLI to attach to (the port the docs and orch use)
SERVE_1X_FIX = "opencode serve --port 4096 --hostname 127.0.0.1"
#: OpenCode 2.x: the user's one background service, found by every client through its
#: registration file (opencode.ai/v2/docs: `opencode service start|status|stop`)
SERVICE_2X_FIX = "opencode service start"


def start_server_fix(caps: Capabilities | None) -> str:
    """The command that gives this CLI a server to use: a 2.x CLI its background service, a
    1.x CLI a server on port 4096."""
    if caps is not None and caps.binary_path is not None and client_generation(caps) == "2.x":
        return SERVICE_2X_FIX
    return SERVE_1X_FIX


def client_generation(caps: Capabilities) -> str:
    """ "2.x" when the version says so or (without one) the help has the 2.x layout; else "1.x"."""
    major = getattr(client_version(caps), "major", None)
    if major is not None:
        return "2.x" if major >= 2 else "1.x"
    return "2.x" if looks_2x(caps) else "1.x"


def generation_mismatch(
    strategy: Strategy, caps: Capabilities, server: ServerStatus | None
) -> Rejection | None:
    """A strategy of the other OpenCode line than the client's (or, with a server it uses, the
    server's): the versions of both are named."""
    client = client_generation(caps)
    if client != strategy.generation:
        return Rejection(
            "other-generation",
            f"for OpenCode {strategy.generation}; this OpenCode is {version_text(caps)} ({client})",
        )
    served = server.generation if server is not None and strategy.needs_server else None
    if served in ("1.x", "2.x") and served != strategy.generation:
        return Rejection(
            "other-generation",
            f"for OpenCode {strategy.generation} servers; server {server.url if server else ''} "
            f"is OpenCode {server.version if server and server.version else '?'} ({served}) and "
            f"this client {version_text(caps)} ({client})",
        )
    return None


def missing_requirements(
    strategy: Strategy,
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest,
) -> list[Rejection]:
    """Every requirement of ``strategy`` this OpenCode/server/request does not meet."""
    missing: list[Rejection] = []
    other = generation_mismatch(strategy, caps, server)
    if other is not None:
        missing.append(other)
    for command, options in strategy.commands.items():
        spec = caps.command(command)
        if not spec.exists:
            missing.append(
                Rejection(
                    "missing-command", f"`{command_label(command)}` does not exist in this release"
                )
            )
            continue
        absent = [f"--{o}" for o in options if o not in spec.options]
        if absent:
            missing.append(
                Rejection("missing-flags", f"`{command_label(command)}` has no {', '.join(absent)}")
            )
    if strategy.needs_server:
        if server is None:
            missing.append(Rejection("no-server", "no OpenCode server given (--server URL)"))
        elif not server.ok:
            missing.append(
                Rejection("server-unusable", f"server {server.url} is not usable: {server.verdict}")
            )
        elif server.routes is None:
            missing.append(
                Rejection(
                    "routes-unknown",
                    f"the routes of server {server.url} are unknown (no OpenAPI document): "
                    "a route is never assumed from a 200",
                )
            )
        else:
            absent_routes = [r for r in strategy.routes if r not in server.routes]
            if absent_routes:
                missing.append(
                    Rejection(
                        "missing-routes",
                        f"server {server.url} has no {', '.join(absent_routes)}",
                    )
                )
        local = server is None or is_loopback(urlsplit(server.url).hostname)
        if strategy.needs_local_server and not local:
            missing.append(
                Rejection(
                    "server-not-local",
                    "the server is not on this machine, so it cannot share the data dir",
                )
            )
    if "prompt" in strategy.commands.get("root", ()):
        too_long = prompt_argv_problem(request.prompt)
        if too_long:
            missing.append(Rejection("prompt-too-long", too_long))
    if strategy.model == "flag" and request.model and "model" not in caps.command("root").options:
        missing.append(
            Rejection("missing-flags", "a model was requested but `opencode` has no --model")
        )
    return missing


def applicable_issues(
    matrix: Matrix,
    caps: Capabilities,
    server: ServerStatus | None,
    request: SpawnRequest | None = None,
) -> list[KnownIssue]:
    """The known issues of ``matrix`` that concern this OpenCode (and server, and request).

    A server-side issue is matched against the server's version when it reports one (else the
    client's: usually the same install), or detected from a measured server fact.
    """

    def applies(issue: KnownIssue) -> bool:
        version = client_version(caps)
        if issue.side == "server":
            if (
                issue.detected_by == "cors-any-origin"
                and server is not None
                and server.cors_any_origin
            ):
                return True
            version = server_version(server) or version
        if version is None:
            return False
        if not issue.covers(version):
            return False
        if issue.when.cli is not None and not issue.when.cli.shown_by(caps):
            return False
        if issue.when.server_directory == "other":
            if server is None or not server.directory or request is None:
                return False
            if same_directory(server.directory, request.directory):
                return False
        return True

    return [i for i in matrix.issues if applies(i)]


def model_problem(model: str | None) -> str | None:
    """OpenCode takes a model as provider/model (both in --model and in the API body)."""
    if model is None:
        return None
    provider, sep, model_id = model.partition("/")
    if not sep or not provider.strip() or not model_id.strip() or " " in provider:
        return f"the model {model!r} is not of the form provider/model"
    return None


def newer_major(caps: Capabilities, matrix: Matrix) -> str | None:
    """Why a release of a major the matrix does not know (or a 2.x-looking CLI) gets no plan."""
    version = client_version(caps)
    major = getattr(version, "major", None)
    unknown_2x = looks_2x(caps) and 2 not in matrix.policy.known_majors
    if major is not None and major not in matrix.policy.known_majors:
        known = ", ".join(f"{m}.x" for m in matrix.policy.known_majors)
        return (
            f"OpenCode {version_text(caps)} is a major release this matrix does not know "
            f"(known: {known})"
            + ("; its CLI has no `attach` and the root takes --server" if unknown_2x else "")
        )
    if major is None and unknown_2x:
        return (
            "this OpenCode looks like a 2.x release (no `attach`, the root takes --server), "
            "which the matrix does not know"
        )
    return None


@dataclass(frozen=True)
class MajorMismatch:
    """A CLI and a server of different OpenCode generations: 1.x attaches to a per-project
    server (``attach URL``, ``/session`` routes); 2.x connects to the user's one background
    service (``--server URL``, ``/api/*`` routes behind Basic auth). Neither speaks the other's."""

    client: str  # the CLI's version
    server: str  # the server's version (or its generation when the version is unknown)
    message: str
    fix: str  # a command line that runs when pasted
    alternatives: tuple[str, ...] = ()


def major_mismatch(caps: Capabilities, server: ServerStatus | None) -> MajorMismatch | None:
    """Whether the CLI and the server are of different generations (pure: the server's measured
    ``generation`` and the CLI's version)."""
    if server is None or server.generation not in ("1.x", "2.x"):
        return None
    version = client_version(caps)
    major = getattr(version, "major", None)
    if major is None:
        return None
    client_gen = "2.x" if major >= 2 else "1.x"
    if client_gen == server.generation:
        return None
    client = version_text(caps)
    shown = server.version or "version unknown"
    both = (
        f"the OpenCode {client} CLI ({client_gen}) cannot use the OpenCode {server.generation} "
        f"server at {server.url} ({shown})"
    )
    if server.generation == "2.x":
        pin = f"@{server.version}" if server.version else "@latest"
        return MajorMismatch(
            client,
            shown,
            f"{both}: a 1.x CLI attaches to a per-project server, a 2.x service speaks only "
            "its /api/* contract (OpenCode 2.x)",
            f"npm install -g @opencode/cli{pin}",
            (
                f"keep OpenCode {client} and give it a server of its own release: "
                f"{SERVE_1X_FIX}, then --server http://127.0.0.1:4096",
            ),
        )
    pin = f"@{server.version}" if server.version else "@1"
    return MajorMismatch(
        client,
        shown,
        f"{both}: a 2.x CLI connects to the user's 2.x service, not to a 1.x server",
        f"npm install -g opencode-ai{pin}",
        (
            f"keep OpenCode {client} and use its own service: leave out --server "
            "(it is found through $XDG_STATE_HOME/opencode/service.json)",
        ),
    )


#: what the version policy says about a release (``version_policy``)
PolicyCode = Literal["below-minimum", "version-blocked", "untested"]


@dataclass(frozen=True)
class PolicyFinding:
    code: PolicyCode
    message: str
    blocked: BlockedRange | None = None  # version-blocked: the range


def version_policy(version: Version, text: str, policy: VersionPolicy) -> list[PolicyFinding]:
    """What the matrix's version policy says about ``version`` (a packaging Version, shown as
    ``text``): older than the minimum, in a blocked range, outside the tested range. The one
    reading of the policy, for the decision and the doctor's version check alike."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    found: list[PolicyFinding] = []
    if policy.minimum is not None and version < Version(policy.minimum):
        why = f" ({policy.minimum_evidence})" if policy.minimum_evidence else ""
        found.append(
            PolicyFinding(
                "below-minimum",
                f"OpenCode {text} is older than the minimum supported {policy.minimum}{why}",
            )
        )
    entry = policy.blocked_entry(version)
    if entry is not None:
        found.append(
            PolicyFinding(
                "version-blocked",
                f"OpenCode {text} is blocked by the version policy ({entry.versions}): "
                f"{entry.reason} ({entry.evidence})",
                blocked=entry,
            )
        )
    if policy.tested and not SpecifierSet(policy.tested).contains(version, prereleases=True):
        found.append(
            PolicyFinding(
                "untested", f"OpenCode {text} is outside the tested range {policy.tested}"
            )
        )
    return found


def _policy_says(caps: Capabilities, matrix: Matrix, code: PolicyCode) -> str | None:
    version = client_version(caps)
    if version is None:
        return None
    found = version_policy(version, version_text(caps), matrix.policy)
    return next((f.message for f in found if f.code == code), None)


def blocked_range(caps: Capabilities, matrix: Matrix) -> str | None:
    """Why every strategy is refused when the version is in a blocked range of the policy."""
    return _policy_says(caps, matrix, "version-blocked")


def below_minimum(caps: Capabilities, matrix: Matrix) -> str | None:
    """A release older than the matrix's minimum supported one still gets a plan, with this."""
    return _policy_says(caps, matrix, "below-minimum")


#: a CLI and a server: the same release, supported together, not supported, or not known
Skew = Literal["same", "supported", "unsupported", "unknown"]


def version_skew(client: str | None, server: str | None, facts: ServerFacts) -> tuple[Skew, str]:
    """Client/server skew by the matrix's rule (``server.skew_supported``), with the reason."""
    if not client or not server:
        which = (
            "the server version is"
            if client
            else "the installed CLI's version is"
            if server
            else "the CLI and server versions are"
        )
        return "unknown", f"{which} unknown: the pairing cannot be checked"
    from packaging.version import InvalidVersion, Version

    try:
        c, s = Version(client), Version(server)
    except InvalidVersion:
        return "unknown", f"cannot compare versions {client!r} and {server!r}"
    if c == s:
        return "same", f"CLI and server are both {client}"
    if (c.major >= 2) != (s.major >= 2):
        return "unsupported", (
            f"the CLI {client} and the server {server} are of different OpenCode generations "
            "(1.x and 2.x): neither speaks the other's protocol"
        )
    rule = facts.skew_supported
    shared = {"major": c.major == s.major, "minor": c.release[:2] == s.release[:2]}
    if rule != "release" and shared[rule]:
        return "supported", f"CLI {client} and server {server} are the same {rule} release"
    what = {"release": "releases", "minor": "minor releases", "major": "major releases"}[rule]
    why = f" ({facts.skew_evidence})" if facts.skew_evidence else ""
    return "unsupported", (
        f"an attach TUI of {client} against a server of {server}: different {what} are not "
        f"supported together{why}; run the server with the same release as the CLI"
    )


def with_skew(server: ServerStatus, client: str | None, matrix: Matrix) -> ServerStatus:
    """``server`` with its skew against the CLI ``client`` (an OpenCode server only)."""
    if not server.is_opencode:
        return server
    from dataclasses import replace

    skew, reason = version_skew(client, server.version, matrix.server)
    return replace(server, skew=skew, skew_reason=reason)


def help_disagreements(caps: Capabilities, matrix: Matrix) -> list[str]:
    """Where the version string and the detected flags disagree (the flags win)."""
    from packaging.version import Version

    version = client_version(caps)
    if version is None:
        return []
    found = []
    for expected in matrix.capabilities:
        cli = expected.cli
        if cli.command not in caps.commands:
            continue  # not probed (the doctor reads only what the decision needs)
        present = cli.shown_by(caps)
        what = f"`{command_label(cli.command)}`" + (f" --{cli.option}" if cli.option else "")
        if Version(expected.since).major != version.major and version.major >= 2:
            continue  # a 1.x expectation says nothing about the 2.x line (a new CLI)
        if version >= Version(expected.since) and not present:
            found.append(
                f"version {version_text(caps)} should have {what} (from {expected.since}: "
                f"{expected.evidence}) but its help does not show it"
            )
        elif expected.absent_through and version <= Version(expected.absent_through) and present:
            found.append(
                f"version {version_text(caps)} should not have {what} (absent up to "
                f"{expected.absent_through}) but its help shows it"
            )
    return found
