"""The tree reads as the pipeline: a stage imports only earlier stages (also lazily, inside
functions), and the measuring stages import no matrix data."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "orch_doctor"

#: the pipeline's order: a module imports its own stage and strictly earlier ones. Only the
#: foundation (rank 0) shares a rank freely; stages that share any other rank are independent of
#: each other (measured facts stay measured: the probes never read each other or the matrix; the
#: doctor and verify are two uses of the same stages)
FOUNDATION = 0
RANK = {
    "__init__": FOUNDATION,
    "_util": FOUNDATION,
    "errors": FOUNDATION,
    "advice": FOUNDATION,
    "schemas": FOUNDATION,
    "probe": 1,
    "server": 1,
    "matrix": 2,
    "decide": 3,
    "clients": 4,
    # the request resolution: the I/O at the edge (disk, probes, discovery, policy) around the
    # pure decision, shared by the API and every command
    "resolve": 5,
    "execute": 6,
    "api": 7,
    "doctor": 8,
    "verify": 8,
    "report": 9,
    "cli": 10,
    "models": 11,  # compatibility re-exports of the API
    "__main__": 11,
}
#: the typed declarations of every JSON output name the types of every stage: a stage names
#: its declaration for the type checker only (under ``if TYPE_CHECKING:``), so at run time
#: nothing imports a later stage; the schema writer and the tests read the declarations
DECLARATIONS = "orch_doctor.schemas.shapes"


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@functools.cache
def syntax(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once for every test that reads it."""
    return ast.parse(path.read_text(encoding="utf-8"))


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(syntax(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "orch_doctor" or m.startswith("orch_doctor.")}


def type_only_imports(path: Path) -> set[str]:
    """The modules imported inside ``if TYPE_CHECKING:`` blocks."""
    found = set()
    for node in ast.walk(syntax(path)):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    found.add(inner.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_stage_imports_only_earlier_stages(path: Path) -> None:
    name = "orch_doctor." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = stage(name)
    assert own in RANK, f"{name}: stage {own!r} has no place in the pipeline"
    if name == DECLARATIONS:
        return  # it follows every stage; nothing imports it at run time (below)
    for target in imports(path):
        if target == DECLARATIONS:
            assert target in type_only_imports(path), f"{name} imports {target} at run time"
            continue
        other = stage(target)
        if target == "orch_doctor":
            continue  # __version__
        assert RANK[other] <= RANK[own], f"{name} imports {target}: a later stage"
        assert other == own or RANK[other] < RANK[own] or RANK[own] == FOUNDATION, (
            f"{name} imports {target}: a stage of the same rank"
        )


def test_the_warm_path_never_loads_the_declarations() -> None:
    import subprocess
    import sys

    code = (
        "import sys, orch_doctor.api, orch_doctor.cli.common, orch_doctor.schemas;"
        f"print({DECLARATIONS!r} in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


def test_every_stage_is_a_package_with_its_own_types() -> None:
    for name in (
        "probe",
        "server",
        "matrix",
        "decide",
        "resolve",
        "execute",
        "doctor",
        "verify",
        "report",
        "cli",
    ):
        assert (PACKAGE / name / "__init__.py").is_file(), name
    assert not (PACKAGE / "models.py").read_text().count("@dataclass")  # only re-exports


def _accepted_keys() -> set[str]:
    """Every key the matrix loaders accept: the string literals of the key sets given to
    ``_check_keys``, ``_table`` and ``_Item.check_keys`` (the matrix and the client contracts)."""
    keys: set[str] = set()
    trees = [syntax(PACKAGE / "matrix" / name) for name in ("load.py", "clients.py")]
    checkers = {"_check_keys", "_table", "check_keys"}
    for node in (n for tree in trees for n in ast.walk(tree)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in checkers:
            for allowed in (a for a in node.args if isinstance(a, ast.Set)):
                keys.update(
                    n.value
                    for n in ast.walk(allowed)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                )
    return keys


def test_every_matrix_key_the_loader_accepts_is_documented() -> None:
    """compat_matrix/README.md says what reads each key: a key it does not list is one that
    could be validated and then ignored."""
    import re

    readme = (PACKAGE.parent / "compat_matrix" / "README.md").read_text(encoding="utf-8")
    # `name`, `when.option`, `[[policy.blocked]]`: every name inside a code span
    documented = {w for span in re.findall(r"`([^`]+)`", readme) for w in re.findall(r"\w+", span)}
    keys = _accepted_keys()
    assert len(keys) > 30  # the scan found the loader's key sets
    assert sorted(keys - documented) == []


#: what advice says is for people: code decides on ids and severities, never on these texts
PROSE = {"message", "title", "breaks", "reasons", "summary", "detail", "fix", "evidence"}


def _prose(node: ast.expr) -> bool:
    while True:  # x.message.lower(), x.reasons[0]
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            break
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "str" and node.args:
        node = node.args[0]
    return isinstance(node, ast.Attribute) and node.attr in PROSE


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_decision_is_taken_on_advice_prose(path: Path) -> None:
    """No `"..." in advisory.message`, no `reason.startswith(...)`: checks and reports select
    advice by id and severity."""
    for node in ast.walk(syntax(path)):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.In, ast.NotIn)) for op in node.ops
        ):
            assert not any(_prose(c) for c in node.comparators), f"line {node.lineno}"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"startswith", "endswith", "find", "count", "index"}
        ):
            assert not _prose(node.func.value), f"line {node.lineno}"
