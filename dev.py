#!/usr/bin/env python3
"""Set up and run orch-doctor from a fresh clone. Needs only Python >= 3.11, Node/npm and git.

    python3 dev.py setup              make .venv, install the real OpenCode releases the tests use
    python3 dev.py doctor [ARGS...]   set up, then run the doctor on the current directory (extra
                                      ARGS go to orch-doctor; its --dir defaults to the directory
                                      dev.py is run from, not the repository)
    python3 dev.py test [PYTEST ARGS] set up, install the real OpenCode releases the tests use,
                                      lint (ruff check + format check), type-check (mypy --strict),
                                      run the whole test suite: what CI runs
    python3 dev.py test --fast [ARGS] set up, run only the pure suite (no real OpenCode release,
                                      nothing slow: pytest -m "not real and not slow"), on every
                                      core (pytest-xdist), in seconds;
                                      installs no release, no lint

Set-up is idempotent: a virtual environment in .venv with the project installed (editable) and
its test dependencies. OpenCode releases go to a per-machine cache (see tools/releases.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PY = BIN / "python"


#: generous limits: a stuck install or test run must still end (CI's own limit is 90 minutes)
STEP_TIMEOUT_S = 45 * 60


#: the pure suite: no real OpenCode release, nothing that takes more than a few seconds
FAST_MARKERS = "not real and not slow"


def run(
    cmd: Sequence[str | Path],
    *,
    cwd: Path | None = ROOT,
    env: dict[str, str] | None = None,
    timeout_s: float = STEP_TIMEOUT_S,
    echo: bool = True,
) -> int:
    """Run ``cmd`` (echoed first unless ``echo`` is false) in ``cwd`` (the repository unless
    told; None: the caller's current directory) and return its exit code; a step that outlives
    ``timeout_s`` fails."""
    if echo:
        print("+", " ".join(str(c) for c in cmd), flush=True)
    try:
        return subprocess.call([str(c) for c in cmd], cwd=cwd, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        print(f"timed out after {timeout_s:g} s: {cmd[0]}", file=sys.stderr)
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


def install_releases(versions: Sequence[str] | None = None) -> None:
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
    # cwd=None: the directory dev.py was run from, which orch-doctor's --dir defaults to
    return run([BIN / "orch-doctor", *args], cwd=None, env=env, timeout_s=600, echo=False)


def cmd_test(args: list[str]) -> int:
    setup()
    if "--fast" in args:
        rest = [a for a in args if a != "--fast"]
        # the pure suite on every core (pytest-xdist): each test is in-process and isolated
        return pytest_code(run([PY, "-m", "pytest", "-m", FAST_MARKERS, "-n", "auto", *rest]))
    install_releases()
    if run([BIN / "ruff", "check", "."]) != 0:
        return 1
    if run([BIN / "ruff", "format", "--check", "."]) != 0:
        return 1
    if run([BIN / "mypy", "--strict", "orch_doctor", "tools", "bench", "dev.py"]) != 0:
        return 1
    return pytest_code(run([PY, "-m", "pytest", *args]))


def pytest_code(code: int) -> int:
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
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
