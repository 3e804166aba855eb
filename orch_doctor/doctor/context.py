"""What the doctor's checks share: the probes, computed once, lazily, thread-safe.

Checks run concurrently; the first one that needs the capabilities (or the server status, the
matrix, the decision) computes them and the others wait for that one result. The binary probe and
the server probe start together at the beginning, so their latencies overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from orch_doctor._util.once import Once
from orch_doctor.advice import Advisory
from orch_doctor.decide.decision import Decision
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.types import Matrix
from orch_doctor.probe.types import Capabilities
from orch_doctor.resolve import PROBE_TIMEOUT_S, SERVER_TIMEOUT_S, Resolution, Selection
from orch_doctor.resolve.policy import Policy
from orch_doctor.server.credentials import Credentials
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
    server_timeout_s: float = SERVER_TIMEOUT_S
    probe_timeout_s: float = PROBE_TIMEOUT_S
    orch_path: str | None = None  # orch's checkout (--orch PATH); else the installed orch

    @classmethod
    def of(cls, selection: Selection, orch_path: str | None = None) -> DoctorOptions:
        """The doctor's options for a command's selection: every option both name, as given."""
        return cls(orch_path=orch_path, **{n: getattr(selection, n) for n in _SHARED})

    def selection(self) -> Selection:
        """The request these options select, as every command resolves it."""
        selection = Selection(**{n: getattr(self, n) for n in _SHARED})
        return replace(selection, prompt=self.prompt or PROMPT_PLACEHOLDER)


#: the options a doctor's run and a command's selection both name
_SHARED = frozenset(f.name for f in fields(DoctorOptions)) & {f.name for f in fields(Selection)}


@dataclass
class DoctorContext:
    """The doctor's view of one request resolution (orch_doctor.resolve), shared by its checks."""

    options: DoctorOptions
    policy: Policy
    matrix: Matrix
    resolution: Resolution = field(init=False)
    capabilities: Once[Capabilities] = field(init=False)
    server: Once[ServerStatus | None] = field(init=False)
    decision: Once[Decision] = field(init=False)
    orch_client: Once[ClientReport] = field(init=False)

    def __post_init__(self) -> None:
        self.resolution = Resolution(
            self.options.selection(), policy=self.policy, matrix=self.matrix
        )
        self.capabilities = self.resolution.capabilities
        self.server = self.resolution.server
        self.decision = self.resolution.decision
        self.orch_client = Once(self._check_orch_client)

    @property
    def directory(self) -> str:
        return self.resolution.directory

    @property
    def server_url(self) -> str | None:
        """The server the caller named, as it may be shown (without any user:password@)."""
        return self.resolution.server_url

    @property
    def credentials(self) -> Credentials | None:
        """OPENCODE_SERVER_PASSWORD, else the named URL's user:password@ (the caller's intent)."""
        return self.resolution.credentials

    @property
    def discovery(self) -> Choice | None:
        """Which discovered server was chosen, and why."""
        return self.resolution.discovery

    @property
    def server_discovered(self) -> bool:
        return self.resolution.server_discovered

    def request(self) -> SpawnRequest:
        return self.resolution.request()

    def server_advisories(self) -> list[Advisory]:
        """The server's advisories (its findings and the server-side known issues), as the
        decision sees them: one implementation, ``decide.advisories.server_advisories``."""
        from orch_doctor.decide.advisories import server_advisories

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


def discover_local_servers(timeout_s: float = 0.3) -> list[str]:
    """Running local servers that accept a connection (see orch_doctor.resolve)."""
    from orch_doctor.resolve import discover_local_servers as discover

    return discover(timeout_s)
