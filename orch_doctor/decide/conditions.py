"""The conditions a strategy relies on beyond flags and routes, read from measured facts. Pure.

Each condition (``[[condition]]`` in compat_matrix/strategies.toml) and each known issue that
needs hosts (``needs_hosts``) is answered from what the stage owning it measured: the server's
``GET /path`` (:class:`~orch_doctor.server.types.ServerPaths`), the environment the TUI will get,
and a bounded reachability check (``orch_doctor/probe/hosts.py``). The answer is ``True``
(holds), ``False`` (does not hold) or ``None`` (could not be measured), always with the reason.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.types import KnownIssue
from orch_doctor.server.types import ServerStatus


@dataclass(frozen=True)
class Facts:
    """What was measured on this machine for the conditions.

    ``tui_env``: the environment the TUI will get (None: not known); ``hosts``: host name ->
    whether it answered a bounded HTTPS connect (a host not in it was not checked)."""

    tui_env: Mapping[str, str] | None = None
    hosts: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class TuiDirs:
    """Where a TUI started with a given environment keeps its files (None: no HOME)."""

    home: str | None
    state: str | None  # $XDG_STATE_HOME/opencode, else $HOME/.local/state/opencode
    data: str | None  # $XDG_DATA_HOME/opencode, else $HOME/.local/share/opencode
    data_is_default: bool  # the data dir is HOME's default (no XDG_DATA_HOME, or the same)


def _xdg(env: Mapping[str, str], name: str, home: str | None, default: str) -> str | None:
    value = env.get(name, "")
    if value.startswith("/"):  # the XDG spec: a relative value is ignored
        return posixpath.join(posixpath.normpath(value), "opencode")
    return posixpath.join(home, default, "opencode") if home else None


def tui_dirs(env: Mapping[str, str]) -> TuiDirs:
    """The TUI's home, state and data dirs, from the environment it gets (measured on 1.0.152:
    ``opencode serve`` under ``HOME=H`` reports ``state`` ``H/.local/state/opencode``, under
    ``XDG_STATE_HOME=S`` ``S/opencode``, and stores sessions under ``H/.local/share/opencode``
    or ``$XDG_DATA_HOME/opencode``)."""
    raw = env.get("HOME", "")
    home = posixpath.normpath(raw) if raw.startswith("/") else None
    data = _xdg(env, "XDG_DATA_HOME", home, ".local/share")
    default = posixpath.join(home, ".local/share", "opencode") if home else None
    return TuiDirs(
        home=home,
        state=_xdg(env, "XDG_STATE_HOME", home, ".local/state"),
        data=data,
        data_is_default=data is not None and data == default,
    )


def _same(a: str, b: str) -> bool:
    return posixpath.normpath(a) == posixpath.normpath(b)


def shares_data_dir(server: ServerStatus | None, facts: Facts) -> tuple[bool | None, str]:
    """Whether a TUI started with ``facts.tui_env`` reads the data dir ``server`` writes.

    The server's ``GET /path`` says its home and state dir, not its data dir; the state dir
    follows the same rule as the data dir (an XDG variable, else under HOME), so the same home
    and state dir, with the TUI's data dir the default under that home, stand for the same data
    dir. Anything else that cannot be compared is unmeasured (None)."""
    if server is None:
        return None, "no server to compare with"
    if facts.tui_env is None:
        return None, "the environment the TUI will get is not known"
    tui = tui_dirs(facts.tui_env)
    paths = server.paths
    if paths is None or paths.state is None:
        return None, (
            f"server {server.url} does not say where its state dir is (GET /path), so whether "
            "it shares the TUI's data dir is unknown"
        )
    if tui.state is None or tui.home is None:
        return None, "the TUI gets no absolute HOME, so its data dir is unknown"
    ours = f"state {tui.state} (HOME {tui.home})"
    theirs = f"state {paths.state}" + (f" (HOME {paths.home})" if paths.home else "")
    if not _same(paths.state, tui.state) or (paths.home and not _same(paths.home, tui.home)):
        return False, (
            f"the server does not share the TUI's data dir: server {server.url} has {theirs}, "
            f"the TUI would have {ours}"
        )
    if not tui.data_is_default:
        return None, (
            f"the TUI's XDG_DATA_HOME puts its data dir at {tui.data}; the server's GET /path "
            "does not say its data dir, so whether they share it is unknown"
        )
    return True, f"the server shares the TUI's data dir ({ours})"


def serves_dir(server: ServerStatus | None, request: SpawnRequest) -> tuple[bool | None, str]:
    """Whether ``server`` serves the request's directory (its ``GET /path`` directory)."""
    if server is None or not server.directory:
        return None, "the directory the server serves is unknown (GET /path)"
    if _same(server.directory, request.directory):
        return True, f"the server serves {request.directory}"
    return False, f"the server serves {server.directory}, not {request.directory}"


def check(
    condition: str, server: ServerStatus | None, request: SpawnRequest, facts: Facts
) -> tuple[bool | None, str]:
    """One condition of a strategy (an id of ``CONDITION_IDS``), as measured."""
    if condition == "shares-data-dir":
        return shares_data_dir(server, facts)
    if condition == "serves-dir":
        return serves_dir(server, request)
    return None, f"no measurement for condition {condition!r}"


def hosts_needed(issues: list[KnownIssue]) -> list[str]:
    """The hosts the applicable known issues depend on (what to check, and only that)."""
    return sorted({h for i in issues for h in i.needs_hosts})


def hosts_answer(issue: KnownIssue, facts: Facts) -> tuple[bool | None, str]:
    """Whether every host ``issue`` needs answered here: True (the issue does not bite),
    False (one did not: it does), None (not checked)."""
    down = [h for h in issue.needs_hosts if facts.hosts.get(h) is False]
    unknown = [h for h in issue.needs_hosts if h not in facts.hosts]
    if down:
        return False, f"{', '.join(down)} did not answer an HTTPS connect from here"
    if unknown:
        return None, f"whether {', '.join(unknown)} answers from here was not checked"
    return True, f"{', '.join(issue.needs_hosts)} answered an HTTPS connect from here"
