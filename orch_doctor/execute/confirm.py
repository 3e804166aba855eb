"""Was the prompt delivered? Pure evaluation of what the server and the terminal show.

Delivered means: the prompt text is a user message of the session (``GET /session/{id}/message``;
no model provider is needed for that), the TUI shows the prompt (it is attached to that session)
and nothing on its screen said "Session not found".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import ConfirmationJSON, ConfirmCheckJSON

#: the TUI wraps long prompts: the screen check looks for the prompt's first characters
SCREEN_PROBE_CHARS = 24


@dataclass(frozen=True)
class ConfirmCheck:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> ConfirmCheckJSON:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Confirmation:
    session_id: str | None
    checks: tuple[ConfirmCheck, ...] = field(default_factory=tuple)
    #: the TUI's screen the checks judged (None: no terminal); not part of the JSON
    screen: str | None = field(default=None, repr=False, compare=False)

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_json(self) -> ConfirmationJSON:
        return {
            "verified": self.verified,
            "session_id": self.session_id,
            "checks": [c.to_json() for c in self.checks],
        }


def screen_probe(prompt: str) -> str:
    first_line = prompt.strip().splitlines()[0] if prompt.strip() else ""
    return first_line[:SCREEN_PROBE_CHARS]


def evaluate(
    *,
    prompt: str | None,
    session_id: str | None,
    user_texts: Sequence[str] | None,
    screen: str | None,
    failure_markers: Sequence[str] = (),
    prompt_on_screen: bool = True,
    server: bool = True,
) -> Confirmation:
    """Judge delivery from the session's user messages and the TUI's last screen
    (``prompt_on_screen``: the screen must show the prompt too — a window of unknown size
    may hide it, so a spawn into the user's window does not ask).

    Without a server (``server=False``: a standalone TUI nobody else can reach) there is no
    session to read: the screen is the only evidence, so it must show the prompt and no
    failure marker, and the ``no-server`` check says delivery was judged from the screen."""
    checks: list[ConfirmCheck] = []
    if not server:
        checks.append(
            ConfirmCheck(
                "no-server",
                screen is not None,
                "no server to read the session from: judged from the TUI's screen"
                if screen is not None
                else "no server and no screen: nothing shows the delivery",
            )
        )
        prompt_on_screen = True
    else:
        checks.append(
            ConfirmCheck(
                "session",
                session_id is not None,
                f"session {session_id}" if session_id else "no session was found for this spawn",
            )
        )
    if prompt and server:
        texts = list(user_texts or [])
        stored = any(prompt in t for t in texts)
        checks.append(
            ConfirmCheck(
                "prompt-stored",
                stored,
                "the prompt is the session's user message"
                if stored
                else f"the session's user messages ({len(texts)}) do not hold the prompt",
            )
        )
    if screen is not None:
        bad = next((m for m in failure_markers if m in screen), None)
        checks.append(
            ConfirmCheck(
                "no-session-error",
                bad is None,
                f"the TUI said {bad!r}" if bad else "the TUI reported no session error",
            )
        )
        if prompt and prompt_on_screen:
            probe = screen_probe(prompt)
            shown = probe in screen
            checks.append(
                ConfirmCheck(
                    "tui-shows-prompt",
                    shown,
                    f"the TUI shows {probe!r}" if shown else f"the TUI does not show {probe!r}",
                )
            )
    return Confirmation(session_id=session_id, checks=tuple(checks), screen=screen)
