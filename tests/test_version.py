"""Reading the version from real ``--version`` outputs and from odd ones."""

from __future__ import annotations

import pytest
from packaging.version import Version

from orch_doctor.matrix.recorded import stored_releases, stored_version_output
from orch_doctor.probe.version import parse_version_output


@pytest.mark.parametrize("version", [v for v in stored_releases() if v != "2.0.0"])
def test_recorded_version_outputs(version: str) -> None:
    raw = stored_version_output(version)
    assert raw is not None
    info = parse_version_output(raw)
    assert info.raw == raw and info.text == version
    if Version(version).is_devrelease:  # the registry's 0.0.0-dev-... build: recorded, not normal
        assert not info.release and info.problem and "not a normal release" in info.problem
    else:
        assert info.release and info.problem is None


def test_log_noise_before_the_version_is_skipped() -> None:
    raw = stored_version_output("1.2.27")
    assert raw is not None and "service=models.dev" in raw  # recorded offline, as here
    noisy = "ERROR 2026-11-24T09:42:09 +125ms service=models.dev error=Unable to connect.\n1.2.27\n"
    assert parse_version_output(noisy).text == "1.2.27"


@pytest.mark.parametrize(
    ("raw", "text", "release"),
    [
        ("0.0.0-dev-202609212252\n", "0.0.0-dev-202609212252", False),
        ("1.19.0-beta.1\n", "1.19.0-beta.1", False),
        ("v1.18.33\n", "1.18.33", True),
        ("\x1b[32m1.18.33\x1b[0m\n", "1.18.33", True),
    ],
)
def test_prerelease_dev_and_decorated(raw: str, text: str, release: bool) -> None:
    info = parse_version_output(raw)
    assert (info.text, info.release) == (text, release)
    assert (info.problem is None) == release


@pytest.mark.parametrize("raw", ["", "opencode\n", "\x00\xff garbage", "opencode version 1.2\n"])
def test_no_version_is_reported_not_guessed(raw: str) -> None:
    info = parse_version_output(raw)
    assert info.text is None and not info.release and info.problem
    assert info.parsed is None
