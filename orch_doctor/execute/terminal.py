"""Terminals to run a TUI in: a window of the user's own tmux session (``TmuxWindowTerminal``),
tmux on a private socket (verify), or a pseudo-terminal we drive (``PtyTerminal``).

For verify:

tmux runs with ``-L <unique socket>`` and an empty config, so nothing touches the user's own tmux
server. The child's environment (secrets included) is given to the tmux *server* process through
its environment, never through argv. Without tmux, a pseudo-terminal (``os.openpty``) with a
reader thread keeps the text the program printed (escape sequences stripped) as the "screen".
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from orch_doctor._util import cleanup
from orch_doctor._util.proc import kill_group
from orch_doctor.errors import TmuxTargetError

TMUX_TIMEOUT_S = 10.0  # the cap of one tmux call; a terminal's deadline bounds them all
#: how long a closed terminal's program may take to honour SIGTERM before SIGKILL
TUI_STOP_GRACE_S = 3.0
COLUMNS = 200
ROWS = 50

#: key names a plan may use, as a pseudo-terminal byte sequence
PTY_KEYS: dict[str, bytes] = {
    "Enter": b"\r",
    "Escape": b"\x1b",
    "Tab": b"\t",
    "C-c": b"\x03",
    "BSpace": b"\x7f",
}


class TerminalError(RuntimeError):
    """The terminal could not be started or driven."""


class TmuxNoAnswer(TerminalError):
    """tmux could not be asked in time (the deadline ran out, or the server does not answer):
    nothing is known about the pane, which is not the same as the pane being gone."""


class Terminal(Protocol):
    """Where a plan's process step runs: implement these five methods to spawn into any
    terminal an orchestrator owns (``execute_plan(plan, terminal=...)``).

    ``start`` runs ``argv`` (a list, never a shell string) in ``cwd`` with exactly ``env`` (it
    may hold a secret: never put it in argv); ``capture`` returns the visible screen as text;
    ``send_keys`` types tmux-style key names (``Enter``, ``C-c``) or, with ``literal``, text;
    ``alive`` says whether the program still runs; ``close`` stops it.
    """

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None: ...

    def capture(self) -> str: ...

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...


def terminal_label(terminal: object) -> str:
    return str(getattr(terminal, "name", None) or type(terminal).__name__)


def attach_hint(terminal: object) -> str:
    hint = getattr(terminal, "attach_hint", None)
    return str(hint()) if callable(hint) else terminal_label(terminal)


def make_terminal(
    work_dir: Path,
    prefer: str | None = None,
    scope: str | None = None,
    deadline: float | None = None,
    stop_grace_s: float = TUI_STOP_GRACE_S,
) -> Terminal:
    """tmux when installed (or ``prefer == "tmux"``), else a pseudo-terminal.

    ``prefer`` may also come from ORCH_DOCTOR_TERMINAL ("tmux" or "pty"). What the terminal
    starts is registered under ``scope`` (orch_doctor._util.cleanup) until it is closed; its
    tmux calls end by ``deadline`` (``time.monotonic()``). Closed, its program gets
    ``stop_grace_s`` to honour SIGTERM before SIGKILL.
    """
    prefer = prefer or os.environ.get("ORCH_DOCTOR_TERMINAL") or None
    tmux = shutil.which("tmux")
    if prefer == "pty" or (prefer is None and tmux is None):
        return PtyTerminal(scope, stop_grace_s)
    if tmux is None:
        raise TerminalError("tmux was asked for but is not installed (apt install tmux)")
    return TmuxTerminal(tmux, work_dir, scope, deadline, stop_grace_s)


def tmux_socket_path(socket_name: str) -> Path:
    """Where tmux puts the socket of ``-L socket_name`` (TMUX_TMPDIR or /tmp, per uid)."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return Path(base) / f"tmux-{os.getuid()}" / socket_name


def run_tmux(
    cmd: Sequence[str],
    env: Mapping[str, str] | None,
    *,
    what: str,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """One tmux client call, bounded by ``timeout`` (what is left of the caller's deadline)
    and at most :data:`TMUX_TIMEOUT_S`; a timeout, or a failure when ``check``, is a
    :class:`TerminalError` naming the tmux command ``what``."""
    limit = TMUX_TIMEOUT_S if timeout is None else min(TMUX_TIMEOUT_S, timeout)
    if limit <= 0:
        raise TmuxNoAnswer(f"tmux {what}: the overall timeout ran out")
    try:
        proc = subprocess.run(
            list(cmd),
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=limit,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise TmuxNoAnswer(f"tmux {what} did not answer in {limit:.1f}s") from exc
    if check and proc.returncode != 0:
        raise TerminalError(f"tmux {what} failed: {proc.stderr.strip()}")
    return proc


class _TmuxPane:
    """What both tmux terminals do with their pane: confirm a launch, capture the screen, type,
    ask whether the program runs. Every call is bounded by ``deadline``."""

    deadline: float | None

    def _pane(self) -> str | None:
        """The pane's tmux target, or None before it exists."""
        raise NotImplementedError

    def _run(
        self, *args: str, check: bool = True, floor: float = 0.0
    ) -> subprocess.CompletedProcess[str]:
        raise NotImplementedError

    def _display(self, fmt: str) -> str:
        raise NotImplementedError

    def _until(self, seconds: float) -> float:
        """``seconds`` from now, and no later than the deadline."""
        until = time.monotonic() + seconds
        return until if self.deadline is None else min(until, self.deadline)

    def _await_launch(self, launch: LaunchFile, what: str) -> None:
        launch.wait_read(lambda: not self.alive(), self._until(LAUNCH_READ_S), what)

    def _confirm_directory(self, launch: LaunchFile, what: str) -> None:
        if launch.cwd:
            confirm_cwd(
                lambda: self._display("#{pane_current_path}"),
                launch.cwd,
                self._until(LAUNCH_CWD_S),
                what,
                self.alive,
            )

    def capture(self) -> str:
        pane = self._pane()
        if pane is None:
            return ""
        try:  # a screen after the deadline is still worth a moment: it explains a timeout
            proc = self._run("capture-pane", "-p", "-t", pane, check=False, floor=SCREEN_S)
        except TerminalError:
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    def look(self) -> tuple[str, bool]:
        """The screen and whether the program still runs, both from one tmux call (a poll's
        look: what :meth:`capture` and :meth:`alive` say, at one moment, for half the cost).
        A pane that is gone is an empty screen and not alive; a tmux that does not answer in
        time says nothing about the program (alive, as :meth:`alive` has it)."""
        pane = self._pane()
        if pane is None:
            return "", False
        try:  # tmux runs the second command only when the first succeeded (the pane exists)
            proc = self._run(
                "display-message", "-p", "-t", pane, "#{pane_dead}", ";",
                "capture-pane", "-p", "-t", pane, check=False, floor=SCREEN_S,
            )  # fmt: skip
        except TmuxNoAnswer:
            return "", True
        except TerminalError:
            return "", False
        if proc.returncode != 0:
            return "", False
        dead, _, screen = proc.stdout.partition("\n")
        return screen, dead == "0"

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None:
        pane = self._pane()
        if pane is None:
            raise TerminalError("the terminal is not running")
        self._run("send-keys", "-t", pane, *(["-l"] if literal else []), *keys)

    def alive(self) -> bool:
        if self._pane() is None:
            return False
        try:
            return self._display("#{pane_dead}") == "0"
        except TmuxNoAnswer:
            return True  # unknown: the caller's deadline, not "it exited", ends the wait
        except TerminalError:
            return False  # the pane is gone with its program


class TmuxTerminal(_TmuxPane):
    """One tmux session on a private socket; the pane survives its program (remain-on-exit)."""

    def __init__(
        self,
        tmux: str,
        work_dir: Path,
        scope: str | None = None,
        deadline: float | None = None,
        stop_grace_s: float = TUI_STOP_GRACE_S,
    ) -> None:
        self.tmux = tmux
        self.scope = scope
        self.deadline = deadline
        self._handles: list[int] = []
        self.socket = f"orch-doctor-{uuid.uuid4().hex[:12]}"
        self.name = "verify"
        self.config = work_dir / "tmux.conf"
        self.config.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self._started = False
        self._pane_pid: int | None = None
        #: how long the TUI may take to honour SIGTERM when closed (verify's throwaway: none)
        self.stop_grace_s = stop_grace_s

    def _run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        floor: float = 0.0,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.tmux, "-L", self.socket, "-f", str(self.config), *args]
        left = None if self.deadline is None else max(self.deadline - time.monotonic(), floor)
        return run_tmux(cmd, env, what=args[0], check=check, timeout=left)

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        if self._started:
            raise TerminalError("this terminal already runs a program")
        # the tmux server gets what a tmux needs (and the scope token, which the server, the
        # pane and - through the launch file - the program carry); the program's directory,
        # environment and argv go through a launch file no tmux parser reads
        # (as every later call of this terminal, from this process's environment: TMUX_TMPDIR)
        server_env = {k: v for k, v in os.environ.items() if k in TMUX_CLIENT_ENV and k != "TMUX"}
        server_env.setdefault("TERM", "xterm-256color")
        server_env = cleanup.with_token(server_env, self.scope)
        launch = LaunchFile(argv, cwd, cleanup.with_token(dict(env), self.scope), self.scope)
        # the socket is registered before it exists, so a signal during the start removes it
        label = f"tmux socket {self.socket}"
        self._handles.append(
            cleanup.register_socket(tmux_socket_path(self.socket), label, self.scope)
        )
        args = ["new-session", "-d", "-s", self.name, "-x", str(COLUMNS), "-y", str(ROWS)]
        try:
            self._run(*args, "--", *launch.command(), env=server_env)
        except BaseException:
            launch.remove()
            raise
        self._started = True
        with contextlib.suppress(TerminalError, ValueError):
            server_pid = int(self._display("#{pid}"))
            self._handles.append(cleanup.register_group(server_pid, label, self.scope))
        with contextlib.suppress(TerminalError, ValueError):
            self._pane_pid = int(self._display("#{pane_pid}"))
            self._handles.append(cleanup.register_group(self._pane_pid, "tmux pane", self.scope))
        self._await_launch(launch, "the tmux pane")
        self._confirm_directory(launch, "the TUI")

    def _pane(self) -> str | None:
        return self.name if self._started else None

    def _display(self, fmt: str) -> str:
        return self._run("display-message", "-p", "-t", self.name, fmt).stdout.strip()

    @property
    def pane_pid(self) -> int | None:
        return self._pane_pid

    def attach_hint(self) -> str:
        return f"tmux -L {self.socket} attach -t {self.name}"

    def close(self) -> None:
        # the TUI first (its HOME is the run's: no grace period), then its tmux server
        if self._pane_pid:
            kill_group(self._pane_pid, grace_s=self.stop_grace_s)
        if self._started:
            with contextlib.suppress(TerminalError):
                self._run("kill-server", check=False, floor=UNDO_S)
        with contextlib.suppress(OSError):
            tmux_socket_path(self.socket).unlink()
        self._started = False
        for handle in self._handles:
            cleanup.forget(handle)
        self._handles = []


class PtyTerminal:
    """A pseudo-terminal driven by this process. Its screen is what a VT100 emulator (pyte)
    shows after the bytes the program printed: cursor moves and erases are applied, so a
    readiness or failure marker means the same as on a tmux pane."""

    def __init__(self, scope: str | None = None, stop_grace_s: float = TUI_STOP_GRACE_S) -> None:
        import pyte

        self.name = "pty"
        self.scope = scope
        self._handle: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._master: int | None = None
        self._screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.ByteStream(self._screen)
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        #: how long the TUI may take to honour SIGTERM when closed (verify's throwaway: none)
        self.stop_grace_s = stop_grace_s

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        import fcntl
        import struct
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        child_env = cleanup.with_token(dict(env), self.scope)
        child_env.setdefault("TERM", "xterm-256color")
        try:
            self._proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=child_env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            os.close(master)
            raise TerminalError(f"cannot start {argv[0]}: {exc}") from exc
        finally:
            os.close(slave)
        self._handle = cleanup.register_group(self._proc.pid, "pty terminal", self.scope)
        self._master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        master = self._master  # close() may clear the attribute at any moment
        while master is not None and self._master is not None:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # closed under us: the end
                return
            if not chunk:
                return
            with self._lock:
                self._stream.feed(chunk)

    def capture(self) -> str:
        with self._lock:
            lines = [line.rstrip() for line in self._screen.display]
        return "\n".join(line for line in lines if line.strip())

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None:
        if self._master is None:
            raise TerminalError("the terminal is not running")
        for key in keys:
            data = key.encode() if literal else PTY_KEYS.get(key, key.encode())
            os.write(self._master, data)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def process_group(self) -> int | None:
        """The TUI's process group id (a session of its own), once started."""
        return self._proc.pid if self._proc is not None else None

    def attach_hint(self) -> str:
        pid = self._proc.pid if self._proc else "?"
        return f"no tmux: the TUI runs in a pseudo-terminal of this process (pid {pid})"

    def close(self) -> None:
        if self._proc is not None:
            kill_group(self._proc.pid, grace_s=self.stop_grace_s)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        cleanup.forget(self._handle)
        master, self._master = self._master, None
        if master is not None:
            with contextlib.suppress(OSError):
                os.close(master)
        if self._reader is not None:
            self._reader.join(timeout=2)


#: variables of the caller that describe the caller's own terminal, not the new window
NOT_INHERITED = frozenset({"TMUX", "TMUX_PANE", "TERM", "TERM_PROGRAM", "COLUMNS", "LINES"})
TMUX_CLIENT_ENV = frozenset({"PATH", "HOME", "USER", "LANG", "LC_ALL", "TMUX", "TMUX_TMPDIR"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: how long a new window's launcher may take to read (and remove) its file
LAUNCH_READ_S = 3.0
#: how long the pane may take to show the directory the launcher entered
LAUNCH_CWD_S = 2.0
#: a screen capture after the deadline still gets this much time (it explains the timeout)
SCREEN_S = 0.5
#: a tmux call that undoes something (close, a clean-up) gets at least this much time
UNDO_S = 1.0


def tmux_arg(text: str) -> str:
    """``text`` as one argument of a tmux command line that tmux takes verbatim: tmux's parser
    reads an argument ending in ``;`` as a command separator (``\\;`` as a literal ``;``)."""
    return text[:-1] + "\\;" if text.endswith(";") else text


def tmux_format_literal(text: str) -> str:
    """``text`` for an option tmux expands as a format (``new-window -n``): ``#`` doubled,
    then :func:`tmux_arg`."""
    return tmux_arg(text.replace("#", "##"))


def _find_program(name: str) -> str:
    """An absolute path of ``name`` (a window's environment may have no PATH holding it)."""
    found = shutil.which(name)
    if found is None:
        found = next(
            (f"{d}/{name}" for d in ("/usr/bin", "/bin") if os.access(f"{d}/{name}", os.X_OK)),
            None,
        )
    if found is None:
        raise TerminalError(f"no `{name}` program to start a tmux window with")
    return os.path.abspath(found)


class LaunchFile:
    """What a tmux pane runs, in a 0600 file in a 0700 folder: its directory, environment and
    argv as shell words (bytes: an environment that is not UTF-8 passes through unchanged).

    The pane itself runs only :meth:`command`, a fixed launcher: it starts over from an empty
    environment (only the pane's ``TERM``/``TMUX``/``TMUX_PANE`` kept, ``env`` by its absolute
    path) and runs the file with ``/bin/sh``; the file first removes itself and its folder, then
    ``cd``-s, exports and execs. Nothing of argv, the directory or the environment passes tmux's
    command parser, its formats or its command-length limit. The folder is registered for
    clean-up (orch_doctor._util.cleanup) before anything is written into it."""

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str | None,
        env: Mapping[str, str],
        scope: str | None = None,
    ) -> None:
        if not argv:
            raise TerminalError("nothing to run (an empty argv)")
        env_bin, rm_bin, rmdir_bin = (_find_program(p) for p in ("env", "rm", "rmdir"))
        self.folder = Path(tempfile.gettempdir()) / f"orch-doctor-env-{uuid.uuid4().hex}"
        self.path = self.folder / "env"
        self.cwd = os.path.abspath(cwd) if cwd else None
        self._handle: int | None = cleanup.register_dir(
            self.folder, "a tmux window's environment file", scope
        )
        q = shlex.quote
        lines = [
            f'{q(rm_bin)} -f -- "$0" && {q(rmdir_bin)} -- "${{0%/*}}" || exit 126',
        ]
        if self.cwd:
            lines.append(
                f"cd -- {q(self.cwd)} || "
                "{ echo 'orch-doctor: cannot enter the directory' >&2; exit 1; }"
            )
        lines += [
            f"export {name}={q(value)}"
            for name, value in env.items()
            if name not in NOT_INHERITED and _ENV_NAME.fullmatch(name) and "\0" not in value
        ]
        lines.append("set -- " + " ".join(q(str(a)) for a in argv))
        lines.append('exec "$@"')
        data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
        self.launcher = (
            f'exec {q(env_bin)} -i TERM="$TERM" TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" /bin/sh "$1"'
        )
        try:
            os.mkdir(self.folder, 0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            self.remove()
            raise TerminalError(f"cannot write the window's environment file: {exc}") from exc

    def command(self) -> list[str]:
        """The pane's command: fixed words, nothing tmux would read as its own syntax."""
        return ["/bin/sh", "-c", self.launcher, "sh", str(self.path)]

    def consumed(self) -> bool:
        return not self.folder.exists()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.forget()

    def forget(self) -> None:
        cleanup.forget(self._handle)
        self._handle = None

    def wait_read(self, dead: Callable[[], bool], until: float, what: str = "the window") -> None:
        """Wait (until ``until``) for the launcher to remove the file; if the pane ended first or
        the file stays, remove it here and raise :class:`TerminalError`."""
        while not self.consumed():
            gone = dead()
            if gone and self.consumed():
                break  # read, then its program ended at once: that is the program's story
            if gone or time.monotonic() >= until:
                self.remove()
                why = "its pane ended" if gone else f"the file stayed {LAUNCH_READ_S:.0f}s"
                raise TerminalError(
                    f"{what} could not read its environment ({why}; a private /tmp, or no "
                    "/bin/sh?): the file was removed, nothing was started"
                )
            time.sleep(0.05)
        self.forget()


def confirm_cwd(
    read: Callable[[], str], cwd: str, until: float, what: str, alive: Callable[[], bool]
) -> None:
    """Poll ``read()`` (the pane's ``#{pane_current_path}``) until it is ``cwd`` (after
    realpath) or ``until``; a mismatch raises :class:`TerminalError` with what was seen. A
    program that already ended is not judged here (its step reports the exit and screen)."""
    want = os.path.realpath(cwd)
    seen = ""
    while True:
        with contextlib.suppress(TerminalError):
            seen = read()
        if seen and os.path.realpath(seen) == want:
            return
        if not alive():
            return
        if time.monotonic() >= until:
            raise TerminalError(
                f"{what} runs in {seen or 'an unknown directory'!r}, not in {cwd!r}"
            )
        time.sleep(0.05)


def parse_tmux_target(target: str) -> tuple[str, str]:
    session, sep, window = target.partition(":")
    if not sep or not session or not window or ":" in window or "." in window:
        raise TmuxTargetError(f"tmux target must be SESSION:WINDOW, got {target!r}")
    return session, window


class TmuxWindowTerminal(_TmuxPane):
    """A new window ``WINDOW`` in the existing session ``SESSION`` of the user's own tmux server
    (the one plain ``tmux`` addresses: ``$TMUX``, ``TMUX_TMPDIR``, or ``socket_name`` as ``-L``).

    The window's name arrives verbatim (``#`` and a trailing ``;`` escaped for tmux) and must
    not name a window of the session yet. The program, its directory and its environment go
    through a :class:`LaunchFile` the window's launcher reads and removes: no secret in any
    argv, none in the tmux server's environment, no user text parsed by tmux. After the window
    is made its name and directory are confirmed; ``window_id`` is its unique id (``@12``).
    Every tmux call is bounded by ``deadline`` (``time.monotonic()``) when set. ``close``
    kills the window; a spawn leaves it running. Until :meth:`release` (or ``close``), a
    clean-up (a signal) kills the window.
    """

    def __init__(
        self,
        target: str,
        *,
        socket_name: str | None = None,
        deadline: float | None = None,
        scope: str | None = None,
    ) -> None:
        self.session, self.window = parse_tmux_target(target)
        self.target = target
        self.name = target
        tmux = shutil.which("tmux")
        if tmux is None:
            raise TmuxTargetError("tmux is not installed (apt install tmux)")
        self.tmux = tmux
        self.socket_name = socket_name
        self.deadline = deadline
        self.scope = scope
        self.pane_id: str | None = None
        self.pane_pid: int | None = None
        self.window_id: str | None = None
        self._handle: int | None = None
        # the tmux client gets what it needs to find the server, and no secret
        self._client_env = {k: v for k, v in os.environ.items() if k in TMUX_CLIENT_ENV}

    @property
    def _session_target(self) -> str:
        return f"={self.session}:"  # exact; ends in ':', never in tmux's ';'

    def _tmux_words(self) -> str:
        return "tmux" + (f" -L {shlex.quote(self.socket_name)}" if self.socket_name else "")

    def _left(self, floor: float = 0.0) -> float | None:
        if self.deadline is None:
            return None
        return max(self.deadline - time.monotonic(), floor)

    def _run(
        self, *args: str, check: bool = True, floor: float = 0.0, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.tmux, *(["-L", self.socket_name] if self.socket_name else []), *args]
        limit = self._left(floor) if timeout is None else timeout
        return run_tmux(cmd, self._client_env, what=args[0], check=check, timeout=limit)

    def check_session(self) -> None:
        """Raise TmuxTargetError unless the session exists on that tmux server and has no
        window named ``WINDOW`` yet (one tmux call: listing the windows of a session that does
        not exist fails)."""
        try:
            proc = self._run(
                "list-windows", "-t", self._session_target, "-F", "#{window_name}", check=False
            )
        except TerminalError as exc:  # a tmux server that does not answer
            raise TmuxTargetError(f"{exc}: is the tmux server alive?") from None
        if proc.returncode != 0:
            where = self._tmux_words()
            raise TmuxTargetError(
                f"no tmux session {self.session!r} on the server `{where}` addresses "
                f"({proc.stderr.strip() or 'no answer'}): create it first "
                f"({where} new-session -d -s {shlex.quote(self.session)})"
            )
        if self.window in proc.stdout.split("\n"):
            raise TmuxTargetError(
                f"tmux session {self.session!r} already has a window named {self.window!r}: "
                "choose another window name"
            )

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        if self.pane_id is not None:
            raise TerminalError("this terminal already runs a program")
        launch = LaunchFile(argv, cwd, env, self.scope)
        # from here a clean-up (a signal) kills the window, found by name until its id is known
        self._handle = cleanup.register_callback(
            self._remove, f"tmux window {self.target}", self.scope
        )
        args = ["new-window", "-d", "-P", "-F", "#{window_id} #{pane_id} #{pane_pid}"]
        args += ["-t", self._session_target, "-n", tmux_format_literal(self.window)]
        try:
            proc = self._run(*args, "--", *launch.command())
        except BaseException:  # no window read it (an error): the secret goes now
            launch.remove()
            raise
        window_id, pane_id, pid = [*proc.stdout.strip().split(" "), "", "", ""][:3]
        self.window_id, self.pane_id = window_id or None, pane_id or None
        with contextlib.suppress(ValueError):
            self.pane_pid = int(pid)
        self._await_launch(launch, f"tmux window {self.target}")
        name: str | None = None
        with contextlib.suppress(TerminalError):
            name = self._display("#{window_name}")
        if name != self.window:
            if not self.alive():
                return  # the program already ended (the window with it): its step says so
            raise TerminalError(f"the new window is named {name!r}, not {self.window!r}")
        self._confirm_directory(launch, f"tmux window {self.target}")

    def _pane(self) -> str | None:
        return self.pane_id

    def _display(self, fmt: str, floor: float = 0.0) -> str:
        assert self.pane_id is not None
        proc = self._run("display-message", "-p", "-t", self.pane_id, fmt, floor=floor)
        return proc.stdout.rstrip("\n")

    def exists(self) -> bool:
        """Whether the window that was made is still there (False: none was made)."""
        if self.window_id is None:
            return False
        try:
            proc = self._run(
                "display-message", "-p", "-t", self.window_id, "#{window_id}", check=False,
                floor=UNDO_S,
            )  # fmt: skip
        except TerminalError:
            return False
        return proc.returncode == 0 and proc.stdout.strip() == self.window_id

    def kill_command(self) -> str:
        """The shell command that removes the window (by its id once known)."""
        which = self.window_id or f"{self._session_target}{self.window}"
        return f"{self._tmux_words()} kill-window -t {shlex.quote(tmux_arg(which))}"

    def _remove(self, timeout_s: float) -> str | None:
        """The clean-up's callback: kill the window this terminal made (``timeout_s``)."""
        ids = [self.window_id] if self.window_id else []
        if not ids:  # a signal during new-window: the name is unique in the session
            with contextlib.suppress(TerminalError):
                proc = self._run(
                    "list-windows", "-t", self._session_target, "-F",
                    "#{window_id} #{window_name}", check=False, timeout=timeout_s,
                )  # fmt: skip
                for line in proc.stdout.split("\n"):
                    wid, _, name = line.partition(" ")
                    if name == self.window and wid.startswith("@"):
                        ids.append(wid)
        if not ids:
            return None
        try:
            for wid in ids:
                self._run("kill-window", "-t", wid, timeout=timeout_s)
        except TerminalError as exc:
            raise cleanup.NotRemoved(
                f"tmux window {self.target} ({', '.join(ids)}; {exc}): remove it with "
                f"`{self.kill_command()}`"
            ) from None
        return f"tmux window {self.target} ({', '.join(ids)})"

    @property
    def cleanup_handle(self) -> int | None:
        """The registry entry (orch_doctor._util.cleanup) that kills the window, until
        :meth:`release`."""
        return self._handle

    def release(self) -> None:
        """Leave the window running: a later clean-up no longer kills it."""
        cleanup.forget(self._handle)
        self._handle = None

    def attach_hint(self) -> str:
        which = f"{self._session_target}{self.window}" if not self.window_id else self.window_id
        return f"{self._tmux_words()} attach -t {shlex.quote(tmux_arg(which))}"

    def close(self) -> None:
        if self.pane_id is not None:
            with contextlib.suppress(TerminalError):  # a tmux that does not answer
                self._run("kill-pane", "-t", self.pane_id, check=False, floor=UNDO_S)
        if self.pane_pid:
            kill_group(self.pane_pid, grace_s=TUI_STOP_GRACE_S)
        self.pane_id = None
        self.release()
