"""What every command's ``--help`` ends with: exit codes, the environment it reads, examples."""

from __future__ import annotations

EXIT_CODES = (
    "Exit codes: 0 no failure (warnings allowed), 1 {failed}, 2 usage or configuration error."
)
#: a command that has no failure of its own (it only prints)
EXIT_CODES_NO_FAILURE = "Exit codes: 0 printed, 2 usage or configuration error."

ENVIRONMENT = {
    "OPENCODE_BIN": "the OpenCode binary to use (orch's override; --opencode wins)",
    "OPENCODE_BIN_PATH": "the binary the npm launcher runs",
    "OPENCODE_SERVER_PASSWORD": "the server's password (never put it in arguments)",
    "OPENCODE_SERVER_USERNAME": "the server's user name (default: opencode)",
    "ORCH_DOCTOR_CACHE_DIR": "where probe results are cached (default: the user cache dir)",
    "ORCH_DOCTOR_MATRIX_DIRS": "folders of compat_matrix overrides (replaces site and user)",
    "ORCH_DOCTOR_TMPDIR": "where verify puts its scratch folders",
    "NO_COLOR": "non-empty: no colour",
}

#: command (``"group sub"`` for a subcommand) -> (what exit 1 means, or None when it never
#: exits 1; the environment it reads; examples)
COMMANDS: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = {
    "main": (
        "a check failed (or a warning under --strict)",
        ("OPENCODE_BIN", "OPENCODE_SERVER_PASSWORD", "ORCH_DOCTOR_CACHE_DIR", "NO_COLOR"),
        (
            "orch-doctor --dir . --model opencode/big-pickle",
            "orch-doctor --server http://127.0.0.1:4096 --format json",
        ),
    ),
    "doctor": (
        "a check failed (or a warning under --strict)",
        ("OPENCODE_BIN", "OPENCODE_SERVER_PASSWORD", "ORCH_DOCTOR_CACHE_DIR", "NO_COLOR"),
        ("orch-doctor doctor --format github --strict",),
    ),
    "probe": (
        "no usable OpenCode, or its help could not be read",
        ("OPENCODE_BIN", "OPENCODE_BIN_PATH", "ORCH_DOCTOR_CACHE_DIR"),
        ("orch-doctor probe --format json", "orch-doctor probe --refresh"),
    ),
    "server": (
        "a server is not usable, or has a security finding",
        ("OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME"),
        ("orch-doctor server", "orch-doctor server http://127.0.0.1:4096 --format json"),
    ),
    "plan": (
        "no strategy is possible (strategy none), or a condition the strategy relies on could "
        "not be measured (not ✓: a condition-unmeasured advisory)",
        ("OPENCODE_BIN", "OPENCODE_SERVER_PASSWORD", "ORCH_DOCTOR_CACHE_DIR"),
        ('orch-doctor plan --dir . --prompt "fix the tests" --server http://127.0.0.1:4096',),
    ),
    "verify": (
        "the prompt was not delivered",
        ("OPENCODE_BIN", "OPENCODE_SERVER_PASSWORD", "ORCH_DOCTOR_TMPDIR"),
        ("orch-doctor verify", "orch-doctor verify --strategy attach-tui-api --keep"),
    ),
    "spawn": (
        "the prompt was not delivered (the failed step and its fix are printed), or nothing was "
        "spawned: no strategy, or one resting on a condition that could not be measured (not ✓)",
        ("OPENCODE_BIN", "OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME"),
        (
            "orch-doctor spawn --dir . --server http://127.0.0.1:4096 --prompt 'fix the tests' "
            "--tmux-target orch:agent-1",
        ),
    ),
    "matrix": (
        "matrix check found a release the decision cannot handle",
        ("ORCH_DOCTOR_MATRIX_DIRS",),
        ("orch-doctor matrix show", "orch-doctor matrix check --format json"),
    ),
    "matrix show": (
        None,
        ("ORCH_DOCTOR_MATRIX_DIRS", "NO_COLOR"),
        ("orch-doctor matrix show --format json", "orch-doctor matrix show --matrix ours.toml"),
    ),
    "matrix check": (
        "a stored release the decision cannot handle",
        ("ORCH_DOCTOR_MATRIX_DIRS", "NO_COLOR"),
        ("orch-doctor matrix check", "orch-doctor matrix check --matrix ours.toml --format json"),
    ),
}


def epilog(command: str) -> str:
    """The end of ``command``'s --help (click keeps paragraphs separated by blank lines)."""
    failed, env, examples = COMMANDS[command]
    lines = [EXIT_CODES.format(failed=failed) if failed else EXIT_CODES_NO_FAILURE, ""]
    lines += ["\b", "Environment:"] + [f"  {name}  {ENVIRONMENT[name]}" for name in env]
    lines += ["", "\b", "Examples:"] + [f"  {example}" for example in examples]
    return "\n".join(lines)
