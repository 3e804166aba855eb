"""What orch-doctor's own process does for its speed, and only there: it does not import
httpx's command line client (rich, pygments) and freezes the heap at exit (gc.freeze), so that
the interpreter's shutdown has nothing to collect. A program that mounts the command group
keeps its httpx as it is."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environ.pop("OPENCODE_SERVER_PASSWORD", None)
    return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=60)


def imported(stderr: str) -> set[str]:
    """The modules PYTHONPROFILEIMPORTTIME listed."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if "|" in line}


COMMANDS = {
    "python -m orch_doctor": [sys.executable, "-m", "orch_doctor"],
    "the console script": [str(Path(sys.executable).parent / "orch-doctor")],
}


@pytest.mark.parametrize("entry", list(COMMANDS))
def test_the_own_process_talks_http_without_importing_httpxs_command_line_client(
    entry: str,
) -> None:
    command = COMMANDS[entry]
    if not Path(command[0]).is_file():
        pytest.skip(f"no {command[0]}")
    done = run([*command, "server", closed_url(), "--format", "json"],
               PYTHONPROFILEIMPORTTIME="1")  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert json.loads(done.stdout)["servers"][0]["verdict"] == "connection-refused"
    modules = imported(done.stderr)
    assert {"httpx", "httpcore"} <= modules
    assert not modules & {"rich", "rich.syntax", "pygments"}


def test_a_doctor_that_talks_to_no_server_imports_no_http_client(tmp_path: Path) -> None:
    """--no-discover and no --server: nothing of it speaks HTTP, so neither httpx nor asyncio
    nor ssl is paid for (about 40 ms of CPU, which a cold run pays beside OpenCode's calls)."""
    done = run(
        [sys.executable, "-m", "orch_doctor", "--no-discover", "--opencode", str(tmp_path / "none"),
         "--dir", str(tmp_path), "--format", "json"],
        PYTHONPROFILEIMPORTTIME="1", ORCH_DOCTOR_CACHE_DIR=str(tmp_path / "cache"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert json.loads(done.stdout)["checks"], done.stdout[:2000]
    modules = imported(done.stderr)
    assert "orch_doctor.clients.check" in modules  # the checks that could have pulled them in
    assert not modules & {"httpx", "httpcore", "asyncio", "ssl"}


def test_a_program_that_mounts_the_group_keeps_httpx_as_it_is() -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from orch_doctor.cli import main\n"
        f"out = CliRunner().invoke(main, ['server', {closed_url()!r}, '--format', 'json'])\n"
        "import httpx\n"
        "print(out.exit_code, type(httpx.main).__name__, 'httpx._main' in sys.modules)\n"
    )
    done = run([sys.executable, "-c", script])
    # httpx's own client (a click command), not the stub it defines when it cannot import it
    assert done.stdout.split() == ["1", "Command", "True"], done.stderr[-2000:]


def test_the_heap_is_frozen_when_the_interpreter_exits_after_a_command() -> None:
    script = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from click.testing import CliRunner\n"
        "from orch_doctor.cli import main\n"
        f"out = CliRunner().invoke(main, ['server', {closed_url()!r}, '--format', 'json'])\n"
        "print('frozen while running:', gc.get_freeze_count() > 0, out.exit_code)\n"
    )
    done = run([sys.executable, "-c", script])
    assert done.stdout.splitlines() == ["frozen while running: False 1", "frozen at exit: True"], (
        done.stderr[-2000:]
    )
