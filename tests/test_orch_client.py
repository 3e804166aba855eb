"""orch's own OpenCode client against the server: the contract (compat_matrix/clients/orch.toml)
loaded and validated like the rest of the matrix, compared with recorded and real servers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from orch_doctor.api import check_orch_client
from orch_doctor.cli import main
from orch_doctor.clients.check import FINDING_CHANGES, shape_problem
from orch_doctor.clients.found import find_client, git_head
from orch_doctor.errors import MatrixError
from orch_doctor.matrix.clients import SHAPES, load_contracts
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.location import compat_matrix_dir
from orch_doctor.server.contract import Shape, documented_route
from orch_doctor.server.credentials import Credentials
from tests.support.opencode import RealServer
from tests.support.schemas import assert_valid

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "server"
CONTRACT = compat_matrix_dir() / "clients" / "orch.toml"
PASSWORD = "pw-Sup3r-secret-6789"  # the same server as tests/test_server_probe.py's
#: the stub of a checkout: orch's version and a detached HEAD, no orch code
HEAD_8B52AE7 = "8b52ae7" + "0" * 33


def orch() -> object:
    (contract,) = [c for c in load_contracts() if c.id == "orch"]
    return contract


def checkout(folder: Path, version: str = "0.2.0", head: str | None = HEAD_8B52AE7) -> Path:
    (folder / "src" / "orch").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(f'[project]\nname = "orch-cli"\nversion = "{version}"\n')
    if head is not None:
        (folder / ".git").mkdir()
        (folder / ".git" / "HEAD").write_text(head + "\n")
    return folder


# --- the contract as data -----------------------------------------------------------------------


def test_the_contract_loads_and_every_call_is_a_route_of_recorded_releases() -> None:
    (contract,) = load_contracts()
    assert contract.id == "orch" and contract.distribution == "orch-cli"
    assert contract.applies_to("0.2.0", None) and not contract.applies_to("0.3.0", None)
    assert contract.applies_to(None, "db2d500")  # a commit read, whatever the version
    assert contract.discovery.ports == (4096, 53615, 8080)
    assert contract.auth.sends_credentials is False
    ids = {c.id for c in contract.calls}
    assert {"health-check", "list-sessions", "session-status", "get-messages"} <= ids
    for version in ("1.0.152", "1.18.33"):
        routes = (compat_matrix_dir() / "help" / version / "routes.txt").read_text().split("\n")
        for call in contract.calls:
            assert f"{call.method} {call.route}" in routes, (version, call.id)
    for call in contract.calls:
        assert call.shape in SHAPES and call.source
        assert all(s.startswith("src/orch/") for s in call.source)


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = CONTRACT.read_text()
    assert old in text
    path = tmp_path / "orch.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('id = "session-status"\n', 'id = "session-status"\nbogus = 1\n',
         "call.session-status.bogus"),
        ('shape = "array-of-objects"\nfields = ["sessionID"]', 'shape = "a-list"',
         "call.session-status.shape"),
        ("opencode.py:300@", "opencode.py@", "call.session-status.source"),
        ('unscoped_fix = "', 'unscoped_typo = "', "call.list-sessions.unscoped"),
        ('versions = "==0.2.0"', 'versions = "zero point two"', "client.versions"),
        ("ports = [4096, 53615, 8080]", 'ports = ["4096"]', "discovery.ports"),
        ('route = "/session/status"', 'route = "session/status"', "call.session-status.route"),
    ],
)  # fmt: skip
def test_an_invalid_contract_names_the_file_and_the_entry(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = _write(tmp_path, old, new)
    with pytest.raises(MatrixError) as caught:
        load_contracts([path])
    assert str(path) in str(caught.value) and key in str(caught.value)


def test_a_contract_given_with_matrix_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "ports = [4096, 53615, 8080]", "ports = [4100]")
    (contract,) = load_contracts([path, compat_matrix_dir() / "known_issues.toml"])
    assert contract.discovery.ports == (4100,) and contract.source == str(path)
    load_matrix([path], overrides=False)  # the matrix loader leaves contracts to their loader


def test_known_issue_changes_server_is_validated(tmp_path: Path) -> None:
    cve = next(i for i in load_matrix(overrides=False).issues if "cve-2026-22812" in i.id)
    assert cve.changes_server == ("password",)
    bad = tmp_path / "issue.toml"
    bad.write_text(
        '[[issue]]\nid = "x"\ntitle = "t"\nversions = ">=1"\nseverity = "info"\n'
        'affects = ["attach-tui-api"]\nbreaks = "b"\nevidence = "measured: m"\n'
        'changes_server = ["hostname"]\n'
    )
    with pytest.raises(MatrixError, match=r"issue\.x\.changes_server"):
        load_matrix([bad], overrides=False)
    assert FINDING_CHANGES["unauthenticated-network-server"] == ("password",)


# --- shapes: the documents of recorded releases -------------------------------------------------


@pytest.mark.parametrize("version", ["1.0.152", "1.18.33"])
def test_documented_shapes_of_recorded_releases(version: str) -> None:
    doc = json.loads((FIXTURES / version / "doc.json").read_text())
    status = documented_route(doc, "GET /session/status")
    assert status.listed and status.status == 200 and status.shape.kind == "keyed-object"
    sessions = documented_route(doc, "GET /session")
    assert sessions.shape.kind == "array" and sessions.shape.items is not None
    assert "id" in (sessions.shape.items.fields or ())
    prompt = documented_route(doc, "POST /session/{id}/prompt_async")
    assert prompt.status == 204 and prompt.shape.kind == "none"
    assert not documented_route(doc, "GET /session/{id}/nothing-here").listed


def test_an_entry_that_matches_is_not_reported() -> None:
    calls = {c.id: c for c in orch().calls}  # type: ignore[attr-defined]
    listing = Shape("array", items=Shape("object", ("id", "title")))
    assert shape_problem(calls["list-sessions"], listing, documented=True) is None
    assert shape_problem(calls["send-async"], Shape("none"), documented=True) is None
    assert shape_problem(calls["health-check"], Shape("keyed-object"), documented=True) is None
    keyed = Shape("keyed-object", items=Shape("object", ("type",)))
    problem = shape_problem(calls["session-status"], keyed, documented=True)
    assert problem is not None and "keyed by id" in problem
    without_id = Shape("array", items=Shape("object", ("title",)))
    assert "without id" in (
        shape_problem(calls["list-sessions"], without_id, documented=True) or ""
    )
    empty = Shape("object", ())
    assert "empty object" in (shape_problem(calls["session-status"], empty, documented=False) or "")


# --- finding orch -------------------------------------------------------------------------------


def test_a_checkout_gives_its_version_and_git_head(tmp_path: Path) -> None:
    folder = checkout(tmp_path / "orch")
    install, why = find_client(orch(), folder)  # type: ignore[arg-type]
    assert install is not None and why == ""
    assert (install.version, install.commit, install.how) == ("0.2.0", HEAD_8B52AE7, "--orch PATH")
    assert install.label() == "orch 0.2.0 @ 8b52ae700000"


def test_git_head_of_a_real_repository_on_a_branch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    for argv in (["init", "-q", "-b", "main"], ["-c", "user.name=t", "-c", "user.email=t@t",
                 "commit", "-q", "--allow-empty", "-m", "x"]):  # fmt: skip
        subprocess.run(["git", "-C", str(repo), *argv], check=True, env=env, timeout=30)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
        check=True, env=env, timeout=30,
    ).stdout.strip()  # fmt: skip
    assert git_head(repo) == head
    subprocess.run(["git", "-C", str(repo), "pack-refs", "--all"], check=True, env=env, timeout=30)
    assert git_head(repo) == head  # from packed-refs


def test_what_is_not_a_checkout_or_not_installed_says_why(tmp_path: Path) -> None:
    install, why = find_client(orch(), tmp_path)  # type: ignore[arg-type]
    assert install is None and "not a checkout of orch" in why
    escaping = checkout(tmp_path / "evil", head="ref: refs/../../../etc/passwd")
    install, _ = find_client(orch(), escaping)  # type: ignore[arg-type]
    assert install is not None and install.commit is None  # a ref is never a path out
    report = check_orch_client(None, "0.9.1")
    assert report.status == "skip" and "no contract" in report.summary


# --- real servers -------------------------------------------------------------------------------


@pytest.mark.real
@pytest.mark.slow
def test_real_1_18_33_with_a_password_names_the_three_breaks(
    real_servers: Callable[..., RealServer], tmp_path: Path
) -> None:
    server = real_servers("1.18.33", password=PASSWORD)
    elsewhere = tmp_path / "agents"
    report = check_orch_client(
        server.url, "0.2.0", directory=elsewhere,
        credentials=Credentials("opencode", PASSWORD), env={},
    )  # fmt: skip
    assert report.status == "warn"
    ids = {a.id for a in report.advisories}
    assert ids == {
        "orch-client-auth",  # 401 without credentials: every call
        "orch-client-discovery",  # a port orch does not try
        "orch-client-session-status",  # an object keyed by id, iterated as a list
        "orch-client-list-sessions-scope",  # the agents' directory is not the server's
    }
    by_id = {a.id: a for a in report.advisories}
    assert "401" in by_id["orch-client-auth"].message
    assert "AttributeError" in by_id["orch-client-session-status"].message
    assert all(a.fix and a.evidence for a in report.advisories)
    ok = {e.id for e in report.entries if e.ok}
    assert {"health-check", "get-messages", "send-async", "get-session"} <= ok
    assert not {f"orch-client-{e}" for e in ok} & ids  # an entry that matches: not reported
    cost = report.cost("password")
    assert cost is not None and "orch send" in cost.message
    assert PASSWORD not in json.dumps(report.to_json())


@pytest.mark.real
@pytest.mark.slow
def test_real_1_0_152_without_password_and_its_cve_advice_prices_orch(
    real_servers: Callable[..., RealServer],
    opencode_release: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    server = real_servers("1.0.152")
    folder = checkout(tmp_path / "orch")
    result = CliRunner().invoke(
        main,
        ["--opencode", str(opencode_release("1.0.152")), "--server", server.url,
         "--dir", str(server.directory), "--orch", str(folder), "--format", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    data = json.loads(result.output)
    assert_valid("doctor", data)
    checks = {c["id"]: c for c in data["checks"]}
    client = checks["orch-client"]
    assert client["status"] == "warn"
    assert "GET /session/status" in client["summary"] and "credentials" not in client["summary"]
    assert "8b52ae7" in client["summary"]
    # the server's CVE fix sets a password: it says what that costs this orch, and what to do
    # (the fix is a command; what it costs orch stands beside it, in the alternatives)
    server_fix = " ".join([checks["server"]["fix"], *checks["server"]["alternatives"]])
    assert checks["server"]["status"] == "fail"
    assert "OPENCODE_SERVER_PASSWORD" in server_fix and "orch tail" in server_fix
    assert "requests.Session().auth" in server_fix
    assert any(d.startswith("cost of the server-unauthenticated-cve") for d in client["details"])


@pytest.mark.real
@pytest.mark.slow
def test_doctor_on_real_1_18_33_with_a_password_for_orch_at_8b52ae7(
    real_servers: Callable[..., RealServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    server = real_servers("1.18.33", password=PASSWORD)
    folder = checkout(tmp_path / "orch")
    result = CliRunner().invoke(
        main,
        ["--server", server.url, "--dir", str(tmp_path / "agents"), "--orch", str(folder),
         "-v"],
        env={"OPENCODE_SERVER_PASSWORD": PASSWORD},
        catch_exceptions=False,
    )  # fmt: skip
    out = result.output
    line = next(x for x in out.splitlines() if "orch's OpenCode client" in x)
    assert "orch 0.2.0 @ 8b52ae7" in line
    for named in ("credentials", "server discovery", "GET /session/status", "GET /session (scope)"):
        assert named in line
    assert "AttributeError: 'str' object has no attribute 'get'" in out
    assert "401" in out and "opencode serve --port 4096" in out
    assert "src/orch/backends/opencode.py:300@db2d5003" in out
    assert PASSWORD not in out


@pytest.mark.real
@pytest.mark.slow
def test_a_server_where_orchs_calls_all_hold_is_a_pass(
    real_servers: Callable[..., RealServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contract as a server that suits it: its port among the discovery ports, no password,
    the agents in its directory, and without the status call no release answers as orch reads."""
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    server = real_servers("1.18.33")
    text = CONTRACT.read_text().replace("ports = [4096, 53615, 8080]", f"ports = [{server.port}]")
    text = text[: text.index('[[call]]\nid = "session-status"')]
    path = tmp_path / "orch-here.toml"
    path.write_text(text)
    report = check_orch_client(
        server.url, "0.2.0", directory=server.directory, matrix_files=[str(path)], env={}
    )
    assert report.status == "pass", report.summary
    assert report.advisories == () and all(e.ok for e in report.entries)
    result = CliRunner().invoke(
        main,
        ["--server", server.url, "--dir", str(server.directory), "--orch",
         str(checkout(tmp_path / "orch")), "--matrix", str(path), "--format", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    client = next(c for c in json.loads(result.output)["checks"] if c["id"] == "orch-client")
    assert client["status"] == "pass" and client["fix"] is None
    assert all(d.startswith(("client:", "contract:", "✓")) for d in client["details"])
