"""What stands behind the chosen strategy, by kind (pure):

- ``recorded``: `orch-doctor verify` of the strategy succeeded on this exact release here
  (compat_matrix/verified.toml);
- ``local``: a successful `orch-doctor verify` of the strategy with this very binary (by its
  sha256) on this machine, kept in the user's cache (:class:`LocalProof`, read at the edge:
  orch_doctor/resolve/proofs.py);
- ``contract``: the strategy is declared from OpenCode's published contract only (docs, SDK,
  source: ``evidence_kind = "contract"`` in strategies.toml), not run here;
- ``unverified``: a recorded strategy not verified on this release (the nearest verified
  releases are said).

A local proof is the strongest: it is this binary. A release in verified.toml still says its
recorded evidence beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import EvidenceJSON

EvidenceKindSaid = Literal["local", "recorded", "contract", "unverified"]


@dataclass(frozen=True)
class LocalProof:
    """A successful `orch-doctor verify` of ``strategy`` with the binary whose sha256 is
    ``sha256``, on this machine: when (an ISO date), of which release, by which orch-doctor."""

    strategy: str
    sha256: str
    date: str
    release: str | None = None
    orch_doctor_version: str | None = None

    def message(self) -> str:
        what = f"OpenCode {self.release}" if self.release else "this OpenCode"
        return (
            f"verified on this machine, {self.date} (`orch-doctor verify` of {self.strategy} "
            f"with this binary: {what}, sha256 {self.sha256[:12]}…)"
        )


@dataclass(frozen=True)
class Evidence:
    """The kind of evidence behind the chosen strategy and what it says (each line a reason)."""

    kind: EvidenceKindSaid
    said: tuple[str, ...] = ()

    def to_json(self) -> EvidenceJSON:
        return {"kind": self.kind, "said": list(self.said)}
