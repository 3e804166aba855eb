"""Regenerate the README's example outputs from real runs, or check that they still match.

Each example block in README.md sits between ``<!-- example: NAME -->`` and
``<!-- /example -->``. NAME is one of :data:`EXAMPLES` (a command run for real on a real
OpenCode release from the release cache, with a throwaway ``opencode serve`` and a private tmux
server where it needs them) or ``bench`` (the Speed section's figures, from the benchmark's last
run: ``bench/last-run.json``, written by ``python -m bench.bench``).

The runs use machine paths (the cached release, a temporary project folder, a free port); the
output shows public names in their place (``/usr/local/bin/opencode``, ``/tmp/demo/project``,
``http://127.0.0.1:4096``), so the README names no machine. ``--check`` regenerates into memory
and compares with the values that vary from run to run masked (times, ports, pids, temporary
paths, session ids, dates, digests); the ``bench`` block is compared as it is, so a figure the
README gives that differs from the file's fails the check. Exit 0: the README matches (or was
rewritten), 1: it does not (the differences are printed), 2: usage.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BENCH_FILE = ROOT / "bench" / "last-run.json"
RUN_TIMEOUT_S = 180.0
OUTPUT_CAP = 256 * 1024

#: public names the README shows in place of this machine's values
PUBLIC_BINARY = {"1.18.33": "/usr/local/bin/opencode", "1.0.152": "/opt/opencode-1.0.152/opencode"}
PUBLIC_SERVER = "http://127.0.0.1:4096"
PUBLIC_PROJECT = "/tmp/demo/project"
PUBLIC_TMUX = "/usr/bin/tmux"
TMUX_SESSION = "orch"

BLOCK = re.compile(
    r"(?P<open><!-- example: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(?P<close><!-- /example -->)",
    re.S,
)


@dataclass(frozen=True)
class Example:
    """One README example: ``orch-doctor ARGS`` run on ``release``; ``server``: with a
    throwaway server of that release (``{server}``), ``tmux``: with a private tmux server that
    has a session named ``orch``. ``{opencode}``, ``{server}`` and ``{project}`` in ``args`` are
    filled with this machine's values and shown as the public ones."""

    release: str
    args: tuple[str, ...]
    server: bool = False
    tmux: bool = False


EXAMPLES: dict[str, Example] = {
    "doctor-1.18.33": Example(
        "1.18.33",
        ("--server", "{server}", "--dir", "{project}", "--model", "opencode/big-pickle"),
        server=True,
    ),
    "doctor-1.0.152": Example(
        "1.0.152",
        ("--opencode", "{opencode}", "--server", "{server}", "--dir", "{project}"),
        server=True,
    ),
    "spawn-1.18.33": Example(
        "1.18.33",
        (
            "spawn",
            "--dir",
            "{project}",
            "--model",
            "opencode/big-pickle",
            "--prompt",
            "fix the failing test 1",
            "--server",
            "{server}",
            "--tmux-target",
            f"{TMUX_SESSION}:agent-1",
        ),
        server=True,
        tmux=True,
    ),
    "verify-1.18.33": Example("1.18.33", ("verify", "--opencode", "{opencode}")),
    "verify-refused-1.0.152": Example(
        "1.0.152", ("verify", "--opencode", "{opencode}", "--strategy", "attach-session-api")
    ),
}

#: (pattern, replacement) for the values that vary from run to run; applied in order
MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # random names first: a suffix such as `2n4s` must not be read as a duration below
    (re.compile(r"\bses_[A-Za-z0-9]+"), "ses_<id>"),
    (re.compile(r"\b(orch-doctor-[a-z]+-)[A-Za-z0-9_]+"), r"\1<tmp>"),  # mkdtemp suffixes
    (re.compile(r"\[\s*\d+(?:\.\d+)?s\]"), "[<t>]"),  # a step's start: [  2.3s]
    (re.compile(r"\d+(?:\.\d+)?(?= ?(?:ms|s)\b)"), "<t>"),  # a duration: 0.04s, 7.1 s, 12 ms
    (re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+"), r"\1:<port>"),
    (re.compile(r"\bpid[ =:]?\d+"), "pid <pid>"),
    (re.compile(r"(orch-doctor verify )[0-9a-f]{5,}"), r"\1<nonce>"),  # verify's prompt
    # which ready marker the TUI showed first is a race: its own marker or the prompt
    (re.compile(r"(the screen shows) (?:the prompt \('[^']*'\)|'[^']*')"), r"\1 <marker>"),
    (re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"),
     "<date>"),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "<digest>"),
    (re.compile(r"(load average:?) [\d.]+(?:,? [\d.]+)*"), r"\1 <load>"),
    (re.compile(r"@\d+\b"), "@<window>"),
    # whether the scratch folder took longer than its 0.1 s to remove is a race too
    (re.compile(r" \(rm pid <pid>\), finishing in the background"), ""),
)  # fmt: skip


def mask(text: str) -> str:
    """``text`` with every value that varies between runs replaced by a placeholder."""
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


# --- the benchmark's figures -----------------------------------------------------------------


def load_bench(path: Path) -> dict[str, Any] | None:
    """The benchmark's last run, or None when there is none; a file that is not the expected
    shape raises ValueError naming the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    figures = bench_figures(data)
    for name, figure in figures.items():
        if not isinstance(figure, dict) or not {"value", "target", "ratio"} <= set(figure):
            raise ValueError(f"{path}: figure {name!r} lacks value, target or ratio")
    return data


def bench_figures(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{figure: {value, target, ratio}}`` of a run (top-level beside ``loadavg`` and
    ``date``, or under ``figures``)."""
    if isinstance(data.get("figures"), dict):
        return dict(data["figures"])
    return {k: v for k, v in data.items() if k not in ("loadavg", "date")}


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _load(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_number(v) for v in value)
    return _number(value)


def render_bench(data: Mapping[str, Any] | None, source: str = "bench/last-run.json") -> str:
    """The Speed section's block: every figure of the last run against its target (in the
    figure's ``unit`` when it has one; met when ``ratio`` <= 1), with the run's load average and
    date."""
    if data is None:
        return (
            f"no benchmark run is recorded ({source} is missing): "
            "`python -m bench.bench` writes it\n"
        )
    figures = bench_figures(data)
    width = max([len("figure"), *(len(name) for name in figures)])
    lines = [
        f"$ python -m bench.bench   # {source}, {data.get('date', 'date unknown')}, "
        f"load average {_load(data.get('loadavg', 'unknown'))}",
        f"  {'figure':<{width}}  {'measured':>9}  {'target':>9}  {'ratio':>6}  result",
    ]
    for name, figure in figures.items():
        ratio, target = figure["ratio"], figure["target"]
        unit = f" {figure['unit']}" if figure.get("unit") else ""
        value = _number(figure["value"]) + unit
        if "pass" in figure:  # the benchmark's own verdict; a target beside a ratio is one
            met = figure["pass"]
            shown_target = "-" if target is None else _number(target) + (" x" if ratio else unit)
        else:
            met = isinstance(ratio, int | float) and ratio <= 1.0
            shown_target = _number(target) + unit
        result = "reference" if met is None else ("met" if met else "MISSED")
        delivered = figure.get("delivered")
        if isinstance(delivered, list) and len(delivered) == 2:
            result += f" ({delivered[0]} of {delivered[1]} delivered)"
        shown_ratio = "-" if ratio is None else _number(ratio)
        lines.append(
            f"  {name:<{width}}  {value:>9}  {shown_target:>9}  {shown_ratio:>6}  {result}"
        )
    return "\n".join(lines) + "\n"


# --- real runs -------------------------------------------------------------------------------


@dataclass
class Machine:
    """This machine's values for one run, and the public name each is shown as."""

    root: Path
    project: Path
    env: dict[str, str]
    public: dict[str, str]

    def show(self, text: str) -> str:
        """``text`` with this machine's values replaced by their public names."""
        for real in sorted(self.public, key=len, reverse=True):
            text = text.replace(real, self.public[real])
        return text


def base_env(root: Path) -> dict[str, str]:
    """A reader's environment: no colour, no width, nothing of this machine's OpenCode or
    tmux settings, caches and config overrides in ``root``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENCODE_", "ORCH_DOCTOR_", "GITHUB_", "XDG_"))
        and k not in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES", "FORCE_COLOR", "TERM", "NO_COLOR")
    }
    (root / "matrix-overrides").mkdir(exist_ok=True)
    env.update(
        PYTHONIOENCODING="utf-8",
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        ORCH_DOCTOR_CACHE_DIR=str(root / "cache"),
        ORCH_DOCTOR_MATRIX_DIRS=str(root / "matrix-overrides"),
        TMUX_TMPDIR=str(root),
        HOME=str(root / "home"),
    )
    (root / "home").mkdir(exist_ok=True)
    return env


@contextlib.contextmanager
def machine() -> Iterator[Machine]:
    """A scratch root (removed afterwards) with a project folder and a reader's environment."""
    root = Path(tempfile.mkdtemp(prefix="orch-doctor-readme-"))
    try:
        project = root / "project"
        project.mkdir()
        public = {str(project): PUBLIC_PROJECT}
        if tempfile.gettempdir() != "/tmp":  # verify's scratch folders are made there
            public[tempfile.gettempdir()] = "/tmp"
        tmux = shutil.which("tmux")
        if tmux:
            public[str(Path(tmux).resolve())] = PUBLIC_TMUX
            public[tmux] = PUBLIC_TMUX
        yield Machine(root, project, base_env(root), public)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def server_of(release: str, binary: Path, m: Machine) -> Iterator[str]:
    """A throwaway ``opencode serve`` of ``release`` serving the project; yields its URL."""
    from orch_doctor.verify.throwaway import isolated_env, start_server

    home = m.root / f"server-{release}"
    home.mkdir()
    server = start_server(
        str(binary), cwd=m.project, env=isolated_env(home), log=home / "serve.log"
    )
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def tmux_server(m: Machine) -> Iterator[None]:
    """A private tmux server (its socket in the scratch root) with a session named ``orch``."""
    tmux = shutil.which("tmux")
    if tmux is None:
        raise RuntimeError("tmux is not installed: the spawn example needs it")
    argv = [tmux, "new-session", "-d", "-s", TMUX_SESSION, "-x", "200", "-y", "50"]
    subprocess.run(argv, env=m.env, check=True, timeout=30, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(
            [tmux, "kill-server"], env=m.env, timeout=30, capture_output=True, check=False
        )


def run_cli(args: Sequence[str], m: Machine) -> str:
    """``python -m orch_doctor ARGS``: stdout and stderr as one stream, in order, capped."""
    proc = subprocess.run(
        [sys.executable, "-m", "orch_doctor", *args],
        cwd=m.project,
        env=m.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return proc.stdout[:OUTPUT_CAP].decode("utf-8", "replace")


def release_binary(version: str) -> Path:
    from tools.releases import ensure_release

    return ensure_release(version)


def run_example(example: Example, m: Machine, servers: Mapping[str, str]) -> str:
    """The example's block: its command line as the reader types it, then its output."""
    binary = release_binary(example.release)
    public = {
        **m.public,
        str(binary): PUBLIC_BINARY[example.release],
        str(binary.resolve()): PUBLIC_BINARY[example.release],
    }
    m = Machine(m.root, m.project, m.env, public)
    values = {"{opencode}": str(binary), "{project}": str(m.project)}
    if example.server:
        values["{server}"] = servers[example.release]
        m.public[servers[example.release]] = PUBLIC_SERVER
    args = [values.get(a, a) for a in example.args]
    env = dict(m.env)
    # the default binary on PATH: the release itself (the README's "installed" OpenCode)
    bin_dir = m.root / f"bin-{example.release}"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "opencode"
    if not link.exists():
        link.symlink_to(binary)
    m.public[str(link)] = PUBLIC_BINARY[example.release]
    # a reader's PATH: the release, tmux and the system's folders (no other OpenCode install
    # of this machine to be found or shadowed)
    tmux = shutil.which("tmux")
    folders = [str(bin_dir), *([str(Path(tmux).parent)] if tmux else []), "/usr/bin", "/bin"]
    env["PATH"] = os.pathsep.join(dict.fromkeys(folders))
    output = run_cli(args, Machine(m.root, m.project, env, m.public))
    command = " ".join(_quote(m.show(a)) for a in args)
    return f"$ orch-doctor {command}\n{m.show(output)}"


def _quote(arg: str) -> str:
    return f'"{arg}"' if re.search(r"[^\w@%+=:,./-]", arg) else arg


def generate(names: Sequence[str]) -> dict[str, str]:
    """Run the examples ``names`` for real (one throwaway server per release and one tmux
    server, shared) and return each one's block."""
    chosen = [EXAMPLES[n] for n in names]
    blocks: dict[str, str] = {}
    with machine() as m, contextlib.ExitStack() as stack:
        servers: dict[str, str] = {}
        for example in chosen:
            if example.server and example.release not in servers:
                binary = release_binary(example.release)
                servers[example.release] = stack.enter_context(
                    server_of(example.release, binary, m)
                )
        if any(e.tmux for e in chosen):
            stack.enter_context(tmux_server(m))
        for name, example in zip(names, chosen, strict=True):
            blocks[name] = run_example(example, m, servers)
    return blocks


# --- the README ------------------------------------------------------------------------------


def blocks_of(readme: str) -> dict[str, str]:
    """``{name: the text inside its fence}`` of every marked block."""
    found: dict[str, str] = {}
    for match in BLOCK.finditer(readme):
        found[match["name"]] = _unfence(match["body"])
    return found


def _unfence(body: str) -> str:
    lines = body.strip("\n").split("\n")
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1] == "```":
        return "\n".join(lines[1:-1]) + "\n"
    return body


def replace_blocks(readme: str, new: Mapping[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in new:
            return match[0]
        return f"{match['open']}```\n{new[name]}```\n{match['close']}"

    return BLOCK.sub(sub, readme)


def compare(name: str, readme_text: str, generated: str, *, masked: bool) -> list[str]:
    """The differences of one block (empty: it matches)."""
    old, new = (mask(t) if masked else t for t in (readme_text, generated))
    if old == new:
        return []
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"README.md ({name})", "generated", lineterm=""
    )
    return list(diff)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.readme_examples",
        description=(
            "Regenerate README.md's example outputs from real runs (real OpenCode releases, a "
            "throwaway server, a private tmux) and its Speed figures from the benchmark's last "
            "run, or check them (--check: varying values such as times and ports masked)."
        ),
        epilog=f"examples: {', '.join(EXAMPLES)}, bench. Exit codes: 0 matches or rewritten, "
        "1 differs, 2 usage.",
    )
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="only this block (repeatable)"
    )
    parser.add_argument("--readme", type=Path, default=README, help="default: %(default)s")
    parser.add_argument("--bench-file", type=Path, default=BENCH_FILE, help="default: %(default)s")
    args = parser.parse_args(argv)

    readme = args.readme.read_text(encoding="utf-8")
    present = blocks_of(readme)
    names = args.only or list(present)
    unknown = [n for n in names if n not in EXAMPLES and n != "bench"]
    missing = [n for n in names if n not in present]
    if unknown or missing:
        parser.error(
            f"unknown example {unknown}" if unknown else f"{args.readme} has no block {missing}"
        )
    try:
        bench = load_bench(args.bench_file) if "bench" in names else None
    except ValueError as exc:
        print(f"readme_examples: {exc}", file=sys.stderr)
        return 1
    generated = generate([n for n in names if n in EXAMPLES])
    if "bench" in names:
        generated["bench"] = render_bench(bench, _shown_path(args.bench_file))

    if not args.check:
        args.readme.write_text(replace_blocks(readme, generated), encoding="utf-8")
        print(f"rewrote {len(generated)} block(s) of {args.readme}: {', '.join(generated)}")
        return 0
    problems: list[str] = []
    for name, text in generated.items():
        problems += compare(name, present[name], text, masked=name != "bench")
    if problems:
        print("\n".join(problems))
        print(
            "README.md differs from real runs: python -m tools.readme_examples rewrites it",
            file=sys.stderr,
        )
        return 1
    print(f"README.md matches: {', '.join(generated)}")
    return 0


def _shown_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(ROOT).as_posix()
    return path.name


if __name__ == "__main__":
    raise SystemExit(main())
