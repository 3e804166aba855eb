"""What the client check finds: the client, each contract entry held against the server, and
the advisories for the entries that do not hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from orch_doctor._util.jsonable import json_fields
from orch_doctor.advice import Advisory

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import ClientInstallJSON, ClientReportJSON, EntryResultJSON

ClientStatus = Literal["pass", "warn", "skip"]


@dataclass(frozen=True)
class ClientInstall:
    name: str  # "orch"
    version: str | None
    commit: str | None
    where: str  # the checkout, the installed files, or "" (a version given)
    how: str  # "--orch PATH", "installed orch-cli", "given", ...

    def label(self) -> str:
        text = f"{self.name} {self.version or '(version unknown)'}"
        return text + (f" @ {self.commit[:12]}" if self.commit else "")

    def to_json(self) -> ClientInstallJSON:
        return cast("ClientInstallJSON", json_fields(self))


@dataclass(frozen=True)
class EntryResult:
    """One contract entry (a call, the auth, the discovery) held against the server."""

    id: str  # "session-status", "auth", "discovery", "list-sessions.scope"
    name: str  # "GET /session/status", "credentials", "discovery"
    ok: bool
    checked: str  # what was compared, for people
    source: tuple[str, ...]  # file:line@commit
    problem: str | None = None

    def to_json(self) -> EntryResultJSON:
        return cast("EntryResultJSON", json_fields(self, "id name ok checked problem source"))


@dataclass(frozen=True)
class ClientReport:
    status: ClientStatus
    summary: str
    client: ClientInstall | None = None
    contract: str | None = None  # the contract file
    server_url: str | None = None
    entries: tuple[EntryResult, ...] = ()
    advisories: tuple[Advisory, ...] = ()  # one per entry that does not hold
    #: what a change to the server ("password", "port") costs this client
    costs: tuple[tuple[str, Advisory], ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def cost(self, change: str) -> Advisory | None:
        return next((a for c, a in self.costs if c == change), None)

    def to_json(self) -> ClientReportJSON:
        costs = {change: advisory.to_json() for change, advisory in self.costs}
        return cast("ClientReportJSON", json_fields(self, costs=costs))
