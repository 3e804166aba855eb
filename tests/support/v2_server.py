"""An OpenCode 2.x service stand-in: a real HTTP server on a loopback port.

Nothing here can run a real 2.x (``@opencode/cli`` answers 404 on the registries these machines
reach), so each request is forwarded to ``opencode.testing.FakeServer`` from opencode-python-sdk
0.2.3 (MIT; "typed Python client for the OpenCode 2.x server API", generated from the same
contract as ``@opencode/client``): its ``/api/*`` routes answer with payloads built from the
generated models (``GET /api/info`` -> ``ServerInfo {version, pid, urls, paths {tmp},
capabilities}``; sessions, prompts, messages, agents, events). FakeServer reports version
"fake" and the test process's pid; this stand-in rewrites ``/api/info`` to the version and pid
it is told (the real service reports its own).

Added here, the documented behaviours FakeServer lacks:

- the web UI: HTML 200 at ``/global/health`` and every other non-``/api`` path
  (opencode-mobile#39: 2.0.12 answers ``/global/health`` with the web app's HTML);
- forced HTTP Basic auth, user ``opencode``, a generated password, on ``/api/*``
  (anomalyco/opencode#49452, #45856); a 401 carries ``WWW-Authenticate: Basic``;
- ``/api/status`` answers 404 (anomalyco/opencode#49210);
- the registration file: ``$XDG_STATE_HOME/opencode/service.json`` with ``id, version, url,
  pid, password`` (the SDK's ``opencode/_service.py``: ``default_file``, ``_parse_info``; the
  file "is the whole discovery contract") and the local channel's ``service-local.json``
  (anomalyco/opencode's service registration: ``filename("local") == "service-local.json"``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from opencode.testing import FakeServer  # type: ignore[import-not-found]

WEB_UI = (
    b"<!doctype html><html><head><title>OpenCode</title></head>"
    b"<body><div id=root></div></body></html>"
)
USERNAME = "opencode"


@dataclass
class V2Service:
    url: str
    version: str
    pid: int
    password: str | None
    fake: Any
    id: str = field(default_factory=lambda: "svc_" + secrets.token_hex(8))
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)

    def registration(self, **override: object) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id,
            "version": self.version,
            "url": self.url,
            "pid": self.pid,
        }
        if self.password is not None:
            data["password"] = self.password
        data.update(override)
        return data

    def register(self, state_home: Path, *, local: bool = False, **override: object) -> Path:
        """Writes the registration file under ``state_home`` (``$XDG_STATE_HOME``): mode 0600,
        as the service writes it."""
        folder = state_home / "opencode"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ("service-local.json" if local else "service.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(self.registration(**override), stream)
        return path


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def v2_service(
    *,
    version: str = "2.0.12",
    password: str | None = "",
    pid: int | None = None,
    auth_everywhere: bool = False,
) -> Iterator[V2Service]:
    """A 2.x service stand-in on 127.0.0.1. ``password=""`` (default): a generated one, as 2.x
    serve does; ``None``: no auth. ``auth_everywhere``: the web UI demands the password too."""
    if password == "":
        password = secrets.token_urlsafe(18)
    fake = FakeServer(reply="OK")
    lock = threading.Lock()
    holder: dict[str, V2Service] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(
            self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _authorised(self) -> bool:
            if password is None:
                return True
            token = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
            return self.headers.get("Authorization", "") == f"Basic {token}"

        def _handle(self) -> None:
            service = holder["service"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            service.requests.append((self.command, self.path, self.headers.get("Authorization")))
            is_api = path == "/api" or path.startswith("/api/")
            if (is_api or auth_everywhere) and not self._authorised():
                self._send(
                    401,
                    b'{"_tag":"UnauthorizedError","message":"Unauthorized"}',
                    "application/json",
                    {"WWW-Authenticate": 'Basic realm="opencode"'},
                )
                return
            if not is_api:
                self._send(200, WEB_UI, "text/html; charset=utf-8")
                return
            if path == "/api/status":
                self._send(
                    404, b'{"_tag":"NotFoundError","message":"Not Found"}', "application/json"
                )
                return
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
            }
            with lock, httpx.Client(transport=fake, base_url=service.url) as client:
                answer = client.request(self.command, self.path, content=body, headers=headers)
            content = answer.content
            if path == "/api/info" and answer.status_code == 200:
                info = answer.json()
                info.update(version=service.version, pid=service.pid, urls=[service.url + "/"])
                content = json.dumps(info).encode()
            self._send(
                answer.status_code, content, answer.headers.get("content-type", "application/json")
            )

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle

    server = _Server(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    holder["service"] = V2Service(
        url, version, pid if pid is not None else os.getpid(), password, fake
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield holder["service"]
    finally:
        server.shutdown()
        server.server_close()
