"""``orch-doctor server`` as text: each server's verdict, identity, version, routes, advice."""

from __future__ import annotations

from orch_doctor.advice import Advisory
from orch_doctor.server.types import ServerStatus


def render_servers(
    statuses: list[ServerStatus],
    discovered: bool,
    advice: dict[str, list[Advisory]],
    start_fix: str,
) -> None:
    """The servers' verdicts for a person; ``start_fix``: the installed CLI's own way to start a
    server (decide.rules.start_server_fix), said when none was found."""
    from orch_doctor.report.console import make_console
    from orch_doctor.report.console import shown as escape

    # piped: a path or URL is never broken across lines (a terminal wraps long lines itself)
    console = make_console()
    if discovered and not statuses:
        console.print("no running OpenCode server found (checked processes and port 4096)")
        console.print(f"  fix: {start_fix}")  # the installed CLI's own way to start one
        return
    for s in statuses:
        # reachable is not enough: a server with an error advisory is ✗ here as in the exit code
        errors = [a for a in advice.get(s.url, []) if a.severity == "error"]
        mark = console.mark("pass" if s.ok and not errors else "fail")
        word = "error advisory" if s.ok and errors else s.verdict
        console.print(f"{mark} {escape(s.url)}  [bold]{word}[/]  {escape(s.summary)}")
        if s.ok:
            console.print(
                f"    version: {escape(s.version or 'unknown')} ({escape(s.version_source or '')})"
            )
            if s.skew:
                console.print(f"    skew: {s.skew}: {escape(s.skew_reason or '')}")
            if s.routes is not None:
                console.print(f"    routes: {len(s.routes)} ({escape(s.routes_source or '')})")
            console.print(f"    auth: {s.auth}")
        for f in advice.get(s.url, []):
            status = {"error": "fail", "warn": "warn"}.get(f.severity, "info")
            console.print(f"    {console.mark(status)} {escape(f.message)}")
            if f.fix:
                console.print(f"      fix: {escape(f.fix)}")
            for alternative in f.alternatives:
                console.print(f"      or: {escape(alternative)}")
        if s.fix:
            console.print(f"    fix: {escape(s.fix)}")
        for alternative in s.alternatives if not s.ok else ():
            console.print(f"    or: {escape(alternative)}")
