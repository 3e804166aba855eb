"""Text from outside made safe to show."""

from __future__ import annotations

import re

# CSI sequences (including malformed ones like ESC [ 3 8 ; 5 ; BEL m seen on 1.0.x), OSC, 2-byte
_ANSI = re.compile(r"\x1b\[[^@-~\x1b]{0,32}[@-~]?|\x1b\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)?|\x1b.?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

#: shown instead of a secret anywhere a plan or report is printed
REDACTED = "***"


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences and control characters (keeps newlines and tabs)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _ANSI.sub("", text)).expandtabs(8)


_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# C0/C1 controls, DEL, and the bidi overrides that can make a line read as something else
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int = 500, breaks: str = " ") -> str:
    """``text`` as one printable line: escapes removed, line breaks turned into ``breaks``,
    other controls dropped, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = _LINE_BREAKS.sub(breaks, _ANSI.sub("", text))
    text = _UNPRINTABLE.sub("", text.replace("\t", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(text: str) -> str:
    """``text`` with every line made printable (escapes and controls removed; newlines kept)."""
    return "\n".join(one_line(line, limit=1 << 20) for line in strip_ansi(text).split("\n"))


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (escape, newline, NUL, DEL, C1, bidi)."""
    return bool(_UNPRINTABLE.search(text) or _LINE_BREAKS.search(text))
