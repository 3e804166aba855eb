"""``orch-doctor server [URL...]``: is each server reachable, who is it, what does it offer."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from orch_doctor.cli.common import EXIT_FAILED, EXIT_OK, config_error, emit_json
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import format_option, opencode_option, timeout_option
from orch_doctor.probe.types import Capabilities

if TYPE_CHECKING:
    from orch_doctor.advice import Advisory
    from orch_doctor.schemas.shapes import ServerJSON, ServersJSON
    from orch_doctor.server.credentials import Credentials
    from orch_doctor.server.types import ServerStatus


@click.command(epilog=epilog("server"))
@click.argument("urls", nargs=-1, metavar="[URL]...")
@timeout_option(5.0, "Seconds for each phase (connect, read).")
@click.option(
    "--password-env",
    default=None,
    metavar="VAR",
    help="Environment variable holding the server password (never pass it as an argument); "
    "default: OPENCODE_SERVER_PASSWORD, else OPENCODE_PASSWORD (2.x).",
)
@opencode_option("Installed CLI to compare versions with (default: discover).")
@click.option("--no-routes", is_flag=True, help="Skip reading the OpenAPI document.")
@click.option("--session", "session_id", metavar="ID", help="Also check that this session exists.")
@click.option(
    "--session-dir", metavar="DIR", help="With --session: the directory it must belong to."
)
@format_option()
def server(
    urls: tuple[str, ...],
    timeout_s: float,
    password_env: str | None,
    opencode: str | None,
    no_routes: bool,
    session_id: str | None,
    session_dir: str | None,
    output_format: str,
) -> None:
    """Probe OpenCode servers (default: the ones running on this machine, and port 4096)."""
    from orch_doctor.decide.advisories import server_advisories
    from orch_doctor.decide.rules import with_skew
    from orch_doctor.errors import MatrixError
    from orch_doctor.matrix.load import load_matrix
    from orch_doctor.server.credentials import (
        credentials_from_env,
        split_userinfo,
        strip_userinfo,
    )
    from orch_doctor.server.probe import normalise_url, probe_servers

    discovered = not urls
    registered: list[ServerStatus] = []
    notes: tuple[str, ...] = ()
    if discovered:
        from orch_doctor.server.discovery import candidate_urls
        from orch_doctor.server.registration import find_service

        # the user's OpenCode 2.x service, through its registration file (checked)
        service = find_service(timeout_s=timeout_s)
        notes = service.notes
        registered = [service.status] if service.status is not None else []
        urls = tuple(u for u in candidate_urls() if u not in {s.url for s in registered})
    credentials = credentials_from_env(password_env=password_env)
    # a URL's user:password@ is never shown; it is the password when the environment has none
    from_url = {normalise_url(strip_userinfo(u))[0]: split_userinfo(u)[1] for u in urls}
    caps = _client_capabilities(opencode)
    client_version = caps.version.text if caps.version else None
    statuses = probe_servers(
        urls,
        timeout_s=timeout_s,
        credentials=credentials,
        want_routes=not no_routes,
    )
    statuses = registered + _with_registered_password(statuses, credentials, timeout_s)
    # a discovered candidate that is not there is not a failure: the list says what runs
    shown = [s for s in statuses if s.verdict != "connection-refused"] if discovered else statuses
    try:
        matrix = load_matrix()
    except MatrixError as exc:
        config_error(str(exc))
    # the probe measured; the matrix reads: recorded routes for an incomplete OpenAPI document,
    # and the client/server skew by its rule
    shown = [with_skew(matrix.recorded.apply(s), client_version, matrix) for s in shown]
    advice = {s.url: server_advisories(s, caps, matrix) for s in shown}
    sessions: dict[str, bool | None] = {}
    if session_id:
        from orch_doctor.server.probe import session_exists

        for status in shown:
            if status.ok:
                sessions[status.url] = session_exists(
                    status.url, session_id, session_dir,
                    credentials=credentials or from_url.get(status.url), timeout_s=timeout_s,
                )  # fmt: skip
    if output_format == "json":
        entries: list[ServerJSON] = []
        for s in shown:
            entry: ServerJSON = {**s.to_json(), "advisories": [a.to_json() for a in advice[s.url]]}
            # ok: usable as it is (reachable, and no error advisory), as the exit code says
            entry["reachable"] = s.ok
            entry["ok"] = s.ok and not _has_error(advice[s.url])
            if session_id:
                entry["session_exists"] = sessions.get(s.url)
            entries.append(entry)
        document: ServersJSON = {
            "client_version": client_version,
            "discovered": discovered,
            "servers": entries,
        }
        if notes:
            document["registration_notes"] = list(notes)
        emit_json(document)
    else:
        from orch_doctor.decide.rules import start_server_fix
        from orch_doctor.report.server import render_servers

        render_servers(shown, discovered, advice, start_server_fix(caps))
        from orch_doctor._util.text import printable

        for note in notes:
            click.echo(printable(f"not used: {note}"))
        for url, exists in sessions.items():
            state = {True: "exists", False: "does not exist", None: "unknown (no clear answer)"}
            where = f" in {session_dir}" if session_dir else ""
            click.echo(f"session {session_id}{where} on {url}: {state[exists]}")
    failed = any(not s.ok or _has_error(advice[s.url]) for s in shown)
    failed = failed or any(exists is not True for exists in sessions.values())
    sys.exit(EXIT_FAILED if failed or (not discovered and not shown) else EXIT_OK)


def _has_error(advisories: list[Advisory]) -> bool:
    return any(a.severity == "error" for a in advisories)


def _client_capabilities(opencode: str | None) -> Capabilities:
    from orch_doctor.matrix import identify_published
    from orch_doctor.probe.binary import start_decision_probe

    return start_decision_probe(opencode, known=identify_published).result()


def _with_registered_password(
    statuses: list[ServerStatus], credentials: Credentials | None, timeout_s: float
) -> list[ServerStatus]:
    """An OpenCode 2.x service that demands a password none was given for, probed again with
    the password its registration file gives for exactly its URL (never shown)."""
    if credentials is not None:
        return statuses
    from orch_doctor.server.probe import probe_server
    from orch_doctor.server.registration import registered_credentials

    out = []
    for status in statuses:
        if status.generation == "2.x" and status.verdict == "auth-required":
            found = registered_credentials(status.url)
            if found is not None:
                status = probe_server(status.url, timeout_s=timeout_s, credentials=found)
        out.append(status)
    return out
