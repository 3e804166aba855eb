"""Find OpenCode servers running on this machine: from processes and their listening sockets.

Linux /proc only (elsewhere: just the default port). A process counts when its command line is an
``opencode`` binary running ``serve``/``web`` or a TUI started with ``--port``; its listening TCP
sockets come from /proc/net/tcp{,6} matched through the socket inodes in /proc/<pid>/fd.
The default port 4096 on 127.0.0.1 is always a candidate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:4096"
_LISTEN = "0A"


@dataclass(frozen=True)
class ServerProcess:
    pid: int
    argv: tuple[str, ...]
    ports: tuple[int, ...]  # listening ports found for it (or --port from argv)
    host: str = "127.0.0.1"

    def urls(self) -> list[str]:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return [f"http://{host}:{port}" for port in self.ports]


def find_server_processes(proc: Path = Path("/proc")) -> list[ServerProcess]:
    if not proc.is_dir():
        return []
    listening = _listening_inodes(proc)
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        argv = _cmdline(entry)
        if not _is_opencode_server(argv):
            continue
        ports = sorted({listening[i] for i in _socket_inodes(entry) if i in listening})
        port_arg = _arg(argv, "--port")
        if not ports and port_arg and port_arg.isdigit() and port_arg != "0":
            ports = [int(port_arg)]
        if ports:
            found.append(
                ServerProcess(
                    int(entry.name), argv, tuple(ports), _arg(argv, "--hostname") or "127.0.0.1"
                )
            )
    return sorted(found, key=lambda p: p.pid)


def candidate_urls(proc: Path = Path("/proc")) -> list[str]:
    urls = [url for p in find_server_processes(proc) for url in p.urls()]
    if DEFAULT_URL not in urls:
        urls.append(DEFAULT_URL)
    return list(dict.fromkeys(urls))


def _cmdline(entry: Path) -> tuple[str, ...]:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def _is_opencode_server(argv: tuple[str, ...]) -> bool:
    if not argv:
        return False
    names = [os.path.basename(a) for a in argv[:2]]
    if "opencode" not in names:
        return False
    rest = argv[1:]
    return any(a in ("serve", "web") for a in rest[:3]) or "--port" in rest


def _arg(argv: tuple[str, ...], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _socket_inodes(entry: Path) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list((entry / "fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _listening_inodes(proc: Path) -> dict[int, int]:
    """inode -> port of every listening TCP socket."""
    found: dict[int, int] = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            try:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                found[int(fields[9])] = port
            except (ValueError, IndexError):
                continue
    return found
