"""Do the doctor, ``plan`` and ``spawn`` agree? One request per set-up, on real releases.

    python -m tools.agreement --out agreement.md          # every set-up (the table in markdown)
    python -m tools.agreement --release 1.18.33 --out a.json
    python -m tools.agreement --setup 1.0.152-other-home --setup 1.18.33-no-server
    python -m tools.agreement --list

For each set-up this starts what it needs: a real ``opencode serve`` of the release on a free
loopback port (in the agent's folder ``--dir`` or in another one, under the caller's HOME or
another HOME, with OPENCODE_SERVER_PASSWORD in its environment and the caller's when the set-up
has a password — never in argv), and a private tmux server (its own TMUX_TMPDIR) with a session
for ``spawn``. Then the same request goes to ``orch-doctor --format json`` (the doctor),
``orch-doctor plan --format json`` and ``orch-doctor spawn --format json --tmux-target S:W``
(``--dir``, ``--server URL`` where the variant names the server, else the server found running,
``--prompt``), each run as the caller would: ``python -m orch_doctor`` with the caller's scratch
HOME. Delivery is confirmed by the stored user message (the server's API for a session id, else
the TUI's data folder). A row agrees when ``plan`` exits 0 exactly when ``spawn`` delivered and the
three name the same strategy.

Only the command line and tools/releases.py are used: nothing inside orch_doctor is imported.
Releases must be installed (``python -m tools.releases 1.1.34``) or ``--install`` installs them.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.releases import binary_path, ensure_release  # noqa: E402

ServerPlace = Literal["none", "dir", "other-folder"]
HomeKind = Literal["caller", "other"]
#: how the request names the server: ``--server URL``, found running, or ``--no-discover``
Variant = Literal["named", "discovered", "no-discover"]

SERVER_START_TIMEOUT_S = 40.0
COMMAND_TIMEOUT_S = 240.0
SPAWN_TIMEOUT_S = 120.0
CONFIRM_TIMEOUT_S = 20.0
OUTPUT_CAP = 4 * 1024 * 1024
STORAGE_FILE_CAP = 256 * 1024 * 1024
MODEL = "opencode/big-pickle"
TMUX_SESSION = "agree"
PASSWORD_ENV = "OPENCODE_SERVER_PASSWORD"


@dataclass(frozen=True)
class SetUp:
    name: str
    release: str
    server: ServerPlace
    home: HomeKind = "caller"  # whose HOME the server runs under
    password: bool = False
    caller_password: bool = True  # the caller has the server's password (in its environment)
    variants: tuple[Variant, ...] = ("named",)
    note: str = ""

    def describe(self) -> str:
        if self.server == "none":
            return f"{self.release}, no server"
        where = "in --dir" if self.server == "dir" else "in another folder"
        home = "the caller's HOME" if self.home == "caller" else "another HOME"
        auth = ""
        if self.password:
            auth = ", password (caller " + ("has it)" if self.caller_password else "lacks it)")
        return f"{self.release} server {where} under {home}{auth}"


SETUPS: tuple[SetUp, ...] = (
    SetUp("1.0.152-dir", "1.0.152", "dir", variants=("named", "discovered")),
    SetUp("1.0.152-other-folder", "1.0.152", "other-folder", variants=("named", "discovered")),
    SetUp(
        "1.0.152-other-home",
        "1.0.152",
        "other-folder",
        home="other",
        variants=("named", "discovered"),
    ),
    SetUp("1.1.34-dir", "1.1.34", "dir", variants=("named", "discovered"), note="offline"),
    SetUp("1.1.34-no-server", "1.1.34", "none", variants=("no-discover",), note="offline"),
    SetUp("1.18.33-dir", "1.18.33", "dir", variants=("named", "discovered")),
    SetUp("1.18.33-other-folder", "1.18.33", "other-folder", variants=("named", "discovered")),
    SetUp(
        "1.18.33-password-dir", "1.18.33", "dir", password=True, variants=("named", "discovered")
    ),
    SetUp(
        "1.18.33-password-missing",
        "1.18.33",
        "dir",
        password=True,
        caller_password=False,
        variants=("named", "discovered"),
    ),
    SetUp(
        "1.18.33-other-home",
        "1.18.33",
        "other-folder",
        home="other",
        variants=("named", "discovered"),
    ),
    SetUp("1.18.33-no-server", "1.18.33", "none", variants=("no-discover",)),
)


@dataclass
class Row:
    """One request of one set-up, and what the three commands answered."""

    setup: str
    description: str
    variant: Variant
    doctor: str | None = None
    doctor_exit: int | None = None
    plan: str | None = None
    plan_exit: int | None = None
    plan_holds: bool | None = None
    discovered_server: str | None = None
    setup_server: str | None = None  # the set-up's own server
    server_used: str | None = None  # the plan's server (None: a standalone TUI, or no plan)
    #: the server found running (else the one used) is the set-up's, not another one running here
    server_is_own: bool | None = None
    spawn: str | None = None
    spawn_exit: int | None = None
    spawn_ok: bool | None = None
    stored: bool | None = None  # the prompt is a stored user message
    confirmed_by: str | None = None
    spawn_code: str | None = None
    spawn_issue: str | None = None
    spawn_problem: str | None = None
    spawn_fix: str | None = None
    wall_s: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return bool(self.spawn_ok) and bool(self.stored)

    @property
    def same_strategy(self) -> bool:
        return self.doctor is not None and self.doctor == self.plan == self.spawn

    @property
    def agrees(self) -> bool:
        """plan exits 0 exactly when spawn delivers, and the three name the same strategy."""
        return (
            self.error is None and (self.plan_exit == 0) == self.delivered and (self.same_strategy)
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "delivered": self.delivered,
            "same_strategy": self.same_strategy,
            "agrees": self.agrees,
        }


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment with ``home`` as HOME and its XDG folders, nothing of OpenCode's, tmux's
    or orch-doctor's settings inherited."""
    base = dict(os.environ) if base is None else base
    env = {
        k: v
        for k, v in base.items()
        if not k.startswith(("OPENCODE_", "XDG_", "ORCH_DOCTOR_", "TMUX"))
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        NO_COLOR="1",
    )
    for key in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def http_get(url: str, password: str | None, timeout_s: float = 3.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if password:
        token = base64.b64encode(f"opencode:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read(OUTPUT_CAP)
    except urllib.error.HTTPError as exc:
        return exc.code, b""


@dataclass
class Server:
    url: str
    home: Path
    directory: Path
    process: subprocess.Popen[bytes]
    password: str | None


@contextmanager
def opencode_server(
    binary: Path, home: Path, directory: Path, password: str | None, log: Path
) -> Iterator[Server]:
    """A real ``opencode serve`` on a free loopback port, started in ``directory`` under
    ``home`` (the password only in its environment); its process group is stopped after."""
    port = free_port()
    env = scratch_env(home)
    if password:
        env[PASSWORD_ENV] = password
    argv = [str(binary), "serve", "--port", str(port), "--hostname", "127.0.0.1"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", home, directory, process, password)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"opencode serve exited ({process.returncode}); see {log}")
            try:
                http_get(server.url + "/path", password, timeout_s=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"opencode serve did not answer; see {log}") from None
                time.sleep(0.2)
        yield server
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextmanager
def private_tmux(folder: Path) -> Iterator[dict[str, str]]:
    """A tmux server of its own (TMUX_TMPDIR=folder) with session :data:`TMUX_SESSION`; yields
    the environment entries that address it."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env["TMUX_TMPDIR"] = str(folder)
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", TMUX_SESSION, "-x", "200", "-y", "50"],
        env=env, check=True, timeout=10, capture_output=True,
    )  # fmt: skip
    try:
        yield {"TMUX_TMPDIR": str(folder)}
    finally:
        subprocess.run(["tmux", "kill-server"], env=env, timeout=10, capture_output=True)


def run_cli(args: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[int, Any, float]:
    """``python -m orch_doctor ARGS`` as the caller runs it: exit code, parsed JSON, seconds."""
    begin = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(
            [sys.executable, "-m", "orch_doctor", *args], cwd=cwd, env=env,
            stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT_S,
            check=False,
        )  # fmt: skip
        out.seek(0)
        text = out.read(OUTPUT_CAP).decode("utf-8", "replace")
        err.seek(0)
        problem = err.read(4000).decode("utf-8", "replace")
    wall = time.monotonic() - begin
    try:
        data = json.loads(text)
    except ValueError:
        raise RuntimeError(
            f"orch-doctor {args[0] if args else ''} exit {proc.returncode}: no JSON "
            f"({text[:300]!r} {problem[-500:]!r})"
        ) from None
    return proc.returncode, data, wall


# --- delivery --------------------------------------------------------------------------------


def stored_via_api(base_url: str, password: str | None, session_id: str, marker: str) -> bool:
    """Whether the server at ``base_url`` stores ``marker`` as a user message of the session."""
    url = f"{base_url}/session/{urllib.parse.quote(session_id, safe='')}/message"
    try:
        status, body = http_get(url, password)
        messages = json.loads(body) if status == 200 else []
    except (OSError, ValueError):
        return False
    for message in messages if isinstance(messages, list) else []:
        info = message.get("info", {}) if isinstance(message, dict) else {}
        if info.get("role") != "user":
            continue
        for part in message.get("parts", []):
            if isinstance(part, dict) and marker in str(part.get("text", "")):
                return True
    return False


def stored_in_data(homes: Sequence[Path], marker: str) -> bool:
    """Whether an OpenCode data folder under one of ``homes`` stores ``marker`` (JSON storage
    files or the SQLite database and its journal)."""
    needle = marker.encode()
    for home in homes:
        root = home / ".local" / "share" / "opencode"
        for top, _, names in os.walk(root):
            for name in names:
                path = Path(top) / name
                try:
                    if path.stat().st_size > STORAGE_FILE_CAP:
                        continue
                    if needle in path.read_bytes():
                        return True
                except OSError:
                    continue
    return False


def confirm_stored(
    server_url: str | None,
    password: str | None,
    session_id: str | None,
    homes: Sequence[Path],
    marker: str,
    timeout_s: float = CONFIRM_TIMEOUT_S,
) -> str | None:
    """How the prompt was found stored as a user message ("api": the server the plan used,
    "storage": a data folder under ``homes``), else None."""
    deadline = time.monotonic() + timeout_s
    while True:
        if server_url and session_id and stored_via_api(server_url, password, session_id, marker):
            return "api"
        if stored_in_data(homes, marker):
            return "storage"
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


# --- one set-up ------------------------------------------------------------------------------


def run_setup(setup: SetUp, workdir: Path, *, model: str = MODEL) -> list[Row]:
    """Start what ``setup`` needs under ``workdir``, send its requests to the three commands and
    return one row per variant."""
    binary = binary_path(setup.release)
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"OpenCode {setup.release} is not installed (use --install)")
    base = Path(tempfile.mkdtemp(prefix=f"agree-{setup.name}-", dir=workdir))
    caller_home, other_home = base / "caller-home", base / "other-home"
    project, elsewhere = base / "project", base / "elsewhere"
    for folder in (caller_home, other_home, project, elsewhere):
        folder.mkdir()
    password = uuid.uuid4().hex if setup.password else None
    caller = scratch_env(caller_home)
    caller["PYTHONPATH"] = str(ROOT)  # this checkout's orch_doctor, from any folder
    if password and setup.caller_password:
        caller[PASSWORD_ENV] = password
    rows: list[Row] = []
    with private_tmux(Path(tempfile.mkdtemp(prefix="agt-"))) as tmux_env:
        caller.update(tmux_env)
        if setup.server == "none":
            for variant in setup.variants:
                rows.append(one_request(setup, variant, binary, caller, project, None, model))
            return rows
        home = caller_home if setup.home == "caller" else other_home
        where = project if setup.server == "dir" else elsewhere
        with opencode_server(binary, home, where, password, base / "serve.log") as server:
            for variant in setup.variants:
                rows.append(one_request(setup, variant, binary, caller, project, server, model))
    return rows


def one_request(
    setup: SetUp,
    variant: Variant,
    binary: Path,
    caller: dict[str, str],
    project: Path,
    server: Server | None,
    model: str,
) -> Row:
    row = Row(setup.name, setup.describe(), variant)
    marker = f"agreement {setup.name} {variant} {uuid.uuid4().hex[:10]}"
    request = ["--dir", str(project), "--opencode", str(binary), "--model", model]
    if variant == "named" and server is not None:
        request += ["--server", server.url]
    elif variant == "no-discover":
        request += ["--no-discover"]
    request += ["--prompt", marker]
    cwd = project.parent
    try:
        row.doctor_exit, doctor, row.wall_s["doctor"] = run_cli(
            [*request, "--format", "json"], caller, cwd
        )
        row.doctor = (doctor.get("decision") or {}).get("strategy")
        row.plan_exit, plan, row.wall_s["plan"] = run_cli(
            ["plan", *request, "--format", "json"], caller, cwd
        )
        row.plan = plan.get("strategy")
        row.plan_holds = plan.get("holds")
        found = plan.get("discovered_server")
        row.discovered_server = found.get("url") if isinstance(found, dict) else None
        window = f"{TMUX_SESSION}:" + f"{setup.name}-{variant}".replace(".", "_")
        row.spawn_exit, spawned, row.wall_s["spawn"] = run_cli(
            ["spawn", *request, "--format", "json", "--tmux-target", window,
             "--timeout", str(SPAWN_TIMEOUT_S)],
            caller, cwd,
        )  # fmt: skip
        row.spawn = spawned.get("strategy")
        row.spawn_ok = bool(spawned.get("ok"))
        row.spawn_code = spawned.get("code")
        row.spawn_issue = spawned.get("issue")
        row.spawn_problem = (spawned.get("problem") or "")[:300] or None
        row.spawn_fix = spawned.get("fix")
        homes = [Path(caller["HOME"])] + ([server.home] if server is not None else [])
        # the server the plan used: the set-up's, or another one found running on the machine
        row.server_used = plan.get("server_url")
        if server is not None:
            row.setup_server = server.url
            found_or_used = row.discovered_server or row.server_used
            row.server_is_own = None if found_or_used is None else found_or_used == server.url
        # not delivered by its own account: is it stored anyway (a false negative)?
        row.confirmed_by = confirm_stored(
            row.server_used, caller.get(PASSWORD_ENV), spawned.get("session_id"), homes, marker,
            timeout_s=CONFIRM_TIMEOUT_S if row.spawn_ok else 0.0,
        )  # fmt: skip
        row.stored = row.confirmed_by is not None
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        row.error = str(exc)[:500]
    return row


# --- the table -------------------------------------------------------------------------------


def cell_plan(row: Row) -> str:
    return f"{row.plan} ({row.plan_exit})"


def cell_spawn(row: Row) -> str:
    if row.spawn is None:
        return "—"
    if row.delivered:
        return f"{row.spawn} (delivered, {row.confirmed_by})"
    why = row.spawn_issue or row.spawn_code or "not delivered"
    if row.spawn_ok and not row.stored:
        why = "ok but no stored message"
    return f"{row.spawn} (not delivered: {why})"


def markdown(rows: Sequence[Row]) -> str:
    head = (
        "| set-up | request | doctor | plan (exit) | spawn (delivered) | wall s (d/p/s) | agree |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        walls = "/".join(f"{r.wall_s.get(k, 0):.1f}" for k in ("doctor", "plan", "spawn"))
        request = r.variant + (
            f" ({'its server' if r.server_is_own else 'found another: ' + r.discovered_server})"
            if r.discovered_server
            else ""
        )
        agree = "yes" if r.agrees else ("ERROR: " + r.error if r.error else "**no**")
        lines.append(
            f"| {r.description} | {request} | {r.doctor} | {cell_plan(r)} | {cell_spawn(r)} "
            f"| {walls} | {agree} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.agreement",
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--setup", action="append", metavar="NAME",
                        help="run only this set-up (repeatable; see --list)")  # fmt: skip
    parser.add_argument("--release", action="append", metavar="VERSION",
                        help="run only the set-ups of this release (repeatable)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the set-ups and exit")
    parser.add_argument("--install", action="store_true",
                        help="install the releases needed from npm first")  # fmt: skip
    parser.add_argument("--model", default=MODEL, help=f"the request's --model ({MODEL})")
    parser.add_argument("--out", metavar="FILE",
                        help="write the table (JSON when FILE ends in .json)")  # fmt: skip
    parser.add_argument("--workdir", metavar="DIR", help="scratch folder (default: a new temp)")
    args = parser.parse_args(argv)

    chosen = [
        s for s in SETUPS
        if (not args.setup or s.name in args.setup)
        and (not args.release or s.release in args.release)
    ]  # fmt: skip
    if args.list:
        for s in SETUPS:
            print(f"{s.name:24} {s.describe()}; requests: {', '.join(s.variants)}")
        return 0
    if not chosen:
        parser.error("no set-up matches --setup/--release (see --list)")
    if shutil.which("tmux") is None:
        parser.error("tmux is not installed")
    if args.install:
        for release in sorted({s.release for s in chosen}):
            ensure_release(release, quiet=False)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="agree-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for setup in chosen:
        print(f"== {setup.name}: {setup.describe()}", file=sys.stderr, flush=True)
        try:
            found = run_setup(setup, workdir, model=args.model)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            found = [Row(setup.name, setup.describe(), v, error=str(exc)[:500])
                     for v in setup.variants]  # fmt: skip
        for row in found:
            print(f"   {row.variant}: {'agrees' if row.agrees else 'DISAGREES'}", file=sys.stderr)
        rows.extend(found)
    table = markdown(rows)
    print(table)
    if args.out:
        out = Path(args.out)
        if out.suffix == ".json":
            out.write_text(json.dumps([r.to_json() for r in rows], indent=2) + "\n")
        else:
            out.write_text(table)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r.agrees for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
