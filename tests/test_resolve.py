"""One request resolution (orch_doctor.resolve), on stored capabilities and recorded servers:
the doctor, plan/spawn (the CLI's resolution) and select_strategy resolve a request alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import orch_doctor.resolve as resolve
from orch_doctor._util.once import Once
from orch_doctor.api import select_strategy
from orch_doctor.decide.replay import recorded_server
from orch_doctor.doctor.context import DoctorContext, DoctorOptions
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.resolve import Resolution, Selection
from orch_doctor.resolve.policy import Policy
from orch_doctor.server import discovery
from orch_doctor.server import probe as server_probe
from orch_doctor.server.types import ServerStatus

MATRIX = load_matrix(overrides=False)
CAPS = stored_capabilities("1.18.33")


class Running:
    """The servers "running here" for one test: what discovery finds and what probing them
    measures (a real server cannot serve a recorded release's answers on demand)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *statuses: ServerStatus) -> None:
        self.statuses = {s.url: s for s in statuses}
        self.probed: list[str] = []
        self.named: list[str] = []
        monkeypatch.setattr(resolve, "discover_local_servers", lambda **_: list(self.statuses))
        monkeypatch.setattr(server_probe, "probe_servers", self.probe_servers)
        monkeypatch.setattr(server_probe, "probe_server", self.probe_server)

    def probe_servers(self, urls: Sequence[str], **_: Any) -> list[ServerStatus]:
        self.probed += urls
        return [self.statuses[u] for u in urls]

    def probe_server(self, url: str, **_: Any) -> ServerStatus:
        self.named.append(url)
        return self.statuses.get(url) or ServerStatus(url, "connection-refused", fix="start it")


def serving(directory: Path | str, url: str = "http://127.0.0.1:4096") -> ServerStatus:
    return replace(recorded_server("1.18.33", url), directory=str(directory))


def strategies(directory: Path, **options: Any) -> dict[str, str]:
    """The strategy the doctor, the CLI's resolution and select_strategy name for one request."""
    doctor_keys = {"server_url", "allow_standalone", "discover"}
    ctx = DoctorContext(
        DoctorOptions(
            directory=str(directory), **{k: options[k] for k in doctor_keys & set(options)}
        ),
        Policy(),
        MATRIX,
    )
    ctx.capabilities.adopt(lambda: CAPS)
    cli = Resolution(
        Selection(directory=str(directory), **options), matrix=MATRIX, capabilities=CAPS
    )
    api = select_strategy(directory, capabilities=CAPS, matrix=MATRIX, **options)
    return {
        "doctor": ctx.decision.get().strategy,
        "cli": cli.decision.get().strategy,
        "api": api.strategy,
    }


def test_a_usable_server_serving_dir_is_preferred_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = serving(tmp_path / "elsewhere", "http://127.0.0.1:4100")
    ours = serving(tmp_path, "http://127.0.0.1:4200")
    Running(monkeypatch, other, ours)
    assert set(strategies(tmp_path).values()) == {"attach-session-api"}
    resolution = Resolution(Selection(directory=str(tmp_path)), matrix=MATRIX, capabilities=CAPS)
    decision = resolution.decision.get()
    assert decision.plan is not None and decision.plan.server_url == ours.url
    assert resolution.discovery is not None and "serves --dir" in resolution.discovery.reason
    assert resolution.request().server_url is None  # found, not named


def test_no_discovery_means_no_server_and_nothing_probed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = Running(monkeypatch, serving(tmp_path))
    assert set(strategies(tmp_path, discover=False).values()) == {"standalone-prompt"}
    assert running.probed == [] and running.named == []


def test_a_named_server_wins_over_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = serving(tmp_path / "x", "http://127.0.0.1:4300")
    running = Running(monkeypatch, serving(tmp_path), named)
    found = strategies(tmp_path, server_url=named.url)
    assert set(found.values()) == {"attach-session-api"}
    assert running.probed == []  # nothing discovered: the server was named
    assert set(running.named) == {named.url}


def test_an_unusable_named_server_is_no_plan_unless_standalone_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Running(monkeypatch, serving(tmp_path))  # one runs here: it is not taken instead
    down = "http://127.0.0.1:9"
    assert set(strategies(tmp_path, server_url=down).values()) == {"none"}
    allowed = strategies(tmp_path, server_url=down, allow_standalone=True)
    assert set(allowed.values()) == {"standalone-prompt"}


def test_url_userinfo_is_the_password_and_never_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    selection = Selection(directory=str(tmp_path), server_url="http://me:s3cret@127.0.0.1:4096")
    resolution = Resolution(selection, matrix=MATRIX, capabilities=CAPS)
    assert resolution.server_url == "http://127.0.0.1:4096"
    assert resolution.credentials is not None and resolution.credentials.password == "s3cret"
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "from-env")
    resolution = Resolution(selection, matrix=MATRIX, capabilities=CAPS)
    assert resolution.credentials is not None and resolution.credentials.password == "from-env"


def test_the_policy_found_from_dir_is_applied_by_every_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Running(monkeypatch, serving(tmp_path))
    (tmp_path / ".orch-doctor.toml").write_text('allowed_strategies = ["standalone-prompt"]\n')
    cli = Resolution(Selection(directory=str(tmp_path)), matrix=MATRIX, capabilities=CAPS)
    api = select_strategy(tmp_path, capabilities=CAPS, matrix=MATRIX)
    assert cli.policy.source == str(tmp_path / ".orch-doctor.toml")
    assert cli.decision.get().strategy == api.strategy == "standalone-prompt"
    assert api.rejected["attach-session-api"].code == "policy"
    # an explicit allowed_strategies is the caller's own policy
    explicit = select_strategy(
        tmp_path, capabilities=CAPS, matrix=MATRIX, allowed_strategies=["attach-session-api"]
    )
    assert explicit.strategy == "attach-session-api"


def test_the_policys_server_url_is_a_named_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = serving(tmp_path, "http://127.0.0.1:4400")
    running = Running(monkeypatch, named)
    (tmp_path / ".orch-doctor.toml").write_text(f'server_url = "{named.url}"\n')
    decision = select_strategy(tmp_path, capabilities=CAPS, matrix=MATRIX)
    assert decision.strategy == "attach-session-api" and running.named == [named.url]
    assert running.probed == []


def test_a_policy_requiring_a_server_refuses_standalone_without_allow_standalone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Running(monkeypatch)  # nothing runs
    (tmp_path / ".orch-doctor.toml").write_text("require_server = true\n")
    refused = select_strategy(tmp_path, capabilities=CAPS, matrix=MATRIX)
    assert refused.strategy == "none"
    assert {r.code for r in refused.rejected.values()} == {"policy"}
    allowed = select_strategy(tmp_path, capabilities=CAPS, matrix=MATRIX, allow_standalone=True)
    assert allowed.strategy == "standalone-prompt"


def test_a_missing_directory_probes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = Running(monkeypatch, serving(tmp_path))
    resolution = Resolution(Selection(directory=str(tmp_path / "absent")), matrix=MATRIX)
    decision = resolution.decision.get()
    assert decision.strategy == "none"
    assert {r.code for r in decision.rejected.values()} == {"directory-unusable"}
    assert running.probed == [] and running.named == []


def test_discovery_lists_servers_started_in_dir_first(tmp_path: Path) -> None:
    """Only the first few servers found are probed: one started in --dir comes first."""
    proc = tmp_path / "proc"
    project = tmp_path / "project"
    project.mkdir()
    for pid, port, cwd in ((10, 4500, tmp_path), (11, 4501, tmp_path), (12, 4502, project)):
        entry = proc / str(pid)
        (entry / "fd").mkdir(parents=True)
        argv = ["opencode", "serve", "--port", str(port)]
        (entry / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        (entry / "cwd").symlink_to(cwd)
    assert discovery.candidate_urls(proc)[0] == "http://127.0.0.1:4500"
    urls = discovery.candidate_urls(proc, directory=str(project))
    assert urls[0] == "http://127.0.0.1:4502"
    assert urls[1:] == ["http://127.0.0.1:4500", "http://127.0.0.1:4501", discovery.DEFAULT_URL]


def test_the_server_is_probed_while_the_binary_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither probe needs the other: the binary's waits for the server's to have begun (one
    after the other, it would wait out its timeout and fail)."""
    import threading

    named = serving(tmp_path, "http://127.0.0.1:4300")
    server_began = threading.Event()

    def probe_server(url: str, **_: Any) -> ServerStatus:
        server_began.set()
        return named

    monkeypatch.setattr(server_probe, "probe_server", probe_server)
    resolution = Resolution(Selection(directory=str(tmp_path), server_url=named.url), matrix=MATRIX)

    def probe_binary() -> Any:
        assert server_began.wait(10), "the server probe did not begin before the binary's ended"
        return CAPS

    resolution.capabilities = Once(probe_binary)
    assert resolution.decision.get().strategy == "attach-session-api"


def test_a_value_computed_in_a_thread_of_its_own_is_computed_once() -> None:
    import threading

    calls: list[str] = []
    release = threading.Event()

    def compute() -> str:
        calls.append(threading.current_thread().name)
        release.wait(10)
        return "value"

    once = Once(compute)
    once.start_thread("worker")
    once.start_thread("second")  # already under way: nothing more
    release.set()
    assert once.get() == once.get() == "value"
    assert calls == ["worker"]
    failing = Once(lambda: 1 // 0)
    failing.start_thread("failing")
    with pytest.raises(ZeroDivisionError):
        failing.get()
