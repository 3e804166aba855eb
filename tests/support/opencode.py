"""Real OpenCode releases and real ``opencode serve`` processes for tests."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orch_doctor.verify.throwaway import isolated_env as product_isolated_env
from orch_doctor.verify.throwaway import start_server
from tools.releases import ensure_release

SERVER_START_TIMEOUT_S = 30.0


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a real OpenCode with its own HOME and XDG dirs (it writes state there):
    the product's own isolation (the one verify uses), without colour, plus ``extra``."""
    env = product_isolated_env(home)
    env.update(NO_COLOR="1", **extra)
    return env


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
    """Start ``opencode serve`` of a real release on a free loopback port (the product's own
    throwaway-server code, which verify uses); stop its process group afterwards."""
    binary = release_binary(version)
    directory.mkdir(parents=True, exist_ok=True)
    extra = {"OPENCODE_SERVER_PASSWORD": password} if password else {}
    server = start_server(
        str(binary),
        cwd=directory,
        env=isolated_env(home, **extra),
        log=log or (home / f"serve-{version}.log"),
        timeout_s=SERVER_START_TIMEOUT_S,
    )
    try:
        yield RealServer(
            version, server.url, server.port, home, directory, server.process, password
        )
    finally:
        server.stop()
