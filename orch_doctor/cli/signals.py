"""SIGINT, SIGTERM and SIGHUP for every CLI command: stop what the run started, then exit.

While a command runs, a signal stops every process group, tmux server and process the run
started (orch_doctor._util.cleanup's registry, the scope tokens in the children's environments,
and — as a child subreaper on Linux — every descendant), removes its scratch folders, prints one
line saying what it stopped, and exits at once with 128 + the signal's number (130 for SIGINT,
143 for SIGTERM): no thread waiting for a hung child is waited for. A second signal during that
clean-up exits immediately. When the command ends normally, what is still registered (a probe
still running, say) is stopped the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from orch_doctor._util import cleanup

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_handling = False


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # may be mid-write when the signal came
            stream.flush()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _handling
    code = 128 + signum
    if _handling:  # a second signal while cleaning up: leave now
        os._exit(code)
    _handling = True
    summary = cleanup.stop_everything()
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
        return lambda: _finish(since, token, before, {}, None)
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, _on_signal)
    reaper = cleanup.set_subreaper(True)
    return lambda: _finish(since, token, before, previous, reaper)


def _finish(
    since: int,
    token: str,
    before: set[int],
    previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None],
    reaper: bool | None,
) -> None:
    cleanup.stop_since(since, before)
    cleanup.pop_default(token)
    for sig, handler in previous.items():
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    if reaper is not None:
        cleanup.set_subreaper(reaper)
