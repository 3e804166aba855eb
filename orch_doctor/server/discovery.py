"""Find OpenCode servers running on this machine: from processes and their listening sockets.

On Linux from /proc (no import, fast); elsewhere (macOS) through psutil. A process counts when its
command line is an ``opencode`` binary running ``serve``/``web`` or a TUI started with ``--port``;
its listening TCP sockets come from /proc/net/tcp{,6} matched through the socket inodes in
/proc/<pid>/fd (psutil: the process's connections in state LISTEN).
The default port 4096 on 127.0.0.1 is always a candidate.

Which one to use (:func:`choose`): a usable server serving the agent's directory, then a usable
one, and the reason is said. A plain TCP connect (:func:`answering`) sorts out the candidates
first, so that nothing heavy is loaded when no server runs.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orch_doctor.server.types import ServerStatus

DEFAULT_URL = "http://127.0.0.1:4096"
_LISTEN = "0A"
#: at most this many discovered servers are probed (concurrently)
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class ServerProcess:
    pid: int
    argv: tuple[str, ...]
    ports: tuple[int, ...]  # listening ports found for it (or --port from argv)
    host: str = "127.0.0.1"
    cwd: str | None = None  # where it was started (what a server serves), when readable

    def urls(self) -> list[str]:
        host = _url_host(self.host)
        return [f"http://{host}:{port}" for port in self.ports]


def _url_host(host: str) -> str:
    """The host to connect to for a server started with ``--hostname host``: an IP literal as
    given (any-address -> loopback), anything else (a name, garbage) -> 127.0.0.1."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "127.0.0.1"
    if address.is_unspecified:
        return "127.0.0.1"
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def _port(text: str | None) -> int | None:
    """A TCP port from an argument: ASCII digits only (int() would take '٤٠٩٦'), 1-65535."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def find_server_processes(proc: Path | None = None) -> list[ServerProcess]:
    """OpenCode servers running here, by PID. ``proc``: a /proc tree to read (default: /proc
    where it exists, else psutil)."""
    if proc is None:
        proc = Path("/proc")
        if not (proc / "self").is_dir():
            return _psutil_server_processes()
    if not proc.is_dir():
        return []
    listening = _listening_inodes(proc)
    found = []
    for entry in proc.iterdir():
        if not (entry.name.isascii() and entry.name.isdigit()):
            continue
        argv = _cmdline(entry)
        if not _is_opencode_server(argv):
            continue
        ports = sorted({listening[i] for i in _socket_inodes(entry) if i in listening})
        port_arg = _port(_arg(argv, "--port"))
        if not ports and port_arg is not None:
            ports = [port_arg]
        if ports:
            found.append(
                ServerProcess(
                    int(entry.name),
                    argv,
                    tuple(ports),
                    _arg(argv, "--hostname") or "127.0.0.1",
                    _readlink(entry / "cwd"),
                )
            )
    return sorted(found, key=lambda p: p.pid)


def _psutil_server_processes() -> list[ServerProcess]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency; without it: the default port only
        return []
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            argv = tuple(str(a) for a in (process.info.get("cmdline") or ()))
            if not _is_opencode_server(argv):
                continue
            connections = process.net_connections(kind="tcp")
        except (psutil.Error, OSError):  # gone, or another user's (macOS: AccessDenied)
            continue
        listening = [c.laddr for c in connections if c.status == psutil.CONN_LISTEN and c.laddr]
        ports = sorted({address.port for address in listening})
        port_arg = _port(_arg(argv, "--port"))
        if not ports and port_arg is not None:
            ports = [port_arg]
        if ports:
            host = _arg(argv, "--hostname") or "127.0.0.1"
            try:
                cwd: str | None = process.cwd()
            except (psutil.Error, OSError):
                cwd = None
            found.append(ServerProcess(int(process.info["pid"]), argv, tuple(ports), host, cwd))
    return sorted(found, key=lambda p: p.pid)


def candidate_urls(proc: Path | None = None, directory: str | None = None) -> list[str]:
    """The URLs of the servers running here, those started in ``directory`` first (only the
    first :data:`MAX_CANDIDATES` are probed: one serving the agent's directory must be among
    them however many run), then the default URL."""
    processes = find_server_processes(proc)
    if directory is not None:
        want = _same_dir(directory)
        processes.sort(key=lambda p: p.cwd is None or _same_dir(p.cwd) != want)
    urls = [url for p in processes for url in p.urls()]
    if DEFAULT_URL not in urls:
        urls.append(DEFAULT_URL)
    return list(dict.fromkeys(urls))


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:  # gone, or another user's
        return None


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
        if target.startswith("socket:[") and target[8:-1].isascii() and target[8:-1].isdigit():
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


def answering(urls: Sequence[str], timeout_s: float = 0.3) -> list[str]:
    """The URLs whose host:port accepts a TCP connection within ``timeout_s`` (all at once)."""
    import selectors
    import socket
    from urllib.parse import urlsplit

    selector = selectors.DefaultSelector()
    ok: set[str] = set()
    try:
        for url in urls:
            try:
                parts = urlsplit(url)
                host, port = parts.hostname or "127.0.0.1", parts.port or 80
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
            except (ValueError, OSError):
                continue
            sock.setblocking(False)
            try:
                sock.connect((host, port))
            except BlockingIOError:
                pass
            except OSError:
                sock.close()
                continue
            selector.register(sock, selectors.EVENT_WRITE, url)
        deadline = time.monotonic() + timeout_s
        while selector.get_map() and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                done = key.fileobj
                assert isinstance(done, socket.socket)
                if done.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    ok.add(str(key.data))
                selector.unregister(done)
                done.close()
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()
    return [url for url in urls if url in ok]


@dataclass(frozen=True)
class Choice:
    """Which discovered server was chosen, why, and the others with their verdicts."""

    chosen: ServerStatus
    reason: str
    others: tuple[ServerStatus, ...] = ()
    #: registration files of an OpenCode 2.x service that were not used, and why
    notes: tuple[str, ...] = ()

    def details(self) -> list[str]:
        from orch_doctor._util.text import one_line

        lines = [f"chosen: {self.reason}"]
        lines.extend(one_line(f"not used: {note}") for note in self.notes)
        for other in self.others:
            lines.append(
                one_line(f"other candidate: {other.url}: {other.verdict} — {other.summary}")
            )
        return lines


def choose(statuses: Sequence[ServerStatus], directory: str) -> Choice | None:
    """A usable server serving ``directory``, else a usable one, else the first that answered;
    ``None`` for no candidates."""
    if not statuses:
        return None
    want = _same_dir(directory)
    serving = [s for s in statuses if s.ok and s.directory and _same_dir(s.directory) == want]
    usable = [s for s in statuses if s.ok]
    if serving:
        chosen, reason = serving[0], "usable and serves --dir"
    elif usable:
        chosen = usable[0]
        where = f"serves {chosen.directory}" if chosen.directory else "its directory is unknown"
        reason = f"usable, but {where}, not --dir; no usable server serves --dir"
    else:
        chosen = statuses[0]
        reason = f"no candidate is usable; the first one that answered ({chosen.verdict})"
    if len(statuses) > 1:
        reason += f" (of {len(statuses)} servers found)"
    return Choice(chosen, reason, tuple(s for s in statuses if s is not chosen))


def _same_dir(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.normpath(path)
