"""SIGINT, SIGTERM and SIGHUP for every CLI command: stop what the run started, then exit.

While a command runs, a signal stops every process group, tmux server and process the run
started (orch_doctor._util.cleanup's registry, the scope tokens in the children's environments,
and — as a child subreaper on Linux — every descendant), removes its scratch folders, prints one
line saying what it stopped, and exits at once with 128 + the signal's number (130 for SIGINT,
143 for SIGTERM): no thread waiting for a hung child is waited for. When the command ends
normally, what is still registered (a probe still running, say) is stopped the same way.

The clean-up runs in a watcher thread woken through ``signal.set_wakeup_fd``, not in the Python
handler: the kernel may hand the signal to any thread, and the Python handler runs only when
the main thread next executes bytecode — never, while it waits on a lock for a hung child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from orch_doctor._util import cleanup

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_handling = False
_cleaned = threading.Event()  # set once a clean-up finished (the process exits right after)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # may be mid-write when the signal came
            stream.flush()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler (main thread): the watcher thread cleans up and exits; the main
    thread must not go on meanwhile (finish the command, exit with its own code), so it waits
    here — and leaves by itself should the watcher not (it always writes first)."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        time.sleep(0.05)
    _clean_up_and_exit(signum)
    _cleaned.wait(5.0)  # the watcher is still cleaning up: never exit before it is done
    os._exit(128 + signum)


def _watch(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 1)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:  # closed: the command ended
            with contextlib.suppress(OSError):
                os.close(read_fd)
            return
        _clean_up_and_exit(data[0])


def _clean_up_and_exit(signum: int) -> None:
    global _handling
    code = 128 + signum
    if _handling:
        return
    _handling = True
    summary = cleanup.stop_everything()
    _cleaned.set()
    _flush()
    name = signal.Signals(signum).name
    message = f"\norch-doctor: interrupted by {name}; {summary.line()}\n"
    with contextlib.suppress(OSError):
        if os.isatty(1):  # a spinner may have hidden the cursor
            os.write(1, b"\x1b[?25h")
        os.write(2, message.encode("utf-8", "replace"))
    os._exit(code)


def install() -> Callable[[], None]:
    """Handle the signals until the returned function is called (which stops what the command
    left running and restores the previous handlers). Outside the main thread (a command run
    from a worker thread) nothing is installed, but the end-of-command clean-up still runs."""
    since = cleanup.mark()
    token = cleanup.push_default()  # this command's children: swept at its end
    before = cleanup.children()  # the host's children (when mounted in another program)
    if threading.current_thread() is not threading.main_thread():
        return lambda: _finish(since, token, before, {}, None, None)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # pragma: no cover - main thread checked above
        os.close(read_fd)
        os.close(write_fd)
        return lambda: _finish(since, token, before, {}, None, None)
    threading.Thread(
        target=_watch, args=(read_fd,), name="orch-doctor-signals", daemon=True
    ).start()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, _on_signal)
    reaper = cleanup.set_subreaper(True)
    return lambda: _finish(since, token, before, previous, reaper, (old_wakeup, write_fd))


def _finish(
    since: int,
    token: str,
    before: set[int],
    previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None],
    reaper: bool | None,
    wakeup: tuple[int, int] | None,
) -> None:
    cleanup.stop_since(since, before)
    cleanup.pop_default(token)
    for sig, handler in previous.items():
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    if wakeup is not None:
        old_wakeup, write_fd = wakeup
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(old_wakeup)
        os.close(write_fd)  # the watcher reads EOF and ends
    if reaper is not None:
        cleanup.set_subreaper(reaper)
