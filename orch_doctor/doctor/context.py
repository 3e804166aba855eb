"""What the doctor's checks share: the probes, computed once, lazily, thread-safe.

Checks run concurrently; the first one that needs the capabilities (or the server status, the
matrix, the decision) computes them and the others wait for that one result. The binary probe and
the server probe start together at the beginning, so their latencies overlap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orch_doctor._util.once import Once
from orch_doctor.advice import Advisory
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.doctor.policy import Policy
from orch_doctor.matrix.model import Matrix
from orch_doctor.probe.types import Capabilities
from orch_doctor.server.credentials import Credentials, credentials_from_env, split_userinfo
from orch_doctor.server.types import ServerStatus

if TYPE_CHECKING:
    from orch_doctor.clients.types import ClientReport
    from orch_doctor.server.discovery import Choice

#: shown in the doctor's plan where no prompt was given
PROMPT_PLACEHOLDER = "<prompt>"


@dataclass(frozen=True)
class DoctorOptions:
    opencode: str | None = None
    server_url: str | None = None
    allow_standalone: bool = False
    directory: str | None = None
    model: str | None = None
    prompt: str | None = None
    refresh: bool = False
    discover: bool = True
    matrix_files: tuple[str, ...] = ()
    server_timeout_s: float = 5.0
    probe_timeout_s: float = 20.0
    orch_path: str | None = None  # orch's checkout (--orch PATH); else the installed orch


@dataclass
class DoctorContext:
    options: DoctorOptions
    policy: Policy
    matrix: Matrix
    capabilities: Once[Capabilities] = field(init=False)
    server: Once[ServerStatus | None] = field(init=False)
    decision: Once[Decision] = field(init=False)
    orch_client: Once[ClientReport] = field(init=False)
    server_discovered: bool = False
    discovery: Choice | None = None  # which discovered server was chosen, and why

    def __post_init__(self) -> None:
        self.capabilities = Once(self._probe_binary)
        self.server = Once(self._probe_server)
        self.decision = Once(self._decide)
        self.orch_client = Once(self._check_orch_client)

    @property
    def directory(self) -> str:
        given = Path(self.options.directory or os.getcwd())
        try:
            return str(given.expanduser().absolute())
        except RuntimeError:  # "~someone" for a user that does not exist: the path as given
            return str(given.absolute())

    @property
    def server_url(self) -> str | None:
        """The server the caller named, as it may be shown (without any user:password@)."""
        url = self.options.server_url or self.policy.server_url
        return split_userinfo(url)[0] if url else None

    @property
    def credentials(self) -> Credentials | None:
        """OPENCODE_SERVER_PASSWORD, else the named URL's user:password@ (the caller's intent)."""
        url = self.options.server_url or self.policy.server_url
        return credentials_from_env() or (split_userinfo(url)[1] if url else None)

    def request(self) -> SpawnRequest:
        server_url = self.server_url
        if server_url is None and self.policy.require_server:
            # the policy requires a server: the one found running is as good as named — a
            # standalone plan instead of it is no plan (unless --allow-standalone)
            found = self.server.get()
            server_url = found.url if found is not None else None
        return SpawnRequest(
            directory=self.directory,
            model=self.options.model,
            prompt=self.options.prompt or PROMPT_PLACEHOLDER,
            server_url=server_url,
        )

    def _probe_binary(self) -> Capabilities:
        from orch_doctor.matrix import identify_published
        from orch_doctor.probe.binary import start_decision_probe

        return start_decision_probe(
            self.options.opencode,
            timeout_s=self.options.probe_timeout_s,
            refresh=self.options.refresh,
            known=None if self.options.refresh else identify_published,
        ).result()

    def _probe_server(self) -> ServerStatus | None:
        url = self.server_url
        if url is None:
            return self._discover() if self.options.discover else None
        from orch_doctor.server.probe import probe_server

        return probe_server(
            url,
            timeout_s=self.options.server_timeout_s,
            credentials=self.credentials,
            use_cache=not self.options.refresh,
        )

    def _discover(self) -> ServerStatus | None:
        """Probe the servers running here (concurrently) and choose one, saying why."""
        from orch_doctor.server.discovery import MAX_CANDIDATES, choose

        urls = discover_local_servers()
        if not urls:
            return None
        from orch_doctor.server.probe import probe_servers

        statuses = probe_servers(
            urls[:MAX_CANDIDATES],
            timeout_s=self.options.server_timeout_s,
            credentials=self.credentials,
            use_cache=not self.options.refresh,
        )
        self.discovery = choose(statuses, self.directory)
        if self.discovery is None:
            return None
        self.server_discovered = True
        return self.discovery.chosen

    def server_advisories(self) -> list[Advisory]:
        """The server's advisories (its findings and the server-side known issues), as the
        decision sees them: one implementation, ``decide.advice.server_advisories``."""
        from orch_doctor.decide.advice import server_advisories

        server = self.server.get()
        if server is None:
            return []
        return server_advisories(server, self.capabilities.get(), self.matrix)

    def _check_orch_client(self) -> ClientReport:
        """orch's own OpenCode client (its contract in compat_matrix/clients/) against the
        server: the orch found here, or the checkout given with --orch PATH."""
        from orch_doctor.clients.check import run_check
        from orch_doctor.matrix.clients import load_contracts

        return run_check(
            None if self.server.get() is None else self.server.get(),
            checkout=self.options.orch_path,
            directory=self.directory,
            credentials=self.credentials,
            timeout_s=self.options.server_timeout_s,
            contracts=load_contracts(self.options.matrix_files),
        )

    def client_costs(self, advisories: list[Advisory]) -> list[tuple[Advisory, Advisory]]:
        """(server advisory, what following its fix costs the orch found here), for each advisory
        whose fix changes the server (a password, a port)."""
        from orch_doctor.clients.check import advice_costs

        try:
            report = self.orch_client.get()
        except Exception:  # the orch-client check reports its own failure; advice goes on
            return []
        if report.client is None or not report.costs:
            return []
        changes = {i.id: i.changes_server for i in self.matrix.issues if i.changes_server}
        return advice_costs(report, advisories, changes)

    def _decide(self) -> Decision:
        from orch_doctor._util.directory import directory_problem
        from orch_doctor.decide.decision import decide, no_plan

        # at the edge, as select_strategy does: the decision itself never looks at the disk
        problem = directory_problem(self.directory)
        if problem is not None:
            advisory = Advisory(
                problem.id, "error", problem.message, problem.fix, alternatives=problem.alternatives
            )
            return no_plan(problem.message, problem.fix, advisory, code="directory-unusable")
        if (
            self.policy.require_server
            and self.server.get() is None
            and not self.options.allow_standalone
        ):
            reason = f"the policy ({self.policy.source}) requires a server; none was given or found"
            fix = "opencode serve --port 4096 --hostname 127.0.0.1"
            then = ("then pass --server http://127.0.0.1:4096, or set server_url in the policy",)
            advisory = Advisory("server-required", "error", reason, fix=fix, alternatives=then)
            return no_plan(reason, fix, advisory, code="policy")

        return decide(
            self.capabilities.get(),
            self.server.get(),
            self.request(),
            self.matrix,
            allowed_strategies=self.policy.allowed_strategies,
            allow_standalone=self.options.allow_standalone,
        )


def discover_local_servers(timeout_s: float = 0.3) -> list[str]:
    """Running local servers that accept a connection: from processes, and the default port.

    A plain TCP connect first (all at once), so that nothing heavier is loaded when no server
    runs."""
    from orch_doctor.server.discovery import answering, candidate_urls

    return answering(candidate_urls(), timeout_s)
