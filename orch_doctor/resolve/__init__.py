"""One request resolution, shared by the doctor, ``plan``, ``spawn``, ``verify`` and
``select_strategy``: what the caller selected (:class:`Selection`) becomes the inputs of the
decision, the same way everywhere, and then the decision itself (:class:`Resolution`).

- the binary: ``--opencode`` / ``OPENCODE_BIN`` / discovery (the probe, cached by identity);
- the server: the one named (``--server``, else the policy's ``server_url``), else the servers
  running here (unless ``discover`` is off) with one preference: a usable server serving
  ``--dir`` first (orch_doctor.server.discovery.choose says which and why);
- the credentials: given explicitly, else OPENCODE_SERVER_PASSWORD / _USERNAME, else the named
  URL's ``user:password@`` (never shown: the URL is kept without it);
- the policy (pyproject ``[tool.orch-doctor]`` / ``.orch-doctor.toml``, or ``policy_file``):
  allowed strategies, ``require_server``, ``server_url``;
- ``allow_standalone`` and the matrix files.

This stage sits after the decision (it calls it) and before the API and the commands: it is the
I/O at the edge — the disk (directory, policy, matrix), the probes, discovery — so that the
decision stays pure, and the checks made at the edge (an unusable ``--dir``, a policy that
requires a server) are made once, here. Everything is computed lazily and at most once
(thread-safe), so the doctor's concurrent checks share one resolution.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from orch_doctor._util.once import Once, done
from orch_doctor.advice import Advisory
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.types import Matrix
from orch_doctor.probe.types import Capabilities
from orch_doctor.resolve.policy import Policy
from orch_doctor.server.credentials import Credentials, credentials_from_env, split_userinfo
from orch_doctor.server.types import ServerStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from orch_doctor.server.discovery import Choice

#: the limits every command uses unless told otherwise
SERVER_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Selection:
    """What the caller selects: the same options on every command and in the API."""

    directory: str | None = None  # default: the current directory
    model: str | None = None
    prompt: str | None = None
    server_url: str | None = None  # as given: may carry user:password@ (never shown)
    opencode: str | None = None
    allow_standalone: bool = False
    discover: bool = True  # look for servers running here when none is named
    refresh: bool = False
    matrix_files: tuple[str, ...] = ()
    policy_file: str | None = None  # default: searched from the directory upward
    allowed_strategies: tuple[str, ...] | None = None  # default: the policy's
    credentials: Credentials | None = None  # default: environment, then the URL's userinfo
    server_timeout_s: float = SERVER_TIMEOUT_S
    probe_timeout_s: float = PROBE_TIMEOUT_S


def absolute_directory(directory: str | os.PathLike[str] | None) -> str:
    given = Path(directory if directory is not None else os.getcwd())
    try:
        return str(given.expanduser().absolute())
    except RuntimeError:  # "~someone" for a user that does not exist: the path as given
        return str(given.absolute())


class Given(TypedDict, total=False):
    """What the caller of :class:`Resolution` already has (each: else loaded, probed or
    discovered there), and the environment and check ids it resolves with."""

    policy: Policy | None
    matrix: Matrix | None
    capabilities: Capabilities | None
    server: ServerStatus | None
    env: Mapping[str, str] | None
    check_ids: frozenset[str] | None


class Resolution:
    """One request, resolved: its policy, matrix, binary, server and decision.

    ``policy`` / ``matrix`` / ``capabilities`` / ``server``: what the caller already has (else
    loaded, probed or discovered here). ``check_ids``: the doctor's check ids, to validate the
    policy's ``skip_checks``. Loading the policy or the matrix raises their
    :class:`~orch_doctor.errors.ConfigFileError` at once (a configuration error)."""

    def __init__(self, selection: Selection, **given: Unpack[Given]) -> None:
        self.selection = selection
        self.env = env = given.get("env")
        self.directory = absolute_directory(selection.directory)
        policy, matrix = given.get("policy"), given.get("matrix")
        if policy is None:
            from orch_doctor.resolve.policy import load_policy

            policy = load_policy(
                selection.policy_file, Path(self.directory), given.get("check_ids")
            )
        self.policy = policy
        if matrix is None:
            from orch_doctor.matrix.load import load_matrix

            matrix = load_matrix(selection.matrix_files)
        self.matrix = matrix
        named = selection.server_url or policy.server_url
        bare, from_url = split_userinfo(named) if named else (None, None)
        #: the server the caller named, as it may be shown (without any user:password@)
        self.server_url: str | None = bare
        self.credentials: Credentials | None = (
            selection.credentials or credentials_from_env(env) or from_url
        )
        #: which discovered server was chosen, and why (None: none was discovered)
        self.discovery: Choice | None = None
        capabilities, server = given.get("capabilities"), given.get("server")
        #: why registration files of an OpenCode 2.x service were not used
        self.service_notes: tuple[str, ...] = ()
        self.capabilities: Once[Capabilities] = (
            done(capabilities) if capabilities is not None else Once(self._probe_binary)
        )
        self.server: Once[ServerStatus | None] = (
            done(server) if server is not None else Once(self._probe_server)
        )
        self.decision: Once[Decision] = Once(self._decide)

    @property
    def server_discovered(self) -> bool:
        return self.discovery is not None

    @property
    def allowed_strategies(self) -> tuple[str, ...] | None:
        if self.selection.allowed_strategies is not None:
            return self.selection.allowed_strategies
        return self.policy.allowed_strategies

    def adopt_capabilities(self, compute: Callable[[], Capabilities]) -> None:
        """Finish a binary probe started earlier (the doctor starts it before anything else)."""
        self.capabilities.adopt(compute)

    # --- the inputs --------------------------------------------------------------------------

    def _probe_binary(self) -> Capabilities:
        from orch_doctor.matrix import identify_published
        from orch_doctor.probe.binary import start_decision_probe

        refresh = self.selection.refresh
        return start_decision_probe(
            self.selection.opencode,
            self.env,
            timeout_s=self.selection.probe_timeout_s,
            refresh=refresh,
            known=None if refresh else identify_published,
        ).result()

    def _probe_server(self) -> ServerStatus | None:
        if self.server_url is None:
            return self._discover() if self.selection.discover else None
        from orch_doctor.server.probe import probe_server

        credentials = self.credentials
        if credentials is None:
            # the named URL is the user's registered OpenCode 2.x service: its file's password
            from orch_doctor.server.registration import registered_credentials

            credentials = registered_credentials(self.server_url, self.env)
        return probe_server(
            self.server_url,
            timeout_s=self.selection.server_timeout_s,
            credentials=credentials,
            use_cache=not self.selection.refresh,
        )

    def _discover(self) -> ServerStatus | None:
        """A server of the CLI's own OpenCode line: for a 2.x CLI the user's registered 2.x
        service (checked), for a 1.x CLI the servers running here (probed concurrently); choose
        one, saying why. What was found for the other line is said in the notes, never chosen
        (neither line speaks the other's protocol)."""
        from orch_doctor.server.discovery import MAX_CANDIDATES, Choice, choose
        from orch_doctor.server.registration import find_service

        service = find_service(
            self.env,
            timeout_s=self.selection.server_timeout_s,
            use_cache=not self.selection.refresh,
        )
        notes = service.notes
        if service.status is not None and service.registration is not None:
            if self._client_line() != "1.x":
                reason = f"the OpenCode 2.x service registered in {service.registration.path}"
                self.service_notes = notes
                self.discovery = Choice(service.status, reason, notes=notes)
                return service.status
            version = service.status.version or "version unknown"
            path = service.registration.path
            notes = (*notes, f"{path}: the OpenCode 2.x service ({version}): not for a 1.x CLI")
        self.service_notes = notes
        urls = discover_local_servers(directory=self.directory)
        if not urls:
            return None
        from orch_doctor.server.probe import probe_servers

        statuses = probe_servers(
            urls[:MAX_CANDIDATES],
            timeout_s=self.selection.server_timeout_s,
            credentials=self.credentials,
            use_cache=not self.selection.refresh,
        )
        if self._client_line() == "2.x":
            # a 2.x CLI uses its service (registration file): running 1.x servers are not for it
            others = [s for s in statuses if s.generation == "1.x"]
            statuses = [s for s in statuses if s.generation != "1.x"]
            if others:
                said = f"{len(others)} OpenCode 1.x server(s) running here: not for a 2.x CLI"
                self.service_notes = notes = (*notes, said)
        chosen = choose(statuses, self.directory)
        if chosen is not None and notes:
            from dataclasses import replace

            chosen = replace(chosen, notes=notes)
        self.discovery = chosen
        return self.discovery.chosen if self.discovery is not None else None

    def _client_line(self) -> str | None:
        """The CLI's OpenCode line ("1.x" / "2.x"), None without a binary (waits for the
        binary's probe, which the decision needs anyway)."""
        caps = self.capabilities.get()
        if caps.binary_path is None:
            return None
        from orch_doctor.decide.rules import client_generation

        return client_generation(caps)

    def request(self, prompt: str | None = None) -> SpawnRequest:
        """The request as the decision sees it. A server found running counts as named when
        the policy requires a server: a standalone plan instead of it is no plan then (unless
        ``allow_standalone``)."""
        server_url = self.server_url
        if server_url is None and self.policy.require_server:
            found = self.server.get()
            server_url = found.url if found is not None else None
        return SpawnRequest(
            directory=self.directory,
            model=self.selection.model,
            prompt=prompt if prompt is not None else self.selection.prompt,
            server_url=server_url,
        )

    # --- the decision ------------------------------------------------------------------------

    def _decide(self) -> Decision:
        refused = directory_decision(self.directory)  # at the edge: nothing is probed for it
        if refused is not None:
            return refused
        # the server's answers are awaited while the binary is probed (neither needs the other)
        self.server.start_thread("orch-doctor-server-probe")
        return self.decide_for(self.capabilities.get(), self.server.get(), self.request())

    def decide_for(
        self,
        caps: Capabilities,
        server: ServerStatus | None,
        request: SpawnRequest,
        tui_env: Mapping[str, str] | None = None,
    ) -> Decision:
        """The decision for ``server`` (the resolved one, or one the caller started: verify's
        throwaway server) under this resolution's policy, ``allow_standalone`` and matrix.

        The local proofs of the binary (successful `orch-doctor verify` runs with it, from the
        user's cache: orch_doctor.resolve.proofs) are read here and passed in as data.
        The conditions its strategies rely on are measured here (orch_doctor.resolve.measure):
        ``tui_env`` is the environment the TUI will get (default: the resolution's ``env``,
        else this process's)."""
        from orch_doctor.decide.decision import decide, no_plan

        allow_standalone = self.selection.allow_standalone
        if self.policy.require_server and server is None and not allow_standalone:
            reason = f"the policy ({self.policy.source}) requires a server; none was given or found"
            from orch_doctor.decide.rules import SERVE_1X_FIX, start_server_fix

            fix = start_server_fix(caps)
            then = (
                ("then pass --server http://127.0.0.1:4096, or set server_url in the policy",)
                if fix == SERVE_1X_FIX
                else ("it registers itself; orch-doctor finds it through its registration file",)
            )
            advisory = Advisory("server-required", "error", reason, fix=fix, alternatives=then)
            return no_plan(reason, fix, advisory, code="policy")
        if server is not None and server.is_opencode and server.skew is None:
            from orch_doctor.decide.rules import with_skew

            client = caps.version.text if caps.version else None
            server = with_skew(server, client, self.matrix)
        from orch_doctor.resolve.measure import measure_facts
        from orch_doctor.resolve.proofs import read_proofs

        env = tui_env if tui_env is not None else self.env
        return decide(
            caps,
            server,
            request,
            self.matrix,
            allowed_strategies=self.allowed_strategies,
            allow_standalone=allow_standalone,
            facts=measure_facts(caps, server, request, self.matrix, env),
            # verify's successful runs with this very binary, from the user's cache
            proofs=read_proofs(caps.binary_path),
        )


def directory_decision(directory: str) -> Decision | None:
    """Strategy ``none`` when ``directory`` (absolute) cannot be the agent's directory, else
    None — the check at the edge, so that the decision itself stays pure."""
    from orch_doctor._util.directory import directory_problem
    from orch_doctor.decide.decision import no_plan

    problem = directory_problem(directory)
    if problem is None:
        return None
    return no_plan(
        problem.message,
        problem.fix,
        Advisory(
            problem.id, "error", problem.message, problem.fix, alternatives=problem.alternatives
        ),
        code="directory-unusable",
    )


def discover_local_servers(timeout_s: float = 0.3, directory: str | None = None) -> list[str]:
    """Running local servers that accept a connection: from processes (those started in
    ``directory`` first), and the default port.

    A plain TCP connect first (all at once), so that nothing heavier is loaded when no server
    runs."""
    from orch_doctor.server.discovery import answering, candidate_urls

    return answering(candidate_urls(directory=directory), timeout_s)


__all__ = [
    "PROBE_TIMEOUT_S",
    "SERVER_TIMEOUT_S",
    "Resolution",
    "Selection",
    "absolute_directory",
    "directory_decision",
    "discover_local_servers",
]
