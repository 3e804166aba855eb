"""Probe OpenCode servers: reachable, who they are, what they offer, whether it is safe.

Each URL gets one verdict with a fix hint. Identity comes from a fallback chain that works on every
release seen: ``GET /global/health`` (1.1.x on: ``{healthy, version}``), ``GET /api/info``
(OpenCode 2.x: ``ServerInfo {version, pid, urls, paths}`` behind Basic auth; its
``/global/health`` is the web UI's HTML, opencode-mobile#39), ``GET /api/status`` (early 2.x),
then the OpenAPI document ``GET /doc`` (1.0.x: no health route, no version route — the
version is then reported as unknown, with what can be inferred and why). A 200 alone proves
nothing: recent servers answer unknown paths with 200 and their web app's HTML. Nothing is
created on the server. Many URLs are probed concurrently (asyncio), so 200 of them take about one
timeout, not the sum; one URL is probed without an event loop (:func:`probe_server`: its few
calls one after the other, and none of asyncio's imports, which cost more than they could
overlap).
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import quote, urlsplit

import httpx

from orch_doctor._util import cache
from orch_doctor._util.text import REDACTED, has_control, one_line
from orch_doctor.advice import Advisory
from orch_doctor.server.body import IDENTITY, BodyError, decode_body, loads
from orch_doctor.server.credentials import Credentials, split_userinfo, strip_userinfo
from orch_doctor.server.openapi import routes_from_openapi
from orch_doctor.server.tls import tls_verify
from orch_doctor.server.types import (
    ServerPaths,
    ServerStatus,
    ServerVerdict,
    ServiceInfo,
    is_loopback,
)

DEFAULT_TIMEOUT_S = 5.0
DOC_TIMEOUT_S = 15.0  # GET /doc takes ~1-3 s on 1.18.x
BODY_CAP = 1 << 20  # 1 MiB for small JSON answers
DOC_CAP = 16 << 20  # the OpenAPI document is ~0.5 MB on 1.18.33
FOREIGN_ORIGIN = "http://orch-doctor.invalid"
#: what a server's version must look like to be believed (else: unknown, and said why)
VERSION_RE = re.compile(r"\d{1,6}(\.\d{1,6}){1,3}([-+][0-9A-Za-z][0-9A-Za-z.+-]{0,40})?")
PATH_MAX = 4096

#: per verdict: a command line that runs when pasted (a verdict not here has none). Reading the
#: password with ``read -rs`` keeps it out of the shell's history.
ASK_PASSWORD = "read -rs OPENCODE_SERVER_PASSWORD && export OPENCODE_SERVER_PASSWORD"
FIXES: dict[str, str] = {
    "connection-refused": "opencode serve --port {port} --hostname 127.0.0.1",
    "auth-required": ASK_PASSWORD,
    "auth-rejected": ASK_PASSWORD,
}
#: per verdict: the other way out, said for people (None: the fix is all there is; a verdict
#: not here: the one of "error")
OTHER_WAY: dict[str, str | None] = {
    "connection-refused": None,
    "connect-timeout": "check the host and port, and any firewall between (nothing answered)",
    "read-timeout": "the server accepted the connection but did not answer: restart it",
    "name-not-resolved": "check the host name in the URL (it does not resolve)",
    "tls-error": "use http:// for a local server, or fix its TLS certificate",
    "auth-required": "also set OPENCODE_SERVER_USERNAME if the server's user is not 'opencode'",
    "auth-rejected": (
        "the password in OPENCODE_SERVER_PASSWORD is not the server's: give the right one"
    ),
    "not-opencode": "point --server at an OpenCode server (opencode serve)",
    "server-error": "look at the server's log; restart it",
    "invalid-url": "give a URL like http://127.0.0.1:4096",
    "error": "check the URL and that an OpenCode server runs there",
}
#: the same for an OpenCode 2.x service: its password is in its registration file
#: ($XDG_STATE_HOME/opencode/service.json), which discovery reads when no --server is named
FIXES_2X: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "auth-required": (
        ASK_PASSWORD,
        (
            "without --server, orch-doctor finds the service and its password in "
            "$XDG_STATE_HOME/opencode/service.json (default ~/.local/state/opencode/service.json)",
        ),
    ),
    "auth-rejected": (
        ASK_PASSWORD,
        (
            "the password is not this service's: it is in its registration file "
            "($XDG_STATE_HOME/opencode/service.json), which changes when the service restarts",
        ),
    ),
}


@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool

    def json(self) -> Any:
        try:
            return loads(self.body)
        except ValueError:  # not JSON, or nested too deep
            return None

    @property
    def is_html(self) -> bool:
        ctype = self.headers.get("content-type", "")
        return "html" in ctype or self.body.lstrip()[:15].lower().startswith(b"<!doctype html")


class _Failed(Exception):
    def __init__(self, verdict: ServerVerdict, summary: str, generation: str | None = None) -> None:
        super().__init__(summary)
        self.verdict = verdict
        self.summary = summary
        self.generation = generation


# --- public API --------------------------------------------------------------------------------


def probe_server(
    url: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    credentials: Credentials | None = None,
    want_routes: bool = True,
    use_cache: bool = True,
) -> ServerStatus:
    """One server, the same probe as :func:`probe_servers` gives it, without an event loop:
    its calls run one after the other on a plain client."""

    async def run(base: str, creds: Credentials | None) -> ServerStatus:
        with httpx.Client(verify=tls_verify([base])) as client:

            async def get(
                url: str, timeout_s: float, credentials: Credentials | None, **how: Unpack[_How]
            ) -> _Answer:
                return _get_sync(client, url, timeout_s, credentials, **how)

            return await _probe(
                base, get, _one_after_other, timeout_s, creds, want_routes, use_cache
            )

    return _run_to_end(_settle(url, credentials, run))


def probe_servers(
    urls: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    credentials: Credentials | None = None,
    want_routes: bool = True,
    use_cache: bool = True,
) -> list[ServerStatus]:
    """Probe every URL at once; results in the order given."""
    import asyncio

    async def run_all() -> list[ServerStatus]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        verify = tls_verify(urls)
        async with httpx.AsyncClient(limits=limits, verify=verify) as client:
            return list(
                await asyncio.gather(
                    *(
                        aprobe_server(
                            u,
                            timeout_s=timeout_s,
                            credentials=credentials,
                            want_routes=want_routes,
                            use_cache=use_cache,
                            client=client,
                        )
                        for u in urls
                    )
                )
            )

    return asyncio.run(run_all())


async def aprobe_server(
    url: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    credentials: Credentials | None = None,
    want_routes: bool = True,
    use_cache: bool = True,
    client: httpx.AsyncClient | None = None,
) -> ServerStatus:
    async def run(base: str, creds: Credentials | None) -> ServerStatus:
        own = client or httpx.AsyncClient(verify=tls_verify([base]))
        try:
            return await _probe(
                base, partial(_get, own), _at_once, timeout_s, creds, want_routes, use_cache
            )
        finally:
            if client is None:
                await own.aclose()

    return await _settle(url, credentials, run)


async def _settle(
    url: str,
    credentials: Credentials | None,
    run: Callable[[str, Credentials | None], Awaitable[ServerStatus]],
) -> ServerStatus:
    """``run(base URL, credentials)``'s status for ``url``, every failure a verdict, redacted."""
    start = time.monotonic()
    url, from_url = split_userinfo(url)
    # OPENCODE_SERVER_PASSWORD wins; a URL's user:password@ is the caller's intent otherwise
    credentials = credentials if credentials is not None else from_url
    base, problem = normalise_url(url)
    if problem is not None:
        return _status(base, "invalid-url", _redact(problem, credentials), start)
    try:
        status = await run(base, credentials)
    except _Failed as failure:
        status = _status(base, failure.verdict, failure.summary, start, failure.generation)
    except Exception as exc:  # every failure is a verdict, never a traceback
        summary = f"{type(exc).__name__}: {exc}"
        status = _status(base, "error", _redact(summary, credentials), start)
    # one pass over everything stored: a server may echo the credentials in any answer
    status = status.redacted(_redactor(credentials, from_url))
    return replace(
        status,
        summary=one_line(status.summary),
        fix=one_line(status.fix) if status.fix else status.fix,
        duration_s=time.monotonic() - start,
    )


# --- how the probe's calls are made: at once on an event loop, or one after the other ----------

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")


class _Get(Protocol):
    """One GET of the probe (:func:`_get`'s contract, the client already chosen)."""

    def __call__(
        self, url: str, timeout_s: float, credentials: Credentials | None, **how: Unpack[_How]
    ) -> Awaitable[_Answer]: ...


#: runs two of the probe's calls, concurrently or not, and gives both answers
_Both = Callable[[Coroutine[Any, Any, A], Coroutine[Any, Any, B]], Awaitable[tuple[A, B]]]


async def _at_once(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    import asyncio

    one, other = await asyncio.gather(first, second)
    return one, other


async def _one_after_other(
    first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]
) -> tuple[A, B]:
    try:
        one = await first
    except BaseException:
        second.close()  # never started: nothing to wait for
        raise
    return one, await second


def _run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on an event loop (every call it awaits is made
    synchronously) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("the probe waited on an event loop, and it has none")


def normalise_url(url: str) -> tuple[str, str | None]:
    """(base URL without trailing slash, problem or None). Refused before any connection."""
    text = one_line(strip_userinfo(url.strip()), limit=2000)
    if has_control(url.strip()):
        return text, "not a valid URL: it holds control characters"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return text, f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return text, f"unsupported scheme {parts.scheme or '(none)'!r}: use http:// or https://"
    if not parts.hostname:
        return text, "the URL has no host"
    if parts.username or parts.password:
        return text, "credentials in the URL are not accepted: use OPENCODE_SERVER_PASSWORD"
    del port
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", None


def session_exists(
    url: str,
    session_id: str,
    directory: str | None = None,
    *,
    credentials: Credentials | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> bool | None:
    """Whether ``session_id`` exists (and, with ``directory``, belongs to it): True/False when
    the server says, None when it cannot tell (unreachable, an answer of unknown shape).
    Reads only (GET /session/{id}); nothing is created."""

    import asyncio

    bare, from_url = split_userinfo(url)
    creds = credentials if credentials is not None else from_url

    async def run() -> bool | None:
        base, problem = normalise_url(bare)
        if problem:
            return None
        params = {"directory": directory} if directory else {}
        async with httpx.AsyncClient(verify=tls_verify([base])) as client:
            try:
                answer = await _get(
                    client, f"{base}/session/{quote(session_id, safe='')}", timeout_s, creds,
                    params=params,
                )  # fmt: skip
            except (_Failed, httpx.HTTPError):
                return None
        data = answer.json()
        if answer.status == 200 and isinstance(data, dict) and "id" in data:
            if data.get("id") != session_id:
                return False
            return directory is None or data.get("directory") in (None, directory)
        if answer.status in (400, 404) or (
            isinstance(data, dict) and "NotFound" in str(data.get("name"))
        ):
            return False
        return None

    return asyncio.run(run())


def server_models(
    url: str, *, credentials: Credentials | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> set[str] | None:
    """Every "provider/model" the server knows (GET /config/providers); None if unknown."""

    import asyncio

    bare, from_url = split_userinfo(url)
    creds = credentials if credentials is not None else from_url

    async def run() -> set[str] | None:
        base, problem = normalise_url(bare)
        if problem:
            return None
        async with httpx.AsyncClient(verify=tls_verify([base])) as client:
            try:
                answer = await _get(client, f"{base}/config/providers", timeout_s, creds,
                                    cap=DOC_CAP)  # fmt: skip
            except (_Failed, httpx.HTTPError):
                return None
        return models_from_providers(answer.json()) if answer.status == 200 else None

    return asyncio.run(run())


def models_from_providers(data: Any) -> set[str] | None:
    if not isinstance(data, dict) or not isinstance(data.get("providers"), list):
        return None
    found: set[str] = set()
    for provider in data["providers"]:
        if not isinstance(provider, dict) or not isinstance(provider.get("id"), str):
            continue
        models = provider.get("models")
        if isinstance(models, dict):
            found.update(f"{provider['id']}/{model_id}" for model_id in models)
    return found


# --- the probe ---------------------------------------------------------------------------------


async def _probe(
    base: str,
    get: _Get,
    both: _Both[Any, Any],
    timeout_s: float,
    credentials: Credentials | None,
    want_routes: bool,
    use_cache: bool,
) -> ServerStatus:
    start = time.monotonic()
    health = await get(f"{base}/global/health", timeout_s, credentials, origin=True)
    # 1.0.x has no health route: its catch-all answers 500 {"name": "UnknownError", ...}
    _check_status(health, credentials, "/global/health", allow_5xx=True)
    auth = "basic" if credentials is not None else "none"
    cors_any = _cors_any(health)
    data = health.json()

    version: str | None = None
    version_source: str | None = None
    generation: str | None = None
    routes: frozenset[str] | None = None
    service: ServiceInfo | None = None
    doc_checked = False
    health_route: bool | None = None

    if health.status == 200 and isinstance(data, dict) and "healthy" in data:
        version, version_source = _version(data.get("version"), "GET /global/health")
        generation = "1.x"
        health_route = True
    else:
        # 2.x: GET /api/info {version, pid, urls, paths} behind Basic auth; its /global/health is
        # the web UI's HTML (opencode-mobile#39), /api/status 404 (anomalyco/opencode#49210)
        info = await get(f"{base}/api/info", timeout_s, credentials)
        if info.status == 401 and (health.status == 200 or health.is_html):
            _check_status(info, credentials, "/api/info", generation="2.x")
        idata = info.json()
        service = service_info(idata) if info.status == 200 else None
        status: _Answer | None = None
        if service is None:
            # early 2.x (before 2.0.4 moved the health route, CodeNomad#694)
            status = await get(f"{base}/api/status", timeout_s, credentials)
            _check_status(status, credentials, "/api/status", allow_5xx=True)
        sdata = status.json() if status is not None else None
        if service is not None:
            version, version_source = _version(idata["version"], "GET /api/info")
            generation = "2.x"
            health_route = False
        elif (
            status is not None
            and status.status == 200
            and isinstance(sdata, dict)
            and isinstance(sdata.get("version"), str)
        ):
            version, version_source = _version(sdata["version"], "GET /api/status")
            generation = "2.x"
        else:
            # 1.0.x: no health route, no version route. The OpenAPI document says who it is.
            doc = await get(f"{base}/doc", max(timeout_s, DOC_TIMEOUT_S), credentials, cap=DOC_CAP)
            _check_status(doc, credentials, "/doc")
            doc_data = doc.json()
            routes = routes_from_openapi(doc_data)
            doc_checked = True
            title = doc_data.get("info", {}).get("title") if isinstance(doc_data, dict) else None
            if routes is None or title != "opencode":
                if health.status >= 500 and not _is_opencode_error(health):
                    raise _Failed("server-error", f"/global/health answered HTTP {health.status}")
                what = "HTML" if health.is_html else "an unexpected answer"
                raise _Failed(
                    "not-opencode",
                    f"not an OpenCode server: /global/health gave {what} (HTTP {health.status}) "
                    "and there is no OpenCode OpenAPI document at /doc",
                )
            generation = "1.x"
            cors_any = cors_any or _cors_any(doc)
            health_route = "GET /global/health" in routes
            version_source = (
                "unknown: the server exposes no version"
                if health_route
                else "unknown: the server has no GET /global/health and no version route"
            )

    # the route set (GET /doc: 1.8 s the first time a 1.18.33 server builds it) and the
    # directory (GET /path) at once
    directory: str | None = None
    paths: ServerPaths | None = None
    if generation == "2.x":
        # one service per user: no per-server directory, no OpenAPI document (the contract's
        # route list stands in, from compat_matrix/, applied by the matrix)
        pass
    else:
        located = _directory(base, get, timeout_s, credentials)
        if want_routes and not doc_checked:
            listed = _routes(base, get, timeout_s, credentials, version, use_cache)
            routes, (directory, paths) = await both(listed, located)
        else:
            directory, paths = await located
    routes_source = "GET /doc" if routes is not None else None
    findings = _findings(base, auth)
    if generation == "2.x":
        who = f"OpenCode 2.x, version {version}" if version else "OpenCode 2.x, version unknown"
        summary = who + (f", service pid {service.pid}" if service is not None else "")
    else:
        who = f"OpenCode {version}" if version else "OpenCode, version unknown"
        summary = f"{who} ({generation})" + (f", serving {directory}" if directory else "")
    return ServerStatus(
        url=base,
        verdict="ok",
        summary=summary,
        service=service,
        is_opencode=True,
        generation=generation,
        version=version,
        version_source=version_source,
        routes=routes,
        routes_source=routes_source,
        directory=directory,
        paths=paths,
        auth=auth,
        findings=findings,
        cors_any_origin=cors_any,
        health_route=health_route,
        duration_s=time.monotonic() - start,
    )


async def _routes(
    base: str,
    get: _Get,
    timeout_s: float,
    credentials: Credentials | None,
    version: str | None,
    use_cache: bool,
) -> frozenset[str] | None:
    """Route set from GET /doc, cached per server version (an unknown version is not cached:
    it cannot key the cache honestly)."""
    key = {"server_version": version}
    if use_cache and version:
        cached = cache.load("routes", key)
        if cached is not None and isinstance(cached.get("routes"), list):
            return frozenset(str(r) for r in cached["routes"])
    try:
        doc = await get(f"{base}/doc", max(timeout_s, DOC_TIMEOUT_S), credentials, cap=DOC_CAP)
    except _Failed:
        return None
    if doc.status != 200 or doc.truncated:
        return None
    routes = routes_from_openapi(doc.json())
    if routes is not None and use_cache and version:
        cache.store("routes", key, {"routes": sorted(routes)})
    return routes


async def _directory(
    base: str, get: _Get, timeout_s: float, credentials: Credentials | None
) -> tuple[str | None, ServerPaths | None]:
    """The directory the server serves and its other paths, from one GET /path."""
    try:
        answer = await get(f"{base}/path", timeout_s, credentials)
    except _Failed:
        return None, None
    if answer.status != 200:
        return None, None
    data = answer.json()
    directory = data.get("directory") if isinstance(data, dict) else None
    if isinstance(directory, str) and not _plain_path(directory):
        directory = None
    return (directory if isinstance(directory, str) else None), server_paths(data)


def service_info(data: Any) -> ServiceInfo | None:
    """A 2.x ``GET /api/info`` answer (``ServerInfo {version, pid, urls, paths {tmp},
    capabilities}`` in the 2.x contract) as measured, or None when it is not one: a string
    version and a non-negative integer pid are required, as the 2.x client's own check does."""
    if not isinstance(data, dict):
        return None
    version, pid = data.get("version"), data.get("pid")
    if not isinstance(version, str) or isinstance(pid, bool) or not isinstance(pid, int):
        return None
    if pid < 0:
        return None
    raw_urls = data.get("urls")
    urls = tuple(
        one_line(u, limit=200)
        for u in (raw_urls if isinstance(raw_urls, list) else [])[:8]
        if isinstance(u, str) and not has_control(u)
    )
    caps = data.get("capabilities")
    capabilities = tuple(
        sorted(str(k)[:60] for k, v in caps.items() if v is True)[:20]
        if isinstance(caps, dict)
        else ()
    )
    return ServiceInfo(pid=pid, urls=urls, capabilities=capabilities)


def server_paths(data: Any) -> ServerPaths | None:
    """The server's home, state and config dirs from a GET /path answer (``{home, state,
    config, worktree, directory}`` on 1.0.152 and 1.18.33); a value that is not a plain
    absolute path is left out (None)."""
    if not isinstance(data, dict):
        return None

    def plain(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and _plain_path(value) else None

    found = ServerPaths(home=plain("home"), state=plain("state"), config=plain("config"))
    return found if (found.home or found.state or found.config) else None


def _version(value: object, source: str) -> tuple[str | None, str]:
    """(version, where it came from): a value that does not look like a version (escapes,
    newlines, markup, a novel) is not believed — unknown, and the source says why."""
    if not isinstance(value, str):
        return None, f"unknown: {source} gave no version"
    if VERSION_RE.fullmatch(value):
        return value, source
    return None, f"unknown: {source} gave a version that is not one ({one_line(value, 40)!r})"


def _plain_path(directory: str) -> bool:
    """A directory as a server may report it: absolute, one line, no control characters."""
    return (
        0 < len(directory) <= PATH_MAX
        and not has_control(directory)
        and (directory.startswith("/") or directory[1:3] in (":\\", ":/"))
    )


def _findings(base: str, auth: str) -> tuple[Advisory, ...]:
    """Security findings measured on this server. Release-specific ones (CVE-2026-22812) are
    known issues in compat_matrix/, applied by the decision from the measured facts."""
    host = urlsplit(base).hostname or ""
    if auth == "none" and not is_loopback(host):
        return (
            Advisory(
                id="unauthenticated-network-server",
                severity="warn",
                message=f"the server listens on {host}, not loopback, and demands no password",
                alternatives=(
                    "restart it with OPENCODE_SERVER_PASSWORD set",
                    "bind it to 127.0.0.1",
                ),
            ),
        )
    return ()


# --- HTTP helpers ------------------------------------------------------------------------------


def _request(timeout_s: float, credentials: Credentials | None, origin: bool) -> dict[str, Any]:
    """What every GET of the probe sends: JSON asked for, no compression (the cap applies to
    what is read), per-phase timeouts, Basic auth when given, no redirects."""
    headers = {"Accept": "application/json", **IDENTITY}
    if origin:
        headers["Origin"] = FOREIGN_ORIGIN
    auth = httpx.BasicAuth(credentials.username, credentials.password) if credentials else None
    timeout = httpx.Timeout(timeout_s, connect=timeout_s)
    return {"headers": headers, "auth": auth, "timeout": timeout, "follow_redirects": False}


def _answer(
    url: str, response: httpx.Response, raw: bytearray, truncated: bool, cap: int
) -> _Answer:
    encoding = response.headers.get("content-encoding")
    try:
        body, cut = decode_body(bytes(raw), encoding, cap)
    except BodyError as exc:
        raise _Failed("error", f"{_path(url)}: {exc}") from None
    return _Answer(response.status_code, response.headers, body, truncated or cut)


def _take(raw: bytearray, chunk: bytes, cap: int) -> bool:
    """Add a raw chunk (the cap applies before anything is inflated); True: the cap is hit."""
    raw.extend(chunk)
    if len(raw) > cap:
        del raw[cap:]
        return True
    return False


def _transport_failure(exc: Exception, url: str, timeout_s: float) -> Exception:
    """The verdict of a GET that ended without an answer (the exception itself when it is none
    of the foreseen ones: the probe's caller makes it an "error")."""
    if isinstance(exc, TimeoutError):
        return _Failed(
            "read-timeout", f"the answer to {_path(url)} did not finish within {timeout_s * 2:g}s"
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return _Failed("connect-timeout", f"no connection within {timeout_s:g}s")
    if isinstance(exc, httpx.ReadTimeout):
        return _Failed(
            "read-timeout", f"connected, but {_path(url)} sent nothing for {timeout_s:g}s"
        )
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return _Failed("error", f"the connection broke while reading {_path(url)} ({_reason(exc)})")
    return exc


#: what a GET may end with that :func:`_transport_failure` knows
_TRANSPORT = (TimeoutError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError,
              httpx.RemoteProtocolError, httpx.ReadError)  # fmt: skip


class _How(TypedDict, total=False):
    """How one GET is made, beyond its URL, timeout and credentials (both clients')."""

    cap: int  # the body's size cap (default BODY_CAP)
    origin: bool  # send an Origin header (the CORS check)
    params: Mapping[str, str] | None  # the query


async def _get(
    client: httpx.AsyncClient,
    url: str,
    timeout_s: float,
    credentials: Credentials | None,
    **how: Unpack[_How],
) -> _Answer:
    """One GET with per-phase timeouts, an overall deadline, a size cap, no redirects."""
    import asyncio

    cap = how.get("cap", BODY_CAP)
    try:
        async with asyncio.timeout(timeout_s * 2):
            request = _request(timeout_s, credentials, how.get("origin", False))
            params = how.get("params")
            async with client.stream("GET", url, params=params, **request) as response:
                raw, truncated = bytearray(), False
                async for chunk in response.aiter_raw():
                    if truncated := _take(raw, chunk, cap):
                        break
                return _answer(url, response, raw, truncated, cap)
    except _TRANSPORT as exc:
        raise _transport_failure(exc, url, timeout_s) from None


def _get_sync(
    client: httpx.Client,
    url: str,
    timeout_s: float,
    credentials: Credentials | None,
    **how: Unpack[_How],
) -> _Answer:
    """:func:`_get` on a plain client: the same request and verdicts; the overall deadline is
    checked as the body comes in (each read waits at most the read timeout)."""
    deadline = time.monotonic() + timeout_s * 2
    cap = how.get("cap", BODY_CAP)
    try:
        request = _request(timeout_s, credentials, how.get("origin", False))
        params = how.get("params")
        with client.stream("GET", url, params=params, **request) as response:
            raw, truncated = bytearray(), False
            for chunk in response.iter_raw():
                if truncated := _take(raw, chunk, cap):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError
            return _answer(url, response, raw, truncated, cap)
    except _TRANSPORT as exc:
        raise _transport_failure(exc, url, timeout_s) from None


def _connect_failure(exc: httpx.ConnectError) -> _Failed:
    cause: BaseException | None = exc
    text = str(exc).lower()
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return _Failed("connection-refused", "connection refused: nothing listens there")
        if isinstance(cause, ssl.SSLError):
            return _Failed("tls-error", f"TLS handshake failed: {cause}")
        if cause.__class__.__name__ == "gaierror":
            return _Failed("name-not-resolved", "the host name does not resolve")
        cause = cause.__cause__ or cause.__context__
    if "refused" in text:
        return _Failed("connection-refused", "connection refused: nothing listens there")
    if "name or service not known" in text or "nodename" in text or "resolution" in text:
        return _Failed("name-not-resolved", "the host name does not resolve")
    if "ssl" in text or "tls" in text or "certificate" in text:
        return _Failed("tls-error", f"TLS handshake failed: {exc}")
    return _Failed("error", f"cannot connect: {exc}")


def _is_opencode_error(answer: _Answer) -> bool:
    data = answer.json()
    return isinstance(data, dict) and data.get("name") == "UnknownError" and "data" in data


def _check_status(
    answer: _Answer,
    credentials: Credentials | None,
    path: str,
    *,
    allow_5xx: bool = False,
    generation: str | None = None,
) -> None:
    if answer.status == 401:
        basic = "basic" in answer.headers.get("www-authenticate", "").lower()
        who = f"OpenCode {generation}: the server" if generation else "the server"
        if credentials is None:
            raise _Failed(
                "auth-required",
                f"{who} demands a password ({'HTTP Basic' if basic else 'HTTP 401'} on "
                f"{path}) and none was given",
                generation,
            )
        raise _Failed(
            "auth-rejected",
            f"{who} rejected the credentials for user {credentials.username!r} "
            f"(password {REDACTED})",
            generation,
        )
    if 300 <= answer.status < 400:
        location = answer.headers.get("location", "?")
        raise _Failed(
            "not-opencode",
            f"{path} answered with a redirect to {location} (HTTP {answer.status}); redirects "
            "are not followed, so credentials never go to another host",
        )
    if answer.status >= 500 and not allow_5xx:
        raise _Failed("server-error", f"{path} answered HTTP {answer.status}")


def _cors_any(answer: _Answer) -> bool:
    value = answer.headers.get("access-control-allow-origin", "")
    return value.strip() in ("*", FOREIGN_ORIGIN)


def _status(
    url: str, verdict: ServerVerdict, summary: str, start: float, generation: str | None = None
) -> ServerStatus:
    port = urlsplit(url).port if verdict == "connection-refused" else None
    if generation == "2.x" and verdict in FIXES_2X:
        fix, alternatives = FIXES_2X[verdict]
    else:
        fix = FIXES.get(verdict)
        other = OTHER_WAY.get(verdict, OTHER_WAY["error"])
        alternatives = (other,) if other else ()
    return ServerStatus(
        url=url,
        verdict=verdict,
        summary=summary,
        fix=fix.replace("{port}", str(port or 4096)) if fix else None,
        alternatives=alternatives,
        is_opencode=generation is not None,
        generation=generation,
        duration_s=time.monotonic() - start,
    )


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _redact(text: str, credentials: Credentials | None) -> str:
    return credentials.redact(text) if credentials else text


def _redactor(*used: Credentials | None) -> Callable[[str], str]:
    """Replaces every credential the probe was given (the environment's, the URL's userinfo)
    in every form a server may echo it (see :meth:`Credentials.redact`)."""
    given = [c for c in used if c is not None]

    def redact(text: str) -> str:
        for credentials in given:
            text = credentials.redact(text)
        return text

    return redact
