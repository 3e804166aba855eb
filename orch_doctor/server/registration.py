"""OpenCode 2.x service discovery: the registration file the service writes.

One background service per user; it registers itself in ``$XDG_STATE_HOME/opencode/service.json``
(``XDG_STATE_HOME`` defaulting to ``~/.local/state``) with ``id, version, url, pid, password``,
and the local channel in ``service-local.json`` beside it. That file "is the whole discovery
contract" (opencode-python-sdk 0.2.3, ``opencode/_service.py``: ``default_file``,
``_parse_info``; anomalyco/opencode's registration ``filename("local") == "service-local.json"``).
A client trusts it only when the registered pid lives and the URL answers ``GET /api/info``
with that pid and version (the SDK's ``_classify``).

The file is untrusted: its read is bounded (a size cap, a regular file only), a URL that is not
http(s) on a loopback host is refused with a reason, and the password goes only into the HTTP
auth of the probe: it is never shown, never put in an argv, never stored (``repr`` hides it).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from orch_doctor._util.text import has_control, one_line
from orch_doctor.server.credentials import DEFAULT_USERNAME, Credentials

if TYPE_CHECKING:
    from orch_doctor.server.types import ServerStatus

#: a registration is a few hundred bytes; anything larger is not one
MAX_BYTES = 64 * 1024
FILENAMES = ("service.json", "service-local.json")


@dataclass(frozen=True)
class Registration:
    """A registration file's service (its password only as credentials, never shown)."""

    path: str
    url: str
    pid: int
    id: str | None = None
    version: str | None = None
    credentials: Credentials | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RegistrationProblem:
    """A registration file that was found and not used, and why."""

    path: str
    reason: str


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/opencode`` (default ``~/.local/state/opencode``), as the 2.x client."""
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME")
    if state:
        return Path(state) / "opencode"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "state" / "opencode"


def registration_files(env: Mapping[str, str] | None = None) -> list[Path]:
    folder = state_dir(env)
    return [folder / name for name in FILENAMES]


def read_registration(path: Path) -> Registration | RegistrationProblem | None:
    """The registration in ``path``; None when there is no file; a problem when it is unusable."""
    shown = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return RegistrationProblem(shown, f"cannot be read ({exc.strerror or exc})")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return RegistrationProblem(shown, "is not a regular file")
        if info.st_size > MAX_BYTES:
            return RegistrationProblem(shown, f"is larger than {MAX_BYTES} bytes")
        raw = os.read(fd, MAX_BYTES + 1)
    except OSError as exc:
        return RegistrationProblem(shown, f"cannot be read ({exc.strerror or exc})")
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        return RegistrationProblem(shown, f"is larger than {MAX_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return RegistrationProblem(shown, "is not JSON")
    return parse_registration(data, shown)


def parse_registration(data: object, path: str) -> Registration | RegistrationProblem:
    if not isinstance(data, dict):
        return RegistrationProblem(path, "is not a JSON object")
    url, pid = data.get("url"), data.get("pid")
    if not isinstance(url, str):
        return RegistrationProblem(path, "names no url")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 1 << 31:
        return RegistrationProblem(path, "names no valid pid")
    problem = url_problem(url)
    if problem is not None:
        return RegistrationProblem(path, problem)

    def text(key: str, limit: int = 200) -> str | None:
        value = data.get(key)
        if isinstance(value, str) and value and len(value) <= limit and not has_control(value):
            return value
        return None

    password = data.get("password")
    credentials = None
    if isinstance(password, str) and password:
        if len(password) > 1024 or has_control(password):
            return RegistrationProblem(path, "holds a password that cannot be one")
        credentials = Credentials(DEFAULT_USERNAME, password)
    return Registration(
        path=path,
        url=url.rstrip("/"),
        pid=pid,
        id=text("id"),
        version=text("version", 64),
        credentials=credentials,
    )


def url_problem(url: str) -> str | None:
    """Why a registered URL is refused (None: http(s) on a loopback host, no userinfo)."""
    shown = one_line(url, limit=80)
    if has_control(url) or len(url) > 2000:
        return f"names a URL that is not one ({shown!r})"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"names a URL that is not one ({shown!r})"
    if parts.scheme not in ("http", "https"):
        return f"names a URL that is not http(s) ({shown!r}): refused"
    if parts.username is not None or parts.password is not None:
        return "names a URL with user:password@ in it: refused"
    from orch_doctor.server.types import is_loopback

    if not is_loopback(parts.hostname):
        return f"names a URL that is not on this machine's loopback ({shown!r}): refused"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"names a URL with a path or query ({shown!r}): refused"
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it lives
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class ServiceFound:
    """What the registration files led to: the service (probed with the file's password,
    redacted), and why each other file was not used."""

    status: ServerStatus | None
    registration: Registration | None
    notes: tuple[str, ...] = ()


def find_service(
    env: Mapping[str, str] | None = None,
    *,
    timeout_s: float = 5.0,
    use_cache: bool = True,
) -> ServiceFound:
    """The OpenCode 2.x service registered for this user, checked: the registered pid lives and
    the URL answers ``GET /api/info`` as that service (its pid, and its version when the file
    gives one). The first file that passes wins (``service.json``, then ``service-local.json``)."""
    from dataclasses import replace

    notes: list[str] = []
    for path in registration_files(env):
        found = read_registration(path)
        if found is None:
            continue
        if isinstance(found, RegistrationProblem):
            notes.append(f"{found.path}: {found.reason}")
            continue
        if not pid_alive(found.pid):
            notes.append(
                f"{found.path}: its service (pid {found.pid}) is not running: a stale registration"
            )
            continue
        from orch_doctor.server.probe import probe_server  # only for a live registration

        status = probe_server(
            found.url, timeout_s=timeout_s, credentials=found.credentials, use_cache=use_cache
        )
        mismatch = _mismatch(status, found)
        if mismatch is not None:
            notes.append(f"{found.path}: {found.url} {mismatch}")
            continue
        service = status.service
        if service is not None:
            service = replace(service, registration=found.path, registered_id=found.id)
        return ServiceFound(replace(status, service=service), found, tuple(notes))
    return ServiceFound(None, None, tuple(notes))


def _mismatch(status: ServerStatus, registration: Registration) -> str | None:
    """Why ``status`` is not the registered service (None: it is, or it cannot be told
    because the service demands a password the file does not hold)."""
    if not status.ok:
        if status.generation == "2.x" and status.verdict in ("auth-required", "auth-rejected"):
            return None  # an OpenCode 2.x service; the verdict says what is missing
        return f"does not answer as an OpenCode service ({status.verdict}: {status.summary})"
    if status.generation != "2.x" or status.service is None:
        return f"answers as OpenCode {status.generation or '?'}, not as the registered 2.x service"
    if status.service.pid != registration.pid:
        return (
            f"answers as another service (pid {status.service.pid}, the file says "
            f"{registration.pid})"
        )
    if registration.version is not None and status.version != registration.version:
        return (
            f"answers as another version ({status.version or 'unknown'}, the file says "
            f"{one_line(registration.version, limit=40)})"
        )
    return None


def registered_credentials(url: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """The password a registration file gives for ``url`` (a live registered service at exactly
    that URL), for a caller who named the service's URL and gave no password."""
    want = url.rstrip("/")
    for path in registration_files(env):
        found = read_registration(path)
        if isinstance(found, Registration) and found.url == want and pid_alive(found.pid):
            return found.credentials
    return None
