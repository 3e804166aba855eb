"""Run a child process with a timeout and an output cap; never raise for exec errors.

The child runs in its own session (process group); on timeout or when its output passes the cap,
the whole group is killed, so grandchildren cannot keep pipes open or linger.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from orch_doctor._util import cleanup

DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB per stream is far more than any help text
KILL_GRACE_S = 0.5
#: a throwaway group (verify's server and TUI: an isolated HOME that is removed next, nothing
#: of the user's in it) that was told to stop gets no grace period: SIGTERM, then SIGKILL
THROWAWAY_GRACE_S = 0.0
#: how long :func:`kill_groups` waits for killed groups to vanish
GONE_WAIT_S = 1.0
GONE_POLL_S = 0.01


@dataclass(frozen=True)
class CaptureResult:
    argv: tuple[str, ...]
    stdout: str
    stderr: str
    returncode: int | None  # None when killed or never started
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0
    error: str | None = None  # could not start: "No such file or directory", ...

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and self.returncode == 0

    @property
    def output(self) -> str:
        """stdout then stderr, the way a terminal would show both."""
        if self.stdout and self.stderr:
            return self.stdout + ("" if self.stdout.endswith("\n") else "\n") + self.stderr
        return self.stdout or self.stderr


def run_capture(
    argv: Sequence[str],
    *,
    timeout_s: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> CaptureResult:
    """Run ``argv`` to completion (or timeout / cap) and return what it printed."""
    started = spawn(argv, env=env, cwd=cwd)
    return collect(started, timeout_s=timeout_s, max_bytes=max_bytes)


@dataclass(frozen=True)
class Started:
    """A child that was started (or could not be: ``error``)."""

    argv: tuple[str, ...]
    start: float
    proc: subprocess.Popen[bytes] | None
    error: str | None = None


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> Started:
    """Start ``argv`` in its own session with pipes for its output; never raises.

    The child's group is registered (orch_doctor._util.cleanup) until :func:`collect` has
    waited for it, and its environment carries the process's scope token, so a signal at any
    moment stops it and whatever it started."""
    argv = tuple(argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cleanup.with_token(dict(env) if env is not None else None),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return Started(argv, start, None, _exec_error(exc))
    cleanup.register_group(proc.pid, f"{os.path.basename(argv[0])} {' '.join(argv[1:2])}")
    return Started(argv, start, proc)


def collect(
    started: Started, *, timeout_s: float, max_bytes: int = DEFAULT_MAX_BYTES
) -> CaptureResult:
    """Read a started child's output until it exits, times out or passes the cap."""
    argv, start, proc = started.argv, started.start, started.proc
    if proc is None:
        return CaptureResult(
            argv, "", "", None, duration_s=time.monotonic() - start, error=started.error
        )

    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    sizes = {"stdout": 0, "stderr": 0}
    timed_out = truncated = False
    deadline = start + timeout_s
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
        sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                name = key.data
                room = max_bytes - sizes[name]
                if len(data) > room:
                    data = data[:room]
                    truncated = True
                chunks[name].append(data)
                sizes[name] += len(data)
            if truncated:
                break
    if timed_out or truncated:
        _stop(proc)
    else:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc)
    proc.stdout.close()
    proc.stderr.close()
    cleanup.forget_group(proc.pid)
    return CaptureResult(
        argv,
        b"".join(chunks["stdout"]).decode("utf-8", errors="replace"),
        b"".join(chunks["stderr"]).decode("utf-8", errors="replace"),
        None if (timed_out or truncated) else proc.returncode,
        timed_out=timed_out,
        truncated=truncated,
        duration_s=time.monotonic() - start,
    )


def start_many(
    commands: Mapping[str, Sequence[str]],
    *,
    timeout_s: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Future[dict[str, CaptureResult]]:
    """Start every command now, in this thread; the returned future holds their results.

    Starting synchronously means the children run while the caller goes on (imports, other
    probes); only the reading of their output happens in threads."""
    started = {name: spawn(argv, env=env, cwd=cwd) for name, argv in commands.items()}
    done: Future[dict[str, CaptureResult]] = Future()
    if not started:
        done.set_result({})
        return done

    def gather() -> None:
        try:
            with ThreadPoolExecutor(max_workers=len(started)) as pool:
                futures = {
                    name: pool.submit(collect, item, timeout_s=timeout_s, max_bytes=max_bytes)
                    for name, item in started.items()
                }
                done.set_result({name: fut.result() for name, fut in futures.items()})
        except BaseException as exc:  # pragma: no cover - collect never raises
            done.set_exception(exc)

    threading.Thread(target=gather, name="orch-doctor-collect", daemon=True).start()
    return done


def kill_group(pid: int, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the process group led by ``pid``, SIGKILL what is left after ``grace_s``.

    A process that leads no group of its own is killed alone. The one way orch-doctor stops
    what it started (probes, servers, terminals)."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid != pid:  # not a group leader: only the process itself
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(pid)
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    _reap(pid)


def kill_groups(
    pids: Sequence[int], grace_s: float = KILL_GRACE_S, gone_wait_s: float = GONE_WAIT_S
) -> list[int]:
    """Stop several process groups at once: SIGTERM every group led by one of ``pids``, SIGKILL
    what is left after ``grace_s`` (none with 0), then wait (polling every 10 ms, at most
    ``gone_wait_s``) until they are gone. Returns the groups still there. Nothing waits for a
    group that is already gone. A leader that is this process's child is left for its owner to
    reap (its ``Popen.wait`` reads the real exit status)."""
    groups = []
    for pid in dict.fromkeys(pids):
        try:
            if os.getpgid(pid) == pid:
                groups.append(pid)
                continue
        except ProcessLookupError:
            continue
        with contextlib.suppress(ProcessLookupError):  # not a group leader: only the process
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    for sig, until in ((signal.SIGTERM, grace_s), (signal.SIGKILL, gone_wait_s)):
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + until
        while True:
            groups = [pgid for pgid in groups if _group_alive(pgid)]
            if not groups or time.monotonic() >= deadline:
                break
            time.sleep(GONE_POLL_S)
        if not groups:
            break
    return groups


def _group_alive(pgid: int) -> bool:
    if not cleanup._HAS_PROC:  # without /proc a zombie leader counts: reap it if it is ours
        _reap(pgid)
    return cleanup.group_alive(pgid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    kill_group(proc.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE_S)


def _exec_error(exc: OSError) -> str:
    name = getattr(exc, "filename", None)
    reason = exc.strerror or type(exc).__name__
    return f"{reason}: {name}" if name else reason
