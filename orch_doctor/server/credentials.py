"""Server credentials: from OPENCODE_SERVER_PASSWORD / OPENCODE_SERVER_USERNAME. Never shown."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from orch_doctor._util.text import REDACTED

PASSWORD_ENV = "OPENCODE_SERVER_PASSWORD"
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
        """``text`` with the password replaced by ***."""
        return text.replace(self.password, REDACTED) if self.password else text


def credentials_from_env(
    env: Mapping[str, str] | None = None, password_env: str = PASSWORD_ENV
) -> Credentials | None:
    env = os.environ if env is None else env
    password = env.get(password_env)
    if not password:
        return None
    return Credentials(username=env.get(USERNAME_ENV) or DEFAULT_USERNAME, password=password)
