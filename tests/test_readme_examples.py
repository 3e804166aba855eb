"""The README's example outputs and Speed figures are what real runs and the benchmark give.

``tools/readme_examples.py --check`` reruns every example for real (one run of the script, one
throwaway server per release) and compares with the values that vary masked; the pure tests
here hold the masking, the block markers and the benchmark figures to their word.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.readme_examples import (
    EXAMPLES,
    README,
    blocks_of,
    compare,
    main,
    mask,
    render_bench,
    replace_blocks,
)

RUN: dict[str, object] = {
    "verify wall / (serve + tui)": {"value": 1.18, "target": 1.25, "ratio": 0.944},
    "spawn / tui": {"value": 1.31, "target": 1.15, "ratio": 1.139},
    "loadavg": [1.52, 1.21, 0.98],
    "date": "2026-12-01T14:00:00Z",
}


def readme_with(body: str, name: str = "bench") -> str:
    return f"# x\n\ntext\n\n<!-- example: {name} -->\n```\n{body}```\n<!-- /example -->\n\nend\n"


# --- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("  [  0.0s] probe ...", "  [ 12.4s] probe ..."),
        ("✓ 1. create the session (0.04s)", "✓ 1. create the session (10.91s)"),
        ("VERIFIED in 7.1s: the prompt", "VERIFIED in 14.1s: the prompt"),
        ("at http://127.0.0.1:41967 ...", "at http://127.0.0.1:57685 ..."),
        ("session ses_ded8a644bffebt2vd3kdTdKsyB has", "session ses_dcdf75075ffek4lRRvnaO7 has"),
        ("folder /tmp/orch-doctor-verify-kae86k2v", "folder /tmp/orch-doctor-verify-_8g5fq9n"),
        # a suffix that ends like a duration (`2n4s`) is a folder name, not a time
        ("folder /tmp/orch-doctor-verify-jmvo2n4s", "folder /tmp/orch-doctor-verify-kae86k2v"),
        (
            "--dir /tmp/orch-doctor-verify-jmvo2n4s/project",
            "--dir /tmp/orch-doctor-verify-ab/project",
        ),
        ("the TUI shows 'orch-doctor verify 1bb28'", "the TUI shows 'orch-doctor verify d5864'"),
        ("the screen shows 'ctrl+p'", "the screen shows the prompt ('orch-doctor verify d5864')"),
        ("on 2026-11-25T12:00:28", "on 2026-12-01T09:10:11"),
        ("sha256 " + "ab" * 32, "sha256 " + "cd" * 32),
        ("load average: 0.52, 0.40, 0.31", "load average: 3.10, 2.95, 2.01"),
        ("process pid 4242 stopped", "process pid 17 stopped"),
        ("in tmux window orch:agent-1 (@1)", "in tmux window orch:agent-1 (@12)"),
        (
            "scratch folder /tmp/orch-doctor-verify-ab12cd34",
            "scratch folder /tmp/orch-doctor-verify-x9y8z7w6 (rm pid 4242), finishing in the "
            "background",
        ),
    ],
)
def test_values_that_vary_are_masked(one: str, other: str) -> None:
    assert mask(one) == mask(other)
    assert compare("x", one + "\n", other + "\n", masked=True) == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("PASS: 8 passed, 0 warnings", "PASS: 7 passed, 0 warnings"),
        ("✓ spawn strategy: attach-session-api", "✓ spawn strategy: attach-tui-api"),
        ("flags parsed from help: attach: --dir", "flags parsed from help: attach: --dir, --fork"),
        ("tested range >=0.5.29,<=1.18.34", "tested range >=0.5.29,<=1.18.40"),
        ("  [  0.0s] probe the OpenCode binary ...", "  [  0.0s] check the server ..."),
        ("routes: 80 (GET /doc)", "routes: 81 (GET /doc)"),
    ],
)
def test_what_does_not_vary_still_differs(one: str, other: str) -> None:
    assert compare("x", one + "\n", other + "\n", masked=True)


# --- the README's markers --------------------------------------------------------------------


def test_the_readme_marks_every_example_and_the_speed_figures() -> None:
    blocks = blocks_of(README.read_text(encoding="utf-8"))
    assert set(blocks) == {*EXAMPLES, "bench"}
    for name, example in EXAMPLES.items():
        first = blocks[name].splitlines()[0]
        assert first.startswith("$ orch-doctor "), first
        if "{opencode}" in example.args:
            assert "--opencode /" in first  # a public path, not this machine's


def test_no_machine_path_in_the_readme_examples() -> None:
    for name, text in blocks_of(README.read_text(encoding="utf-8")).items():
        assert "orch-doctor-dev" not in text and "/root/" not in text, name
        assert "orch-doctor-readme-" not in text and "node_modules" not in text, name


def test_replacing_blocks_keeps_everything_else() -> None:
    text = readme_with("old\n") + readme_with("other\n", "doctor-1.18.33")
    new = replace_blocks(text, {"bench": "new line\n"})
    assert blocks_of(new) == {"bench": "new line\n", "doctor-1.18.33": "other\n"}
    assert new.replace("new line", "old") == text


# --- the benchmark's figures -----------------------------------------------------------------


def test_speed_block_quotes_every_figure_with_load_and_date() -> None:
    block = render_bench(RUN)
    assert "2026-12-01T14:00:00Z" in block and "load average 1.52, 1.21, 0.98" in block
    rows = {line.split("  ")[1]: line.split() for line in block.splitlines()[2:]}
    assert rows["verify wall / (serve + tui)"][-4:] == ["1.18", "1.25", "0.944", "met"]
    assert rows["spawn / tui"][-4:] == ["1.31", "1.15", "1.14", "MISSED"]
    warm = {"warm plan": {"value": 121.2, "target": 150, "ratio": 0.81, "unit": "ms"}}
    assert "121 ms     150 ms    0.81  met" in render_bench({**warm, "loadavg": 0.5, "date": "d"})


def test_check_fails_when_the_readme_figures_differ_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "last-run.json"
    run.write_text(json.dumps(RUN))
    readme = tmp_path / "README.md"
    readme.write_text(readme_with("no figures yet\n"))
    argv = ["--readme", str(readme), "--bench-file", str(run), "--only", "bench"]

    assert main([*argv, "--check"]) == 1
    assert "-no figures yet" in capsys.readouterr().out
    assert main(argv) == 0  # rewrite from the file
    assert "1.18" in readme.read_text() and readme.read_text().endswith("\n\nend\n")
    assert main([*argv, "--check"]) == 0

    # a new run with one figure changed: the README's number no longer matches
    changed = dict(RUN, **{"spawn / tui": {"value": 1.12, "target": 1.15, "ratio": 0.974}})
    run.write_text(json.dumps(changed))
    assert main([*argv, "--check"]) == 1
    out = capsys.readouterr().out
    assert "1.31" in out and "1.12" in out
    # the load average and date are part of the figures: a rerun with another load differs
    run.write_text(json.dumps(dict(RUN, loadavg=[0.1, 0.1, 0.1])))
    assert main([*argv, "--check"]) == 1


def test_a_missing_or_broken_benchmark_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(readme_with("1.18 met\n"))
    run = tmp_path / "last-run.json"
    argv = ["--readme", str(readme), "--bench-file", str(run), "--only", "bench", "--check"]
    assert main(argv) == 1  # figures in the README but no run recorded
    assert "is missing" in capsys.readouterr().out
    run.write_text(json.dumps({"spawn / tui": {"value": 1.0}, "date": "d"}))
    assert main(argv) == 1
    assert "lacks value, target or ratio" in capsys.readouterr().err
    run.write_text("{")
    assert main(argv) == 1


# --- the README against real runs ------------------------------------------------------------


@pytest.mark.real
@pytest.mark.slow
def test_readme_examples_match_real_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """One run of the script: every example for real (two throwaway servers, one tmux), and
    the Speed figures against the benchmark's file."""
    code = main(["--check"])
    assert code == 0, capsys.readouterr().out


def test_speed_block_takes_the_benchmarks_own_verdict_and_ratio_targets() -> None:
    """bench.bench writes ``figures`` with ``pass``; a target beside a ratio is a ratio target,
    a figure without a target is a reference."""
    run = {
        "date": "d",
        "loadavg": [1.0, 1.0, 1.0],
        "figures": {
            "spawn_wall": {"value": 4.5, "unit": "s", "target": 1.15, "ratio": 1.3, "pass": False},
            "spawn_tui": {"value": 3.4, "unit": "s", "target": None, "ratio": None, "pass": None},
            "spawn_at_once": {
                "value": 30.0, "unit": "s", "target": None, "ratio": 6.6, "pass": True,
                "delivered": [24, 24],
            },
        },
    }  # fmt: skip
    rows = {line.split()[0]: line.split() for line in render_bench(run).splitlines()[2:]}
    assert rows["spawn_wall"][1:] == ["4.5", "s", "1.15", "x", "1.3", "MISSED"]
    assert rows["spawn_tui"][-1] == "reference"
    assert rows["spawn_at_once"][-5:] == ["met", "(24", "of", "24", "delivered)"]
