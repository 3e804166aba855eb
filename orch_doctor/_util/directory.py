"""Whether a spawn directory can be used, measured at the edge (``stat`` and ``access`` only).

The decision is pure and never looks at the disk: :func:`orch_doctor.api.select_strategy` and
the doctor ask here first and, on a problem, answer with strategy ``none`` and the fix. Every
path in a fix is shell-quoted (``shlex.quote``): a fix is safe to paste whatever the path holds.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from dataclasses import dataclass

#: advisory ids (stable, machine-readable)
DIRECTORY_MISSING = "directory-missing"
DIRECTORY_NOT_A_DIRECTORY = "directory-not-a-directory"
DIRECTORY_UNREACHABLE = "directory-unreachable"


@dataclass(frozen=True)
class DirectoryProblem:
    id: str
    message: str
    fix: str | None  # a command line that runs when pasted
    alternatives: tuple[str, ...] = ()  # other ways out, said for people


def directory_problem(path: str) -> DirectoryProblem | None:
    """What keeps an agent from working in ``path`` (an absolute path), or None.

    Missing, not a directory, or not reachable by this user (a folder on the way cannot be
    searched, or the directory itself cannot be entered). Never raises for a path."""
    quoted = shlex.quote(path)
    shown = path.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return DirectoryProblem(
            DIRECTORY_MISSING,
            f"--dir {shown} does not exist",
            f"mkdir -p -- {quoted}",
            ("pass --dir with an existing directory",),
        )
    except NotADirectoryError:
        return DirectoryProblem(
            DIRECTORY_NOT_A_DIRECTORY,
            f"--dir {shown}: a part of the path is a file, not a directory",
            None,
            ("pass --dir with a directory",),
        )
    except (OSError, ValueError) as exc:  # EACCES, ELOOP, ENAMETOOLONG, an embedded NUL, ...
        reason = (
            "a folder on the way cannot be searched by this user"
            if isinstance(exc, OSError) and exc.errno == errno.EACCES
            else (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        )
        return DirectoryProblem(
            DIRECTORY_UNREACHABLE,
            f"--dir {shown} cannot be reached: {reason}",
            None,
            (
                f"make the folders on the way searchable for this user (ls -ld -- "
                f"{_parent(path)} shows the nearest)",
                "pass another --dir",
            ),
        )
    if not stat.S_ISDIR(st.st_mode):
        return DirectoryProblem(
            DIRECTORY_NOT_A_DIRECTORY,
            f"--dir {shown} is not a directory",
            None,
            (
                "pass --dir with a directory (e.g. the folder that holds this file: "
                f"--dir {_parent(path)})",
            ),
        )
    if not os.access(path, os.X_OK):
        return DirectoryProblem(
            DIRECTORY_UNREACHABLE,
            f"--dir {shown} cannot be entered by this user (no search permission)",
            f"chmod u+x -- {quoted}",
            ("pass another --dir",),
        )
    return None


def _parent(path: str) -> str:
    return shlex.quote(os.path.dirname(path.rstrip("/")) or "/")
