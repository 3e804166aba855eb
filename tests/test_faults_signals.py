"""Fault catalogue: signals and processes left behind (issue 10).

Each case runs ``python -m orch_doctor ...`` as a real process, waits for a moment (its trigger:
a hanging child started, the throwaway server started, tmux starting, the TUI started), sends
SIGINT or SIGTERM and expects: exit 130 / 143 within 2 s, no traceback, and nothing of the run
left — no process carrying the run's scope token, none of the pids a fake recorded (including
grandchildren that ``setsid``-ed, one of them with a cleared environment), no process under the
run's temp root, no scratch folder, no tmux socket or server.

Real releases (1.0.152, 1.18.33) where a real one can show it; fakes only to hang, to ``setsid``
a grandchild, or to slow tmux's start down. The measured time from signal to exit of every run
is printed at the end (``pytest -s``); ORCH_DOCTOR_SIGNAL_RUNS=N repeats each case N times.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.fake_server import black_hole

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc checks")

ROOT = Path(__file__).resolve().parent.parent
EXIT_WITHIN_S = 2.0
RUNS = int(os.environ.get("ORCH_DOCTOR_SIGNAL_RUNS", "1"))
TIMES: dict[str, list[float]] = {}


@pytest.fixture(scope="module", autouse=True)
def print_times() -> Iterator[None]:
    yield
    for case, times in sorted(TIMES.items()):
        print(
            f"\ntime to exit {case}: median {statistics.median(times) * 1000:.0f} ms "
            f"(max {max(times) * 1000:.0f} ms, {len(times)} run(s))"
        )


# --- what a run left ----------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def carrying_token_of(pid: int) -> list[str]:
    """Live processes whose environment carries a scope token of orch-doctor process ``pid``
    (tokens are ``<pid>-<random>``)."""
    needle = f"ORCH_DOCTOR_SCOPE={pid}-".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not _alive(int(entry.name)):
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{entry.name}: {cmd[:400]}")
        except OSError:
            continue
    return found


def processes_under(root: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (str(root) in cmdline or cwd.startswith(str(root))) and _alive(int(entry.name)):
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def recorded_pids(path: Path) -> list[int]:
    try:
        return [int(p) for p in path.read_text().split()]
    except (OSError, ValueError):
        return []


# --- fakes (what a real OpenCode cannot be made to do) ------------------------------------------

HANG_BODY = """\
setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! >> {pids}
setsid env -i sleep 300 </dev/null >/dev/null 2>&1 & echo $! >> {pids}
sleep 300 & echo $! >> {pids}
echo $$ >> {pids}
wait
"""


def hanging_binary(tmp: Path, pids: Path) -> Path:
    """A fake opencode: ``--version`` answers, everything else hangs after starting a
    grandchild that left its group (``setsid``), one that also cleared its environment, and one
    in its own group."""
    path = tmp / "opencode-hang"
    path.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 1.0.152; exit 0; fi\n'
        + HANG_BODY.format(pids=pids)
    )
    path.chmod(0o755)
    return path


def hanging_serve(tmp: Path, pids: Path, real: Path) -> Path:
    """A real release, except that ``serve`` hangs (never listens) with escaping grandchildren."""
    path = tmp / "opencode-serve-hangs"
    path.write_text(
        f'#!/bin/sh\nif [ "$1" = "serve" ]; then\n{HANG_BODY.format(pids=pids)}fi\n'
        f'exec {real} "$@"\n'
    )
    path.chmod(0o755)
    return path


def slow_tmux(tmp: Path) -> Path:
    """A folder with a ``tmux`` that starts the real one, then takes 30 s more to return from
    ``new-session``: the run is interrupted while its tmux server exists but is not started as
    far as the run knows."""
    folder = tmp / "slow-tmux-bin"
    folder.mkdir()
    real = shutil.which("tmux")
    (folder / "tmux").write_text(
        f'#!/bin/sh\n{real} "$@"\nrc=$?\n'
        'for a in "$@"; do [ "$a" = new-session ] && sleep 30; done\nexit $rc\n'
    )
    (folder / "tmux").chmod(0o755)
    return folder


# --- the catalogue --------------------------------------------------------------------------------


@dataclass
class Run:
    proc: subprocess.Popen[str]
    lines: list[str]
    pids: Path
    root: Path
    started: float


Trigger = Callable[[Run], bool]


def fake_started(n: int) -> Trigger:
    return lambda run: len(recorded_pids(run.pids)) >= n


def after(seconds: float) -> Trigger:
    """Nothing to see from outside (an HTTP call that hangs): signal after ``seconds``."""
    return lambda run: time.monotonic() - run.started >= seconds


def printed(text: str) -> Trigger:
    return lambda run: any(text in line for line in run.lines)


def token_process(word: str) -> Trigger:
    """A process of the run (it carries the run's token) whose argv has ``word``."""
    return lambda run: any(word in p for p in carrying_token_of(run.proc.pid))


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Path, Path, Callable[[str], Path]], list[str]]  # (tmp, pids, release)
    trigger: Trigger
    sig: signal.Signals
    real: bool = False
    server: bool = False  # needs a never-answering server: {server} in argv
    tmux: str = "real"  # "real" or "slow"


def _probe_hang(tmp: Path, pids: Path, _release: Callable[[str], Path]) -> list[str]:
    return ["probe", "--opencode", str(hanging_binary(tmp, pids))]


def _doctor_hang(tmp: Path, pids: Path, _release: Callable[[str], Path]) -> list[str]:
    return ["--opencode", str(hanging_binary(tmp, pids)), "--no-discover", "--dir", str(tmp)]


def _plan_hang(tmp: Path, pids: Path, _release: Callable[[str], Path]) -> list[str]:
    return ["plan", "--opencode", str(hanging_binary(tmp, pids)), "--dir", str(tmp)]


def _server_hang(tmp: Path, pids: Path, _release: Callable[[str], Path]) -> list[str]:
    return ["server", "{server}"]


def _doctor_both_hang(tmp: Path, pids: Path, _release: Callable[[str], Path]) -> list[str]:
    return [*_doctor_hang(tmp, pids, _release), "--server", "{server}"]


def _verify_serve_hangs(tmp: Path, pids: Path, release: Callable[[str], Path]) -> list[str]:
    return ["verify", "--opencode", str(hanging_serve(tmp, pids, release("1.18.33")))]


def _verify(version: str) -> Callable[[Path, Path, Callable[[str], Path]], list[str]]:
    return lambda tmp, pids, release: ["verify", "--opencode", str(release(version))]


CASES = [
    Case("probe-hang-sigint", _probe_hang, fake_started(4), signal.SIGINT),
    Case("probe-hang-sigterm", _probe_hang, fake_started(4), signal.SIGTERM),
    Case("doctor-hang-binary-sigint", _doctor_hang, fake_started(4), signal.SIGINT),
    Case("plan-hang-binary-sigterm", _plan_hang, fake_started(4), signal.SIGTERM),
    Case("server-probe-hang-sigint", _server_hang, after(1.5), signal.SIGINT, server=True),
    Case(
        "doctor-binary-and-server-hang-sigterm",
        _doctor_both_hang,
        fake_started(4),
        signal.SIGTERM,
        server=True,
    ),
    Case("verify-serve-hangs-sigint", _verify_serve_hangs, fake_started(4), signal.SIGINT, True),
    Case("verify-serve-hangs-sigterm", _verify_serve_hangs, fake_started(4), signal.SIGTERM, True),
    Case(
        "verify-1.18.33-server-start-sigint",
        _verify("1.18.33"),
        token_process("serve"),
        signal.SIGINT,
        True,
    ),
    Case(
        "verify-1.0.152-tmux-start-sigint",
        _verify("1.0.152"),
        token_process("new-session"),
        signal.SIGINT,
        True,
        tmux="slow",
    ),
    Case(
        "verify-1.18.33-tmux-start-sigterm",
        _verify("1.18.33"),
        token_process("new-session"),
        signal.SIGTERM,
        True,
        tmux="slow",
    ),
    Case(
        "verify-1.18.33-tui-wait-sigterm",
        _verify("1.18.33"),
        printed("started in"),
        signal.SIGTERM,
        True,
    ),
    Case(
        "verify-1.0.152-tui-wait-sigint",
        _verify("1.0.152"),
        printed("started in"),
        signal.SIGINT,
        True,
    ),
]


#: the one case the fast suite keeps (each signals a process of its own: the rest are slow)
FAST_CASE = "probe-hang-sigint"


def _params() -> list[object]:
    def marks(c: Case) -> tuple[pytest.MarkDecorator, ...]:
        if c.real:
            return (pytest.mark.real, pytest.mark.slow)
        return () if c.id == FAST_CASE else (pytest.mark.slow,)

    return [pytest.param(c, id=c.id, marks=marks(c)) for c in CASES]


@pytest.mark.parametrize("case", _params())
def test_signal_ends_the_run_and_leaves_nothing(
    case: Case, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    release: Callable[[str], Path] = (
        request.getfixturevalue("opencode_release") if case.real else (lambda v: Path("/nope"))
    )
    for _ in range(RUNS):
        run_case(case, tmp_path / f"run-{len(TIMES.get(case.id, []))}", release)


def run_case(case: Case, tmp: Path, release: Callable[[str], Path]) -> None:
    tmp.mkdir(parents=True)
    root = tmp / "verify-root"
    root.mkdir()
    tmux_dir = Path(tempfile.mkdtemp(prefix="ods-"))
    pids = tmp / "pids"
    env = {**os.environ, "ORCH_DOCTOR_TMPDIR": str(root), "TMUX_TMPDIR": str(tmux_dir)}
    env["PYTHONPATH"] = str(ROOT)
    if case.tmux == "slow":
        env["PATH"] = f"{slow_tmux(tmp)}:{env['PATH']}"
    argv = case.argv(tmp, pids, release)
    with black_hole() as hole:
        argv = [a.replace("{server}", hole) for a in argv]
        proc = subprocess.Popen(
            [sys.executable, "-m", "orch_doctor", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp,
        )
        run = Run(proc, [], pids, root, time.monotonic())
        err: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=lambda: run.lines.extend(proc.stdout), daemon=True),  # type: ignore[arg-type]
            threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True),  # type: ignore[arg-type]
        ]
        for reader in readers:
            reader.start()
        try:
            deadline = time.monotonic() + (90 if case.real else 20)
            while not case.trigger(run):
                if proc.poll() is not None:
                    pytest.fail(
                        f"{case.id}: ended before the signal: {''.join(err)[-800:]} "
                        + "".join(run.lines)[-800:]
                    )
                if time.monotonic() >= deadline:
                    pytest.fail(f"{case.id}: its moment never came: {''.join(err)[-800:]}")
                time.sleep(0.01)
            assert proc.poll() is None, f"{case.id}: ended before the signal"
            sent = time.monotonic()
            proc.send_signal(case.sig)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{case.id}: still running 10 s after {case.sig.name}")
            took = time.monotonic() - sent
            for reader in readers:
                reader.join(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        TIMES.setdefault(case.id, []).append(took)
        stderr = "".join(err)
        try:
            assert proc.returncode == 128 + case.sig, (proc.returncode, stderr[-800:])
            assert took < EXIT_WITHIN_S, f"{case.id}: {took:.2f}s from signal to exit"
            assert "Traceback" not in stderr and "Aborted!" not in stderr, stderr[-800:]
            assert f"interrupted by {case.sig.name}" in stderr
            # nothing of the run is left
            assert carrying_token_of(proc.pid) == []
            assert [p for p in recorded_pids(pids) if _alive(p)] == []
            if "in the background" in stderr:  # a loaded machine: a detached rm -rf finishes
                until = time.monotonic() + 120  # once over 10 s under CI's load
                while list(root.iterdir()) and time.monotonic() < until:
                    time.sleep(0.1)
            assert processes_under(root) == []
            assert list(root.iterdir()) == []  # no scratch folder
            sockets = list(tmux_dir.glob("tmux-*/*"))
            assert sockets == [], sockets  # no tmux socket (and so no server)
        finally:
            shutil.rmtree(tmux_dir, ignore_errors=True)


def test_every_catalogue_case_has_a_unique_id() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 12


@pytest.mark.parametrize(
    ("case_id", "make", "expected"),
    [
        ("verify-dir-is-a-file", lambda t: t / "afile", "is not a directory"),
        ("verify-dir-under-a-file", lambda t: t / "afile" / "sub", "cannot create --dir"),
    ],
)
def test_verify_dir_that_cannot_be_a_directory_is_a_usage_error(
    case_id: str, make: Callable[[Path], Path], expected: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from orch_doctor.cli import main

    (tmp_path / "afile").write_text("not a directory\n")
    root = tmp_path / "root"
    result = CliRunner().invoke(
        main, ["verify", "--dir", str(make(tmp_path))], env={"ORCH_DOCTOR_TMPDIR": str(root)}
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(root.iterdir()) == []  # its scratch folder is gone too


@pytest.mark.real
@pytest.mark.slow
def test_sigint_mid_verify_against_a_user_server_removes_its_session(
    opencode_release: Callable[[str], Path], real_servers: Callable[..., object], tmp_path: Path
) -> None:
    """Catalogue case verify-user-server-1.18.33-sigint: the session verify made in the user's
    server is aborted and deleted by the signal handler too."""
    import httpx

    server = real_servers("1.18.33")
    url, directory = server.url, server.directory  # type: ignore[attr-defined]

    def sessions() -> set[str]:
        answer = httpx.get(f"{url}/session", params={"directory": str(directory)}, timeout=10)
        return {s["id"] for s in answer.json()}

    before = sessions()
    root = tmp_path / "root"
    root.mkdir()
    env = {**os.environ, "ORCH_DOCTOR_TMPDIR": str(root), "PYTHONPATH": str(ROOT)}
    env["TMUX_TMPDIR"] = str(tmp_path / "tmux")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orch_doctor", "verify", "--opencode",
         str(opencode_release("1.18.33")), "--server", url, "--dir", str(directory)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # the session exists and its TUI started
            if "started in" in line:
                break
        assert sessions() - before, "verify should have made its session by now"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    TIMES.setdefault("verify-user-server-1.18.33-sigint", []).append(took)
    assert proc.returncode == 130, err
    assert took < EXIT_WITHIN_S
    assert "removed session ses_" in err and "Traceback" not in err
    assert sessions() == before
    assert carrying_token_of(proc.pid) == []
    assert list(root.iterdir()) == []


@pytest.mark.slow  # waits out a probe's time-out
def test_a_command_run_inside_a_host_process_stops_only_what_it_started(tmp_path: Path) -> None:
    """Catalogue case cli-in-process-spares-the-host: `orch doctor` mounted in orch (or a
    CliRunner) ends by stopping what the command started, not the host's own children that
    orch-doctor's library started earlier."""
    from click.testing import CliRunner

    from orch_doctor._util.proc import collect, spawn
    from orch_doctor.cli import main

    host_child = spawn(["sleep", "30"])
    assert host_child.proc is not None
    pids = tmp_path / "pids"
    try:
        result = CliRunner().invoke(main, ["probe", "--opencode", str(tmp_path / "missing")])
        assert result.exit_code == 1
        assert _alive(host_child.proc.pid), "the host's child was stopped by the command's end"
        # ...while a hanging child the command itself started is stopped when it ends
        binary = hanging_binary(tmp_path, pids)
        result = CliRunner().invoke(main, ["probe", "--opencode", str(binary), "--timeout", "1"])
        assert result.exit_code == 1
        assert _alive(host_child.proc.pid)
        assert [p for p in recorded_pids(pids) if _alive(p)] == []
    finally:
        host_child.proc.kill()
        collect(host_child, timeout_s=5)
