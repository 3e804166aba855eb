"""A built wheel carries compat_matrix/ and the JSON Schema, and finds them once installed."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment


def test_wheel_ships_the_data_and_a_plain_install_finds_it(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("orch_doctor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "orch_doctor/compat_matrix/strategies.toml" in names
    assert "orch_doctor/compat_matrix/help/1.18.33/attach.txt" in names
    assert "orch_doctor/compat_matrix/clients/orch.toml" in names
    assert "orch_doctor/compat_matrix/contract/opencode-2.x-routes.txt" in names
    assert "orch_doctor/schemas/doctor.schema.json" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    zipfile.ZipFile(wheel).extractall(site)  # what a non-editable install lays down
    out = subprocess.run(
        [str(python), "-c", "import orch_doctor.matrix.location as d, orch_doctor.matrix as m; "
         "print(d.compat_matrix_dir()); print(len(m.load_matrix(overrides=False).strategies))"],
        check=True, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    ).stdout.split()  # fmt: skip
    assert out[0] == str(Path(site) / "orch_doctor" / "compat_matrix")
    from orch_doctor.matrix.types import PLAN_STRATEGIES

    assert out[1] == str(len(PLAN_STRATEGIES))  # every strategy the source tree declares


@pytest.mark.real
def test_user_install_from_a_fresh_venv_as_the_readme_says(
    tmp_path: Path, opencode_release: Callable[[str], Path]
) -> None:
    """README, "Install": a virtual environment, `pip install` of the project, the command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv ~/.orch-doctor" in readme
    assert "~/.orch-doctor/bin/pip install" in readme
    env_dir = tmp_path / "orch-doctor"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "--disable-pip-version-check", "-q", str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    command = env_dir / "bin" / "orch-doctor"
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True,
                             timeout=60, cwd=tmp_path)  # fmt: skip
    assert version.returncode == 0 and "orch-doctor" in version.stdout
    project = tmp_path / "project"
    project.mkdir()
    plan = subprocess.run(
        [str(command), "plan", "--dir", str(project), "--prompt", "hi", "--opencode",
         str(opencode_release("1.18.33")), "--no-discover", "--format", "json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data["strategy"] == "standalone-prompt" and data["schema_version"]
