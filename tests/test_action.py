"""The composite action: its metadata is valid, and its steps run locally as a runner runs them."""

from __future__ import annotations

import os
import venv
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tools.run_action import ROOT, load_action, run_action

#: what GitHub requires of a composite action's metadata (action.yml)
ACTION_SCHEMA = {
    "type": "object",
    "required": ["name", "description", "runs"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1},
        "inputs": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["description"],
                "properties": {"description": {"type": "string"}, "required": {"type": "boolean"},
                               "default": {"type": "string"}},
                "additionalProperties": False,
            },
        },
        "outputs": {
            "type": "object",
            "additionalProperties": {"type": "object", "required": ["description", "value"]},
        },
        "runs": {
            "type": "object",
            "required": ["using", "steps"],
            "properties": {
                "using": {"const": "composite"},
                "steps": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "oneOf": [{"required": ["run", "shell"]}, {"required": ["uses"]}],
                    },
                },
            },
        },
    },
}  # fmt: skip


def test_action_metadata_is_valid() -> None:
    action = load_action(ROOT / "action.yml")
    jsonschema.validate(action, ACTION_SCHEMA)
    assert set(action["inputs"]) >= {"opencode-version", "server-url", "policy", "strict", "args"}
    for step in action["runs"]["steps"]:  # inputs reach scripts through env, never inline
        assert "inputs." not in step.get("run", ""), step["name"]


@pytest.mark.slow
def test_action_steps_run_locally(tmp_path: Path, opencode_release: Callable[[str], Path]) -> None:
    # a runner: a fresh Python for the install step, the release on PATH ("installed")
    runner = tmp_path / "runner"
    venv.EnvBuilder(with_pip=True).create(runner)
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "opencode").symlink_to(opencode_release("1.18.33"))
    env = {
        "PATH": os.pathsep.join([str(runner / "bin"), str(tools), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "ORCH_DOCTOR_CACHE_DIR": str(tmp_path / "cache"),
    }
    project = tmp_path / "project"
    project.mkdir()
    action = load_action(ROOT / "action.yml")
    code, outputs, summary = run_action(
        action,
        {"opencode-version": "installed", "args": f"--dir {project} --no-discover"},
        action_path=ROOT, workdir=project, env=env,
    )  # fmt: skip
    assert code == 0, (outputs, summary)
    assert outputs["doctor.exit-code"] == "0"
    assert "orch-doctor" in summary and "strategy" in summary
    # a failing check fails the job, and the exit code is the step's output
    code, outputs, _ = run_action(
        action,
        {"opencode-version": "installed", "strict": "true",
         "args": f"--dir {project} --no-discover --opencode {project}/no-opencode-here"},
        action_path=ROOT, workdir=project, env=env,
    )  # fmt: skip
    assert code == 1 and outputs["doctor.exit-code"] == "1"


WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _run_blocks(node: object) -> list[str]:
    """Every ``run:`` script anywhere in a parsed workflow or action."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                found.append(value)
            else:
                found += _run_blocks(value)
    elif isinstance(node, list):
        for item in node:
            found += _run_blocks(item)
    return found


@pytest.mark.parametrize("path", [*WORKFLOWS, ROOT / "action.yml"], ids=lambda p: p.name)
def test_no_input_is_pasted_into_a_script(path: Path) -> None:
    """Inputs (and every other expression) reach ``run:`` only through ``env:``: an input
    ``1.0.0; touch M #`` is then a value, never shell syntax."""
    import re

    scripts = _run_blocks(load_action(path))
    assert scripts, path
    for script in scripts:
        assert not re.search(r"\$\{\{[^}]*\b(github\.event\.)?inputs\.", script), script
        assert "${{" not in script, script


def _install_step(tmp_path: Path, version: str) -> tuple[int, list[str]]:
    """The action's "Install OpenCode" step alone, with an npm that only records its argv."""
    action = load_action(ROOT / "action.yml")
    (step,) = [s for s in action["runs"]["steps"] if s.get("name") == "Install OpenCode"]
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    calls = tmp_path / "npm-calls"
    npm = tools / "npm"
    npm.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    npm.chmod(0o755)
    env = {"PATH": os.pathsep.join([str(tools), "/usr/bin", "/bin"]), "HOME": str(tmp_path)}
    code, _, _ = run_action(
        {"inputs": action["inputs"], "runs": {"steps": [step]}},
        {"opencode-version": version}, action_path=ROOT, workdir=tmp_path, env=env,
    )  # fmt: skip
    return code, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("version", ["1.18.33", "0.0.0-dev-202609212252"])
def test_action_installs_exactly_the_release_given(tmp_path: Path, version: str) -> None:
    code, calls = _install_step(tmp_path, version)
    assert code == 0
    assert calls == [f"install -g --no-audit --no-fund opencode-ai@{version}"]


@pytest.mark.parametrize(
    "version",
    ["file:../evil", "npm:evil@1.0.0", "latest", "git+https://example.invalid/x.git",
     "https://example.invalid/x.tgz", "^1.18.0", "1.18.33 --registry=http://x", "1.0.0; touch M #",
     "1.18.33\n", "../../x", "github:owner/repo", "1.18", ""],
)  # fmt: skip
def test_action_refuses_anything_but_a_version(
    tmp_path: Path, version: str, capfd: pytest.CaptureFixture[str]
) -> None:
    code, calls = _install_step(tmp_path, version)
    assert code == 2 and calls == []
    out = capfd.readouterr().out
    assert "::error title=orch-doctor::input opencode-version must be an OpenCode release" in out
    assert "\n1.18.33" not in out  # the value is shown on the error's own line, escaped
    assert not (tmp_path / "M").exists()
