"""A built wheel carries compat_matrix/ and the JSON Schema, and finds them once installed."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
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
    assert out[1] == "4"
