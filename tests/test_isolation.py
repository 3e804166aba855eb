"""The suite's own isolation: each test's tmux sockets in a folder of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEEN: list[str] = []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_has_a_tmux_folder_of_its_own_that_children_see(
    run: int, own_tmux_folder: Path
) -> None:
    folder = os.environ["TMUX_TMPDIR"]
    assert folder == str(own_tmux_folder) and os.listdir(folder) == []
    assert folder not in SEEN and "TMUX" not in os.environ
    SEEN.append(folder)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['TMUX_TMPDIR'])"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert child.stdout.strip() == folder


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_tmux_server_a_test_started_is_in_its_folder(own_tmux_folder: Path) -> None:
    subprocess.run(
        ["tmux", "-L", "isolation", "new-session", "-d", "-s", "x", "sleep 60"],
        timeout=10, check=True, env={**os.environ, "SHELL": "/bin/sh"},
    )  # fmt: skip
    sockets = list(own_tmux_folder.glob("tmux-*/isolation"))
    assert len(sockets) == 1 and sockets[0].is_socket()
    # left running on purpose: the fixture stops it after the test
