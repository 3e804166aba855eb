"""Probing 200 server URLs at once finishes in about one timeout, not the sum.

    .venv/bin/python -m bench.servers_200 [--timeout 2] [--release 1.18.33]

Mixes live URLs (a real `opencode serve`), refused ones (closed ports) and black-holed ones
(sockets that accept and never answer), and prints the wall time against the timeout.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.servers_200",
        description="Probe many server URLs at once (live, refused, black-holed) and compare the "
        "wall time with the timeout.",
    )
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="seconds per probe phase (default %(default)s)"
    )
    parser.add_argument(
        "--release", default="1.18.33", help="OpenCode release serving the live URLs"
    )
    parser.add_argument("--live", type=int, default=20, help="live URLs (one real server)")
    parser.add_argument("--refused", type=int, default=90, help="URLs of closed ports")
    parser.add_argument(
        "--black-holed", type=int, default=90, help="URLs of sockets that never answer"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from orch_doctor.server.probe import probe_servers
    from tests.support.opencode import real_server

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(real_server(args.release, work / "home", work / "project"))
        holes = []
        for _ in range(args.black_holed):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            sock.listen(8)
            holes.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
        refused = []
        for _ in range(args.refused):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                refused.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
        urls = [server.url] * args.live + refused + holes
        probe_servers([server.url], timeout_s=args.timeout)  # fill the route cache
        start = time.perf_counter()
        statuses = probe_servers(urls, timeout_s=args.timeout)
        wall = time.perf_counter() - start
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.verdict] = counts.get(status.verdict, 0) + 1
    print(f"{len(urls)} URLs ({args.live} live, {args.refused} refused, "
          f"{args.black_holed} black-holed), timeout {args.timeout:g} s per phase")  # fmt: skip
    print(f"  verdicts: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")
    print(f"  wall time {wall:.2f} s = {wall / args.timeout:.2f} x the timeout "
          f"(serial would be >= {args.black_holed * args.timeout:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
