"""`orch-doctor server` over every fault case: verdict, exit code, and never the password."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from orch_doctor.cli import server as server_cmd
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.server.discovery import DEFAULT_URL, candidate_urls, find_server_processes
from tests.support import fake_server as fs

PASSWORD = "pw-Cli-s3cret-4242"


@contextmanager
def refused() -> Iterator[str]:
    with fs.black_hole() as url:
        pass
    yield url


def _fixed(url: str) -> Callable[[], AbstractContextManager[str]]:
    @contextmanager
    def ctx() -> Iterator[str]:
        yield url

    return ctx


HEALTH = fs.recorded_body("1.18.33", "health.body")
CASES: dict[str, tuple[Callable[[], AbstractContextManager[str]], str]] = {
    "hangs": (lambda: fs.fake_server({}, default=fs.hang), "read-timeout"),
    "black-hole": (fs.black_hole, "read-timeout"),
    "slow-body": (lambda: fs.fake_server({"/global/health": fs.slow_body}), "read-timeout"),
    "html": (lambda: fs.fake_server({}, default=fs.html), "not-opencode"),
    "invalid-json": (
        lambda: fs.fake_server({"/global/health": fs.invalid_json}, default=fs.html),
        "not-opencode",
    ),
    "500": (lambda: fs.fake_server({}, default=fs.error_500), "server-error"),
    "401-wrong-password": (
        lambda: fs.fake_server({}, default=fs.needs_auth(PASSWORD + "-other", HEALTH)),
        "auth-rejected",
    ),
    "redirect": (
        lambda: fs.fake_server({}, default=fs.redirect("http://localhost:9/global/health")),
        "not-opencode",
    ),
    "10MB": (lambda: fs.fake_server({}, default=fs.huge), "not-opencode"),
    "reset": (lambda: fs.fake_server({}, default=fs.reset), "error"),
    "refused": (refused, "connection-refused"),
    "invalid-url": (_fixed("ftp://127.0.0.1:1"), "invalid-url"),
}


@pytest.fixture(autouse=True)
def no_cli_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    # the installed CLI's version is not what these tests are about: no opencode process
    caps = stored_capabilities("1.18.33")
    monkeypatch.setattr(server_cmd, "_client_capabilities", lambda opencode: caps)


def run(args: list[str], password: str | None = PASSWORD) -> tuple[int, str]:
    env = {"OPENCODE_SERVER_PASSWORD": password} if password else {}
    result = CliRunner().invoke(server_cmd.server, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


#: cases that wait for the time-out (twice: JSON and text): kept out of the fast suite
WAITING = {"hangs", "black-hole", "slow-body"}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c in WAITING else c for c in sorted(CASES)],
)
def test_fault_verdict_exit_code_and_no_secret(case: str) -> None:
    make, verdict = CASES[case]
    with make() as url:
        code, out = run([url, "--timeout", "1", "--format", "json"])
        data = json.loads(out)["servers"][0]
        assert data["verdict"] == verdict and (data["fix"] or data["alternatives"])
        assert code == 1
        text_code, text = run([url, "--timeout", "1"])
    assert text_code == 1 and verdict in text and ("fix:" in text or "or:" in text)
    assert "Traceback" not in text
    for output in (out, text):
        assert PASSWORD not in output


def test_401_without_password_names_the_variable() -> None:
    with fs.fake_server({}, default=fs.needs_auth(PASSWORD, HEALTH)) as url:
        code, out = run([url, "--timeout", "1"], password=None)
        assert code == 1 and "auth-required" in out and "OPENCODE_SERVER_PASSWORD" in out
        ok_code, ok = run([url, "--timeout", "1", "--no-routes", "--format", "json"])
    status = json.loads(ok)["servers"][0]
    assert ok_code == 0 and status["verdict"] == "ok" and status["auth"] == "basic"
    assert PASSWORD not in ok


def test_password_from_another_variable() -> None:
    with fs.fake_server({}, default=fs.needs_auth(PASSWORD, HEALTH)) as url:
        result = CliRunner().invoke(
            server_cmd.server,
            [url, "--timeout", "1", "--no-routes", "--password-env", "MY_PW", "--format", "json"],
            env={"MY_PW": PASSWORD, "OPENCODE_SERVER_PASSWORD": ""},
        )
    assert result.exit_code == 0 and json.loads(result.output)["servers"][0]["verdict"] == "ok"
    assert PASSWORD not in result.output


def test_bad_option_is_a_usage_error() -> None:
    code, _ = run(["--timeout", "zero"])
    assert code == 2


# --- discovery from a /proc tree ------------------------------------------------------------------


def _proc(tmp: Path, pid: int, argv: list[str], inodes: list[int]) -> None:
    entry = tmp / str(pid)
    (entry / "fd").mkdir(parents=True)
    (entry / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    for n, inode in enumerate(inodes):
        (entry / "fd" / str(n)).symlink_to(f"socket:[{inode}]")


def _tcp(tmp: Path, rows: list[tuple[int, int, str]]) -> None:
    (tmp / "net").mkdir(exist_ok=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    lines = [header + "timeout inode"]
    for n, (port, inode, state) in enumerate(rows):
        lines.append(
            f"   {n}: 0100007F:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 "
            f"00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0"
        )
    (tmp / "net" / "tcp").write_text("\n".join(lines) + "\n")


def test_discovery_matches_processes_to_listening_sockets(tmp_path: Path) -> None:
    _tcp(tmp_path, [(41234, 111, "0A"), (41235, 222, "0A"), (50000, 333, "01")])
    _proc(tmp_path, 10, ["/opt/bin/opencode", "serve", "--port", "0"], [111])
    _proc(tmp_path, 11, ["opencode", "--port", "41235"], [222])  # a TUI with --port
    _proc(tmp_path, 12, ["opencode", "run", "hi"], [333])  # not a server
    _proc(tmp_path, 13, ["python", "serve"], [])  # not opencode
    _proc(tmp_path, 14, ["opencode", "serve", "--port", "4500", "--hostname", "0.0.0.0"], [])
    found = {p.pid: p for p in find_server_processes(tmp_path)}
    assert sorted(found) == [10, 11, 14]
    assert found[10].ports == (41234,) and found[11].ports == (41235,)
    assert found[14].urls() == ["http://127.0.0.1:4500"]  # argv port when no socket is seen
    urls = candidate_urls(tmp_path)
    assert urls[-1] == DEFAULT_URL and "http://127.0.0.1:41234" in urls


def test_discovery_without_proc(tmp_path: Path) -> None:
    assert find_server_processes(tmp_path / "absent") == []
    assert candidate_urls(tmp_path / "absent") == [DEFAULT_URL]
