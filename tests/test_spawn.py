"""execute_plan / orch-doctor spawn: a real agent in a window of a tmux session the test made."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from orch_doctor.api import SpawnResult, TmuxTargetError, execute_plan, select_strategy
from orch_doctor.cli import main
from orch_doctor.schemas import versioned
from tests.support.opencode import isolated_env
from tests.support.schemas import assert_valid
from tests.support.tmux import needs_tmux, own_tmux_session

SESSION = "orchtest"


@pytest.fixture
def tmux_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A tmux server of this test's own (own TMUX_TMPDIR) with session ``orchtest``."""
    with own_tmux_session(monkeypatch, SESSION) as session:
        yield session


def windows() -> dict[str, str]:
    """window name -> pane_dead of the test's session."""
    out = subprocess.run(
        ["tmux", "list-panes", "-s", "-t", SESSION, "-F", "#{window_name} #{pane_dead}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def user_messages(url: str, sid: str, directory: Path, auth: Any) -> list[str]:
    answer = httpx.get(
        f"{url}/session/{sid}/message", params={"directory": str(directory)}, auth=auth, timeout=10
    )
    texts = []
    for message in answer.json():
        if message["info"]["role"] == "user":
            texts += [p.get("text", "") for p in message["parts"] if p.get("type") == "text"]
    return texts


class ArgvWatch:
    """Scans every /proc/*/cmdline while running; collects the lines holding ``secret``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.hits: list[str] = []
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                if self.secret in data:
                    self.hits.append(data.replace(b"\0", b" ").decode(errors="replace"))
            self.scans += 1
            time.sleep(0.05)


def tmux_global_env() -> str:
    return (
        subprocess.run(
            ["tmux", "show-environment", "-g"], capture_output=True, text=True, timeout=10
        ).stdout
        + subprocess.run(
            ["tmux", "show-environment", "-t", SESSION], capture_output=True, text=True, timeout=10
        ).stdout
    )


# --- programming errors --------------------------------------------------------------------


def test_execute_plan_needs_a_plan_and_one_target() -> None:
    with pytest.raises(ValueError):
        execute_plan(None, tmux_target="a:b")  # type: ignore[arg-type]


@needs_tmux
def test_a_tmux_session_that_does_not_exist_is_a_clear_error(tmux_session: str) -> None:
    from orch_doctor.decide.steps import SpawnPlan

    plan = SpawnPlan(strategy="attach-tui-api", steps=())
    with pytest.raises(TmuxTargetError, match="no tmux session 'nope'"):
        execute_plan(plan, tmux_target="nope:agent")
    with pytest.raises(TmuxTargetError, match="SESSION:WINDOW"):
        execute_plan(plan, tmux_target="just-a-session")
    with pytest.raises(ValueError, match="exactly one"):
        execute_plan(plan)


# --- real releases -------------------------------------------------------------------------


def spawn(
    version: str,
    release: Path,
    server: Any,
    env: dict[str, str],
    window: str,
    password: str | None = None,
) -> tuple[SpawnResult, str]:
    prompt = f"orch spawn test {uuid.uuid4().hex[:8]}: reply OK"
    decision = select_strategy(
        server.directory,
        model="opencode/big-pickle",
        prompt=prompt,
        server_url=server.url,
        opencode=str(release),
        env={"OPENCODE_SERVER_PASSWORD": password} if password else {},
    )
    assert decision.plan is not None, decision.fix
    from orch_doctor.api import Credentials

    creds = Credentials("opencode", password) if password else None
    begin = time.monotonic()
    result = execute_plan(
        decision.plan, tmux_target=f"{SESSION}:{window}", env=env, credentials=creds
    )
    print(f"spawn on {version}: {time.monotonic() - begin:.1f}s ({decision.strategy})")
    return result, prompt


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_execute_plan_into_a_window_on_1_0_152(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    server = real_servers("1.0.152")
    env = isolated_env(tmp_path / "home")
    result, prompt = spawn("1.0.152", opencode_release("1.0.152"), server, env, "agent-1")
    assert result.ok, result.to_json()
    assert result.strategy == "attach-tui-api"
    assert result.target == f"{SESSION}:agent-1"
    assert result.session_id
    assert all(s.outcome == "ok" for s in result.steps)
    assert windows().get("agent-1") == "0"  # the window and its TUI run on
    assert any(
        prompt in t for t in user_messages(server.url, result.session_id, server.directory, None)
    )
    assert_valid("spawn", versioned(result.to_json()))


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_execute_plan_with_a_password_on_1_18_33(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    server = real_servers("1.18.33", password=password)
    env = isolated_env(tmp_path / "home")
    with ArgvWatch(password) as watch:
        result, prompt = spawn(
            "1.18.33", opencode_release("1.18.33"), server, env, "agent-2", password
        )
    assert result.ok, result.to_json()
    assert result.strategy == "attach-session-api"
    assert watch.scans > 3 and watch.hits == []
    assert password not in tmux_global_env()
    assert password not in json.dumps(result.to_json())
    assert windows().get("agent-2") == "0"
    assert result.session_id
    texts = user_messages(server.url, result.session_id, server.directory, server.auth)
    assert any(prompt in t for t in texts)
    leftovers = list(Path(tempfile.gettempdir()).glob("orch-doctor-env-*/env"))
    assert not [p for p in leftovers if password in p.read_text(errors="replace")]


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_orch_doctor_spawn_on_1_18_33(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    server = real_servers("1.18.33", password=password)
    for name, value in isolated_env(tmp_path / "home").items():
        if name in ("HOME",) or name.startswith("XDG_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", password)
    prompt = f"cli spawn {uuid.uuid4().hex[:8]}"
    args = [
        "spawn",
        "--dir", str(server.directory),
        "--model", "opencode/big-pickle",
        "--prompt", prompt,
        "--server", server.url,
        "--opencode", str(opencode_release("1.18.33")),
        "--tmux-target", f"{SESSION}:cli",
    ]  # fmt: skip
    with ArgvWatch(password) as watch:
        out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert_valid("spawn", data)
    assert data["ok"] and data["session_id"] and data["target"] == f"{SESSION}:cli"
    assert watch.hits == []
    assert windows().get("cli") == "0"
    assert any(
        prompt in t
        for t in user_messages(server.url, data["session_id"], server.directory, server.auth)
    )
    text = CliRunner().invoke(main, [*args[:-1], f"{SESSION}:cli2"])
    assert text.exit_code == 0, text.output
    assert "session ses_" in text.output and f"{SESSION}:cli2" in text.output


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_a_server_that_dies_after_the_session_is_created_is_ok_false(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    from orch_doctor.verify.throwaway import start_server

    release = opencode_release("1.18.33")
    env = isolated_env(tmp_path / "home")
    project = tmp_path / "project"
    project.mkdir()
    server = start_server(str(release), cwd=project, env=env, log=tmp_path / "serve.log")
    try:
        decision = select_strategy(
            project, prompt="never arrives", server_url=server.url, opencode=str(release), env={}
        )
        assert decision.plan is not None and decision.strategy == "attach-session-api"

        def kill_after_create(step: Any) -> None:
            if step.index == 0:
                server.stop()

        result = execute_plan(
            decision.plan,
            tmux_target=f"{SESSION}:doomed",
            env=env,
            on_step=kill_after_create,
            timeout_s=40,
        )
    finally:
        server.stop()
    assert not result.ok
    failed = result.failed_step
    assert failed is not None and failed.index > 0, result.to_json()
    assert failed.expected and failed.seen is not None
    assert failed.code is not None and result.code == failed.code, result.to_json()
    assert result.fix


@pytest.mark.real
@pytest.mark.slow
def test_execute_plan_into_a_public_pty_terminal_on_1_18_33(
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    from orch_doctor.api import PtyTerminal

    server = real_servers("1.18.33")
    release = opencode_release("1.18.33")
    prompt = f"pty spawn {uuid.uuid4().hex[:8]}"
    decision = select_strategy(
        server.directory, prompt=prompt, server_url=server.url, opencode=str(release), env={}
    )
    assert decision.plan is not None
    terminal = PtyTerminal()
    try:
        result = execute_plan(decision.plan, terminal=terminal, env=isolated_env(tmp_path / "home"))
        assert result.ok, result.to_json()
        assert terminal.alive()
        assert result.session_id
        assert any(
            prompt in t
            for t in user_messages(server.url, result.session_id, server.directory, None)
        )
    finally:
        terminal.close()


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_the_readme_example_spawns_a_real_agent_with_public_names_only(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """README, "Using it from orch": its code block as written (only the project path, the
    server URL and the window filled in), in a fresh interpreter, on a real 1.18.33."""
    import os
    import re
    import sys

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using it from orch", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    source = code.group(1)
    imports = re.findall(r"^\s*(?:from|import) (\S+)", source, re.M)
    assert imports == ["orch_doctor.api"]  # no private import
    server = real_servers("1.18.33")
    for old, new in [
        ("/path/to/project", str(server.directory)),
        ("http://127.0.0.1:4096", server.url),
        ("orch:agent-7", f"{SESSION}:readme"),
    ]:
        assert old in source
        source = source.replace(old, new)
    env = {**os.environ, **isolated_env(tmp_path / "home")}
    env["OPENCODE_BIN"] = str(opencode_release("1.18.33"))
    env.pop("OPENCODE_SERVER_PASSWORD", None)
    env["ORCH_DOCTOR_CACHE_DIR"] = str(tmp_path / "cache")
    out = subprocess.run(
        [sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"runs in tmux window {SESSION}:readme" in out.stdout
    sid = re.search(r"agent (\S+) runs", out.stdout)
    assert sid is not None
    assert windows().get("readme") == "0"
    texts = user_messages(server.url, sid.group(1), server.directory, None)
    assert any("fix the failing test" in t for t in texts)


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_standalone_spawn_on_1_18_33_is_judged_from_the_screen_and_gets_only_its_env(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """No server: the TUI runs with --prompt in the window, delivery is judged from its screen
    (no session id), and the TUI's environment is exactly the one given (nothing of the tmux
    server's global environment, no password file left)."""
    project = tmp_path / "project"
    project.mkdir()
    release = opencode_release("1.18.33")
    subprocess.run(
        ["tmux", "set-environment", "-g", "ORCH_TEST_GLOBAL", "leaked"], check=True, timeout=10
    )
    prompt = f"standalone spawn {uuid.uuid4().hex[:8]}"
    decision = select_strategy(
        project, prompt=prompt, opencode=str(release), env={}, discover=False
    )
    assert decision.strategy == "standalone-prompt" and decision.plan is not None
    env = isolated_env(tmp_path / "home", ORCH_TEST_GIVEN="given")
    result = execute_plan(decision.plan, tmux_target=f"{SESSION}:solo", env=env, timeout_s=90)
    assert result.ok, result.to_json()
    assert result.session_id is None
    assert result.confirmation is not None
    assert result.confirmation.checks[0].name == "no-server"
    assert windows().get("solo") == "0"
    pid = subprocess.run(
        ["tmux", "display-message", "-p", "-t", f"{SESSION}:solo", "#{pane_pid}"],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout.strip()  # fmt: skip
    if not Path("/proc").is_dir():  # the TUI's environment is read from /proc (Linux)
        return
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"ORCH_TEST_GIVEN=given" in environ
    assert not [e for e in environ if e.startswith(b"ORCH_TEST_GLOBAL=")]
    assert any(e.startswith(b"TERM=") and e != b"TERM=" for e in environ)


# --- user text stays data (issue 17) -------------------------------------------------------

#: what a prompt may hold: placeholders, tmux formats, a separator, a newline, 100 KB of text
HOSTILE_PROMPT = (
    "In utils.py, make greet() return f'Hello {user_name}' #(touch X) keep going\\;\n"
    + "pad " * 25_000
    + "end;"
)


def cli_spawn_args(server: Any, release: Path, prompt_file: Path, window: str) -> list[str]:
    return [
        "spawn",
        "--dir", str(server.directory),
        "--model", "opencode/big-pickle",
        "--prompt-file", str(prompt_file),
        "--server", server.url,
        "--opencode", str(release),
        "--tmux-target", f"{SESSION}:{window}",
    ]  # fmt: skip


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_orch_doctor_spawn_delivers_a_hostile_prompt_verbatim_on_1_18_33(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Braces, ``#(...)``, a trailing ``;``, a newline and 100 KB arrive as the stored user
    message, byte for byte; tmux ran nothing; a taken window name is exit 2 naming it."""
    import os

    server = real_servers("1.18.33")
    for name, value in isolated_env(tmp_path / "home").items():
        if name in ("HOME",) or name.startswith("XDG_"):
            monkeypatch.setenv(name, value)
    prompt = os.environ.get("ORCH_TEST_SPAWN_PROMPT", HOSTILE_PROMPT)
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(prompt, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    release = opencode_release("1.18.33")
    args = cli_spawn_args(server, release, prompt_file, "w#S;")
    out = CliRunner().invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert_valid("spawn", data)
    assert data["window_id"].startswith("@") and data["target"] == f"{SESSION}:w#S;"
    assert windows().get("w#S;") == "0"
    texts = user_messages(server.url, data["session_id"], server.directory, server.auth)
    assert texts == [prompt]
    assert not list(tmp_path.glob("X")) and not Path("X").exists()
    taken = CliRunner().invoke(main, args)
    assert taken.exit_code == 2, taken.output
    assert "already has a window named 'w#S;'" in taken.output


@needs_tmux
@pytest.mark.real
@pytest.mark.slow
def test_sigint_while_spawn_waits_for_the_tui_removes_the_window_and_the_session(
    tmux_session: str,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """SIGINT during the TUI wait: exit 130, the window killed, the session deleted, and the
    line says so."""
    import os
    import signal
    import sys

    server = real_servers("1.18.33")
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(f"interrupted {uuid.uuid4().hex[:8]}", encoding="utf-8")
    env = {**os.environ, **isolated_env(tmp_path / "home")}
    before = httpx.get(
        f"{server.url}/session", params={"directory": str(server.directory)}, timeout=10
    ).json()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orch_doctor",
         *cli_spawn_args(server, opencode_release("1.18.33"), prompt_file, "interrupted")],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        end = time.monotonic() + 60
        while "interrupted" not in windows():
            assert time.monotonic() < end and proc.poll() is None, "no window"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted" not in windows()
    assert "removed tmux window" in err and "removed session ses_" in err, err
    after = httpx.get(
        f"{server.url}/session", params={"directory": str(server.directory)}, timeout=10
    ).json()
    assert {s["id"] for s in after} == {s["id"] for s in before}


@needs_tmux
@pytest.mark.real
def test_a_tmux_target_with_escapes_is_shown_escaped(
    tmux_session: str, opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    out = CliRunner().invoke(
        main,
        [
            "spawn", "--dir", str(tmp_path), "--prompt", "hi",
            "--opencode", str(opencode_release("1.18.33")),
            "--tmux-target", "nosuch:w\x1b]0;owned\x07",
        ],
    )  # fmt: skip
    assert out.exit_code == 2, out.output
    assert "\x1b" not in out.output and "\x07" not in out.output
    assert "-> nosuch:w\\x1b]0;owned\\x07" in out.output


def test_spawn_without_a_possible_strategy_answers_a_whole_spawn_result(tmp_path: Path) -> None:
    """No plan: the JSON is the same declared shape as a delivery's (strategy none, no step)."""
    out = CliRunner().invoke(
        main,
        [
            "spawn", "--dir", str(tmp_path), "--prompt", "hi",
            "--opencode", str(tmp_path / "no-opencode"), "--tmux-target", "s:w",
            "--format", "json",
        ],
    )  # fmt: skip
    assert out.exit_code == 1, out.output
    data = json.loads(out.output)
    assert_valid("spawn", data)
    assert (data["ok"], data["strategy"], data["steps"]) == (False, "none", [])
    assert data["target"] == "s:w"
    assert data["problem"].startswith("no spawn strategy is possible") and data["fix"]
    assert data["confirmation"] is None and data["last_screen"] == ""
