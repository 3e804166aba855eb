"""Record a real OpenCode release's help texts into compat_matrix/help/<version>/.

    .venv/bin/python -m tools.record_help 1.18.34 [VERSION ...]

Installs the release into the per-machine cache (tools/releases.py; a 2.x release from
``@opencode/cli``), runs ``--version`` and the help of the root, ``attach``, ``run`` and
``serve`` with an isolated HOME, and stores the output as printed (ANSI codes kept) plus a
meta.toml saying how and when it was recorded. Then starts ``opencode serve`` on a free loopback
port and stores the server's route set (from its OpenAPI document, GET /doc) as routes.txt, one
"METHOD /path" per line. A 2.x server lists no routes: nothing is written, and what its serve
measured is printed (its routes are the 2.x contract's, compat_matrix/contract/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from orch_doctor._util.proc import run_capture
from orch_doctor.probe.types import PROBED_COMMANDS
from orch_doctor.verify.throwaway import isolated_env as product_isolated_env
from tools.releases import platform_package
from tools.track_releases import V2_PACKAGE, ensure_installed, is_v2, release_generation

ROOT = Path(__file__).resolve().parent.parent
HELP_DIR = ROOT / "compat_matrix" / "help"
TIMEOUT_S = 60.0


def isolated_env(home: str) -> dict[str, str]:
    """The caller's environment (proxies, CA certificates: some releases install plugins from
    npm when their server starts) with a throwaway HOME and XDG dirs and no server secrets."""
    return {**product_isolated_env(Path(home)), "TERM": "xterm-256color"}


def help_argv(binary: str, command: str) -> list[str]:
    return [binary, "--help"] if command == "root" else [binary, command, "--help"]


def load_commands(out: Path) -> tuple[str, ...]:
    from orch_doctor.probe.helptext import parse_root_commands

    return parse_root_commands((out / "root.txt").read_text(encoding="utf-8"))


def record(version: str) -> Path:
    binary = str(ensure_installed(version, quiet=False))
    out = HELP_DIR / version
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="orch-doctor-record-") as home:
        env = isolated_env(home)
        runs = {"version": [binary, "--version"]}
        runs.update({cmd: help_argv(binary, cmd) for cmd in PROBED_COMMANDS})
        for name, argv in runs.items():
            res = run_capture(argv, timeout_s=TIMEOUT_S, env=env, cwd=home)
            if res.error or res.timed_out:
                raise RuntimeError(f"{version}: {name}: {res.error or 'timed out'}")
            (out / f"{name}.txt").write_text(res.output, encoding="utf-8")
    name = Path(binary).name  # opencode (2.x beta: opencode2)
    argv_note = ", ".join(f'"{c}" = "{" ".join(help_argv(name, c))}"' for c in PROBED_COMMANDS)
    package = V2_PACKAGE if is_v2(version) else platform_package()
    (out / "meta.toml").write_text(
        f'version = "{version}"\n'
        f'recorded = "{dt.date.today().isoformat()}"\n'
        f'package = "{package}@{version}"\n'
        "synthesized = false\n"
        f"[commands]\n{argv_note.replace(', ', chr(10))}\n",
        encoding="utf-8",
    )
    return out


def record_routes(version: str, out: Path) -> None:
    import httpx

    from orch_doctor.server.openapi import routes_from_openapi
    from orch_doctor.verify.throwaway import ServerStartError, start_server

    if release_generation(version, out) == "2.x":  # as the doctor reads the recorded help
        record_routes_2x(version, out)
        return
    binary = str(ensure_installed(version))
    with tempfile.TemporaryDirectory(prefix="orch-doctor-record-") as home:
        try:
            server = start_server(
                binary, cwd=Path(home), env=isolated_env(home), log=Path(home) / "serve.log"
            )
        except ServerStartError as exc:
            raise RuntimeError(f"{version}: serve did not start: {exc}") from None
        try:
            doc = httpx.get(f"{server.url}/doc", timeout=60).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RuntimeError(f"{version}: GET /doc failed: {exc}") from None
        finally:
            server.stop()
    routes = routes_from_openapi(doc)
    if routes is None:
        raise RuntimeError(f"{version}: GET /doc is not an OpenAPI document")
    (out / "routes.txt").write_text("\n".join(sorted(routes)) + "\n", encoding="utf-8")


def record_routes_2x(version: str, out: Path) -> None:
    """A 2.x release: its serve (a password of its own) probed as the doctor probes a server;
    routes.txt only when it lists routes (it does not: the 2.x contract's apply)."""
    from tools.track_releases import record_routes_2x as probe_2x

    found = probe_2x(ensure_installed(version), out, TIMEOUT_S)
    if "routes_source" not in found:
        raise RuntimeError(f"{version}: {found.get('routes', 'no routes')}")
    for key, value in found.items():
        print(f"{version}: {key}: {value}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.record_help",
        description="Record real OpenCode releases' help texts and server routes into "
        "compat_matrix/help/<version>/ (installs each release from npm if needed).",
    )
    parser.add_argument("versions", nargs="+", metavar="VERSION", help="e.g. 1.18.34")
    for version in parser.parse_args(argv).versions:
        out = record(version)
        if "serve" in load_commands(out):
            try:
                record_routes(version, out)
            except RuntimeError as exc:
                print(f"no routes recorded: {exc}", file=sys.stderr)
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
