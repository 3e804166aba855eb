"""Read the version out of ``opencode --version`` output. Pure."""

from __future__ import annotations

import re

from orch_doctor._util.text import strip_ansi
from orch_doctor.probe.types import VersionInfo

# a whole line that looks like a version: "1.18.33", "v0.5.29", "0.0.0-dev-202609212252"
# (2.x's CLI framework prints "<name> v<version>": "opencode v2.0.0")
_VERSION_LINE = re.compile(
    r"^(?:[A-Za-z][\w-]{0,40} )?v?(\d{1,6}(?:\.\d{1,9}){1,3}(?:[-+.][0-9A-Za-z.+-]{1,80})?)$"
)


def parse_version_output(raw: str) -> VersionInfo:
    """The version is the last line that looks like one, after any log noise (offline releases
    print an ``ERROR ... service=models.dev`` line first)."""
    lines = [line.strip() for line in strip_ansi(raw).split("\n")]
    text = None
    for line in reversed(lines):
        match = _VERSION_LINE.match(line)
        if match:
            text = match.group(1)
            break
    if text is None:
        shown = next((line for line in reversed(lines) if line), "")
        return VersionInfo(
            raw=raw,
            text=None,
            release=False,
            problem=f"no version in the output (last line: {shown[:120]!r})"
            if shown
            else "the output was empty",
        )
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(text)
    except InvalidVersion:
        return VersionInfo(
            raw=raw,
            text=text,
            release=False,
            problem=f"'{text}' is not a version packaging can order; capabilities decide",
        )
    if parsed.is_prerelease or parsed.is_devrelease or parsed.local is not None:
        return VersionInfo(
            raw=raw,
            text=text,
            release=False,
            problem=f"'{text}' is not a normal release (pre-release, dev or local build); "
            "version ranges may not apply, capabilities decide",
        )
    if parsed.release[0] == 0 and all(part == 0 for part in parsed.release):
        return VersionInfo(
            raw=raw,
            text=text,
            release=False,
            problem=f"'{text}' does not order like a release (a development build); "
            "capabilities decide",
        )
    return VersionInfo(raw=raw, text=text, release=True)
