"""An OpenCode 2.x service stand-in on loopback, and a TUI stand-in for it.

No 2.x release can be installed here, so the service is the typed 2.x SDK's own test double
(``opencode.testing.FakeServer`` from opencode-python-sdk, an httpx transport answering like a
2.x server from the generated models) behind a real HTTP server on 127.0.0.1: what orch-doctor
sends goes over a real socket, through real HTTP, with Basic auth (user ``opencode``) as 2.x
forces it. The TUI stand-in is a small program started the way a plan starts ``opencode``
(``opencode D --server URL --session ID``): it reads the session through the service, shows a
ready line and then every user message the session gets — what the real TUI shows.
"""

from __future__ import annotations

import base64
import contextlib
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

#: the routes FakeServer answers (opencode-python-sdk 0.2.3, testing.py), as route_key() names
V2_ROUTES = frozenset(
    {
        "GET /api/info",
        "GET /api/agent",
        "GET /api/mcp",
        "POST /api/session",
        "GET /api/session",
        "GET /api/session/{id}",
        "DELETE /api/session/{id}",
        "POST /api/session/{id}/agent",
        "POST /api/session/{id}/model",
        "POST /api/session/{id}/prompt",
        "POST /api/session/{id}/interrupt",
        "GET /api/session/{id}/message",
        "GET /api/event",
    }
)
BODY_CAP = 1 << 20


@dataclass
class V2Service:
    url: str
    fake: Any  # opencode.testing.FakeServer
    password: str | None
    #: (method, path, Authorization header present) of every request that reached the service
    seen: list[tuple[str, str, bool]] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def v2_service(
    *, password: str | None = "stand-in-secret", directory: str = "/fake"
) -> Iterator[V2Service]:
    """Serve a FakeServer on 127.0.0.1 (a free port); with ``password``, every route demands
    Basic auth ``opencode:password`` (401 + ``WWW-Authenticate: Basic`` otherwise)."""
    from opencode.testing import FakeServer

    fake = FakeServer(directory=directory)
    lock = threading.Lock()
    client = httpx.Client(transport=fake, base_url="http://opencode.local")
    expected = (
        "Basic " + base64.b64encode(f"opencode:{password}".encode()).decode() if password else None
    )
    service = V2Service(url="", fake=fake, password=password)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            auth = self.headers.get("Authorization")
            service.seen.append((self.command, self.path, auth is not None))
            if expected is not None and auth != expected:
                self._send(401, b'{"_tag":"UnauthorizedError"}', {"WWW-Authenticate": "Basic"})
                return
            length = min(int(self.headers.get("Content-Length") or 0), BODY_CAP)
            body = self.rfile.read(length) if length else b""
            headers = {"Content-Type": self.headers.get("Content-Type") or "application/json"}
            with lock:  # FakeServer keeps plain dicts
                answer = client.request(self.command, self.path, content=body, headers=headers)
                content = answer.content
            extra = {"Content-Type": answer.headers.get("content-type", "application/json")}
            self._send(answer.status_code, content, extra)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        client.close()


#: the TUI stand-in: `opencode2 D --server URL --session ID`; password from the environment
TUI_SOURCE = r"""
import base64, json, os, sys, time, urllib.parse, urllib.request

args = sys.argv[1:]
server = args[args.index("--server") + 1].rstrip("/")
session = args[args.index("--session") + 1]
directory = next((a for a in args if not a.startswith("-") and a not in (server, session)), ".")
password = os.environ.get("OPENCODE_SERVER_PASSWORD") or os.environ.get("OPENCODE_PASSWORD")
headers = {}
if password:
    token = base64.b64encode(("opencode:" + password).encode()).decode()
    headers["Authorization"] = "Basic " + token


def get(path):
    request = urllib.request.Request(server + path, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read(1 << 20))


quoted = urllib.parse.quote(session, safe="")
try:
    info = get("/api/session/" + quoted)["data"]
except Exception as exc:
    print("Session not found: " + session + " (" + type(exc).__name__ + ")", flush=True)
    time.sleep(60)
    sys.exit(1)
print("opencode2 stand-in  " + directory, flush=True)
print("session " + info["id"] + "  " + str(info.get("title")), flush=True)
print("ctrl+p commands", flush=True)
shown = set()
deadline = time.time() + 60
while time.time() < deadline:
    page = get("/api/session/" + quoted + "/message?type=user&order=asc")
    for message in page.get("data", []):
        if message.get("id") not in shown:
            shown.add(message.get("id"))
            print("> " + str(message.get("text")), flush=True)
    time.sleep(0.2)
"""


def write_tui(path: Path) -> Path:
    """An executable ``opencode2`` stand-in at ``path`` (run by this interpreter)."""
    path.write_text(f"#!{sys.executable}\n{TUI_SOURCE}", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


__all__ = ["V2_ROUTES", "V2Service", "v2_service", "write_tui"]
