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
         "args": f"--dir {project} --no-discover --model not-a-model"},
        action_path=ROOT, workdir=project, env=env,
    )  # fmt: skip
    assert code == 1 and outputs["doctor.exit-code"] == "1"
