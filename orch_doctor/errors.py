"""The exceptions orch-doctor raises, all derived from :class:`OrchDoctorError`.

- :class:`ConfigFileError` — an unreadable or invalid configuration file (names the file and
  the key); subclasses :class:`MatrixError` (compat_matrix TOML) and :class:`PolicyError`
  (a project's policy). The CLI turns them into exit 2.
- :class:`PlanValidationError` (also a ``ValueError``) — a plan step carries a flag, or runs a
  command, that the installed OpenCode does not have.
- :class:`VerifyRefused` — verify (or spawn) could not run anything as asked; says why and the
  fix.
- :class:`TmuxTargetError` (also a ``ValueError``) — ``execute_plan(tmux_target=...)`` names no
  ``SESSION:WINDOW``, a tmux session that does not exist, or tmux is not installed. A delivery
  failure is never an exception: ``SpawnResult.ok`` is False.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class OrchDoctorError(Exception):
    """Base of every error orch-doctor raises on purpose."""


class ConfigFileError(OrchDoctorError):
    """An unreadable or invalid configuration file: names the file and the key (CLI: exit 2)."""

    def __init__(self, path: str | Path, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        self.message = message
        from orch_doctor._util.text import printable

        # one line whatever the file's name or content: shown as is on a terminal
        super().__init__(printable(f"{path}: {key}: {message}", newlines=False))


class MatrixError(ConfigFileError):
    """An invalid matrix file: names the file and the key."""


class PolicyError(ConfigFileError):
    """An invalid policy file: names the file and the key."""


class PlanValidationError(OrchDoctorError, ValueError):
    """A process step carries a flag (or runs a command) the installed OpenCode does not have."""

    def __init__(self, command: str, missing: Sequence[str], detail: str = "") -> None:
        self.command = command
        self.missing = tuple(missing)
        where = "opencode" if command == "root" else f"opencode {command}"
        if missing:
            text = f"`{where}` of this OpenCode has no {', '.join(missing)}"
        else:
            text = f"`{where}` does not exist in this OpenCode"
        super().__init__(text + (f" ({detail})" if detail else ""))


class VerifyRefused(OrchDoctorError):
    """The run cannot start as asked (forced strategy not valid, no binary, ...): nothing ran."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class TmuxTargetError(OrchDoctorError, ValueError):
    """``tmux_target`` names no usable tmux session (or tmux is missing): nothing was started."""
