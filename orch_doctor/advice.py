"""One typed value for every piece of advice: decision warnings, known-issue hits, server security
findings and the doctor's fixes. Checks and reports select advisories by ``id`` and ``severity``;
nothing reads their prose."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from orch_doctor._util.jsonable import json_fields

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import AdvisoryJSON

Severity = Literal["info", "warn", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warn": 1, "error": 2}


@dataclass(frozen=True)
class Advisory:
    """``id`` is stable and machine-readable (a known issue's id, ``cve-2026-22812``,
    ``version-help-mismatch``, ...); ``message`` and ``fix`` are for people; ``evidence`` is a
    link or the measurement behind it; ``fix`` is a shell command line (or None), other ways out
    are ``alternatives``."""

    id: str
    severity: Severity
    message: str
    fix: str | None = None
    evidence: str | None = None
    #: other ways out, said for people (a setting, another release); ``fix`` is only ever a
    #: command line that runs when pasted
    alternatives: tuple[str, ...] = ()

    def to_json(self) -> AdvisoryJSON:
        return cast(
            "AdvisoryJSON", json_fields(self, "id severity message fix alternatives evidence")
        )


def most_severe(advisories: Iterable[Advisory]) -> Advisory | None:
    """The first advisory of the highest severity (stable: ties keep their order)."""
    best: Advisory | None = None
    for item in advisories:
        if best is None or SEVERITY_RANK[item.severity] > SEVERITY_RANK[best.severity]:
            best = item
    return best
