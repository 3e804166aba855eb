"""A local HTTP server for what a real OpenCode server cannot be made to do (hang, garbage, …).

Every answer imitates one recorded from a real release (tests/fixtures/server/<version>/) unless
the fault itself is the point. Binds 127.0.0.1 on a free port; threads; stops by itself.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "server"


def recorded(version: str, name: str) -> bytes:
    return (RECORDED / version / name).read_bytes()


Behaviour = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":  # a HEAD answer has headers only
        handler.wfile.write(body)


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server whose threads end with the test process."""

    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def fake_server(routes: dict[str, Behaviour], default: Behaviour | None = None) -> Iterator[str]:
    """Serve ``routes`` (path -> behaviour) on 127.0.0.1; yields the base URL."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            behaviour = routes.get(path, default)
            if behaviour is None:
                send(self, 404, b"not found", "text/plain")
                return
            self.server.stop_event = stop  # type: ignore[attr-defined]
            behaviour(self)

        def log_message(self, *args: object) -> None:
            return

    server = LoopbackServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


# --- behaviours ----------------------------------------------------------------------------------


def hang(handler: BaseHTTPRequestHandler) -> None:
    """Accept and never answer (until the test ends)."""
    handler.server.stop_event.wait(60)  # type: ignore[attr-defined]


def slow_body(handler: BaseHTTPRequestHandler) -> None:
    body = recorded("1.18.33", "health.body")
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body) + 1000))
    handler.end_headers()
    for _ in range(600):  # a byte every 100 ms: never finishes within a test's timeout
        if handler.server.stop_event.is_set():  # type: ignore[attr-defined]
            return
        try:
            handler.wfile.write(b" ")
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(0.1)


def html(handler: BaseHTTPRequestHandler) -> None:
    # recent releases answer unknown paths with 200 and their web app's HTML
    send(handler, 200, recorded("1.18.33", "unknown.body"), "text/html")


def invalid_json(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, b'{"healthy": true, "version": ')


def error_500(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 500, b"Internal Server Error", "text/plain")


def needs_auth(password: str, then: Behaviour) -> Behaviour:
    """401 + WWW-Authenticate as 1.18.33 answers (recorded), unless the password matches."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        given = handler.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"opencode:{password}".encode()).decode()
        if given != expected:
            send(handler, 401, b"", "text/plain", {"www-authenticate": 'Basic realm="Secure Area"'})
            return
        then(handler)

    return behaviour


def json_body(data: object) -> Behaviour:
    return lambda handler: send(handler, 200, json.dumps(data).encode())


def recorded_body(version: str, name: str, status: int = 200) -> Behaviour:
    return lambda handler: send(handler, status, recorded(version, name))


def redirect(location: str) -> Behaviour:
    return lambda handler: send(handler, 302, b"", "text/plain", {"Location": location})


def huge(handler: BaseHTTPRequestHandler) -> None:
    chunk = b'{"pad": "' + b"x" * (1 << 16)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(10 * (1 << 20)))
    handler.end_headers()
    sent = 0
    try:
        while sent < 10 * (1 << 20):
            handler.wfile.write(chunk)
            sent += len(chunk)
    except OSError:
        return


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with RST before answering."""
    sock: socket.socket = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A socket that accepts connections (backlog) and never reads or answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


# --- hostile answers (what no real release sends) ------------------------------------------------


def raw(
    body: bytes,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> Behaviour:
    """Exactly these bytes and headers (e.g. a Content-Encoding the client did not ask for)."""
    return lambda handler: send(handler, status, body, content_type, headers)


def health_with(version: object) -> Behaviour:
    """/global/health as 1.18.33 answers it, with ``version`` replaced (any JSON value)."""
    data = json.loads(recorded("1.18.33", "health.body"))
    data["version"] = version
    return json_body(data)


#: :func:`build_gzip_bomb` of 1 GiB, stored (1.8 KB; building it takes seconds of CPU)
GZIP_BOMB_FILE = (
    Path(__file__).resolve().parent.parent / "fixtures" / "server" / "gzip-gzip-1gib.bin"
)


@functools.cache
def gzip_bomb(inflated: int = 1 << 30) -> bytes:
    """``inflated`` zero bytes, gzipped twice: ~2 KB on the wire (``Content-Encoding: gzip,
    gzip``), ``inflated`` bytes when both layers are undone. 1 GiB is stored (a slow test holds
    it to :func:`build_gzip_bomb`); another size is built once per test session."""
    if inflated == 1 << 30 and GZIP_BOMB_FILE.is_file():
        return GZIP_BOMB_FILE.read_bytes()
    return build_gzip_bomb(inflated)


def build_gzip_bomb(inflated: int = 1 << 30) -> bytes:
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    once = b"".join(inner.compress(chunk) for _ in range(inflated >> 20)) + inner.flush()
    return gzip.compress(once, 9, mtime=0)


@functools.cache
def deflate_bomb(inflated: int = 256 << 20) -> bytes:
    """Raw deflate (no zlib header) of ``inflated`` zero bytes (``Content-Encoding: deflate``):
    one MiB compressed and fully flushed (nothing refers back past a full flush), so the same
    bytes repeated are the whole stream, closed by an empty final block."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(bytes(1 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block * (inflated >> 20) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def echo_auth(status: int = 500) -> Behaviour:
    """An error body that echoes the Authorization header and its decoded password."""

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        given = handler.headers.get("Authorization", "")
        decoded = ""
        if given.startswith("Basic "):
            decoded = base64.b64decode(given[6:]).decode("utf-8", "replace")
        body = json.dumps({"error": f"bad request from {given} ({decoded})"}).encode()
        send(handler, status, body)

    return behaviour
