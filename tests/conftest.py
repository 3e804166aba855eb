"""Session-wide fixtures: real OpenCode releases (installed once per machine) and real servers.

Releases come from npm into a per-machine cache (tools/releases.py); each is installed once and
shared by every test. Servers are started once per session per release and shared too: each
OpenCode start costs about a second of CPU on a 2-core machine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.opencode import RealServer, isolated_env, real_server  # noqa: E402
from tools.releases import REFUSE_ENV, ensure_release  # noqa: E402

HELP_FIXTURES = ROOT / "compat_matrix" / "help"


#: fixtures that run a real OpenCode binary (installed from npm): a test using one, directly or
#: through another fixture, is marked ``real``
REAL_FIXTURES = frozenset({"opencode_release", "opencode_home", "opencode_env", "real_servers"})
#: fixtures that also take more than a few seconds (each real server costs ~1 s of CPU to start,
#: more on a loaded machine): a test using one is marked ``slow`` too
SLOW_FIXTURES = frozenset({"real_servers"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs a real OpenCode release ``real`` (and ``slow`` where it starts
    servers), so ``-m "not real and not slow"`` (``dev.py test --fast``) runs only the pure suite.
    Modules that run real binaries without these fixtures set ``pytestmark`` themselves."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & REAL_FIXTURES:
            item.add_marker(pytest.mark.real)
        if names & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def releases_only_for_real_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test not marked ``real`` gets no OpenCode release (nor do its child processes): one
    that needs a release without using the fixtures above fails here, not only under --fast."""
    if request.node.get_closest_marker("real") is None:
        monkeypatch.setenv(REFUSE_ENV, f"{request.node.nodeid} is not marked 'real'")


def pytest_configure(config: pytest.Config) -> None:
    """Keep the tests away from the user's cache and matrix overrides, and from the machine's
    tmux servers: the session's tmux sockets live in a folder of its own (each test gets its own
    below; this one covers session fixtures), and a run started inside tmux does not talk to it."""
    import os
    import tempfile

    from hypothesis import settings

    # property tests: every example in the full run, a fifth of them in the fast suite
    # (HYPOTHESIS_PROFILE chooses either way)
    settings.register_profile("full", max_examples=100)
    settings.register_profile("fast", max_examples=20)
    fast = "not slow" in (config.option.markexpr or "")
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("fast" if fast else "full"))

    os.environ["ORCH_DOCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="orch-doctor-test-cache-")
    os.environ["ORCH_DOCTOR_MATRIX_DIRS"] = ""
    os.environ["TMUX_TMPDIR"] = tempfile.mkdtemp(prefix="odt-session-")
    for name in (
        "OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME", "OPENCODE_BIN", "TMUX",
        "TMUX_PANE",
    ):  # fmt: skip
        os.environ.pop(name, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    import os
    import shutil

    folder = os.environ.get("TMUX_TMPDIR", "")
    if os.path.basename(folder).startswith("odt-session-"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_tmux_folder() -> Iterator[Path]:
    """Every test's tmux sockets in a folder of its own (``TMUX_TMPDIR``, in ``os.environ`` so
    its subprocesses get it too): what a test counts or cleans there is only what it started,
    whatever else runs on the machine. A short path: a socket's path has a length limit. A tmux
    server the test left running is stopped afterwards.

    Set and restored by hand, not with ``monkeypatch``: this is then torn down after the
    test's own ``monkeypatch`` is undone (a test may patch ``os.stat``)."""
    import os
    import shutil
    import subprocess
    import tempfile

    folder = tempfile.mkdtemp(prefix="odt-")
    before = os.environ.get("TMUX_TMPDIR")
    os.environ["TMUX_TMPDIR"] = folder
    try:
        yield Path(folder)
    finally:
        if before is None:
            os.environ.pop("TMUX_TMPDIR", None)
        else:
            os.environ["TMUX_TMPDIR"] = before
        sockets = [os.path.join(top, name) for top, _, names in os.walk(folder) for name in names]
        tmux = shutil.which("tmux") if sockets else None
        for socket in sockets if tmux is not None else ():
            subprocess.run([tmux, "-S", socket, "kill-server"], capture_output=True, timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def opencode_release() -> Callable[[str], Path]:
    """``opencode_release("1.18.33")`` -> path of that real binary (installed once per machine)."""
    cache: dict[str, Path] = {}

    def get(version: str) -> Path:
        if version not in cache:
            cache[version] = ensure_release(version)
        return cache[version]

    return get


@pytest.fixture(scope="session")
def opencode_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME shared by the session's real OpenCode runs (isolated from the user's)."""
    return tmp_path_factory.mktemp("opencode-home")


@pytest.fixture(scope="session")
def opencode_env(opencode_home: Path) -> dict[str, str]:
    return isolated_env(opencode_home)


@pytest.fixture(scope="session")
def real_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RealServer]]:
    """``real_servers("1.18.33")`` or ``real_servers("1.18.33", password="pw")`` -> a running
    real server, started on first use and shared for the rest of the session."""
    started: dict[tuple[str, str | None], RealServer] = {}
    with ExitStack() as stack:

        def get(version: str, password: str | None = None) -> RealServer:
            key = (version, password)
            if key not in started:
                base = tmp_path_factory.mktemp(f"serve-{version}")
                started[key] = stack.enter_context(
                    real_server(version, base / "home", base / "project", password=password)
                )
            return started[key]

        yield get
