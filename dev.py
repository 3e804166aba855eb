#!/usr/bin/env python3
"""Set up and run orch-doctor from a fresh clone. Needs only Python >= 3.11, Node/npm and git.

    python3 dev.py doctor [ARGS...]   set up, then run the doctor (extra ARGS go to orch-doctor)
    python3 dev.py test [PYTEST ARGS] set up, install the real OpenCode releases the tests use,
                                      lint (ruff check + format check), run the whole test suite

Set-up is idempotent: a virtual environment in .venv with the project installed (editable) and
its test dependencies. OpenCode releases go to a per-machine cache (see tools/releases.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PY = BIN / "python"


#: generous limits: a stuck install or test run must still end (CI's own limit is 90 minutes)
STEP_TIMEOUT_S = 45 * 60


def run(cmd: list[str], **kwargs: object) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    try:
        return subprocess.call(
            [str(c) for c in cmd],
            cwd=ROOT,
            timeout=STEP_TIMEOUT_S,
            **kwargs,  # type: ignore[arg-type]
        )
    except subprocess.TimeoutExpired:
        print(f"timed out after {STEP_TIMEOUT_S} s: {cmd[0]}", file=sys.stderr)
        return 1


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 is
        sys.exit(f"orch-doctor needs Python >= 3.11 (this is {sys.version.split()[0]})")
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    pyproject = ROOT / "pyproject.toml"
    if not stamp.exists() or stamp.stat().st_mtime < pyproject.stat().st_mtime:
        quiet = ["-q", "--disable-pip-version-check"]
        if run([PY, "-m", "pip", "install", *quiet, "-e", ".[test]"]) != 0:
            sys.exit("pip install failed")
        stamp.touch()


def install_releases(versions: list[str] | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    from tools.releases import TEST_RELEASES, ensure_release

    for version in versions or TEST_RELEASES:
        ensure_release(version, quiet=False)


def cmd_doctor(args: list[str]) -> int:
    setup()
    env = dict(os.environ)
    has_choice = any(a == "--opencode" or a.startswith("--opencode=") for a in args)
    # use the user's OpenCode when one is installed; else the newest tested release
    if not has_choice and not env.get("OPENCODE_BIN") and shutil.which("opencode") is None:
        sys.path.insert(0, str(ROOT))
        from tools.releases import NEWEST_TESTED, ensure_release

        env["OPENCODE_BIN"] = str(ensure_release(NEWEST_TESTED, quiet=False))
    return subprocess.call([BIN / "orch-doctor", *args], cwd=ROOT, env=env, timeout=600)


def cmd_test(args: list[str]) -> int:
    setup()
    install_releases()
    if run([BIN / "ruff", "check", "."]) != 0:
        return 1
    if run([BIN / "ruff", "format", "--check", "."]) != 0:
        return 1
    code = run([PY, "-m", "pytest", *args])
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("doctor", "test", "setup"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "setup":
        setup()
        install_releases()
        return 0
    return {"doctor": cmd_doctor, "test": cmd_test}[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
