"""Run the steps of the composite action (action.yml) locally, the way a GitHub runner does.

    python -m tools.run_action --input opencode-version=installed --input args="--dir ."

Each ``run:`` step goes to ``bash -e`` with the step's ``env`` (``${{ inputs.NAME }}`` and
``${{ github.action_path }}`` filled in), ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` pointing
at files of this run; step outputs and the summary are printed at the end. Exit code: the first
failing step's, else 0. Needs PyYAML (a test dependency).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION = re.compile(r"\$\{\{\s*([a-z]+)\.([A-Za-z0-9_-]+)\s*\}\}")
STEP_TIMEOUT_S = 900


def load_action(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    return data


def fill(text: str, inputs: Mapping[str, str], action_path: Path) -> str:
    def value(match: re.Match[str]) -> str:
        scope, name = match.group(1), match.group(2)
        if scope == "inputs":
            return inputs.get(name, "")
        if scope == "github" and name == "action_path":
            return str(action_path)
        raise ValueError(f"unsupported expression {match.group(0)!r}")

    return EXPRESSION.sub(value, text)


def run_action(
    action: Mapping[str, Any],
    given: Mapping[str, str],
    *,
    action_path: Path,
    workdir: Path,
    env: Mapping[str, str],
) -> tuple[int, dict[str, str], str]:
    """(exit code, step outputs, summary) of running every step."""
    declared = action.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise ValueError(f"unknown input(s): {', '.join(sorted(unknown))}")
    inputs = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    inputs.update(given)
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="orch-doctor-action-") as scratch:
        summary = Path(scratch) / "summary.md"
        summary.touch()
        for step in action["runs"]["steps"]:
            output = Path(scratch) / "output"
            output.write_text("")
            declared_env = step.get("env") or {}
            step_env = {
                **env,
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_ACTION_PATH": str(action_path),
                **{k: fill(str(v), inputs, action_path) for k, v in declared_env.items()},
            }
            print(f"::group::{step.get('name', 'step')}", flush=True)
            proc = subprocess.run(
                ["bash", "-e", "-c", fill(step["run"], inputs, action_path)],
                cwd=workdir, env=step_env, timeout=STEP_TIMEOUT_S, check=False,
            )  # fmt: skip
            print("::endgroup::", flush=True)
            for line in output.read_text().splitlines():
                name, _, value = line.partition("=")
                if step.get("id") and name:
                    outputs[f"{step['id']}.{name}"] = value
            if proc.returncode != 0:
                return proc.returncode, outputs, summary.read_text()
        return 0, outputs, summary.read_text()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m tools.{Path(__file__).stem}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--action", type=Path, default=ROOT / "action.yml")
    parser.add_argument(
        "--input", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)"
    )
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="where steps run")
    args = parser.parse_args(argv)
    given = {}
    for item in args.input:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--input {item!r}: expected NAME=VALUE")
        given[name] = value
    action = load_action(args.action)
    code, outputs, summary = run_action(
        action, given, action_path=args.action.resolve().parent, workdir=args.workdir,
        env=dict(os.environ),
    )  # fmt: skip
    for name, value in outputs.items():
        print(f"output {name}={value}")
    print("--- step summary ---")
    print(summary)
    return code


if __name__ == "__main__":
    sys.exit(main())
