"""What this process started, so that it can be stopped whatever happens.

A process-wide registry of the child process groups, tmux sockets, scratch folders and remote
clean-ups (a session made in a user's server) that orch-doctor started. The code that starts
something registers it and forgets it once it stopped it itself; whatever is still registered
is stopped by the CLI when a command ends, and by the signal handler (``orch_doctor.cli.signals``)
when SIGINT/SIGTERM arrive at any moment.

Every child also gets a *scope token* in its environment (``ORCH_DOCTOR_SCOPE``). A grandchild
that leaves its process group (``setsid``) still carries it, so on Linux it is found in /proc and
stopped too; one that also clears its environment is caught only where orch-doctor is a child
subreaper (the CLI), as one of its own descendants.

The registry is read from a signal handler: it is mutated only by single dict operations (atomic
under the GIL), never under a lock the handler would wait for.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

SCOPE_ENV = "ORCH_DOCTOR_SCOPE"
TERM_GRACE_S = 0.6  # SIGTERM, then SIGKILL what is left
KILL_WAIT_S = 0.6  # after SIGKILL: how long to wait for the processes to vanish
POLL_S = 0.02

#: the token of the children this process starts outside any narrower scope (probes)
PROCESS_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"

_seq = itertools.count(1)


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str  # "group", "dir", "socket", "callback"
    label: str
    scope: str | None
    pgid: int = 0
    path: Path | None = None
    callback: Callable[[float], str | None] | None = None  # (timeout_s) -> what it removed


_entries: dict[int, Entry] = {}
_tokens: dict[str, int] = {PROCESS_TOKEN: 0}  # token -> seq it was opened at
_defaults: list[str] = [PROCESS_TOKEN]  # the token of children started outside a scope
_released: set[bytes] = set()  # tokens of what --keep left: never stopped by a sweep


def new_token() -> str:
    """A scope token of its own (one verify run), swept with the process's."""
    token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    _tokens[token] = next(_seq)
    return token


def with_token(env: dict[str, str] | None, token: str | None = None) -> dict[str, str]:
    """``env`` (default: this process's) plus a scope token for a child: ``token``, else the
    one ``env`` already carries if it is one of this process's, else the process's own."""
    out = dict(os.environ if env is None else env)
    if token:
        out[SCOPE_ENV] = token
    elif out.get(SCOPE_ENV) not in _tokens:
        out[SCOPE_ENV] = _defaults[-1]
    return out


def push_default() -> str:
    """A fresh token for what is started outside any scope from now on (one CLI command run
    inside a longer-lived process): the command's end sweeps it, not what the host started."""
    token = new_token()
    _defaults.append(token)
    return token


def pop_default(token: str) -> None:
    if len(_defaults) > 1 and _defaults[-1] == token:
        _defaults.pop()
    _tokens.pop(token, None)


def mark() -> int:
    """A point in time: :func:`stop_since` stops only what was registered after it."""
    return next(_seq)


def _add(entry: Entry) -> int:
    _entries[entry.seq] = entry
    return entry.seq


def register_group(pgid: int, label: str, scope: str | None = None) -> int:
    return _add(Entry(next(_seq), "group", label, scope, pgid=pgid))


def register_dir(path: Path, label: str, scope: str | None = None) -> int:
    return _add(Entry(next(_seq), "dir", label, scope, path=Path(path)))


def register_socket(path: Path, label: str, scope: str | None = None) -> int:
    return _add(Entry(next(_seq), "socket", label, scope, path=Path(path)))


class NotRemoved(Exception):
    """Raised by a clean-up callback that could not undo what it stands for: its message says
    exactly what remains and the command that removes it (shown as is in the summary)."""


def register_callback(
    callback: Callable[[float], str | None], label: str, scope: str | None = None
) -> int:
    """``callback(timeout_s)`` undoes something outside this machine's processes (a session in
    a user's server); it returns what it removed, or None, and raises :class:`NotRemoved`
    saying what remains and how to remove it."""
    return _add(Entry(next(_seq), "callback", label, scope, callback=callback))


def forget(handle: int | None) -> None:
    if handle is not None:
        _entries.pop(handle, None)


def forget_group(pgid: int) -> None:
    for seq, entry in list(_entries.items()):
        if entry.kind == "group" and entry.pgid == pgid:
            _entries.pop(seq, None)


def release(scope: str) -> None:
    """Forget everything of ``scope`` without stopping it (``verify --keep``)."""
    for seq, entry in list(_entries.items()):
        if entry.scope == scope:
            _entries.pop(seq, None)
    _tokens.pop(scope, None)
    _released.add(scope.encode())


def registered(scope: str | None = None) -> list[Entry]:
    return [e for e in list(_entries.values()) if scope is None or e.scope == scope]


@dataclass
class Summary:
    """What a clean-up stopped and removed, and what it could not."""

    processes: int = 0
    groups: int = 0
    dirs: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # from callbacks (remote clean-ups)
    left: list[str] = field(default_factory=list)  # processes still alive, folders not removed
    background: list[str] = field(default_factory=list)  # folders a detached rm -rf removes
    elapsed_s: float = 0.0

    def line(self) -> str:
        parts = [f"stopped {self.processes} process(es) in {self.groups} group(s)"]
        if self.dirs:
            parts.append(f"removed {len(self.dirs)} scratch folder(s)")
        parts += [f"removed {r}" for r in self.removed]
        parts += [f"removing {b} in the background" for b in self.background]
        text = "; ".join(parts)
        if self.left:
            text += "; NOT stopped: " + ", ".join(self.left)
        return text


def stop(
    entries: Iterable[Entry],
    tokens: Iterable[str] = (),
    *,
    descendants: bool = False,
    adopted_since: set[int] | None = None,
    grace_s: float = TERM_GRACE_S,
    kill_wait_s: float = KILL_WAIT_S,
    callback_timeout_s: float = 2.0,
    remove_within_s: float | None = None,
) -> Summary:
    """Stop the process groups of ``entries`` and every process carrying one of ``tokens``
    (plus, with ``descendants``, every descendant of this process; with ``adopted_since``, every
    child of this process not in that set — orphans it adopted as a subreaper — and their
    descendants, except what ``--keep`` released), SIGTERM first and SIGKILL
    after ``grace_s``; then run the callbacks and remove the sockets and folders. Bounded in
    time: about ``grace_s + kill_wait_s`` plus the callbacks' timeouts, plus (with
    ``remove_within_s``) at most that long removing folders: what is not removed by then is
    handed to a detached ``rm -rf`` (reported in ``Summary.background``)."""
    begin = time.monotonic()
    entries = sorted(entries, key=lambda e: e.seq)
    groups = {e.pgid for e in entries if e.kind == "group"}
    summary = Summary(groups=len(groups))
    token_set = {t.encode() for t in tokens}
    signalled: dict[int, int] = {}
    term_until = time.monotonic() + grace_s
    hard_until = term_until + kill_wait_s
    while True:
        targets = _targets(groups, token_set, descendants, adopted_since)
        if not targets:
            break
        now = time.monotonic()
        if now >= hard_until:
            summary.left += [f"pid {pid}" for pid in sorted(targets)]
            break
        sig = signal.SIGTERM if now < term_until else signal.SIGKILL
        for pid in targets:
            if signalled.get(pid) != sig:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                signalled[pid] = sig
        if not _HAS_PROC:  # no /proc: the groups as a whole, then one last look
            for pgid in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, sig)
        if descendants:  # the signal handler's clean-up: nothing waits for these any more
            _reap(targets)
        time.sleep(POLL_S)
    summary.processes = len(signalled)
    if descendants:  # leave no zombie for an init that may not reap (this process is ending)
        _reap_all()
    for entry in entries:
        if entry.kind == "callback" and entry.callback is not None:
            try:
                done = entry.callback(callback_timeout_s)
            except NotRemoved as exc:
                summary.left.append(str(exc))
            except Exception as exc:  # a remote clean-up that failed is reported, not raised
                summary.left.append(f"{entry.label} ({type(exc).__name__})")
            else:
                if done:
                    summary.removed.append(done)
    for entry in entries:
        if entry.kind == "socket" and entry.path is not None:
            with contextlib.suppress(OSError):
                entry.path.unlink()
        elif entry.kind == "dir" and entry.path is not None:
            if remove_within_s is None:
                shutil.rmtree(entry.path, ignore_errors=True)
            elif not _remove_tree(entry.path, begin + remove_within_s):
                summary.background.append(_remove_detached(entry.path))
                continue
            if entry.path.exists():
                summary.left.append(str(entry.path))
            else:
                summary.dirs.append(str(entry.path))
    for entry in entries:
        _entries.pop(entry.seq, None)
    summary.elapsed_s = time.monotonic() - begin
    return summary


def stop_scope(
    scope: str, *, callback_timeout_s: float = 2.0, remove_within_s: float | None = None
) -> Summary:
    """Stop what ``scope`` registered and every process carrying its token; with
    ``remove_within_s``, what of its folders is not removed by then is left to a detached
    ``rm -rf`` (``Summary.background``)."""
    summary = stop(
        registered(scope),
        [scope],
        callback_timeout_s=callback_timeout_s,
        remove_within_s=remove_within_s,
    )
    _tokens.pop(scope, None)
    return summary


def stop_since(since: int, children_before: set[int] | None = None) -> Summary:
    """Stop what was registered after ``since`` (a :func:`mark`), every process carrying a
    token opened after it, and the children this process gained since (``children_before``:
    :func:`children` then) — the end of a CLI command."""
    entries = [e for e in registered() if e.seq > since]
    tokens = [t for t, seq in list(_tokens.items()) if seq > since]
    return stop(entries, tokens, adopted_since=children_before)


def children() -> set[int]:
    """This process's live children (Linux; empty elsewhere)."""
    if not _HAS_PROC:
        return set()
    me = os.getpid()
    return {p.pid for p in _snapshot().values() if p.ppid == me and p.state not in ("Z", "X")}


def stop_everything(
    *,
    descendants: bool = True,
    callback_timeout_s: float = 0.5,
    remove_within_s: float | None = 1.6,
) -> Summary:
    """Everything registered, every token, every descendant: the signal handler's clean-up
    (bounded: a signal ends the run within 2 s)."""
    return stop(
        registered(),
        list(_tokens),
        descendants=descendants,
        callback_timeout_s=callback_timeout_s,
        remove_within_s=remove_within_s,
    )


def _remove_tree(path: Path, until: float) -> bool:
    """Remove ``path`` unless the time runs out first; True when it is gone."""
    for top, dirs, files in os.walk(path, topdown=False):
        if time.monotonic() >= until:
            return False
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(top, name))
        for name in dirs:
            full = os.path.join(top, name)
            with contextlib.suppress(OSError):
                if os.path.islink(full):
                    os.unlink(full)
                else:
                    os.rmdir(full)
    with contextlib.suppress(OSError):
        os.rmdir(path)
    return not path.exists()


def _remove_detached(path: Path) -> str:
    """Hand what is left of ``path`` to ``rm -rf`` in a session of its own (it outlives this
    process by the moment it takes, then ends by itself). It carries a released token: no later
    sweep of this process (the end of a command, a signal) stops it."""
    import subprocess

    token = f"{os.getpid()}-rm-{uuid.uuid4().hex[:12]}"
    _released.add(token.encode())
    try:
        proc = subprocess.Popen(
            ["rm", "-rf", "--", str(path)],
            env={**os.environ, SCOPE_ENV: token},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return f"{path} (NOT removed)"
    return f"{path} (rm pid {proc.pid})"


# --- /proc ---------------------------------------------------------------------------------

_HAS_PROC = sys.platform.startswith("linux") and os.path.isdir("/proc/self")


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    pgrp: int
    state: str


def _snapshot() -> dict[int, _Proc]:
    found: dict[int, _Proc] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) < 3:
            continue
        found[int(name)] = _Proc(
            int(name), int(fields[1]), int(fields[2]), fields[0].decode("ascii", "replace")
        )
    return found


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (a zombie waiting for its parent does
    not: it is gone, only not reaped yet). Reaps nothing."""
    if not _HAS_PROC:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return any(p.pgrp == pgid and p.state not in ("Z", "X") for p in _snapshot().values())


def _has_token(pid: int, tokens: set[bytes]) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = b"\0" + fh.read(1 << 20)
    except OSError:
        return False
    prefix = b"\0" + SCOPE_ENV.encode() + b"="
    return any(prefix + token + b"\0" in environ + b"\0" for token in tokens)


def _targets(
    groups: set[int], tokens: set[bytes], descendants: bool, adopted_since: set[int] | None = None
) -> set[int]:
    """Live processes to stop: members of ``groups``, carriers of ``tokens``, descendants of
    those (and of this process, with ``descendants``; of its children not in
    ``adopted_since``). Never this process or its ancestors, nor what ``--keep`` released."""
    if not _HAS_PROC:
        alive = set()
        for pgid in groups:
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                continue
            alive.add(pgid)
        return alive
    procs = _snapshot()
    me = os.getpid()
    keep = {me}
    pid = procs[me].ppid if me in procs else 0
    while pid > 0 and pid not in keep:
        keep.add(pid)
        pid = procs[pid].ppid if pid in procs else 0
    live = {p.pid: p for p in procs.values() if p.state not in ("Z", "X") and p.pid not in keep}
    chosen = {pid for pid, p in live.items() if p.pgrp in groups}
    if tokens:
        chosen |= {pid for pid in live if pid not in chosen and _has_token(pid, tokens)}
    if adopted_since is not None:
        chosen |= {
            pid
            for pid, p in live.items()
            if p.ppid == me
            and pid not in adopted_since
            and not (_released and _has_token(pid, _released))
        }
    children: dict[int, list[int]] = {}
    for p in live.values():
        children.setdefault(p.ppid, []).append(p.pid)
    todo = list(chosen) + ([me] if descendants else [])
    while todo:
        parent = todo.pop()
        for child in children.get(parent, ()):
            if parent == me and _released and _has_token(child, _released):
                continue  # what --keep left, a detached rm -rf finishing a removal
            if child not in chosen:
                chosen.add(child)
                todo.append(child)
    return chosen


def _reap(pids: Iterable[int]) -> None:
    """Collect those of ``pids`` that are this process's children and have exited."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except (ChildProcessError, OSError):
            return
        if pid == 0:
            return


# --- child subreaper (Linux) ---------------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def set_subreaper(on: bool) -> bool | None:
    """Make this process a child subreaper (Linux): orphaned descendants (a grandchild that
    ``setsid``-ed and whose parent died) are re-parented to it instead of init, so they stay
    descendants and can be stopped. Returns the previous setting, or None where unsupported."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        previous = ctypes.c_int(0)
        libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
            return None
        return bool(previous.value)
    except (OSError, AttributeError):
        return None
