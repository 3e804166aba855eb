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
