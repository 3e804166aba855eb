"""Probe the installed OpenCode: version and the help of each subcommand, all at once.

Every call has a timeout and an output cap; the whole process group is killed on timeout. The
child gets no server secret (help and version need none).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

from orch_doctor.capabilities import capabilities_from_help
from orch_doctor.discover import discover
from orch_doctor.models import PROBED_COMMANDS, Capabilities, HelpText
from orch_doctor.proc import CaptureResult, run_many
from orch_doctor.version import parse_version_output

DEFAULT_TIMEOUT_S = 20.0
HELP_MAX_BYTES = 512 * 1024
SECRET_VARS = ("OPENCODE_SERVER_PASSWORD",)


def help_argv(binary: str, command: str) -> list[str]:
    return [binary, "--help"] if command == "root" else [binary, command, "--help"]


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    for name in SECRET_VARS:
        base.pop(name, None)
    return base


def probe_binary(
    path: str,
    *,
    commands: Sequence[str] = PROBED_COMMANDS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> Capabilities:
    """Run ``--version`` and each command's ``--help`` concurrently and parse them."""
    runs: dict[str, list[str]] = {"version": [path, "--version"]}
    runs.update({cmd: help_argv(path, cmd) for cmd in commands})
    results = run_many(runs, timeout_s=timeout_s, max_bytes=HELP_MAX_BYTES, env=child_env(env))
    version = results.pop("version")
    texts = {name: to_help_text(name, res) for name, res in results.items()}
    caps = capabilities_from_help(texts, version_output(version), binary_path=path)
    problem = capture_problem(version)
    if problem:
        caps = replace(caps, warnings=(f"--version {problem}", *caps.warnings))
    return caps


def probe_installed(
    opencode: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    commands: Sequence[str] = PROBED_COMMANDS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Capabilities:
    """Discover the OpenCode that runs, probe it, and read the versions of shadowed ones."""
    finding = discover(opencode, env)
    if finding.chosen is None:
        return Capabilities(binary_path=None, version=None, commands={}, finding=finding)
    path = finding.chosen.path
    caps = probe_binary(path, commands=commands, timeout_s=timeout_s, env=env)
    if finding.shadowed:
        versions = run_many(
            {c.path: [c.path, "--version"] for c in finding.shadowed},
            timeout_s=timeout_s,
            max_bytes=HELP_MAX_BYTES,
            env=child_env(env),
        )
        shadowed = tuple(
            replace(c, version=parse_version_output(version_output(versions[c.path])).text)
            for c in finding.shadowed
        )
        finding = replace(finding, shadowed=shadowed)
    chosen = replace(finding.chosen, version=caps.version.text if caps.version else None)
    return replace(caps, finding=replace(finding, chosen=chosen))


def to_help_text(command: str, res: CaptureResult) -> HelpText:
    return HelpText(
        command=command,
        text=res.output,
        returncode=res.returncode,
        timed_out=res.timed_out,
        truncated=res.truncated,
        duration_s=res.duration_s,
        error=res.error,
    )


def version_output(res: CaptureResult) -> str:
    return res.output if res.error is None else ""


def capture_problem(res: CaptureResult) -> str | None:
    if res.error:
        return f"could not run: {res.error}"
    if res.timed_out:
        return f"timed out after {res.duration_s:.1f}s (process group killed)"
    if res.truncated:
        return "printed more than the output cap (process group killed)"
    if res.returncode not in (0, None):
        return f"exited with status {res.returncode}"
    return None
