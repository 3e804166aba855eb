"""The one status vocabulary of every command's text output: pass, warn, fail, skip, info.

Each status has a glyph form (``✓ ! ✗ - •``) and an ASCII form (``ok WARN FAIL skip *``) for a
terminal that cannot show the glyphs (stdout not UTF-8, or ``TERM=dumb``)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Literal, TextIO

Status = Literal["pass", "warn", "fail", "skip", "info"]


@dataclass(frozen=True)
class Mark:
    glyph: str
    ascii: str
    style: str


MARKS: dict[str, Mark] = {
    "pass": Mark("✓", "ok", "green"),
    "warn": Mark("!", "WARN", "yellow"),
    "fail": Mark("✗", "FAIL", "red"),
    "skip": Mark("-", "skip", "dim"),
    "info": Mark("•", "*", "dim"),
}

#: the widest ASCII form: the doctor pads every mark to it so the titles line up
ASCII_WIDTH = max(len(m.ascii) for m in MARKS.values())


def glyphs_ok(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stdout by default) can show the glyphs: a UTF-8 encoding and a
    terminal that is not ``TERM=dumb``."""
    stream = stream if stream is not None else sys.stdout
    if os.environ.get("TERM") == "dumb":
        return False
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return encoding in ("utf8", "utf8sig")


def mark(status: str, *, ascii: bool, styled: bool = True, pad: bool = False) -> str:
    """The mark of ``status`` as rich markup (``styled``) or plain text; ``pad`` aligns the
    ASCII forms."""
    m = MARKS[status]
    text = m.ascii.ljust(ASCII_WIDTH) if ascii and pad else m.ascii if ascii else m.glyph
    return f"[{m.style}]{text}[/]" if styled else text
