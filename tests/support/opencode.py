"""Real OpenCode releases and real ``opencode serve`` processes for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tools.releases import ensure_release

SERVER_START_TIMEOUT_S = 30.0


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a real OpenCode with its own HOME and XDG dirs (it writes state there)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENCODE_", "XDG_")) and k not in ("TMUX", "TMUX_PANE")
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealServer:
    version: str
    url: str
    port: int
    home: Path
    directory: Path
    process: subprocess.Popen[bytes]
    password: str | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        return ("opencode", self.password) if self.password else None


def release_binary(version: str) -> Path:
    return ensure_release(version)


@contextlib.contextmanager
def real_server(
    version: str,
    home: Path,
    directory: Path,
    *,
    password: str | None = None,
    log: Path | None = None,
) -> Iterator[RealServer]:
    """Start ``opencode serve`` of a real release on a free loopback port; stop it afterwards."""
    binary = release_binary(version)
    directory.mkdir(parents=True, exist_ok=True)
    extra = {"OPENCODE_SERVER_PASSWORD": password} if password else {}
    env = isolated_env(home, **extra)
    port = free_port()
    out = open(log or (home / f"serve-{port}.log"), "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(binary), "serve", "--port", str(port), "--hostname", "127.0.0.1"],
        cwd=directory,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    server = RealServer(version, url, port, home, directory, proc, password)
    try:
        _wait_listening(server)
        yield server
    finally:
        stop_process_group(proc)
        out.close()


def _wait_listening(server: RealServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"opencode {server.version} serve exited {code}")
        try:
            httpx.get(server.url + "/path", timeout=1.0, auth=server.auth)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(
        f"opencode {server.version} serve not listening after {SERVER_START_TIMEOUT_S}s"
    )


def stop_process_group(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace_s)
