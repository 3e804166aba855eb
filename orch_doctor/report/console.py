"""The rich console every command's text output goes through, and the spinner.

- No line is broken by rich (a terminal wraps long lines itself).
- Not a terminal (a pipe, a file): no table is squeezed to 80 columns either, so commands,
  paths and URLs stay whole on one line; no spinner, whatever ``FORCE_COLOR`` says.
- ``NO_COLOR`` (non-empty, as no-color.org says) turns colour off, nothing else.
- A stdout that is not UTF-8 (or ``TERM=dumb``): the ASCII status marks, and characters the
  encoding lacks are written as escapes instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from rich.console import Console

from orch_doctor.report.status import glyphs_ok, mark

T = TypeVar("T")

#: the width a table gets when nothing wraps (rich sizes a table to its content below this)
UNWRAPPED_WIDTH = 100_000


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def no_color() -> bool:
    return os.environ.get("NO_COLOR", "") != ""


class TextConsole(Console):
    """A rich console that knows whether to use the ASCII status marks."""

    ascii_marks: bool = False

    def mark(self, status: str, *, pad: bool = False) -> str:
        return mark(status, ascii=self.ascii_marks, styled=not self.no_color, pad=pad)


def make_console() -> TextConsole:
    tty = stdout_is_terminal()
    ascii_marks = not glyphs_ok(sys.stdout)
    if ascii_marks:
        # text from outside may hold any character: an escape, not a UnicodeEncodeError
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")
    force = os.environ.get("FORCE_COLOR", "") != ""
    console = TextConsole(
        highlight=False,
        emoji=False,
        no_color=no_color() or not (tty or force),
        force_terminal=True if force and not no_color() else None,
        # a line is never broken by rich (a terminal wraps a long one itself, and a command
        # copied from it is still one line)
        soft_wrap=True,
        width=None if tty else UNWRAPPED_WIDTH,
    )
    console.ascii_marks = ascii_marks
    return console


def with_spinner(console: Console, message: str, work: Callable[[], T]) -> T:
    """Run ``work`` with a spinner on a real terminal only (never into a pipe or a file)."""
    if stdout_is_terminal() and console.file is sys.stdout:
        ascii_only = isinstance(console, TextConsole) and console.ascii_marks
        if ascii_only:
            message = message.replace("…", "...")
        with console.status(message, spinner="line" if ascii_only else "dots"):
            return work()
    return work()


def shown(text: object) -> str:
    """Text from outside (a file, the binary, a server) for a rich console: control characters
    made visible, rich markup escaped."""
    from rich.markup import escape

    from orch_doctor._util.text import printable

    return escape(printable(str(text)))
