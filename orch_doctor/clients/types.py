"""What the client check finds: the client, each contract entry held against the server, and
the advisories for the entries that do not hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

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
        return {
            "name": self.name,
            "version": self.version,
            "commit": self.commit,
            "where": self.where,
            "how": self.how,
        }


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
        return {
            "id": self.id,
            "name": self.name,
            "ok": self.ok,
            "checked": self.checked,
            "problem": self.problem,
            "source": list(self.source),
        }


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
        return {
            "status": self.status,
            "summary": self.summary,
            "client": self.client.to_json() if self.client else None,
            "contract": self.contract,
            "server_url": self.server_url,
            "entries": [e.to_json() for e in self.entries],
            "advisories": [a.to_json() for a in self.advisories],
            "costs": {c: a.to_json() for c, a in self.costs},
        }
