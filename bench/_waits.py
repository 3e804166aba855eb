"""What a user waits on: ``verify`` and ``spawn``, against OpenCode's own floor (bench.bench).

Everything runs on one real release with its own HOMEs, and tmux on a private TMUX_TMPDIR:

- the floor of verify: a throwaway ``opencode serve`` (fresh HOME) until it answers, then the
  TUI (``opencode attach URL --session ID --dir DIR``, the process verify's plan starts) in a tmux
  window until its screen shows one of the release's ready markers (compat_matrix/tui.toml),
  each timed alone;
- ``orch-doctor verify``: its wall time from start to exit, and its clean-up (from the moment
  it prints ``clean up (...)`` to its exit);
- ``orch-doctor spawn`` into a window of a tmux session onto a running server, beside that
  server's TUI started alone the same way (the TUI's own time to ready);
- 8 spawns into the same server and session at once: all must deliver.

Each figure is timed in rounds that interleave it with its reference, so that both see the same
load; ratios are medians of each round's ratio. Standard library only besides orch-doctor.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: issue 18's targets
VERIFY_OVER_FLOOR = 1.25
CLEANUP_TARGET_S = 0.5
SPAWN_OVER_TUI = 1.15
AT_ONCE = 8

POLL_S = 0.02  # how often the bench looks (a server's answer, a TUI's screen)
READY_TIMEOUT_S = 120.0
CHILD_TIMEOUT_S = 300.0
CLEANUP_MARK = "] clean up ("
SESSION = "bench"


@dataclass(frozen=True)
class Figure:
    """One measured figure for the table and bench/last-run.json: ``value`` (seconds), its
    ``reference`` (seconds; the ratio is over it) and the ``target`` of ``target_of`` ("ratio"
    or "value"); no target: a reference figure."""

    key: str
    label: str
    value: float
    reference: float | None = None
    ratio: float | None = None
    target: float | None = None
    target_of: str | None = None
    note: str = ""
    delivered: tuple[int, int] | None = None  # (delivered, started): all must deliver

    @property
    def met(self) -> bool | None:
        if self.delivered is not None:  # the target: all delivered
            return self.delivered[0] == self.delivered[1]
        if self.target is None:
            return None
        measured = self.ratio if self.target_of == "ratio" else self.value
        return measured is not None and measured <= self.target


def ready_markers(release: str, root: Path) -> tuple[str, ...]:
    """The ready markers of ``release``'s TUI: the first entry of compat_matrix/tui.toml whose
    version range holds it."""
    from packaging.specifiers import SpecifierSet

    data = tomllib.loads((root / "compat_matrix" / "tui.toml").read_text("utf-8"))
    for entry in data["tui"]:
        if release in SpecifierSet(entry["versions"]):
            return tuple(entry["ready_markers"])
    return tuple(data["tui"][-1]["ready_markers"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/path", timeout=1.0) as answer:
            answer.read(1 << 16)
        return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: it serves
    except (OSError, ValueError):
        return False


def new_session(url: str, directory: str) -> str:
    query = urllib.parse.urlencode({"directory": directory})
    request = urllib.request.Request(
        f"{url}/session?{query}", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        return str(json.loads(answer.read(1 << 20))["id"])


class Server:
    """``opencode serve`` on a free loopback port, in a session of its own."""

    def __init__(self, binary: str, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.begin = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--hostname", "127.0.0.1"],
            env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self) -> float:
        """Seconds from the start until the server answered."""
        until = self.begin + READY_TIMEOUT_S
        while not answers(self.url):
            if self.proc.poll() is not None or time.perf_counter() > until:
                raise RuntimeError(f"opencode serve did not answer on {self.url}")
            time.sleep(POLL_S)
        return time.perf_counter() - self.begin

    def stop(self) -> None:
        kill_group(self.proc)


class Tmux:
    """A tmux server on a private TMUX_TMPDIR with one session, ``bench``."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.tmux = shutil.which("tmux") or "tmux"
        folder = work / "tmux"
        folder.mkdir(mode=0o700)
        self.env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        self.env["TMUX_TMPDIR"] = str(folder)
        self.run("new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50")

    def run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, *args], env=self.env, capture_output=True,
                              text=True, timeout=30, check=True)  # fmt: skip
        return done.stdout

    def tui_ready(self, argv: Sequence[str], env: dict[str, str], markers: Sequence[str]) -> float:
        """Seconds from starting ``argv`` in a new window until a ready marker is on screen."""
        extra = [f"-e{k}={v}" for k, v in env.items() if k == "HOME" or k.startswith("XDG_")]
        begin = time.perf_counter()
        pane = self.run("new-window", "-d", "-P", "-F", "#{pane_id}", *extra,
                        "-t", f"{SESSION}:", "--", *argv).strip()  # fmt: skip
        while True:
            screen = self.run("capture-pane", "-p", "-t", pane)
            if any(m in screen for m in markers):
                return time.perf_counter() - begin
            if time.perf_counter() - begin > READY_TIMEOUT_S:
                raise RuntimeError(f"the TUI showed none of {list(markers)}:\n{screen[-800:]}")
            time.sleep(POLL_S)

    def close_windows(self) -> None:
        """Kill every window but the session's first, their programs first (no grace)."""
        listed = self.run("list-panes", "-s", "-t", f"{SESSION}:", "-F",
                          "#{window_index} #{pane_pid}")  # fmt: skip
        rows = [line.split() for line in listed.splitlines() if line.strip()]
        first = min(int(index) for index, _ in rows)
        for index, pid in rows:
            if int(index) != first:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid), signal.SIGKILL)
        self.run("kill-window", "-a", "-t", f"{SESSION}:{first}")

    def stop(self) -> None:
        self.close_windows()
        subprocess.run([self.tmux, "kill-server"], env=self.env, capture_output=True, timeout=30)


def timed_cli(argv: Sequence[str], env: dict[str, str]) -> tuple[int, float, float | None]:
    """Run ``argv``: (exit code, seconds to exit, seconds from the clean-up line to exit)."""
    begin = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    watchdog = threading.Timer(CHILD_TIMEOUT_S, proc.kill)
    watchdog.start()
    cleanup_at: float | None = None
    tail: list[bytes] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if cleanup_at is None and CLEANUP_MARK.encode() in line:
                cleanup_at = time.perf_counter()
            tail = [*tail[-40:], line]
        code = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    end = time.perf_counter()
    if code != 0:
        text = b"".join(tail).decode("utf-8", "replace")
        with contextlib.suppress(ValueError):  # --format json: what failed, not the screen
            text = str(json.loads(text).get("problem"))
        raise RuntimeError(f"{' '.join(argv[1:3])} exited {code}: {text[-1500:]}")
    return code, end - begin, (end - cleanup_at) if cleanup_at is not None else None


def at_once(fns: Sequence[Callable[[], object]]) -> tuple[float, list[str]]:
    """Seconds until the last of ``fns``, all started at once in threads, returned, and what
    those that failed said."""
    errors: list[str] = []

    def call(fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # counted: a spawn that did not deliver
            errors.append(str(exc))

    threads = [threading.Thread(target=call, args=(fn,)) for fn in fns]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - begin, errors


def measure_waits(
    binary: str, release: str, cli: list[str], work: Path, runs: int, root: Path,
    isolated_env: Callable[[Path], dict[str, str]], progress: Callable[[str], None],
) -> list[Figure]:  # fmt: skip
    """Measure the figures of the waits in ``work`` (a scratch folder); see the module doc."""
    markers = ready_markers(release, root)
    project = work / "waits-project"
    project.mkdir()
    base = isolated_env(work / "waits-home")  # orch-doctor's own HOME (its caches)
    base["ORCH_DOCTOR_CACHE_DIR"] = str(work / "waits-cache")
    tmux = Tmux(work, base)
    cli_env = {**base, "TMUX_TMPDIR": tmux.env["TMUX_TMPDIR"]}
    homes = iter(range(10_000))

    def floor_round() -> tuple[float, float]:
        home = work / f"floor-home-{next(homes)}"
        env = isolated_env(home)
        server = Server(binary, env, project)
        try:
            server_s = server.wait_ready()
            sid = new_session(server.url, str(project))
            argv = [binary, "attach", server.url, "--session", sid, "--dir", str(project)]
            tui_s = tmux.tui_ready(argv, env, markers)
        finally:
            tmux.close_windows()
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
        return server_s, tui_s

    verify_argv = [*cli, "verify", "--opencode", binary, "--dir", str(project)]
    # the spawn figures: one server for all of them, as a user's
    spawn_home = work / "spawn-home"
    spawn_env = isolated_env(spawn_home)
    server = Server(binary, spawn_env, project)
    windows = iter(range(10_000))
    try:
        server.wait_ready()
        spawn_cli_env = {**spawn_env, "TMUX_TMPDIR": cli_env["TMUX_TMPDIR"],
                         "ORCH_DOCTOR_CACHE_DIR": base["ORCH_DOCTOR_CACHE_DIR"]}  # fmt: skip

        def spawn() -> float:
            n = next(windows)
            argv = [*cli, "spawn", "--opencode", binary, "--server", server.url, "--dir",
                    str(project), "--prompt", f"bench spawn {n}: reply OK", "--tmux-target",
                    f"{SESSION}:w{n}", "--format", "json"]  # fmt: skip
            return timed_cli(argv, spawn_cli_env)[1]

        def tui_alone() -> float:
            sid = new_session(server.url, str(project))
            argv = [binary, "attach", server.url, "--session", sid, "--dir", str(project)]
            try:
                return tmux.tui_ready(argv, spawn_env, markers)
            finally:
                tmux.close_windows()

        # warm: the probe cache, the server's first session in the directory, the route cache
        timed_cli(verify_argv, cli_env)
        spawn()
        tmux.close_windows()

        servers_s: list[float] = []
        tuis_s: list[float] = []
        verifies: list[tuple[float, float | None]] = []
        spawns: list[float] = []
        spawn_tuis: list[float] = []
        crowds: list[float] = []
        undelivered = 0
        for round_ in range(runs):
            progress(f"round {round_ + 1}/{runs}: floor, verify, TUI alone, spawn, "
                     f"{AT_ONCE} spawns at once")  # fmt: skip
            server_s, tui_s = floor_round()
            servers_s.append(server_s)
            tuis_s.append(tui_s)
            _, wall, clean = timed_cli(verify_argv, cli_env)
            verifies.append((wall, clean))
            spawn_tuis.append(tui_alone())
            spawns.append(spawn())
            tmux.close_windows()
            crowd_s, failed = at_once([spawn] * AT_ONCE)
            crowds.append(crowd_s)
            undelivered += len(failed)
            for problem in failed:
                progress(f"  a spawn of {AT_ONCE} at once did not deliver: {problem}")
            tmux.close_windows()
    finally:
        tmux.stop()
        server.stop()

    floors = [s + t for s, t in zip(servers_s, tuis_s, strict=True)]
    walls = [w for w, _ in verifies]
    cleans = [c for _, c in verifies if c is not None]
    med = statistics.median
    return [
        Figure("verify_wall", "`verify` wall / floor (serve + TUI, each alone)", med(walls),
               med(floors), med(w / f for w, f in zip(walls, floors, strict=True)),
               VERIFY_OVER_FLOOR, "ratio"),
        Figure("floor_serve", "  a throwaway `opencode serve` until it answers",
               med(servers_s)),
        Figure("floor_tui", "  its TUI (attach) until ready", med(tuis_s)),
        Figure("verify_cleanup", "`verify` clean-up (its last line to exit)",
               med(cleans) if cleans else float("nan"), target=CLEANUP_TARGET_S,
               target_of="value", note="" if cleans else "no clean-up line seen"),
        Figure("spawn_wall", "`spawn` into tmux / the TUI alone", med(spawns), med(spawn_tuis),
               med(s / t for s, t in zip(spawns, spawn_tuis, strict=True)), SPAWN_OVER_TUI,
               "ratio"),
        Figure("spawn_tui", "  the TUI (attach) alone until ready", med(spawn_tuis)),
        Figure("spawn_at_once", f"{AT_ONCE} `spawn`s at once / one alone", med(crowds),
               med(spawns), med(crowds) / med(spawns),
               delivered=(AT_ONCE * runs - undelivered, AT_ONCE * runs)),
    ]  # fmt: skip
