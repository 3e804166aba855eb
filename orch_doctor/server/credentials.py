"""Server credentials: from OPENCODE_SERVER_PASSWORD / OPENCODE_SERVER_USERNAME (OpenCode 1.x), or
OPENCODE_PASSWORD (the name OpenCode 2.x clients read first, then the legacy one:
anomalyco/opencode packages/cli/src/env.ts). Never shown."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from orch_doctor._util.text import REDACTED

PASSWORD_ENV = "OPENCODE_SERVER_PASSWORD"
#: OpenCode 2.x: the password a client sends to ``--server`` (a manually run server adopts it)
PASSWORD_ENV_2X = "OPENCODE_PASSWORD"
#: every name a password reaches an OpenCode process by: only through a plan's ``secret_env``
PASSWORD_ENVS = (PASSWORD_ENV, PASSWORD_ENV_2X)
USERNAME_ENV = "OPENCODE_SERVER_USERNAME"
DEFAULT_USERNAME = "opencode"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password={REDACTED!r})"

    __str__ = __repr__

    def redact(self, text: str) -> str:
        """``text`` with the password replaced by *** — as given, URL-quoted, and inside the
        Basic token a server may echo back."""
        if not self.password:
            return text
        from base64 import b64encode
        from urllib.parse import quote

        token = b64encode(f"{self.username}:{self.password}".encode()).decode()
        for form in (token, token.rstrip("="), self.password, quote(self.password, safe="")):
            if form:
                text = text.replace(form, REDACTED)
        return text


def credentials_from_env(
    env: Mapping[str, str] | None = None, password_env: str | None = None
) -> Credentials | None:
    """The password in ``password_env``, else (none named) in OPENCODE_SERVER_PASSWORD, else in
    OPENCODE_PASSWORD (2.x)."""
    env = os.environ if env is None else env
    names = (password_env,) if password_env else PASSWORD_ENVS
    password = next((env[name] for name in names if env.get(name)), None)
    if not password:
        return None
    return Credentials(username=env.get(USERNAME_ENV) or DEFAULT_USERNAME, password=password)


def split_userinfo(url: str) -> tuple[str, Credentials | None]:
    """(``url`` without its ``user:password@``, those credentials or None).

    The URL is what may be shown or stored; the credentials are the caller's intent (used when
    OPENCODE_SERVER_PASSWORD is not set) and are never shown."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return _strip_at(text), None
    if "@" not in parts.netloc:
        return text, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    if not has_password or not password:
        return clean, None
    return clean, Credentials(unquote(user) or DEFAULT_USERNAME, unquote(password))


def strip_userinfo(url: str) -> str:
    """``url`` as it may be shown: without any ``user:password@``."""
    return split_userinfo(url)[0]


def _strip_at(text: str) -> str:
    """Best effort for a URL that does not parse: drop everything between ``//`` and ``@``."""
    head, sep, rest = text.partition("//")
    netloc = rest.split("/", 1)[0]
    if not sep or "@" not in netloc:
        return text
    return head + sep + netloc.rpartition("@")[2] + rest[len(netloc) :]


def secrets_for(credentials: Credentials | None) -> dict[str, str]:
    """What a plan's ``secret_env`` names are filled from: the password under each name."""
    return {name: credentials.password for name in PASSWORD_ENVS} if credentials else {}
