"""OpenCode 2.x stand-ins: the service, and a 2.x binary (its help, ``serve``, the TUI).

Nothing here can run a real 2.x (``@opencode/cli`` answers 404 on the registries these machines
reach), so:

**The service** is a real HTTP server on a loopback port that forwards each ``/api/*`` request to
``opencode.testing.FakeServer`` from opencode-python-sdk 0.2.3 (MIT; "typed Python client for the
OpenCode 2.x server API", generated from the same contract as ``@opencode/client``): its routes
answer with payloads built from the generated models (``GET /api/info`` -> ``ServerInfo
{version, pid, urls, paths {tmp}, capabilities}``; sessions, prompts, messages, agents,
events). FakeServer reports version "fake" and the test process's pid; the stand-in rewrites
``/api/info`` to the version and pid it is told (the real service reports its own). Added, the
documented behaviours FakeServer lacks:

- the web UI: HTML 200 at ``/global/health`` and every other non-``/api`` path
  (opencode-mobile#39: 2.0.12 answers ``/global/health`` with the web app's HTML);
- forced HTTP Basic auth, user ``opencode``, a generated password, on ``/api/*``
  (anomalyco/opencode#49452, #45856); a 401 carries ``WWW-Authenticate: Basic``;
- ``/api/status`` answers 404 (anomalyco/opencode#49210);
- the registration file: ``$XDG_STATE_HOME/opencode/service.json`` with ``id, version, url,
  pid, password`` (the SDK's ``opencode/_service.py``: ``default_file``, ``_parse_info``; the
  file "is the whole discovery contract") and the local channel's ``service-local.json``
  (anomalyco/opencode's service registration: ``filename("local") == "service-local.json"``).

**The binary** (:func:`write_binary`) is a script run by this interpreter, named ``opencode2``
(the 2.x beta's binary name) unless told otherwise:

- ``--version`` and every ``--help`` print the texts compat_matrix/help/2.0.0/ holds, which are
  derived from 2.x's source (packages/cli/src/commands/commands.ts), with its own version;
- ``serve [--hostname H] [--port P] [--register]`` serves the stand-in service there in its own
  process; its password is ``OPENCODE_PASSWORD`` (then the legacy ``OPENCODE_SERVER_PASSWORD``)
  when set, none when set empty, else a generated one (anomalyco/opencode
  packages/cli/src/env.ts: "adopted by a manually run or standalone server when set to a
  non-empty value. An empty value disables auth"); it prints ``server listening on URL``
  (packages/cli/src/commands/handlers/serve.ts);
- the root, ``opencode2 [DIR] --server URL --session ID``, is the TUI: it reads its password from
  ``OPENCODE_PASSWORD`` then ``OPENCODE_SERVER_PASSWORD`` (env.ts), says "Server at URL requires
  a password; set OPENCODE_PASSWORD" or "… rejected the password" as the real client does
  (packages/cli/src/services/server-connection.ts), shows the session and a status line, then
  every user message the session gets. Without ``--server`` it uses the registered service.
  What the real 2.x TUI draws is not known here: the stand-in's status line carries the hint the
  1.x TUIs show (``ctrl+p commands``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import stat
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.fake_server import LoopbackServer, send

ROOT = Path(__file__).resolve().parents[2]
HELP_DIR = ROOT / "compat_matrix" / "help" / "2.0.0"
WEB_UI = (
    b"<!doctype html><html><head><title>OpenCode</title></head>"
    b"<body><div id=root></div></body></html>"
)
USERNAME = "opencode"
BODY_CAP = 1 << 20
PASSWORD_NAMES = ("OPENCODE_PASSWORD", "OPENCODE_SERVER_PASSWORD")

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


# --- the service -------------------------------------------------------------------------------


@dataclass
class V2Service:
    url: str
    version: str
    pid: int
    password: str | None
    fake: Any  # opencode.testing.FakeServer
    id: str = field(default_factory=lambda: "svc_" + secrets.token_hex(8))
    #: (method, path with query, Authorization header) of every request that reached it
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


def _serve(
    host: str, port: int, version: str, password: str | None, pid: int, auth_everywhere: bool
) -> tuple[LoopbackServer, V2Service]:
    """The service's HTTP server, bound (not yet serving), and its state."""
    import httpx
    from opencode.testing import FakeServer  # type: ignore[import-not-found]

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
            send(self, status, body, ctype, extra)

        def _authorised(self) -> bool:
            if password is None:
                return True
            token = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
            return self.headers.get("Authorization", "") == f"Basic {token}"

        def _handle(self) -> None:
            service = holder["service"]
            length = min(int(self.headers.get("Content-Length") or 0), BODY_CAP)
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

    server = LoopbackServer((host, port), Handler)
    url = f"http://{host}:{server.server_address[1]}"
    holder["service"] = V2Service(url, version, pid, password, fake)
    return server, holder["service"]


@contextlib.contextmanager
def v2_service(
    *,
    version: str = "2.0.12",
    password: str | None = "",
    pid: int | None = None,
    auth_everywhere: bool = False,
) -> Iterator[V2Service]:
    """A 2.x service stand-in on 127.0.0.1 (a free port), in this process. ``password=""``
    (default): a generated one, as 2.x serve does; ``None``: no auth. ``auth_everywhere``: the
    web UI demands the password too."""
    if password == "":
        password = secrets.token_urlsafe(18)
    server, service = _serve(
        "127.0.0.1", 0, version, password, pid if pid is not None else os.getpid(), auth_everywhere
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


# --- the binary ---------------------------------------------------------------------------------


def write_binary(path: Path, version: str = "2.0.12") -> Path:
    """An executable OpenCode 2.x stand-in at ``path`` (run by this interpreter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.support.opencode2 import main\n"
        f"sys.exit(main(sys.argv[1:], {version!r}))\n",
        encoding="utf-8",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _option(args: Sequence[str], name: str) -> str | None:
    """``--name value`` or ``--name=value`` in ``args``."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _password(env: dict[str, str]) -> str | None:
    """The password a 2.x client or a manually run server reads: None when none is set."""
    return next((env[name] for name in PASSWORD_NAMES if name in env), None)


def main(args: list[str], version: str) -> int:
    """The stand-in binary: --version, --help, serve, or the TUI."""
    command = args[0] if args and not args[0].startswith("-") else "root"
    if "--version" in args and command == "root":
        print(f"opencode v{version}")
        return 0
    if "--help" in args or "-h" in args:
        name = command if (HELP_DIR / f"{command}.txt").exists() else "root"
        print((HELP_DIR / f"{name}.txt").read_text("utf-8"), end="")
        return 0
    if command == "serve":
        return _serve_main(args[1:], version)
    return _tui_main(args, dict(os.environ), version)


def _serve_main(args: list[str], version: str) -> int:
    import signal

    host = _option(args, "--hostname") or "127.0.0.1"
    port = int(_option(args, "--port") or 4096)
    given = _password(dict(os.environ))
    password = given if given is not None else secrets.token_urlsafe(24)
    server, service = _serve(host, port, version, password or None, os.getpid(), False)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if "--register" in args or "--service" in args:
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        service.register(Path(state))
    print(f"server listening on {service.url}", flush=True)
    server.serve_forever(poll_interval=0.05)
    return 0


def _tui_main(args: list[str], env: dict[str, str], version: str) -> int:
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    server = _option(args, "--server")
    session = _option(args, "--session")
    password = _password(env)
    if server is None:  # the user's background service, from its registration file
        state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        try:
            found = json.loads((Path(state) / "opencode" / "service.json").read_text("utf-8"))
            server, password = found["url"], found.get("password")
        except (OSError, ValueError, KeyError):
            print("Could not start the background service", flush=True)
            return 1
    base = str(server).rstrip("/")
    headers = {}
    if password:
        token = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
        headers["Authorization"] = "Basic " + token

    def get(path: str) -> Any:
        request = urllib.request.Request(base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read(BODY_CAP))

    try:
        info = get("/api/info")
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            print(
                f"Server at {base} requires a password; set OPENCODE_PASSWORD"
                if not password
                else f"Server at {base} rejected the password",
                flush=True,
            )
            return 1
        print(f"Server at {base} did not provide a compatible V2 health response", flush=True)
        return 1
    except (OSError, ValueError):
        print(f"Could not reach server at {base}", flush=True)
        return 1
    if info.get("version") != version:
        print(
            f"Warning: Server at {base} has version {info.get('version')}; this client is "
            f"{version}. Continuing anyway.",
            flush=True,
        )
    directory = next((a for a in args if not a.startswith("-") and a not in (server, session)), ".")
    quoted = urllib.parse.quote(session or "", safe="")
    if session is not None:
        try:
            found_session = get("/api/session/" + quoted)["data"]
        except (OSError, ValueError, KeyError):
            print(f"Session not found: {session}", flush=True)
            time.sleep(60)
            return 1
        print(f"session {found_session['id']}  {found_session.get('title')}", flush=True)
    print(f"opencode {version}  {directory}", flush=True)
    print("ctrl+p commands", flush=True)
    shown: set[str] = set()
    deadline = time.monotonic() + 120
    while session is not None and time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            page = get("/api/session/" + quoted + "/message?type=user&order=asc")
            for message in page.get("data", []):
                if isinstance(message, dict) and message.get("id") not in shown:
                    shown.add(str(message.get("id")))
                    print("> " + str(message.get("text")), flush=True)
        time.sleep(0.2)
    return 0


__all__ = ["V2_ROUTES", "V2Service", "main", "v2_service", "write_binary"]
