"""A tmux server of a test's own, with one session: the window mechanism's real peer."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@contextmanager
def own_tmux_session(
    monkeypatch: pytest.MonkeyPatch, name: str, *, width: int = 200, height: int = 50
) -> Iterator[str]:
    """Session ``name`` on a tmux server of this test's own (its own ``TMUX_TMPDIR``, no
    ``TMUX``/``TMUX_PANE`` of an enclosing tmux); the server is stopped afterwards."""
    folder = tempfile.mkdtemp(prefix="odtmux-")
    monkeypatch.setenv("TMUX_TMPDIR", folder)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height)],
        check=True,
        timeout=10,
    )
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-server"], timeout=10, check=False)
        shutil.rmtree(folder, ignore_errors=True)
