"""The tree reads as the pipeline: a stage imports only earlier stages (also lazily, inside
functions), and the measuring stages import no matrix data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "orch_doctor"

#: the pipeline's order; a module may import its own stage and earlier ones
RANK = {
    "_util": 0,
    "errors": 0,
    "advice": 0,
    "schemas": 0,
    "probe": 1,
    "server": 1,
    "matrix": 2,
    "decide": 3,
    "api": 4,
    "doctor": 5,
    "execute": 4,
    "verify": 5,
    "report": 6,
    "cli": 7,
    "models": 7,  # compatibility re-exports
    "__main__": 7,
    "__init__": 0,
}
#: measured facts stay measured: the probes never read the matrix
INDEPENDENT = {("probe", "server"), ("server", "probe")}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "orch_doctor" or m.startswith("orch_doctor.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_stage_imports_only_earlier_stages(path: Path) -> None:
    name = "orch_doctor." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = stage(name)
    assert own in RANK, f"{name}: stage {own!r} has no place in the pipeline"
    for target in imports(path):
        other = stage(target)
        if target == "orch_doctor":
            continue  # __version__
        assert RANK[other] <= RANK[own], f"{name} imports {target}: a later stage"
        assert (own, other) not in INDEPENDENT, f"{name} imports {target}"


def test_every_stage_is_a_package_with_its_own_types() -> None:
    for name in (
        "probe",
        "server",
        "matrix",
        "decide",
        "execute",
        "doctor",
        "verify",
        "report",
        "cli",
    ):
        assert (PACKAGE / name / "__init__.py").is_file(), name
    assert not (PACKAGE / "models.py").read_text().count("@dataclass")  # only re-exports
