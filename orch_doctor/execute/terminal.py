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
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from orch_doctor._util import cleanup
from orch_doctor._util.proc import kill_group
from orch_doctor.errors import TmuxTargetError

TMUX_TIMEOUT_S = 10.0
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


def make_terminal(work_dir: Path, prefer: str | None = None, scope: str | None = None) -> Terminal:
    """tmux when installed (or ``prefer == "tmux"``), else a pseudo-terminal.

    ``prefer`` may also come from ORCH_DOCTOR_TERMINAL ("tmux" or "pty"). What the terminal
    starts is registered under ``scope`` (orch_doctor._util.cleanup) until it is closed.
    """
    prefer = prefer or os.environ.get("ORCH_DOCTOR_TERMINAL") or None
    tmux = shutil.which("tmux")
    if prefer == "pty" or (prefer is None and tmux is None):
        return PtyTerminal(scope)
    if tmux is None:
        raise TerminalError("tmux was asked for but is not installed (apt install tmux)")
    return TmuxTerminal(tmux, work_dir, scope)


def tmux_socket_path(socket_name: str) -> Path:
    """Where tmux puts the socket of ``-L socket_name`` (TMUX_TMPDIR or /tmp, per uid)."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return Path(base) / f"tmux-{os.getuid()}" / socket_name


def run_tmux(
    cmd: Sequence[str], env: Mapping[str, str] | None, *, what: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """One tmux client call, bounded by :data:`TMUX_TIMEOUT_S`; a timeout, or a failure when
    ``check``, is a :class:`TerminalError` naming the tmux command ``what``."""
    try:
        proc = subprocess.run(
            list(cmd),
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise TerminalError(f"tmux {what} did not answer in {TMUX_TIMEOUT_S:.0f}s") from exc
    if check and proc.returncode != 0:
        raise TerminalError(f"tmux {what} failed: {proc.stderr.strip()}")
    return proc


class TmuxTerminal:
    """One tmux session on a private socket; the pane survives its program (remain-on-exit)."""

    def __init__(self, tmux: str, work_dir: Path, scope: str | None = None) -> None:
        self.tmux = tmux
        self.scope = scope
        self._handles: list[int] = []
        self.socket = f"orch-doctor-{uuid.uuid4().hex[:12]}"
        self.name = "verify"
        self.config = work_dir / "tmux.conf"
        self.config.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self._started = False
        self._pane_pid: int | None = None

    def _run(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.tmux, "-L", self.socket, "-f", str(self.config), *args]
        return run_tmux(cmd, env, what=args[0], check=check)

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        if self._started:
            raise TerminalError("this terminal already runs a program")
        server_env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        server_env.setdefault("TERM", "xterm-256color")
        # the tmux server (forked by this client, then detached) and the pane inherit the token;
        # the socket is registered before it exists, so a signal during the start removes it
        server_env = cleanup.with_token(server_env, self.scope)
        label = f"tmux socket {self.socket}"
        self._handles.append(
            cleanup.register_socket(tmux_socket_path(self.socket), label, self.scope)
        )
        args = ["new-session", "-d", "-s", self.name, "-x", str(COLUMNS), "-y", str(ROWS)]
        if cwd:
            args += ["-c", cwd]
        # the program as separate words: tmux execs it directly, no shell parses it
        self._run(*args, "--", *argv, env=server_env)
        self._started = True
        with contextlib.suppress(TerminalError, ValueError):
            server_pid = int(self._display("#{pid}"))
            self._handles.append(cleanup.register_group(server_pid, label, self.scope))
        with contextlib.suppress(TerminalError, ValueError):
            self._pane_pid = int(self._display("#{pane_pid}"))
            self._handles.append(cleanup.register_group(self._pane_pid, "tmux pane", self.scope))

    def _display(self, fmt: str) -> str:
        return self._run("display-message", "-p", "-t", self.name, fmt).stdout.strip()

    def capture(self) -> str:
        if not self._started:
            return ""
        proc = self._run("capture-pane", "-p", "-t", self.name, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None:
        self._run("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def alive(self) -> bool:
        if not self._started:
            return False
        try:
            return self._display("#{pane_dead}") == "0"
        except TerminalError:
            return False

    @property
    def pane_pid(self) -> int | None:
        return self._pane_pid

    def attach_hint(self) -> str:
        return f"tmux -L {self.socket} attach -t {self.name}"

    def close(self) -> None:
        if self._started:
            with contextlib.suppress(TerminalError):
                self._run("kill-server", check=False)
        if self._pane_pid:
            kill_group(self._pane_pid, grace_s=3.0)
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

    def __init__(self, scope: str | None = None) -> None:
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
            kill_group(self._proc.pid, grace_s=3.0)
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
#: run in the new window: start over from an empty environment (nothing of the tmux server's
#: global one, only the pane's terminal), read the environment file, remove it and its folder,
#: exec argv. "$1" is the file: a positional parameter no line of the file can overwrite.
_LAUNCHER = (
    'exec env -i TERM="$TERM" TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" /bin/sh -c '
    '\'. "$1"; rm -f -- "$1"; rmdir -- "${1%/*}" 2>/dev/null; shift; exec "$@"\' sh "$@"'
)


def parse_tmux_target(target: str) -> tuple[str, str]:
    session, sep, window = target.partition(":")
    if not sep or not session or not window or ":" in window or "." in window:
        raise TmuxTargetError(f"tmux target must be SESSION:WINDOW, got {target!r}")
    return session, window


class TmuxWindowTerminal:
    """A new window ``WINDOW`` in the existing session ``SESSION`` of the user's own tmux server
    (the one plain ``tmux`` addresses: ``$TMUX``, ``TMUX_TMPDIR``, or ``socket_name`` as ``-L``).

    The program's environment goes through a 0600 file in a 0700 folder that the window's
    ``sh`` reads and removes before it execs the program: no secret in any argv, none in the
    tmux server's environment. ``close`` kills the window; a spawn leaves it running.
    """

    def __init__(self, target: str, *, socket_name: str | None = None) -> None:
        self.session, self.window = parse_tmux_target(target)
        self.target = target
        self.name = target
        tmux = shutil.which("tmux")
        if tmux is None:
            raise TmuxTargetError("tmux is not installed (apt install tmux)")
        self.tmux = tmux
        self.socket_name = socket_name
        self.pane_id: str | None = None
        self.pane_pid: int | None = None
        # the tmux client gets what it needs to find the server, and no secret
        self._client_env = {k: v for k, v in os.environ.items() if k in TMUX_CLIENT_ENV}

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.tmux, *(["-L", self.socket_name] if self.socket_name else []), *args]
        return run_tmux(cmd, self._client_env, what=args[0], check=check)

    def check_session(self) -> None:
        """Raise TmuxTargetError unless the session exists on that tmux server."""
        try:
            proc = self._run("has-session", "-t", f"={self.session}", check=False)
        except TerminalError as exc:  # a tmux server that does not answer
            raise TmuxTargetError(f"{exc}: is the tmux server alive?") from None
        if proc.returncode != 0:
            where = f"tmux -L {self.socket_name}" if self.socket_name else "tmux"
            raise TmuxTargetError(
                f"no tmux session {self.session!r} on the server `{where}` addresses "
                f"({proc.stderr.strip() or 'no answer'}): create it first "
                f"(tmux new-session -d -s {shlex.quote(self.session)})"
            )

    def start(self, argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
        if self.pane_id is not None:
            raise TerminalError("this terminal already runs a program")
        folder = Path(tempfile.mkdtemp(prefix="orch-doctor-env-"))  # 0700
        env_file = folder / "env"
        lines = [
            f"export {name}={shlex.quote(value)}"
            for name, value in env.items()
            if name not in NOT_INHERITED and _ENV_NAME.fullmatch(name) and "\0" not in value
        ]
        args = ["new-window", "-d", "-P", "-F", "#{pane_id} #{pane_pid}"]
        args += ["-t", f"={self.session}:", "-n", self.window]
        if cwd:
            args += ["-c", cwd]
        try:
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            proc = self._run(*args, "--", "/bin/sh", "-c", _LAUNCHER, "sh", str(env_file), *argv)
        except BaseException:  # no window read it (an error, a signal): the secret goes now
            shutil.rmtree(folder, ignore_errors=True)
            raise
        pane_id, _, pid = proc.stdout.strip().partition(" ")
        self.pane_id = pane_id
        with contextlib.suppress(ValueError):
            self.pane_pid = int(pid)

    def _display(self, fmt: str) -> str:
        assert self.pane_id is not None
        return self._run("display-message", "-p", "-t", self.pane_id, fmt).stdout.strip()

    def capture(self) -> str:
        if self.pane_id is None:
            return ""
        proc = self._run("capture-pane", "-p", "-t", self.pane_id, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def send_keys(self, keys: Sequence[str], *, literal: bool = False) -> None:
        if self.pane_id is None:
            raise TerminalError("the terminal is not running")
        self._run("send-keys", "-t", self.pane_id, *(["-l"] if literal else []), *keys)

    def alive(self) -> bool:
        if self.pane_id is None:
            return False
        try:
            return self._display("#{pane_dead}") == "0"
        except TerminalError:
            return False  # the pane is gone with its program

    def attach_hint(self) -> str:
        sock = f" -L {self.socket_name}" if self.socket_name else ""
        return f"tmux{sock} attach -t {shlex.quote(self.session)} (window {self.window})"

    def close(self) -> None:
        if self.pane_id is not None:
            with contextlib.suppress(TerminalError):  # a tmux that does not answer
                self._run("kill-pane", "-t", self.pane_id, check=False)
        if self.pane_pid:
            kill_group(self.pane_pid, grace_s=3.0)
        self.pane_id = None
