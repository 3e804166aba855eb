"""The doctor's result type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from orch_doctor._util.jsonable import json_fields

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import CheckJSON

CheckStatus = Literal["pass", "warn", "fail", "skip"]
#: the report's: its worst check's (a skipped check counts as passed)
DoctorStatus = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: CheckStatus
    summary: str
    details: tuple[str, ...] = ()
    fix: str | None = None  # a command line that runs when pasted; warn and fail: it or
    duration_s: float = 0.0
    alternatives: tuple[str, ...] = ()  # other ways out, said for people

    def to_json(self) -> CheckJSON:
        keys = "id title status summary details fix alternatives duration_s"
        return cast("CheckJSON", json_fields(self, keys, duration_s=round(self.duration_s, 3)))
