"""A ``fix`` runs when pasted: every fix the code can produce and every fix in compat_matrix/
is a shell command line (shlex splits it, ``bash -n`` accepts it, each command in it starts
with a known command word) — other ways out are ``alternatives``, said for people."""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orch_doctor.matrix.load import load_matrix

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "orch_doctor"
#: what a fix may start with (after VAR=value assignments)
COMMAND_WORDS = {
    "orch-doctor", "opencode", "npm", "tmux", "mkdir", "export", "unset", "curl", "chmod",
    "rm", "cd", "apt-get", "brew", "ln", "kill", "read",
}  # fmt: skip
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.S)
OPERATORS = {"&&", "||", ";", "|", "&"}
#: what a value inside an f-string fix stands for: a shell-quoted path with a space and a quote
QUOTED = shlex.quote("/tmp/a dir/it's")


def problems(fix: str) -> list[str]:
    """Why ``fix`` is not a command line that runs when pasted (empty: it is one)."""
    try:
        shlex.split(fix)
        lexer = shlex.shlex(fix, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as exc:
        return [f"shlex cannot split it: {exc}"]
    if not tokens:
        return ["empty"]
    found: list[str] = []
    starts, expect = [], True
    for token in tokens:
        if token in OPERATORS:
            expect = True
        elif expect and not ASSIGNMENT.fullmatch(token):
            starts.append(token)
            expect = False
    found += [
        f"{word!r} is not a known command word" for word in starts if word not in COMMAND_WORDS
    ]
    if shutil.which("bash"):
        checked = subprocess.run(
            ["bash", "-n", "-c", fix], capture_output=True, text=True, timeout=10, check=False
        )
        if checked.returncode != 0:
            found.append(f"bash -n: {checked.stderr.strip()}")
    return found


# --- the fixes the code can produce ---------------------------------------------------------------


def _render(node: ast.expr) -> Iterator[str]:
    """The literal texts ``node`` can be: a string, an f-string (each value stands for a quoted
    path), a concatenation, either side of ``or`` / a conditional. Anything else is data
    (a known issue's fix, a probe's finding) and is checked where it comes from."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        text = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                text += str(part.value)
            else:
                text += QUOTED if "quote" in ast.unparse(part) else "X"
        yield text
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        lefts = list(_render(node.left))
        rights = list(_render(node.right))
        if lefts and rights:
            yield from (a + b for a in lefts for b in rights)
        elif lefts and not rights:
            yield from (a + "X" for a in lefts)
        elif rights:
            yield from ("X" + b for b in rights)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _render(value)
    elif isinstance(node, ast.IfExp):
        yield from _render(node.body)
        yield from _render(node.orelse)


#: types whose ``fix`` may be given positionally: its index
POSITIONAL_FIX = {"Advisory": 3, "Verdict": 3, "CheckResult": 5, "DirectoryProblem": 2}


def _fix_nodes(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            index = POSITIONAL_FIX.get(node.func.id)
            if index is not None and len(node.args) > index:
                yield node.args[index]
        if isinstance(node, ast.keyword) and node.arg == "fix":
            yield node.value
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                if name in ("fix", "FIXES") and node.value is not None:
                    if isinstance(node.value, ast.Dict):
                        yield from (v for v in node.value.values if v is not None)
                    else:
                        yield node.value
        elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", "") == "fix":
            yield ast.BinOp(ast.Constant("X "), ast.Add(), node.value)
        elif isinstance(node, ast.FunctionDef) and node.name in ("fix_for", "_fix"):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    yield inner.value


def code_fixes() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in _fix_nodes(tree):
            for text in _render(node):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return found


#: files whose fixes are not for a shell: clients/ contracts say what a client's code must change
NOT_SHELL = ("clients/",)


def matrix_fixes() -> list[tuple[str, str]]:
    matrix = load_matrix()
    found = [(f"known issue {i.id}", i.fix) for i in matrix.issues if i.fix]
    for path in sorted((ROOT / "compat_matrix").rglob("*.toml")):
        if any(part in path.relative_to(ROOT / "compat_matrix").as_posix() for part in NOT_SHELL):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"\s*(\w*fix)\s*=\s*(\".*\")\s*$", line)
            if match:
                import tomllib

                value = tomllib.loads(f"v = {match.group(2)}")["v"]
                found.append((f"{path.relative_to(ROOT)}:{number} {match.group(1)}", value))
    return found


CODE = code_fixes()
MATRIX = matrix_fixes()


def test_the_scan_finds_the_fixes() -> None:
    assert len(CODE) > 30 and len(MATRIX) > 10
    assert any("directory" in where for where, _ in CODE)


@pytest.mark.parametrize(("where", "fix"), CODE + MATRIX, ids=[w for w, _ in CODE + MATRIX])
def test_every_fix_is_a_command_line(where: str, fix: str) -> None:
    assert problems(fix) == [], f"{where}: {fix!r}"


@pytest.mark.parametrize(
    "fix",
    [
        "mkdir -p -- /x   (or pass --dir with an existing directory)",
        "pass --model like opencode/big-pickle",
        "run attach with --dir <that directory>",
        "npm install -g 'opencode-ai@1",
        "",
    ],
)
def test_prose_is_not_a_command(fix: str) -> None:
    assert problems(fix)


@pytest.mark.parametrize(
    "fix",
    [
        "mkdir -p -- '/tmp/a dir/it'\"'\"'s'",
        "npm install -g opencode-ai@latest && opencode serve --port 4096",
        "OPENCODE_SERVER_PASSWORD=x opencode serve",
    ],
)
def test_a_command_is_one(fix: str) -> None:
    assert problems(fix) == []
