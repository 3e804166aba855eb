"""The doctor's checks, one module each. Every warn and fail carries a fix (a command or an exact
action); checks read advisories by id and severity, never by their text."""

from __future__ import annotations

from orch_doctor.doctor.checks import (
    directory,
    flags,
    found,
    model_name,
    orch_client,
    server,
    strategy,
    terminal,
    version,
)
from orch_doctor.doctor.checks.base import Check, Verdict

CHECKS: tuple[Check, ...] = (
    found.CHECK,
    version.CHECK,
    flags.CHECK,
    server.CHECK,
    strategy.CHECK,
    directory.CHECK,
    model_name.CHECK,
    terminal.CHECK,
    orch_client.CHECK,
)
CHECK_IDS = frozenset(c.id for c in CHECKS)

__all__ = ["CHECKS", "CHECK_IDS", "Check", "Verdict"]
