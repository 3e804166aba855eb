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


# C0 controls (tab and newline are decided by the caller), DEL, C1 controls, the bidirectional
# overrides/isolates and the Unicode line/paragraph separators: what can move a cursor, change
# colours or a window title, reorder what is seen, or start a new line where none is visible;
# lone surrogates (undecodable file names) and U+FFFE/U+FFFF, which no encoder or XML accepts
_OTHER = r"\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f" + _OTHER + "]")
_UNPRINTABLE_LINE = re.compile(r"[\x00-\x1f" + _OTHER + "]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` from a file or a binary, safe to show anywhere: every control character (and
    DEL, C1, bidi override and line-separator character) becomes a visible escape such as
    ``\\x1b``; ``\\r\\n`` becomes ``\\n``. With ``newlines=False`` the result is one line
    (newlines and tabs are escaped too). Markup (rich, XML) is the renderer's to escape."""
    text = text.replace("\r\n", "\n")
    if newlines:
        return _UNPRINTABLE.sub(_visible, text)
    return _UNPRINTABLE_LINE.sub(_visible, text)


_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# C0/C1 controls, DEL, and the bidi overrides that can make a line read as something else
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int = 500, breaks: str = " ") -> str:
    """``text`` as one printable line: line breaks turned into ``breaks``, every other control
    character (escapes included) shown as a visible escape like ``\\x1b``, at most ``limit``
    characters (an ellipsis marks a cut)."""
    text = _LINE_BREAKS.sub(breaks, text.replace("\t", " "))
    text = printable(text, newlines=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (escape, newline, NUL, DEL, C1, bidi)."""
    return bool(_CONTROLS.search(text) or _LINE_BREAKS.search(text))
