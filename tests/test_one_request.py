"""Three commands, one answer: the doctor, ``plan``, ``spawn``, ``verify`` (where it applies) and
``select_strategy`` resolve the same request the same way and name the same strategy, on a real
1.18.33 (a real ``opencode serve``, a real tmux of the test's own, real TUIs)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orch_doctor.api import select_strategy
from orch_doctor.cli import main
from tests.support.opencode import isolated_env
from tests.support.tmux import own_tmux_session

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.real,
    pytest.mark.slow,
]

SESSION = "onereq"
RELEASE = "1.18.33"
#: a loopback port nothing listens on: a named server that cannot be used
DOWN = "http://127.0.0.1:9"


@pytest.fixture
def own_tmux(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A tmux server of this test's own (own TMUX_TMPDIR) with one session."""
    with own_tmux_session(monkeypatch, SESSION) as session:
        yield session


def cli_json(*args: str) -> dict[str, Any]:
    out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code in (0, 1), out.output
    data = json.loads(out.output)
    assert isinstance(data, dict)
    return data


def answers(
    options: list[str], api: dict[str, Any], binary: Path, window: str, *, verify: bool
) -> dict[str, str]:
    """The strategy each entry point names for one request (``options`` on the command line,
    ``api`` as select_strategy's arguments)."""
    found = {}
    selection = ["--opencode", str(binary), "--model", "opencode/big-pickle", *options]
    found["doctor"] = cli_json("doctor", *selection)["decision"]["strategy"]
    found["plan"] = cli_json("plan", *selection, "--prompt", "hello")["strategy"]
    found["select_strategy"] = select_strategy(
        model="opencode/big-pickle", prompt="hello", opencode=str(binary), **api
    ).strategy
    prompt = f"one request {uuid.uuid4().hex[:8]}"
    spawned = cli_json(
        "spawn", *selection, "--prompt", prompt, "--tmux-target", f"{SESSION}:{window}"
    )
    assert spawned["ok"], spawned  # the decision's promise: the plan delivers
    found["spawn"] = spawned["strategy"]
    if verify:
        verified = cli_json("verify", *selection, "--timeout", "90")
        assert verified["verified"], verified
        found["verify"] = verified["strategy"]
    return found


def test_every_entry_point_names_the_same_strategy_on_1_18_33(
    own_tmux: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binary = opencode_release(RELEASE)
    server = real_servers(RELEASE)  # started in its own project folder: discoverable there
    for name, value in isolated_env(tmp_path / "home").items():
        if name == "HOME" or name.startswith("XDG_"):
            monkeypatch.setenv(name, value)  # the TUIs spawned keep out of the user's data
    alone = tmp_path / "alone"
    alone.mkdir()

    # (1) no server: discovery off (other servers may run on this machine)
    one = answers(
        ["--dir", str(alone), "--no-discover"],
        {"directory": alone, "discover": False},
        binary, "no-server", verify=False,
    )  # fmt: skip
    assert set(one.values()) == {"standalone-prompt"}, one

    # (2) a usable server serving --dir runs here: found and preferred by every command
    two = answers(
        ["--dir", str(server.directory)], {"directory": server.directory}, binary, "found",
        verify=False,
    )  # fmt: skip
    assert set(two.values()) == {"attach-session-api"}, two

    # (3) a named server (serving another folder)
    three = answers(
        ["--dir", str(alone), "--server", server.url],
        {"directory": alone, "server_url": server.url},
        binary, "named", verify=True,
    )  # fmt: skip
    assert len(set(three.values())) == 1 and "none" not in three.values(), three

    # (4) the named server cannot be used, and a standalone TUI is allowed
    four = answers(
        ["--dir", str(alone), "--server", DOWN, "--allow-standalone"],
        {"directory": alone, "server_url": DOWN, "allow_standalone": True},
        binary, "allowed", verify=True,
    )  # fmt: skip
    assert set(four.values()) == {"standalone-prompt"}, four
