"""A throwaway ``opencode serve`` on a free loopback port with its own HOME/XDG data dir.

Nothing a verify run does reaches the user's real sessions: the server, the TUI and any
confirming server all get the same isolated HOME inside the run's temp dir.

OpenCode 2.x's ``serve`` forces auth: the run gives it a password of its own through
``OPENCODE_PASSWORD`` (a manually run 2.x server adopts a non-empty one: anomalyco/opencode
packages/cli/src/env.ts), never through argv, and is answered on ``GET /api/info``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from orch_doctor._util import cleanup
from orch_doctor._util.proc import THROWAWAY_GRACE_S, kill_group
from orch_doctor._util.text import REDACTED
from orch_doctor.server.credentials import PASSWORD_ENV_2X

TMPDIR_ENV = "ORCH_DOCTOR_TMPDIR"
TEMP_PREFIX = "orch-doctor-verify-"
SERVER_READY_TIMEOUT_S = 60.0
READY_POLL_S = 0.05  # a refused connection costs nothing: the user waits on this poll


class ServerStartError(RuntimeError):
    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


def temp_root(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Where run dirs are made: ``explicit``, else $ORCH_DOCTOR_TMPDIR, else the system default."""
    value = explicit or os.environ.get(TMPDIR_ENV)
    return Path(value) if value else None


def make_run_dir(root: Path | None) -> Path:
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=root))


def isolated_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every OpenCode process of a run: own HOME and XDG dirs, no
    OPENCODE_* / XDG_* / TMUX settings inherited from the caller (a password inherited through
    the environment would switch auth on, #8173)."""
    base = os.environ if base is None else base
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(("OPENCODE_", "XDG_")) and k not in ("TMUX", "TMUX_PANE")
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
    )
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerKind:
    """How a release line's ``serve`` is asked whether it is up, and where its password goes."""

    ready_path: str
    password_env: str | None = None  # the run's own password reaches the server here


#: OpenCode 1.x: ``GET /path`` answers without auth (no password is set)
SERVE_1X = ServerKind("/path")
#: OpenCode 2.x: ``GET /api/info`` (401 until authorised: an answer all the same)
SERVE_2X = ServerKind("/api/info", PASSWORD_ENV_2X)


@dataclass
class ThrowawayServer:
    url: str
    port: int
    pid: int
    log: Path
    process: subprocess.Popen[bytes]
    handle: int | None = None  # its entry in orch_doctor._util.cleanup's registry
    #: the password it was started with (2.x), sent by the run's calls and TUI; never shown
    password: str | None = field(default=None, repr=False)

    def stop(self, grace_s: float = THROWAWAY_GRACE_S) -> None:
        """Stop the server's process group: its HOME is the run's and goes next, so it gets no
        grace period by default (a busy 1.18.33 takes 3 s to honour SIGTERM)."""
        if self.process.poll() is None:
            kill_group(self.process.pid, grace_s=grace_s)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        cleanup.forget(self.handle)

    def log_tail(self, limit: int = 1500) -> str:
        """The end of its output, with the run's password (should it print it) redacted."""
        try:
            tail = self.log.read_text("utf-8", "replace")[-limit:]
        except OSError:
            return ""
        return tail.replace(self.password, REDACTED) if self.password else tail


def start_server(
    opencode: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout_s: float = SERVER_READY_TIMEOUT_S,
    scope: str | None = None,
    kind: ServerKind = SERVE_1X,
) -> ThrowawayServer:
    """Start ``opencode serve`` on 127.0.0.1 and wait until it answers; stop it on failure.

    The server runs in ``cwd`` (the agent's directory): OpenCode 1.0.x attach TUIs work in the
    server's directory whatever ``--dir`` says (measured on 1.0.152).

    Its process group is registered (under ``scope``) until :meth:`ThrowawayServer.stop`, and
    its environment carries the scope token: a signal at any moment stops it.
    """
    port = free_port()
    argv = [opencode, "serve", "--port", str(port), "--hostname", "127.0.0.1"]
    server_env = cleanup.with_token(dict(env), scope)
    password = None
    if kind.password_env is not None:
        import secrets

        password = secrets.token_urlsafe(24)
        server_env[kind.password_env] = password
    with open(log, "wb") as out:
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=server_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServerStartError(f"cannot start {opencode} serve: {exc}") from exc
    handle = cleanup.register_group(process.pid, f"opencode serve :{port}", scope)
    server = ThrowawayServer(
        f"http://127.0.0.1:{port}", port, process.pid, log, process, handle, password
    )
    try:
        wait_ready(server, timeout_s, kind.ready_path)
    except BaseException:
        server.stop()
        raise
    return server


def wait_ready(server: ThrowawayServer, timeout_s: float, path: str = "/path") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartError(
                f"opencode serve exited with code {server.process.returncode} before answering",
                server.log_tail(),
            )
        try:
            httpx.get(server.url + path, timeout=1.0)  # any answer: it is up
            return
        except httpx.HTTPError:
            time.sleep(READY_POLL_S)
    raise ServerStartError(
        f"opencode serve did not answer on {server.url} within {timeout_s:.0f}s", server.log_tail()
    )
