"""The doctor, ``plan`` and ``spawn`` agree on real releases (tools/agreement.py): ``plan`` exits
0 exactly when ``spawn`` of the same request delivers (the prompt stored as a user message), and
the three name the same strategy. A small subset of the tool's set-ups, one that delivers and one
that is refused; ``python -m tools.agreement`` runs them all."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tools.agreement import SETUPS, markdown, run_setup

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.real,
    pytest.mark.slow,
]

BY_NAME = {setup.name: setup for setup in SETUPS}


def test_agree_on_delivery_1_18_33(opencode_release: Callable[[str], Path], tmp_path: Path) -> None:
    """A 1.18.33 server in --dir, named, and no server at all: ✓ and delivered, one strategy."""
    opencode_release("1.18.33")
    rows = run_setup(replace(BY_NAME["1.18.33-dir"], variants=("named",)), tmp_path)
    rows += run_setup(BY_NAME["1.18.33-no-server"], tmp_path)
    table = markdown(rows)
    assert [(r.variant, r.plan) for r in rows] == [
        ("named", "attach-session-api"),
        ("no-discover", "standalone-prompt"),
    ], table
    for row in rows:
        assert row.error is None, table
        assert row.plan_exit == 0 and row.plan_holds, table
        assert row.spawn_ok and row.stored, table  # confirmed outside spawn: the stored message
        assert row.doctor == row.plan == row.spawn, table
        assert row.agrees, table


def test_agree_on_refusal_1_0_152_under_another_home(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    """The issue's seed: a 1.0.152 server in another folder under another HOME, named. The TUI
    would not share its data dir: no ✓ plan (exit 1), and spawn refuses (nothing runs), the
    doctor says none too."""
    opencode_release("1.0.152")
    rows = run_setup(replace(BY_NAME["1.0.152-other-home"], variants=("named",)), tmp_path)
    table = markdown(rows)
    [row] = rows
    assert row.error is None, table
    assert row.plan == "none" and row.plan_exit == 1 and not row.plan_holds, table
    assert row.spawn == "none" and row.spawn_exit == 1 and not row.spawn_ok, table
    assert row.spawn_code == "no-strategy" and not row.stored, table
    assert row.doctor == "none", table
    assert row.agrees, table
