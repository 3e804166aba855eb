"""A tmux window gets no user text to parse (issue 17): the window name, the directory, the
program's argv and its environment arrive verbatim, every tmux call ends by the deadline, and
what a start wrote (the environment file, the window) is removed when it fails or is
interrupted.

Real tmux, on a server of each test's own (its own TMUX_TMPDIR). The "TUI" is a small real
program (``python3 -c``) that writes its argv, directory and one environment value to a file:
the window mechanism is what is under test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orch_doctor.decide.steps import ProcessStep, SpawnPlan
from orch_doctor.errors import TmuxTargetError
from orch_doctor.execute.spawn import execute_plan
from orch_doctor.execute.terminal import (
    LaunchFile,
    TerminalError,
    TmuxTerminal,
    TmuxWindowTerminal,
)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
ROOT = Path(__file__).resolve().parent.parent
SESSION = "launch"
#: the "TUI": records what it got, then stays up
RECORDER = (
    "import json, os, sys, time\n"
    "out = {'argv': sys.argv[2:], 'cwd': os.getcwd(),\n"
    "       'odd': os.environb.get(b'ORCH_ODD', b'').hex()}\n"
    "open(sys.argv[1], 'w').write(json.dumps(out))\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def tmux_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tmux server of this test's own, started in a folder of its own (where a stray
    ``#(touch X)`` would run), with session ``launch``."""
    folder = Path(tempfile.mkdtemp(prefix="odl-"))
    monkeypatch.setenv("TMUX_TMPDIR", str(folder))
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    (folder / "server-cwd").mkdir()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "30"],
        check=True,
        timeout=10,
        cwd=folder / "server-cwd",
    )
    try:
        yield folder
    finally:
        subprocess.run(["tmux", "kill-server"], timeout=10, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, timeout=10, check=True
    ).stdout


def window_names() -> list[str]:
    return tmux("list-windows", "-t", f"={SESSION}:", "-F", "#{window_name}").split("\n")[:-1]


def recorded(out: Path, within_s: float = 10.0) -> dict[str, Any]:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        if out.exists() and out.stat().st_size:
            data: dict[str, Any] = json.loads(out.read_text())
            return data
        time.sleep(0.05)
    raise AssertionError(f"the program wrote nothing to {out}")


def env_folders() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob("orch-doctor-env-*"))


def start_recorder(
    home: Path, window: str, cwd: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[TmuxWindowTerminal, dict[str, Any]]:
    out = home / f"out-{len(list(home.glob('out-*')))}.json"
    terminal = TmuxWindowTerminal(f"{SESSION}:{window}", deadline=time.monotonic() + 20)
    terminal.check_session()
    child_env = {"PATH": os.environ["PATH"], **(env or {})}
    terminal.start([sys.executable, "-c", RECORDER, str(out), *args], str(cwd), child_env)
    return terminal, recorded(out)


def no_stray_file(home: Path, *folders: Path) -> None:
    for folder in (home, home / "server-cwd", Path.cwd(), *folders):
        assert not (folder / "X").exists(), f"tmux ran `touch X` in {folder}"


# --- names, directories, argv, environment: verbatim ---------------------------------------------


def test_a_window_name_and_a_directory_with_tmux_formats_arrive_verbatim(tmux_home: Path) -> None:
    folder = tmux_home / "d#(touch X)"
    folder.mkdir()
    before = set(env_folders())
    terminal, seen = start_recorder(tmux_home, "w#S#(touch X)", folder, [])
    no_stray_file(tmux_home, folder)
    assert "w#S#(touch X)" in window_names()
    assert seen["cwd"] == str(folder)
    assert terminal.window_id and terminal.window_id.startswith("@")
    assert tmux("display-message", "-p", "-t", terminal.window_id, "#{window_name}") == (
        "w#S#(touch X)\n"
    )
    assert set(env_folders()) == before  # the launcher removed its file


@pytest.mark.parametrize("name", ["a##b", "proj;", "back\\;", "sp ace -x"])
def test_a_directory_tmux_would_read_is_entered_as_named(tmux_home: Path, name: str) -> None:
    folder = tmux_home / name
    folder.mkdir()
    _terminal, seen = start_recorder(tmux_home, name, folder, [])
    assert seen["cwd"] == str(folder)
    assert name in window_names()


def test_argv_arrives_verbatim_whatever_its_length_or_syntax(tmux_home: Path) -> None:
    args = [
        "fix it;",
        "keep going\\;",
        "two\nlines",
        "{user_name} #(touch X) $HOME `id` 'q\"",
        ";",
        "x" * 100_000,
    ]
    _terminal, seen = start_recorder(tmux_home, "argv", tmux_home, args)
    assert seen["argv"] == args
    no_stray_file(tmux_home)


def test_an_environment_that_is_not_utf8_passes_through_byte_exact(tmux_home: Path) -> None:
    raw = b"caf\xe9 \xff\xfe; #(touch X) '\n"
    _terminal, seen = start_recorder(
        tmux_home, "odd", tmux_home, [], {"ORCH_ODD": os.fsdecode(raw)}
    )
    assert bytes.fromhex(seen["odd"]) == raw


@pytest.mark.slow  # starts a private tmux server
def test_verify_s_private_tmux_uses_the_same_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sockets = Path(tempfile.mkdtemp(prefix="odv-"))
    monkeypatch.setenv("TMUX_TMPDIR", str(sockets))
    folder = tmp_path / "p#(touch X);"
    folder.mkdir()
    out = tmp_path / "out.json"
    terminal = TmuxTerminal(
        shutil.which("tmux") or "tmux", tmp_path, deadline=time.monotonic() + 20
    )
    try:
        env = {"PATH": os.environ["PATH"], "ORCH_ODD": os.fsdecode(b"\xff;")}
        terminal.start(
            [sys.executable, "-c", RECORDER, str(out), "end;", "x" * 30_000], str(folder), env
        )
        seen = recorded(out)
        assert seen["argv"] == ["end;", "x" * 30_000]
        assert seen["cwd"] == str(folder)
        assert bytes.fromhex(seen["odd"]) == b"\xff;"
    finally:
        terminal.close()
        shutil.rmtree(sockets, ignore_errors=True)
    assert not (tmp_path / "X").exists()


# --- refusals and fixes ---------------------------------------------------------------------------


def test_a_window_name_the_session_has_is_refused_naming_it(tmux_home: Path) -> None:
    tmux("new-window", "-d", "-t", f"={SESSION}:", "-n", "taken")
    plan = SpawnPlan(strategy="standalone-prompt", steps=())
    with pytest.raises(TmuxTargetError, match="already has a window named 'taken'"):
        execute_plan(plan, tmux_target=f"{SESSION}:taken")
    assert window_names().count("taken") == 1


def test_the_fix_for_a_missing_session_names_the_socket(tmux_home: Path) -> None:
    plan = SpawnPlan(strategy="standalone-prompt", steps=())
    with pytest.raises(TmuxTargetError) as info:
        execute_plan(plan, tmux_target="no such:w", tmux_socket="my sock")
    assert "(tmux -L 'my sock' new-session -d -s 'no such')" in str(info.value)


def test_a_window_is_returned_by_its_id_and_stays(tmux_home: Path) -> None:
    out = tmux_home / "out.json"
    plan = SpawnPlan(
        strategy="standalone-prompt",
        steps=(
            ProcessStep(
                argv=(sys.executable, "-c", RECORDER, str(out)),
                command="root",
                description="start the recorder",
                cwd=str(tmux_home),
            ),
        ),
    )
    result = execute_plan(
        plan, tmux_target=f"{SESSION}:kept", env={"PATH": os.environ["PATH"]}, timeout_s=20
    )
    assert result.window_id and result.window_id.startswith("@")
    assert result.to_json()["window_id"] == result.window_id
    assert result.target == f"{SESSION}:kept"
    recorded(out)
    assert tmux("display-message", "-p", "-t", result.window_id, "#{window_name}") == "kept\n"


# --- a window that cannot read its environment -------------------------------------------------


def test_a_window_that_cannot_read_its_file_leaves_nothing(
    tmux_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher's program is missing in the window (as where a private /tmp hides the file
    or no `env` exists): the step fails saying so, and the file is gone."""
    from orch_doctor.execute import terminal as module

    real = module._find_program
    monkeypatch.setattr(
        module, "_find_program", lambda name: "/nonexistent/env" if name == "env" else real(name)
    )
    before = set(env_folders())
    terminal = TmuxWindowTerminal(f"{SESSION}:unread", deadline=time.monotonic() + 20)
    begin = time.monotonic()
    with pytest.raises(TerminalError, match="could not read its environment"):
        terminal.start(["sleep", "60"], str(tmux_home), {"SECRET": "pw"})
    assert time.monotonic() - begin < 4.0
    assert set(env_folders()) == before


# --- timeouts ------------------------------------------------------------------------------------


def tmux_server_pid() -> int:
    return int(tmux("display-message", "-p", "#{pid}").strip())


@pytest.mark.slow  # waits out a 2 s time-out
def test_a_stopped_tmux_server_cannot_hold_a_spawn_past_its_timeout(tmux_home: Path) -> None:
    pid = tmux_server_pid()
    plan = SpawnPlan(strategy="standalone-prompt", steps=())
    os.kill(pid, signal.SIGSTOP)
    try:
        begin = time.monotonic()
        with pytest.raises(TmuxTargetError, match="is the tmux server alive"):
            execute_plan(plan, tmux_target=f"{SESSION}:w", timeout_s=2.0)
        took = time.monotonic() - begin
    finally:
        os.kill(pid, signal.SIGCONT)
    assert took < 3.0, took


@pytest.mark.slow  # waits out a deadline
def test_a_tmux_server_stopped_mid_start_cannot_hold_the_start_past_its_deadline(
    tmux_home: Path,
) -> None:
    pid = tmux_server_pid()
    terminal = TmuxWindowTerminal(f"{SESSION}:w", deadline=time.monotonic() + 2.0)
    terminal.check_session()
    before = set(env_folders())
    os.kill(pid, signal.SIGSTOP)
    try:
        begin = time.monotonic()
        with pytest.raises(TerminalError):
            terminal.start(["sleep", "60"], str(tmux_home), {})
        took = time.monotonic() - begin
    finally:
        os.kill(pid, signal.SIGCONT)
    assert took < 2.5, took
    assert set(env_folders()) == before


# --- signals -------------------------------------------------------------------------------------

DRIVER = textwrap.dedent(
    """
    import sys, time
    from orch_doctor.cli import signals
    from orch_doctor.execute.terminal import TmuxWindowTerminal

    signals.install()
    terminal = TmuxWindowTerminal(sys.argv[1], deadline=time.monotonic() + 60)
    terminal.check_session()
    terminal.start(["sleep", "300"], sys.argv[2], {"OPENCODE_SERVER_PASSWORD": "pw-secret"})
    print("started", terminal.window_id, flush=True)
    time.sleep(60)
    """
)


def run_driver(home: Path, window: str, path_prefix: Path | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(home / "tmp")
    (home / "tmp").mkdir(exist_ok=True)
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, f"{SESSION}:{window}", str(home)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(check: Any, within_s: float = 15.0) -> None:
    end = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.slow  # signals a process of its own
def test_sigint_during_new_window_removes_the_environment_file_and_the_window(
    tmux_home: Path,
) -> None:
    slow = tmux_home / "slow-bin"
    slow.mkdir()
    marker = tmux_home / "in-new-window"
    (slow / "tmux").write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do [ "$a" = new-window ] && touch {marker} && sleep 30; done\n'
        f'exec {shutil.which("tmux")} "$@"\n'
    )
    (slow / "tmux").chmod(0o755)
    proc = run_driver(tmux_home, "sig", slow)
    try:
        wait_for(marker.exists)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert list((tmux_home / "tmp").glob("orch-doctor-env-*")) == []
    assert "sig" not in window_names()
    assert "removed 1 scratch folder" in err, err


@pytest.mark.slow  # signals a process of its own
def test_sigint_while_the_program_runs_kills_the_window_it_made(tmux_home: Path) -> None:
    proc = run_driver(tmux_home, "running")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("started @"), line
        assert "running" in window_names()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "running" not in window_names()
    assert f"removed tmux window {SESSION}:running ({line.split()[1]})" in err, err
    assert list((tmux_home / "tmp").glob("orch-doctor-env-*")) == []


def test_a_launch_file_is_registered_before_it_is_written(tmp_path: Path) -> None:
    from orch_doctor._util import cleanup

    launch = LaunchFile(["true"], str(tmp_path), {"A": "b"})
    try:
        dirs = [e.path for e in cleanup.registered() if e.kind == "dir"]
        assert launch.folder in dirs
        assert oct(launch.folder.stat().st_mode & 0o777) == "0o700"
        assert oct(launch.path.stat().st_mode & 0o777) == "0o600"
        assert b"export A=b\n" in launch.path.read_bytes()
    finally:
        launch.remove()
    assert launch.folder not in [e.path for e in cleanup.registered()]
    assert not launch.folder.exists()


def test_a_launch_file_read_just_before_its_pane_ended_is_no_failure(tmp_path: Path) -> None:
    """The launcher read the file and its program ended at once, between two looks: that is
    the program's story (the wait step says "it exited"), not a window that could not read."""
    launch = LaunchFile(["true"], str(tmp_path), {})
    seen = {"consumed": False}

    def consumed_then_dead() -> bool:  # what the launcher does, then its program exits
        if not seen["consumed"]:
            launch.path.unlink()
            launch.folder.rmdir()
            seen["consumed"] = True
        return True

    launch.wait_read(consumed_then_dead, time.monotonic() + 2.0)  # no TerminalError
    assert not launch.folder.exists()
    with pytest.raises(TerminalError, match="could not read its environment"):
        unread = LaunchFile(["true"], str(tmp_path), {})
        unread.wait_read(lambda: True, time.monotonic() + 2.0)
    assert not unread.folder.exists()


def _plan(argv: tuple[str, ...], cwd: Path) -> SpawnPlan:
    from orch_doctor.decide.steps import WaitCondition, WaitStep

    return SpawnPlan(
        strategy="standalone-prompt",
        steps=(
            ProcessStep(argv=argv, command="root", description="start it", cwd=str(cwd)),
            WaitStep(
                condition=WaitCondition.TUI_READY,
                description="wait until it is up",
                timeout_s=3.0,
                ready_markers=("never shown",),
            ),
        ),
    )


@pytest.mark.slow  # waits for a window to exit and for a time-out
def test_the_fix_points_at_the_window_only_while_it_exists(tmux_home: Path) -> None:
    env = {"PATH": os.environ["PATH"]}
    gone = execute_plan(
        _plan(("sh", "-c", "exit 3"), tmux_home), tmux_target=f"{SESSION}:gone", env=env
    )
    assert not gone.ok
    failed = gone.failed_step
    assert failed is not None and failed.code == "tui-exited", gone.to_json()
    assert gone.code == "tui-exited"
    assert gone.fix is None  # the window went with its program: nothing to attach to
    stays = execute_plan(
        _plan(("sleep", "60"), tmux_home), tmux_target=f"{SESSION}:stays", env=env, timeout_s=10
    )
    assert not stays.ok and stays.window_id is not None
    # a command that runs when pasted, showing that very window
    assert stays.fix == f"tmux attach -t {stays.window_id}"
    assert (
        subprocess.run(["bash", "-n", "-c", stays.fix], capture_output=True, timeout=10).returncode
        == 0
    )
    assert "stays" in window_names()


def test_a_pane_tmux_cannot_be_asked_about_is_not_taken_for_an_exited_one(
    tmux_home: Path,
) -> None:
    """Past the deadline tmux is not asked, and a pane nothing is known about is not "exited"
    (that sent a timed-out verify to the advice for a TUI that stopped by itself)."""
    terminal = TmuxWindowTerminal(f"{SESSION}:w", deadline=time.monotonic() + 5.0)
    terminal.check_session()
    terminal.start(["sleep", "60"], str(tmux_home), {})
    try:
        assert terminal.alive()
        terminal.deadline = time.monotonic() - 1.0
        assert terminal.alive()  # not known, so not dead
        terminal.deadline = time.monotonic() + 5.0
        tmux("kill-pane", "-t", str(terminal.pane_id))
        assert not terminal.alive()  # tmux answered: the pane is gone
    finally:
        terminal.close()
