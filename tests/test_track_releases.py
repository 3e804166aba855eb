"""tools/track_releases and tools/changes: fast checks on stored data (no network, no OpenCode),
plus one real recording of a test release (marked real/slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from tools import track_releases as tr
from tools.changes import Snapshot, load_snapshots, render_changes, snapshot

ROOT = Path(__file__).resolve().parent.parent
HELP = ROOT / "compat_matrix" / "help"
REGISTRY = ["0.0.0-dev-202609212252", "0.1.174", "1.0.152", "1.0.162", "1.18.33", "1.18.34"]


def _matrix_with(tmp_path: Path, complete: list[str], help_only: list[str] = ()) -> Path:  # type: ignore[assignment]
    """A compat_matrix folder holding stored help of some releases, ``complete`` ones tracked."""
    matrix = tmp_path / "compat_matrix"
    (matrix / "help").mkdir(parents=True)
    (matrix / "verified.toml").write_text("", encoding="utf-8")
    for version in [*complete, *help_only]:
        dest = matrix / "help" / version
        shutil.copytree(HELP / version, dest)
        meta = tr.read_meta(dest)
        if version in complete:
            meta["track"] = {"status": "complete", "with_server": "attach-tui-api"}
        else:
            meta.pop("track", None)
            meta.pop("binary", None)
        (dest / "meta.toml").write_text(tr.render_meta(meta), encoding="utf-8")
    return matrix


def _run_tool(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.track_releases", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_help_exits_0_and_starts_nothing() -> None:
    # no npm and no OpenCode on PATH: --help must not need them
    res = _run_tool("--help", env={"PATH": str(Path(sys.executable).parent)})
    assert res.returncode == 0, res.stderr
    for option in ("--shard", "--only", "--dry-run", "--report", "--release-timeout", "--jobs"):
        assert option in res.stdout


def test_dry_run_against_a_fake_registry_prints_what_is_missing(tmp_path: Path) -> None:
    matrix = _matrix_with(tmp_path, complete=["1.0.152"], help_only=["1.0.162"])
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"opencode-linux-x64": REGISTRY}), encoding="utf-8")
    before = sorted(p.name for p in (matrix / "help").iterdir())
    res = _run_tool("--dry-run", "--matrix-dir", str(matrix), env={tr.REGISTRY_ENV: str(registry)})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "missing 1.18.34: help, binary, verify" in lines
    assert "missing 1.0.162: binary, verify" in lines
    assert not any(line.startswith("missing 1.0.152") for line in lines)
    assert "recorded 1; to do 5" in lines[0]
    assert sorted(p.name for p in (matrix / "help").iterdir()) == before  # touched nothing


def test_dry_run_option_and_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = _matrix_with(tmp_path, complete=[])
    registry = tmp_path / "r.json"
    registry.write_text(json.dumps(REGISTRY), encoding="utf-8")
    args = ["--dry-run", "--registry-json", str(registry), "--matrix-dir", str(matrix)]
    assert tr.main([*args, "--shard", "2/3"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1].rstrip(":") for line in out.splitlines()[1:]] == ["0.1.174", "1.18.33"]
    assert tr.main([*args, "--only", "1.0.162", "9.9.9"]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]] == ["1.0.162:"]


def test_registry_json_forms() -> None:
    assert tr.parse_registry_json('"1.0.0"') == ["1.0.0"]
    assert tr.parse_registry_json('["1.0.0", "0.5.29"]') == ["1.0.0", "0.5.29"]
    both = tr.parse_registry_json('{"a": ["1.10.0", "1.9.0"], "b": ["1.9.0", "1.17.15"]}')
    assert both == ["1.9.0", "1.10.0", "1.17.15"]


def test_shard_split_is_a_deterministic_partition() -> None:
    versions = [f"1.{m}.{p}" for m in range(20) for p in range(4)] + ["0.0.0-dev-202609212252"]
    shards = [tr.shard(reversed(versions), i, 8) for i in range(1, 9)]
    assert sorted(v for s in shards for v in s) == sorted(versions)
    assert sum(len(s) for s in shards) == len(versions)
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1
    assert shards == [tr.shard(versions, i, 8) for i in range(1, 9)]  # order-independent
    assert shards[0][0] == "0.0.0-dev-202609212252"  # sorted oldest first, dev build first
    assert tr.shard(versions, 1, 1) == tr.sort_versions(versions)


@pytest.mark.parametrize("bad", ["0/8", "9/8", "1-8", "a/b", "1/0"])
def test_parse_shard_rejects(bad: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        tr.parse_shard(bad)


def test_meta_round_trips_through_toml() -> None:
    meta = {
        "version": "1.0.0",
        "synthesized": False,
        "commands": {"root": "opencode --help"},
        "binary": {"package": "opencode-linux-x64@1.0.0", "size": 123, "sha256": "ab"},
        "track": {"status": "failed", "reason": 'a "quoted"\nreason', "recorded": ["help"]},
    }
    back = tomllib.loads(tr.render_meta(meta))
    assert back["binary"]["size"] == 123
    assert back["track"]["reason"] == 'a "quoted" reason'
    assert back["track"]["recorded"] == ["help"]


def test_launcher_binary_is_the_platform_elf_never_the_script(tmp_path: Path) -> None:
    from tools.releases import platform_package

    script = tmp_path / "node_modules" / "opencode-ai" / "bin" / "opencode"
    script.parent.mkdir(parents=True)
    script.write_text("#!/usr/bin/env node\n", encoding="utf-8")
    assert tr.launcher_binary(tmp_path) is None
    nested = tmp_path / "node_modules" / "opencode-ai" / "node_modules" / platform_package()
    elf = nested / "bin" / "opencode"
    elf.parent.mkdir(parents=True)
    elf.write_bytes(b"\x7fELF" + b"\0" * 60)
    assert tr.launcher_binary(tmp_path) == elf
    assert tr.binary_digest(elf)[0] == 64


def test_merge_takes_each_shards_releases(tmp_path: Path) -> None:
    local = _matrix_with(tmp_path / "local", complete=[])
    shard_out = _matrix_with(tmp_path / "shard1", complete=["1.0.162"])
    (shard_out / "verified.toml").write_text(
        '[[verification]]\nrelease = "1.0.162"\nstrategy = "attach-session-api"\n'
        'outcome = "verified"\ndate = "2026-11-25"\norch_doctor_version = "0.1.0"\n'
        'note = "chosen with a server"\n',
        encoding="utf-8",
    )
    merged = tr.merge_outputs([shard_out.parent], local)
    assert merged == ["1.0.162"]
    assert (local / "help" / "1.0.162" / "root.txt").is_file()
    assert "1.0.162" in (local / "verified.toml").read_text(encoding="utf-8")


# ---- CHANGES.md -------------------------------------------------------------------------------


def test_changes_1_0_152_to_1_0_162_shows_attach_session_added() -> None:
    snaps = [snapshot(HELP / v, []) for v in ("1.0.162", "1.0.152")]
    text = render_changes(snaps)
    section = text.split("### 1.0.152 → 1.0.162", 1)[1].split("###", 1)[0]
    assert "`attach`: added `--session/-s`" in section
    assert "removed" not in section


def test_changes_1_0_162_to_1_1_11_flags_and_routes() -> None:
    text = render_changes([snapshot(HELP / v, []) for v in ("1.0.162", "1.1.11")])
    assert "root (`opencode [project]`): `--prompt` alias `-p` removed" in text  # "-p is port"
    assert "`GET /global/health`" in text.split("routes added", 1)[1]


def test_changes_attach_command_added_and_strategy_change() -> None:
    old = Snapshot("0.5.29", {"root": {"session": ("s",)}}, with_server="none")
    new = Snapshot(
        "1.0.0",
        {"root": {"session": ("s",)}, "attach": {"dir": ()}},
        with_server="attach-tui-api",
        without_server="standalone-prompt",
        outcomes={"attach-tui-api": "verified", "standalone-prompt": "failed"},
        notes={"standalone-prompt": "the TUI exited"},
    )
    text = render_changes([new, old])
    assert "`attach`: command added (options: `--dir`)" in text
    assert "strategy with a server: `none` → `attach-tui-api`" in text
    assert "**new failure** `standalone-prompt`: the TUI exited" in text
    assert "| 1.0.0 | attach-tui-api (verified) | standalone-prompt (failed) |" in text


def test_changes_failed_release_and_quiet_pairs() -> None:
    flags = {"root": {"model": ("m",)}}
    a = Snapshot(
        "1.17.11",
        flags,
        with_server="attach-session-api",
        outcomes={"attach-session-api": "verified"},
    )
    b = Snapshot(
        "1.17.15",
        None,
        outcomes={"attach-session-api": "failed"},
        status="failed",
        reason="install: no binary",
    )
    c = Snapshot(
        "1.17.18",
        flags,
        with_server="attach-session-api",
        outcomes={"attach-session-api": "verified"},
    )
    text = render_changes([a, b, c])
    assert "**release not verifiable here**: install: no binary" in text
    assert "new failure" not in text and "verified again" not in text
    assert text.rstrip().endswith("1.17.18")  # no visible change 1.17.15 -> 1.17.18
    assert "| 1.17.15 | – | – | failed: install: no binary |" in text


def test_changes_say_where_the_2x_contracts_routes_apply_and_change() -> None:
    flags = {"root": {"server": ()}}
    contract = "contract/opencode-2.x-routes.txt"
    one, two = (contract, "a" * 64), (contract, "b" * 64)
    last_1x = Snapshot("1.18.34", {"root": {"port": ()}}, routes=frozenset({"GET /session"}))
    releases = [
        last_1x,
        Snapshot("2.0.12", flags, routes_contract=one),
        Snapshot("2.0.13", flags, routes_contract=one),
        Snapshot("2.0.14", flags, routes_contract=two),
    ]
    text = render_changes(releases)
    first = text.split("### 1.18.34 → 2.0.12\n", 1)[1].split("###", 1)[0]
    assert f"routes: the 2.x contract's (`{contract}`, sha256 aaaaaaaaaaaa) apply" in first
    assert "not measured" in first and "routes removed" not in first
    later = text.split("### 2.0.13 → 2.0.14\n", 1)[1].split("###", 1)[0]
    assert "sha256 bbbbbbbbbbbb) changed" in later
    assert text.rstrip().endswith("2.0.13")  # same contract, same flags: nothing to say


def test_report_from_the_stored_matrix_is_deterministic() -> None:
    snaps = load_snapshots(ROOT / "compat_matrix")
    assert render_changes(snaps) == render_changes(list(reversed(snaps)))
    assert "2.0.0" not in {s.version for s in snaps}  # synthesized help is not a release


# ---- real ------------------------------------------------------------------------------------


@pytest.mark.real
@pytest.mark.slow
def test_real_release_is_recorded_hashed_and_verified(tmp_path: Path) -> None:
    from tools.releases import TEST_RELEASES, binary_path

    version = "1.0.162"
    assert version in TEST_RELEASES  # stays installed after the run
    matrix = _matrix_with(tmp_path, complete=[], help_only=[version])
    registry = tmp_path / "r.json"
    registry.write_text(json.dumps([version]), encoding="utf-8")
    code = tr.main(["--registry-json", str(registry), "--matrix-dir", str(matrix), "--jobs", "1"])
    assert code == 0
    meta = tr.read_meta(matrix / "help" / version)
    assert meta["track"]["status"] == "complete"
    assert meta["track"]["with_server"] == "attach-session-api"
    assert meta["binary"]["sha256"] == tr.binary_digest(binary_path(version))[1]
    assert (matrix / "CHANGES.md").is_file()


def test_clean_keeps_the_reason_and_drops_noise() -> None:
    raw = (
        'saw it exited {\n  "name": "UnknownError",\n  "data": {\n    "message": '
        '"Error: Unable to connect."\n  }\n} Pane is dead (status 0, Wed Nov 25 09:19:52 2026) '
        "\x1b[91mopencode log: ERROR 2026-11-25T09:20:02 +0ms service=models.dev\x1b[0m "
        "check log file at /tmp/orch-doctor-record-l2ebvhkn/x.log for more"
    )
    assert tr.clean(raw) == (
        'saw it exited "UnknownError", "Error: Unable to connect." (exit status 0) '
        "opencode log: ERROR service=models.dev check log file at <tmp> for more"
    )


def test_npm_error_keeps_what_went_wrong_without_log_paths() -> None:
    stderr = (
        'npm warn Unknown user config "nodedir". This will stop working\n'
        "npm error code ETARGET\n"
        "npm error notarget No matching version found for opencode-linux-x64@1.17.15.\n"
        "npm error notarget In most cases you or one of your dependencies are requesting\n"
        "npm error A complete log of this run can be found in: <npm cache>/_logs/x.log\n"
    )
    assert tr.npm_error(stderr) == (
        "code ETARGET; No matching version found for opencode-linux-x64@1.17.15."
    )


@pytest.mark.parametrize("home_in_tmp", [False, True])
def test_clean_hides_machine_paths(
    home_in_tmp: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever HOME is (under /tmp too: it is no throwaway path), it reads ``~``."""
    from tools.releases import cache_root

    home = tmp_path / "home" if home_in_tmp else Path("/home/someone")
    monkeypatch.setenv("HOME", str(home))
    throwaway = Path(tempfile.gettempdir()) / "tmpab12cd" / "x"
    text = (
        f"path {cache_root()}/opencode/1.17.15/launcher; log {home}/.npm/_logs/x.log; "
        f"{throwaway} {home}x/y"
    )
    assert tr.clean(text) == (
        "path <release cache>/opencode/1.17.15/launcher; log ~/.npm/_logs/x.log; "
        f"<tmp> {'<tmp>' if home_in_tmp else f'{home}x/y'}"
    )


def test_dev_builds_stay_out_of_the_sequence() -> None:
    dev = Snapshot("0.0.0-dev-202609212252", {"root": {"model": ("m",)}, "attach": {"dir": ()}})
    old = Snapshot("0.1.174", {"root": {}})
    text = render_changes([dev, old, Snapshot("0.5.29", {"root": {"model": ("m",)}})])
    assert "| 0.0.0-dev-202609212252 |" in text
    assert "left out of the sequence: 0.0.0-dev-202609212252" in text
    assert "### 0.1.174 → 0.5.29" in text and "0.0.0-dev-202609212252 →" not in text


# --- registry text is data: only OpenCode versions become folders or npm specs ----------------

HOSTILE = ["../../victim", "npm:evil@1.0.0", "1.0.0; touch M #", "file:../x", "latest",
           "git+https://example.invalid/x.git", "1.0.0/../../victim", "1.0.0\n", "",
           "\uff11.0.0"]  # fmt: skip


@pytest.mark.parametrize("bad", HOSTILE)
def test_a_registry_entry_that_is_not_a_version_builds_no_path_or_spec(bad: str) -> None:
    from tools import releases

    assert not releases.is_release_version(bad)
    with pytest.raises(ValueError):
        releases.release_dir(bad)
    with pytest.raises(ValueError):
        releases.npm_spec("opencode-ai", bad)
    assert tr.split_versions([bad, "1.18.33"]) == (["1.18.33"], [bad])


@pytest.mark.parametrize("good", ["1.18.33", "0.0.0-dev-202609212252", "10.20.30-beta.1"])
def test_release_versions_are_accepted(good: str) -> None:
    from tools import releases

    assert releases.npm_spec("opencode-linux-x64", good) == f"opencode-linux-x64@{good}"
    assert releases.release_dir(good).name == good


def test_hostile_registry_installs_and_removes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "a" / "b" / "cache"
    monkeypatch.setenv("ORCH_DOCTOR_RELEASE_CACHE", str(cache))
    victim = tmp_path / "a" / "victim"  # <cache>/opencode/../../victim
    victim.mkdir(parents=True)
    (victim / "keep").write_text("x")
    installs: list[tuple[Path, str]] = []
    monkeypatch.setattr(
        tr, "_npm_install", lambda prefix, spec, *a, **k: installs.append((prefix, spec)) or "no"
    )
    removed: list[object] = []
    monkeypatch.setattr(tr.shutil, "rmtree", lambda path, *a, **k: removed.append(path))
    matrix = _matrix_with(tmp_path, complete=["1.18.33"])
    registry = tmp_path / "r.json"
    registry.write_text(json.dumps(["1.18.33", *HOSTILE]), encoding="utf-8")
    code = tr.main(["--registry-json", str(registry), "--matrix-dir", str(matrix), "--jobs", "1"])
    assert code == 0
    err = capsys.readouterr().err
    assert f"ignored {len(HOSTILE)} entries that are not OpenCode release versions" in err
    assert "'../../victim'" in err and "'npm:evil@1.0.0'" in err
    assert installs == [] and removed == []
    assert (victim / "keep").is_file()
    assert sorted(p.name for p in (matrix / "help").iterdir()) == ["1.18.33"]


@pytest.mark.parametrize("bad", ["../../victim", "npm:evil@1.0.0"])
def test_the_pipeline_refuses_a_version_that_is_not_one(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setenv("ORCH_DOCTOR_RELEASE_CACHE", str(tmp_path / "a" / "b" / "cache"))
    victim = tmp_path / "a" / "victim"
    victim.mkdir(parents=True)
    monkeypatch.setattr(tr, "install", lambda *a: pytest.fail("installed"))
    matrix = _matrix_with(tmp_path, complete=[])
    pipeline = tr.Pipeline(
        matrix_dir=matrix, release_timeout_s=60, verify_timeout_s=60,
        record_slots=threading.Semaphore(1), verify_slots=threading.Semaphore(1),
    )  # fmt: skip
    assert pipeline.process(bad) == "refused"
    assert victim.is_dir() and list((matrix / "help").iterdir()) == []


def test_only_release_folders_inside_the_cache_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools import releases

    cache = tmp_path / "cache"
    monkeypatch.setenv("ORCH_DOCTOR_RELEASE_CACHE", str(cache))
    outside = tmp_path / "outside"
    outside.mkdir()
    (cache / "opencode").mkdir(parents=True)
    planted = cache / "opencode" / "9.9.9"
    planted.symlink_to(outside)  # a release folder that leads elsewhere
    with pytest.raises(ValueError):
        releases.release_dir("9.9.9")
    assert not tr.remove_release(planted) and outside.is_dir()
    assert not tr.remove_release(outside) and not tr.remove_release(cache / "opencode")
    real = releases.release_dir("9.9.8")
    real.mkdir()
    assert tr.remove_release(real) and not real.exists()


@pytest.mark.parametrize("bad", ["1.0.0; touch M #", "../../victim", "npm:evil@1.0.0"])
def test_only_takes_release_versions(bad: str) -> None:
    res = _run_tool("--dry-run", "--only", "1.18.33", bad)
    assert res.returncode == 2
    assert "not an OpenCode release version" in res.stderr


def test_merge_skips_folders_not_named_as_releases(tmp_path: Path) -> None:
    matrix = _matrix_with(tmp_path / "m", complete=[])
    shard = _matrix_with(tmp_path / "s", complete=["1.18.33"])
    shutil.copytree(shard / "help" / "1.18.33", shard / "help" / "evil")
    assert tr.merge_outputs([shard], matrix) == ["1.18.33"]
    assert sorted(p.name for p in (matrix / "help").iterdir()) == ["1.18.33"]


@pytest.mark.parametrize("only", ["", "1.18.20 1.18.21", "1.0.0; touch M #", "$(touch M)"])
def test_the_workflow_passes_its_input_as_words_of_data(only: str, tmp_path: Path) -> None:
    """releases.yml's steps, run by bash as a runner does, with a stand-in for the tool."""
    from tools.run_action import load_action

    workflow = load_action(ROOT / ".github" / "workflows" / "releases.yml")
    steps = workflow["jobs"]["shard"]["steps"]
    scripts = [s["run"] for s in steps if s.get("name") in ("what is missing", "record and verify")]
    assert len(scripts) == 2
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    python.chmod(0o755)
    for script in scripts:
        env = {"PATH": "/usr/bin:/bin", "SHARD": "3", "SHARDS": "8", "ONLY": only}
        res = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert res.returncode == 0, res.stderr
        argv = res.stdout.splitlines()
        assert argv[:4] == ["-m", "tools.track_releases", "--shard", "3/8"]
        rest = [a for a in argv[4:] if a != "--dry-run"]
        assert rest == (["--only", *only.split()] if only else [])
        assert not (tmp_path / "M").exists()


# --- the 2.x channel (@opencode/cli) ---------------------------------------------------------

FAKE_NPM = """#!{python}
import json, sys
log = {log!r}
with open(log, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[:1] == ["view"] and args[1] == "@opencode/cli":
    answer = {v2!r}
    if answer is None:
        sys.stderr.write("npm error code E404\\nnpm error 404 Not Found - GET "
                         "https://registry.npmjs.org/@opencode%2fcli - Not found\\n")
        sys.exit(1)
    print(json.dumps(answer))
    sys.exit(0)
if args[:1] == ["view"]:
    print(json.dumps(["1.18.33", "1.18.34"]))
    sys.exit(0)
sys.exit(3)
"""


def _fake_npm(tmp_path: Path, v2: list[str] | None) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "npm.log"
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable, log=str(log), v2=v2))
    npm.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", tr.REGISTRY_ENV: ""}
    return env, log


def test_the_2x_channel_not_served_here_is_said_and_the_rest_goes_on(tmp_path: Path) -> None:
    matrix = _matrix_with(tmp_path, complete=["1.18.33"])
    env, log = _fake_npm(tmp_path, None)
    res = _run_tool("--dry-run", "--matrix-dir", str(matrix), env=env)
    assert res.returncode == 0, res.stderr
    assert "the 2.x channel (@opencode/cli) is not installable here" in res.stderr
    assert "E404" in res.stderr or "404 Not Found" in res.stderr
    assert "missing 1.18.34: help, binary, verify" in res.stdout.splitlines()
    asked = [json.loads(line) for line in log.read_text().splitlines()]
    assert ["view", "@opencode/cli", "versions", "--json", "--loglevel=error"] in asked


def test_a_2x_release_served_is_tracked_and_installed_as_opencode_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = _matrix_with(tmp_path, complete=["1.18.33"])
    env, _ = _fake_npm(tmp_path, ["2.0.12", "../../x"])
    res = _run_tool("--dry-run", "--matrix-dir", str(matrix), env=env)
    assert res.returncode == 0, res.stderr
    assert "missing 2.0.12: help, binary, verify" in res.stdout.splitlines()
    assert "'../../x'" in res.stderr  # registry text is data: not a version, ignored
    # installing it asks npm for @opencode/cli@2.0.12 in the release's own folder
    installs: list[str] = []
    monkeypatch.setattr(
        tr, "_npm_install", lambda prefix, spec, *a, **k: installs.append(spec) or "E404"
    )
    with pytest.raises(tr.ReleaseFailed, match="E404"):
        tr.install("2.0.12", 30.0)
    assert installs == ["@opencode/cli@2.0.12"]


def test_the_2x_binary_is_the_elf_in_the_package_never_a_script(tmp_path: Path) -> None:
    bin_dir = tmp_path / "node_modules" / "@opencode" / "cli" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "opencode").write_text("#!/usr/bin/env node\n")
    assert tr.v2_binary(tmp_path) is None
    elf = tmp_path / "node_modules" / "@opencode" / "cli-linux-x64" / "bin" / "opencode2"
    elf.parent.mkdir(parents=True)
    elf.write_bytes(b"\x7fELF rest")
    assert tr.v2_binary(tmp_path) == elf
    assert tr.is_v2("2.0.12") and not tr.is_v2("1.18.34") and tr.is_v2("2.0.0-beta.1")
    macho = tmp_path / "opencode"
    macho.write_bytes(b"\xcf\xfa\xed\xfe rest")  # a 64-bit Mach-O (macOS platform package)
    assert tr.is_native_binary(macho) and not tr.is_native_binary(bin_dir / "opencode")


def test_a_release_that_cannot_be_recorded_fails_only_its_own_lines_strategies(
    tmp_path: Path,
) -> None:
    import threading

    matrix = _matrix_with(tmp_path, complete=[])
    pipeline = tr.Pipeline(matrix, 30.0, 30.0, threading.Semaphore(1), threading.Semaphore(1))
    v2 = pipeline._failure_records("2.0.12", "2026-12-01", "E404")
    assert [(r.strategy, r.outcome) for r in v2] == [("service-session-api", "failed")]
    v1 = {r.strategy for r in pipeline._failure_records("1.18.99", "2026-12-01", "E404")}
    assert "service-session-api" not in v1 and "attach-session-api" in v1


# --- a 2.x release through the whole pipeline ---------------------------------------------------
#
# No real 2.x can be installed here (the registry answers 404 for @opencode/cli), so the npm
# install alone is replaced: "installing" @opencode/cli@2.0.99 places the 2.x stand-in
# (tests/support/opencode2.py: the help compat_matrix/ derived from 2.x's source, a real
# loopback 2.x serve with forced Basic auth, the TUI) where the platform package's binary would
# be, beside a node launcher script. Everything after that is the tracker's own code, as a real
# 2.x release would take it: finding the binary, --version, help, serve and route facts,
# verify with a throwaway 2.x serve, hashing, meta.toml, verified.toml, CHANGES.md.

STAND_IN_VIA = "stand-in: tests/support/opencode2.py, not a real release"


@pytest.mark.slow
def test_a_2x_release_is_recorded_hashed_and_verified_through_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import hashlib
    import threading

    pytest.importorskip("opencode.testing")
    from tests.support.opencode2 import write_binary
    from tools.releases import release_dir
    from tools.verify_matrix import read_records

    version = "2.0.99"
    monkeypatch.setenv("ORCH_DOCTOR_RELEASE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ORCH_DOCTOR_CACHE_DIR", str(tmp_path / "user-cache"))
    matrix = _matrix_with(tmp_path, complete=["1.18.33"])
    installs: list[str] = []
    placed: list[Path] = []

    def npm_install(prefix: Path, spec: str, timeout_s: float, *, scripts: bool = True) -> str:
        installs.append(spec)
        scope = prefix / "node_modules" / "@opencode"
        launcher = scope / "cli" / "bin" / "opencode"  # what npm links: never the one hashed
        launcher.parent.mkdir(parents=True)
        launcher.write_text("#!/usr/bin/env node\nrequire('../lib/run.js')\n", encoding="utf-8")
        launcher.chmod(0o755)
        placed.append(write_binary(scope / "cli-linux-x64" / "bin" / "opencode2", version))
        return ""

    real_native, real_install_v2 = tr.is_native_binary, tr.install_v2

    def install_v2(version: str, timeout_s: float) -> tr.Installed:
        got = real_install_v2(version, timeout_s)
        return dataclasses.replace(got, via=f"{got.via} ({STAND_IN_VIA})")

    monkeypatch.setattr(tr, "_npm_install", npm_install)
    # the stand-in is a script, a real release's binary is native: only it is let through
    monkeypatch.setattr(tr, "is_native_binary", lambda p: p in placed or real_native(p))
    monkeypatch.setattr(tr, "install_v2", install_v2)

    pipeline = tr.Pipeline(
        matrix_dir=matrix,
        release_timeout_s=240.0,
        verify_timeout_s=90.0,
        record_slots=threading.Semaphore(1),
        verify_slots=threading.Semaphore(1),
    )
    assert pipeline.process(version) == "complete"
    assert installs == [f"@opencode/cli@{version}"]

    folder = matrix / "help" / version
    meta = tr.read_meta(folder)
    track = meta["track"]
    # the binary: the native one the package holds (here the stand-in), hashed, said to be one
    twin = write_binary(tmp_path / "twin" / "opencode2", version)  # same bytes as the one run
    assert meta["binary"]["package"] == f"@opencode/cli@{version}"
    assert meta["binary"]["sha256"] == tr.binary_digest(twin)[1]
    assert meta["binary"]["size"] == twin.stat().st_size
    assert STAND_IN_VIA in meta["binary"]["installed_via"]
    assert not release_dir(version).exists()  # removed from the release cache again
    # its help, as printed by the binary, under the binary's own name
    derived = HELP / "2.0.0"
    assert (folder / "version.txt").read_text() == f"opencode v{version}\n"
    for name in ("root", "run", "serve"):
        assert (folder / f"{name}.txt").read_text() == (derived / f"{name}.txt").read_text()
    assert meta["package"] == f"@opencode/cli@{version}" and meta["synthesized"] is False
    assert meta["commands"]["serve"] == "opencode2 serve --help"
    assert track["generation"] == "2.x"
    # routes: a 2.x server lists none; the contract's apply and are said to be, never measured
    assert not (folder / "routes.txt").exists()
    assert track["routes_source"] == "contract"
    assert track["routes"].startswith("contract only:") and "not measured" in track["routes"]
    contract = ROOT / "compat_matrix" / track["routes_contract"]
    assert track["routes_contract_sha256"] == hashlib.sha256(contract.read_bytes()).hexdigest()
    assert f"version {version}" in track["serve"] and "auth basic" in track["serve"]
    assert "routes" not in track["recorded"] and {"binary", "help", "verify"} <= set(
        track["recorded"]
    )
    # verified for real against a throwaway 2.x serve; without a server 2.x has no strategy
    assert track["status"] == "complete", track
    assert track["with_server"] == "service-session-api"
    assert track["with_server_outcome"] == "verified"
    assert track["without_server"] == "none" and "service-session-api" in track.get(
        "without_server_problem", ""
    )
    records = [r for r in read_records(matrix / "verified.toml") if r.release == version]
    assert [(r.strategy, r.outcome) for r in records] == [("service-session-api", "verified")]
    assert records[0].note == tr.HOW_WITH  # no 1.x strategy was forced on it
    # CHANGES.md: the 2.x release in the table and its changes from the last 1.x one
    changes = tr.write_report(matrix).read_text()
    assert f"| {version} | service-session-api (verified) | none | complete |" in changes
    section = changes.split(f"### 1.18.33 → {version}\n", 1)[1].split("\n### ", 1)[0]
    assert "`attach`: command removed" in section
    assert "root (`opencode [project]`): added " in section and "`--server`" in section
    assert "strategy with a server: `attach-tui-api` → `service-session-api`" in section
    assert "routes: the 2.x contract's (`contract/opencode-2.x-routes.txt`" in section
    assert not (HELP / version).exists()  # the repository's compat_matrix/ was not written
