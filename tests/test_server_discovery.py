"""Discovery finds a real `opencode serve` from its process and listening socket."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from orch_doctor.server.discovery import DEFAULT_URL, candidate_urls, find_server_processes
from tests.support.opencode import RealServer


def test_finds_a_real_server_process(real_servers: Callable[..., RealServer]) -> None:
    server = real_servers("1.18.33")
    found = {p.pid: p for p in find_server_processes()}
    pids = {server.process.pid} | {
        int(p) for p in subprocess.run(
            ["pgrep", "-g", str(server.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
    }  # fmt: skip
    ours = [p for pid, p in found.items() if pid in pids]
    assert ours, f"server pid {server.process.pid} not among {sorted(found)}"
    assert server.port in ours[0].ports
    urls = candidate_urls()
    assert (server.url in urls and urls[-1] == DEFAULT_URL) or DEFAULT_URL in urls


def test_cli_lists_running_servers_with_version_and_directory(
    real_servers: Callable[..., RealServer],
) -> None:
    server = real_servers("1.18.33")
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", "server", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["discovered"] is True
    mine = [s for s in data["servers"] if s["url"] == server.url]
    assert mine and mine[0]["version"] == "1.18.33"
    assert mine[0]["directory"] == str(server.directory)
