"""verify against real OpenCode releases: the chosen strategy runs for real and the prompt arrives.

Every run gets its own temp root so leftovers (temp dirs, processes, tmux sockets) can be asserted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from orch_doctor.cli import main
from orch_doctor.errors import PlanValidationError
from orch_doctor.execute.terminal import tmux_socket_path
from orch_doctor.verify.run import VerifyOptions, VerifyReport, run_verify
from tests.support.schemas import assert_valid

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="/proc and tmux checks"),
    pytest.mark.real,  # real releases, real servers, tmux: 5-20 s a run
    pytest.mark.slow,
]

TIMEOUT_S = 150.0  # the machine is loaded: generous, the runs take 5-20 s
WALL_TIMES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def print_wall_times() -> Iterator[None]:
    """Prints the measured wall time of each verify run at the end (pytest -s shows it)."""
    yield
    for name, wall in sorted(WALL_TIMES.items()):
        print(f"\nverify wall time {name}: {wall:.1f}s")


@pytest.fixture(autouse=True)
def own_tmux_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's tmux sockets live in a folder of its own (TMUX_TMPDIR), so that the
    clean-up checks see only what this test started, whatever else runs on the machine."""
    folder = tempfile.mkdtemp(prefix="odv-")
    monkeypatch.setenv("TMUX_TMPDIR", folder)
    yield
    shutil.rmtree(folder, ignore_errors=True)


def tmux_sockets() -> set[str]:
    folder = tmux_socket_path("x").parent
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.name.startswith("orch-doctor-")}


def processes_under(root: Path) -> list[str]:
    """Processes whose cwd or argv points into ``root`` (the run's temp dirs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(root) in cmdline or cwd.startswith(str(root)):
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


#: a scratch folder the clean-up could not remove at once is left to a detached ``rm -rf`` that
#: ends by itself; on a loaded machine (CI: two test workers, OpenCode installing packages) that
#: took over 10 s once, so it gets longer than the run's own processes
DETACHED_RM_WITHIN_S = 120.0


def assert_clean(root: Path, sockets_before: set[str]) -> None:
    deadline = time.monotonic() + 10
    while processes_under(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_under(root)
    assert [p for p in left if not is_detached_rm(p, root)] == []
    deadline = time.monotonic() + DETACHED_RM_WITHIN_S
    while processes_under(root) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_under(root) == []
    assert list(root.iterdir()) == []
    assert tmux_sockets() - sockets_before == set()


def is_detached_rm(found: str, root: Path) -> bool:
    """``found`` (a :func:`processes_under` line) is the detached ``rm -rf`` of a scratch folder."""
    return found.split(": ", 1)[1].startswith(f"rm -rf -- {root}{os.sep}")


def verify(binary: Path, root: Path, **options: object) -> VerifyReport:
    begin = time.monotonic()
    report = run_verify(
        VerifyOptions(
            **{"opencode": str(binary), "tmp_root": str(root), "timeout_s": TIMEOUT_S, **options}
        )  # type: ignore[arg-type]
    )
    label = f"{report.release} {report.strategy} {options.get('terminal') or 'tmux'}"
    label += "" if report.verified else " (not verified)"
    WALL_TIMES[label] = time.monotonic() - begin
    return report


def assert_delivered(report: VerifyReport) -> None:
    assert report.verified, report.to_json()
    assert report.confirmation is not None
    names = {c.name: c.ok for c in report.confirmation.checks}
    assert names == {
        "session": True,
        "prompt-stored": True,
        "no-session-error": True,
        "tui-shows-prompt": True,
    }
    assert report.confirmation.session_id and report.confirmation.session_id.startswith("ses_")
    assert all(step.outcome == "ok" for step in report.steps)


@pytest.mark.parametrize(
    ("version", "strategy"),
    [
        ("1.0.152", "attach-tui-api"),
        ("1.1.11", "attach-session-api"),  # inside the "Session not found" window (#7149)
        ("1.18.33", "attach-session-api"),
    ],
)
def test_verify_chosen_strategy_on_real_release(
    version: str,
    strategy: str,
    opencode_release: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    sockets = tmux_sockets()
    report = verify(opencode_release(version), tmp_path, model="opencode/big-pickle")
    assert report.release == version
    assert report.strategy == strategy
    assert report.throwaway_server and report.server_url
    assert_delivered(report)
    kinds = [s.kind for s in report.steps]
    assert "process" in kinds and "wait" in kinds
    assert_clean(tmp_path, sockets)


def test_verify_standalone_prompt_without_server(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    sockets = tmux_sockets()
    report = verify(
        opencode_release("1.18.33"),
        tmp_path,
        no_server=True,
        model="opencode/big-pickle",
        prompt="standalone check: list the files",
    )
    assert report.strategy == "standalone-prompt"
    assert report.server_url is None
    process = next(s for s in report.steps if s.kind == "process")
    assert "--prompt" in process.detail and "--session" not in process.detail
    assert_delivered(report)
    assert_clean(tmp_path, sockets)


def test_verify_in_pseudo_terminal_without_tmux(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    report = verify(opencode_release("1.0.152"), tmp_path, terminal="pty")
    assert report.strategy == "attach-tui-api"
    assert_delivered(report)
    assert "pty" in next(s.detail for s in report.steps if s.kind == "process")
    assert_clean(tmp_path, set())


def test_forcing_attach_session_api_on_1_0_152_is_refused_by_plan_validation(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    binary = opencode_release("1.0.152")
    with pytest.raises(PlanValidationError) as info:
        verify(binary, tmp_path, strategy="attach-session-api")
    assert info.value.command == "attach"
    assert "--session" in info.value.missing
    # nothing was started
    assert_clean(tmp_path, set())

    result = CliRunner().invoke(
        main,
        ["verify", "--opencode", str(binary), "--strategy", "attach-session-api"],
        env={"ORCH_DOCTOR_TMPDIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "--session" in result.output
    assert "Traceback" not in result.output


def test_failed_verify_leaves_nothing_behind(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    sockets = tmux_sockets()
    # long enough to start the server and the TUI, too short for the TUI to come up
    report = verify(opencode_release("1.18.33"), tmp_path, timeout_s=4.0)
    assert not report.verified
    assert report.problem and report.fix
    if report.steps:  # the usual case; a very slow machine may time out in the server start
        failed = [s for s in report.steps if s.outcome == "failed"]
        assert failed, report.to_json()
        assert failed[0].expected and failed[0].seen
        assert failed[0].code in ("timeout", "deadline"), report.to_json()
        assert "timeout" in report.fix
    assert_clean(tmp_path, sockets)


def test_sigterm_mid_run_cleans_up(opencode_release: Callable[[str], Path], tmp_path: Path) -> None:
    sockets = tmux_sockets()
    binary = opencode_release("1.0.152")
    env = {**os.environ, "ORCH_DOCTOR_TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orch_doctor", "verify", "--opencode", str(binary)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # the TUI has been started in its terminal
            if "started in" in line:
                break
        assert tmux_sockets() - sockets, "the run's tmux server should be up now"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143  # 128 + SIGTERM
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    assert_clean(tmp_path, sockets)


def test_verify_against_a_password_server_keeps_the_secret_out_of_output(
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., object],
    tmp_path: Path,
) -> None:
    password = "s3cret-verify-pw"
    server = real_servers("1.18.33", password=password)
    env = {"ORCH_DOCTOR_TMPDIR": str(tmp_path), "OPENCODE_SERVER_PASSWORD": password}
    result = CliRunner().invoke(
        main,
        [
            "verify",
            "--opencode",
            str(opencode_release("1.18.33")),
            "--server",
            server.url,  # type: ignore[attr-defined]
            "--format",
            "json",
            "--timeout",
            str(TIMEOUT_S),
        ],
        env=env,
    )
    assert password not in result.output
    data = json.loads(result.output)
    assert_valid("verify", data)
    assert result.exit_code == 0, data
    assert data["verified"] and data["strategy"] == "attach-session-api"
    assert not data["throwaway_server"]
    assert_clean(tmp_path, set())


def _session_ids(url: str, directory: Path) -> set[str]:
    import httpx

    answer = httpx.get(f"{url}/session", params={"directory": str(directory)}, timeout=10)
    assert answer.status_code == 200
    return {s["id"] for s in answer.json()}


@pytest.mark.parametrize("version", ["1.18.33", "1.0.152"])
@pytest.mark.parametrize("keep", [False, True], ids=["cleans-up", "keep"])
def test_verify_against_a_user_server_removes_its_session_unless_keep(
    version: str,
    keep: bool,
    opencode_release: Callable[[str], Path],
    real_servers: Callable[..., object],
    tmp_path: Path,
) -> None:
    server = real_servers(version)
    url, directory = server.url, server.directory  # type: ignore[attr-defined]
    before = _session_ids(url, directory)
    report = verify(
        opencode_release(version),
        tmp_path,
        server_url=url,
        directory=str(directory),
        model="opencode/big-pickle",
        keep=keep,
    )
    assert report.verified, report.to_json()
    made = _session_ids(url, directory) - before
    created = [c for c in report.created if c.startswith("session ")]
    assert len(created) == 1 and url in created[0], report.created
    session_id = created[0].split()[1]
    if keep:
        assert made == {session_id}
        hint = next(k for k in report.kept if session_id in k)
        assert "curl -X DELETE" in hint
        assert report.removed == []
        subprocess.run(hint.split("remove it: ", 1)[1], shell=True, check=True, timeout=30)
        assert session_id not in _session_ids(url, directory)
        # the rest of what --keep left: its own clean-up line removes it
        line = next(k for k in report.kept if k.startswith("clean up: "))
        subprocess.run(line.removeprefix("clean up: "), shell=True, timeout=30)
    else:
        assert made == set(), "the run's session is still in the user's server"
        assert any(session_id in r and url in r for r in report.removed), report.removed
        assert report.left == []
    assert_clean(tmp_path, set())


def test_keep_leaves_the_tui_server_and_folder_and_prints_how_to_inspect_and_clean_up(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    sockets = tmux_sockets()
    result = CliRunner().invoke(
        main,
        ["verify", "--opencode", str(opencode_release("1.18.33")), "--keep"],
        env={"ORCH_DOCTOR_TMPDIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    # live: what runs before the first step is shown as it starts, then each step as it starts
    # (elapsed time) and as it ends (status mark, duration)
    lines = result.output.splitlines()
    assert lines[0].startswith("  [  0.0s] probe the OpenCode binary")
    assert "start a throwaway opencode serve" in lines[1]
    started = [m.group(1) for ln in lines if (m := re.match(r"^  \[ *[\d.]+s\] (\d+)\. ", ln))]
    ended = [m.group(1) for ln in lines if (m := re.match(r"^ +(?:✓|ok) +(\d+)\. ", ln))]
    assert started and started == ended, result.output
    kept = [
        ln.removeprefix("kept: ") for ln in result.output.splitlines() if ln.startswith("kept: ")
    ]
    attach = next(k for k in kept if k.startswith("attach to the TUI: "))
    words = attach.split()  # attach to the TUI: tmux -L <socket> attach -t verify
    socket = words[words.index("-L") + 1]
    assert tmux_sockets() - sockets == {socket}
    # the TUI still runs in the kept tmux, the server answers, the folder is there
    pane = subprocess.run(
        ["tmux", "-L", socket, "capture-pane", "-p", "-t", "verify"],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    assert pane.returncode == 0 and pane.stdout.strip()
    server_line = next(k for k in kept if k.startswith("server: "))
    server_url = server_line.split()[1]
    import httpx

    assert httpx.get(server_url + "/path", timeout=10).status_code == 200
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and str(folders[0]) in result.output
    assert processes_under(tmp_path)
    # the printed clean-up removes all of it
    line = next(k for k in kept if k.startswith("clean up: "))
    subprocess.run(line.removeprefix("clean up: "), shell=True, timeout=30, check=True)
    assert_clean(tmp_path, sockets)


def test_keep_with_the_pty_terminal_prints_a_clean_up_that_stops_the_tui(
    opencode_release: Callable[[str], Path], tmp_path: Path
) -> None:
    """The pseudo-terminal's TUI outlives ``verify`` (its group, not its pty, stops it): the
    printed clean-up line names that group as well as the server's."""
    sockets = tmux_sockets()
    run = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "verify", "--opencode",
         str(opencode_release("1.18.33")), "--keep", "--terminal", "pty"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent.parent,
        env={**os.environ, "ORCH_DOCTOR_TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    kept = [ln.removeprefix("kept: ") for ln in run.stdout.splitlines() if ln.startswith("kept: ")]
    line = next(k for k in kept if k.startswith("clean up: ")).removeprefix("clean up: ")
    groups = re.match(r"kill -s TERM -- ((?:-\d+ ?)+);", line)
    assert groups is not None, line
    pgids = [int(g) for g in groups.group(1).split()]
    assert len(pgids) == 2  # the throwaway server and the TUI
    server_pid = int(re.search(r"\(pid (\d+),", next(k for k in kept if "server: " in k)).group(1))  # type: ignore[union-attr]
    tui = next(-g for g in pgids if -g != server_pid)
    assert _live_in_group(tui)  # verify has ended; the TUI runs on in its group
    assert processes_under(tmp_path)
    subprocess.run(line, shell=True, timeout=30, check=True)
    assert_clean(tmp_path, sockets)
    deadline = time.monotonic() + 10
    while _live_in_group(tui) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _live_in_group(tui) == []


def _live_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that still run (a zombie waiting for its reaper does not)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found
