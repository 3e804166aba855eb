"""Hold a client's contract (compat_matrix/clients/) against a live server: every call's route in
the server's OpenAPI document, the documented answer's shape (and for GETs without a parameter,
the live answer's) against what the client assumes, the credentials the server demands against
what the client sends, the server's address against the client's discovery, and the server's
own project against an unscoped list. Each entry that does not hold is an advisory naming the
client's commands it breaks and a fix."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from orch_doctor.advice import Advisory
from orch_doctor.clients.types import ClientInstall, ClientReport, EntryResult
from orch_doctor.matrix.clients import ClientCall, ClientContract
from orch_doctor.server.contract import CallsProbe, Shape
from orch_doctor.server.credentials import Credentials
from orch_doctor.server.types import ServerStatus, is_loopback, route_key

#: measured findings (not known issues) whose fix changes the server, and how
FINDING_CHANGES: dict[str, tuple[str, ...]] = {"unauthenticated-network-server": ("password",)}


def check_client(
    contract: ClientContract,
    install: ClientInstall,
    server: ServerStatus,
    probe: CallsProbe,
    directory: str | None,
) -> ClientReport:
    """The report for ``install`` (its contract ``contract``) on ``server`` as ``probe`` measured
    it; ``directory``: where the agents are spawned (None: not known)."""
    entries = [
        _auth(contract, probe),
        _discovery(contract, server),
        *(_call(call, probe) for call in contract.calls),
        *(
            _scope(call, server, directory)
            for call in contract.calls
            if not call.scoped and directory is not None
        ),
    ]
    advisories = tuple(_advisory(contract, install, e) for e in entries if not e.ok)
    label = install.label()
    bad = [e for e in entries if not e.ok]
    if bad:
        summary = (
            f"{len(bad)} of {len(entries)} checks of {label}'s calls fail on {server.url}: "
            + ("; ".join(e.name for e in bad))
        )
    else:
        summary = f"{label}: all {len(entries)} checks of its calls hold on {server.url}"
    return ClientReport(
        "warn" if bad else "pass",
        summary,
        client=install,
        contract=contract.source,
        server_url=server.url,
        entries=tuple(entries),
        advisories=advisories,
        costs=costs(contract, install),
    )


def costs(contract: ClientContract, install: ClientInstall) -> tuple[tuple[str, Advisory], ...]:
    """What each server change advice may ask for costs this client."""
    label = install.label()
    found: list[tuple[str, Advisory]] = []
    if not contract.auth.sends_credentials:
        found.append(
            (
                "password",
                Advisory(
                    f"{contract.id}-client-cost-password",
                    "warn",
                    f"with {label} found here, a server password breaks "
                    f"{_commands(contract.auth.commands)}: {contract.auth.breaks}",
                    fix=contract.auth.fix,
                    evidence=_first(contract.auth.source, contract),
                ),
            )
        )
    ports = ", ".join(str(p) for p in contract.discovery.ports)
    found.append(
        (
            "port",
            Advisory(
                f"{contract.id}-client-cost-port",
                "warn",
                f"with {label} found here, a server on another port than {ports} (or off "
                f"{contract.discovery.host}) breaks {_commands(contract.discovery.commands)}: "
                f"{contract.discovery.breaks}",
                fix=contract.discovery.fix,
                evidence=_first(contract.discovery.source, contract),
            ),
        )
    )
    return tuple(found)


def advice_costs(
    report: ClientReport, advisories: Sequence[Advisory], changes: dict[str, tuple[str, ...]]
) -> list[tuple[Advisory, Advisory]]:
    """(advisory, what following its fix costs the client) for each of ``advisories`` whose fix
    changes the server; ``changes``: advisory id -> the server changes its fix makes."""
    found = []
    for advisory in advisories:
        for change in changes.get(advisory.id, FINDING_CHANGES.get(advisory.id, ())):
            cost = report.cost(change)
            if cost is not None:
                found.append((advisory, cost))
    return found


# --- the entries -------------------------------------------------------------------------------


def _entry(
    id: str, name: str, source: tuple[str, ...], checked: str, problem: str | None = None
) -> EntryResult:
    """An entry held against the server: it holds unless there is a ``problem``."""
    return EntryResult(id, name, problem is None, checked, source, problem=problem)


def _auth(contract: ClientContract, probe: CallsProbe) -> EntryResult:
    auth = contract.auth
    answer = probe.anonymous
    route = contract.discovery.route
    if auth.sends_credentials:
        return _entry("auth", "credentials", auth.source, "the client sends credentials")
    if answer is None or answer.status is None:
        why = answer.error if answer is not None and answer.error else "no answer"
        checked = f"{route} without credentials could not be measured ({why})"
        return _entry("auth", "credentials", auth.source, checked)
    checked = f"{route} without credentials (as the client sends it) answered HTTP {answer.status}"
    demands = answer.status in (401, 403)
    problem = f"the server demands a password (HTTP {answer.status}) and {contract.name} sends none"
    return _entry("auth", "credentials", auth.source, checked, problem if demands else None)


def _discovery(contract: ClientContract, server: ServerStatus) -> EntryResult:
    disc = contract.discovery
    parts = urlsplit(server.url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    ports = ", ".join(str(p) for p in disc.ports)
    checked = f"the server at {server.url} against discovery of {disc.host} ports {ports}"
    wanted_host = is_loopback(disc.host)
    host_ok = parts.scheme == "http" and (
        is_loopback(parts.hostname) if wanted_host else parts.hostname == disc.host
    )
    held = host_ok and port in disc.ports
    where = f"port {port}" if host_ok else f"{parts.hostname}:{port}"
    problem = f"the server is on {where}; {contract.name} looks only at {disc.host} ports {ports}"
    return _entry("discovery", "server discovery", disc.source, checked, None if held else problem)


def _call(call: ClientCall, probe: CallsProbe) -> EntryResult:
    key = route_key(call.method, call.route)
    if not probe.documented:
        checked = f"not compared: no OpenAPI document ({probe.error or 'unknown'})"
        return _entry(call.id, key, call.source, checked)
    doc = probe.routes.get(key)
    if doc is None or not doc.listed:
        checked = "the route in the server's OpenAPI document"
        return _entry(call.id, key, call.source, checked, "the server has no such route")
    problem = shape_problem(call, doc.shape, documented=True)
    checked = f"documented answer: {doc.shape.describe()} (HTTP {doc.status})"
    live = probe.live.get(call.route)
    if problem is None and live is not None and live.shape is not None:
        checked += f"; live answer: {live.shape.describe()}"
        problem = shape_problem(call, live.shape, documented=False)
    return _entry(call.id, key, call.source, checked, problem)


def shape_problem(call: ClientCall, shape: Shape, *, documented: bool) -> str | None:
    """Why ``shape`` is not what ``call`` assumes, or None when it is (or cannot be told)."""
    said = "documents" if documented else "answers"
    assumed = call.shape
    if assumed == "status-only" or shape.kind in ("unknown", "mixed"):
        return None
    if assumed == "json-or-empty":
        return None
    if assumed == "json":
        if shape.kind == "none":
            return f"the server {said} no body; {call.function} parses one as JSON"
        return None
    if assumed == "array-of-objects":
        if shape.kind == "keyed-object" or shape.kind == "object":
            what = "an object keyed by id" if shape.kind == "keyed-object" else "an object"
            if not documented and shape.fields is not None and not shape.fields:
                what = "an empty object {}"
            return (
                f"the server {said} {what}; {call.function} iterates a list of objects "
                f"with {', '.join(call.fields) or 'fields'}"
            )
        if shape.kind != "array":
            return f"the server {said} {shape.describe()}; {call.function} iterates a list"
        items = shape.items
        if items is None or items.kind in ("unknown", "mixed"):
            return None
        if items.kind != "object":
            return (
                f"the server {said} a list of {items.describe()}; {call.function} reads "
                f"{', '.join(call.fields)} of each item"
            )
        return _missing(call, items, said)
    if assumed == "object":
        if shape.kind not in ("object", "keyed-object"):
            return f"the server {said} {shape.describe()}; {call.function} reads an object"
        return _missing(call, shape, said) if shape.kind == "object" else None
    return None


def _missing(call: ClientCall, shape: Shape, said: str) -> str | None:
    if shape.fields is None or not call.fields:
        return None
    missing = [f for f in call.fields if f not in shape.fields]
    if not missing:
        return None
    return f"the server {said} objects without {', '.join(missing)}; {call.function} reads them"


def _scope(call: ClientCall, server: ServerStatus, directory: str) -> EntryResult:
    key = route_key(call.method, call.route)
    own = server.directory
    entry_id, name = f"{call.id}.scope", f"{key} (scope)"
    if own is None:
        checked = "not compared: the server did not say its directory (GET /path)"
        return _entry(entry_id, name, call.source, checked)
    checked = f"the server's own directory {own} against the agents' {directory}"
    held = _same_dir(own, directory)
    problem = (
        f"{call.function} sends no directory: it sees only sessions of {own}, not of {directory}"
    )
    return _entry(entry_id, name, call.source, checked, None if held else problem)


def _same_dir(a: str, b: str) -> bool:
    import os.path

    return os.path.normpath(a) == os.path.normpath(b)


# --- advisories --------------------------------------------------------------------------------


def _advisory(contract: ClientContract, install: ClientInstall, entry: EntryResult) -> Advisory:
    label = install.label()
    if entry.id == "auth":
        breaks, fix, commands = contract.auth.breaks, contract.auth.fix, contract.auth.commands
    elif entry.id == "discovery":
        disc = contract.discovery
        breaks, fix, commands = disc.breaks, disc.fix, disc.commands
    else:
        call = next(c for c in contract.calls if entry.id in (c.id, f"{c.id}.scope"))
        commands = call.commands
        if entry.id.endswith(".scope"):
            breaks, fix = call.unscoped_breaks or call.breaks, call.unscoped_fix or call.fix
        else:
            breaks, fix = call.breaks, call.fix
    return Advisory(
        f"{contract.id}-client-{entry.id.replace('.', '-')}",
        "warn",
        f"{label}: {entry.name} breaks {_commands(commands)} — {entry.problem}. {breaks}",
        fix=fix,
        evidence=_first(entry.source, contract),
    )


def _commands(commands: Sequence[str]) -> str:
    return ", ".join(commands) if commands else "its calls"


def _first(source: Sequence[str], contract: ClientContract) -> str | None:
    """A link to the first cited line (file:line@commit)."""
    if not source:
        return None
    where, _, commit = source[0].rpartition("@")
    path, _, line = where.rpartition(":")
    return f"{contract.repository}/blob/{commit}/{path}#L{line}"


def probe_for(
    contract: ClientContract,
    server_url: str,
    credentials: Credentials | None,
    timeout_s: float,
) -> CallsProbe:
    """Measure what ``contract``'s calls meet on the server (GETs only)."""
    from orch_doctor.server.contract import probe_calls

    routes = [f"{c.method} {c.route}" for c in contract.calls]
    live = [c.route for c in contract.calls if c.method == "GET" and "{" not in c.route]
    method, _, anonymous = contract.discovery.route.partition(" ")
    return probe_calls(
        server_url,
        routes,
        live_paths=live,
        anonymous_path=anonymous if method == "GET" else None,
        credentials=credentials,
        timeout_s=timeout_s,
    )


def run_check(
    server: ServerStatus | str | None,
    *,
    client: str = "orch",
    checkout: str | None = None,
    version: str | None = None,
    directory: str | None = None,
    credentials: Credentials | None = None,
    timeout_s: float = 5.0,
    contracts: Sequence[ClientContract] | None = None,
) -> ClientReport:
    """Find ``client`` (a ``checkout``, a ``version`` given, else installed here), its contract,
    and hold it against ``server`` (a probed status, or a URL to probe); a skip says why not."""
    from orch_doctor.clients.found import find_client
    from orch_doctor.matrix.clients import find_contract, load_contracts

    known = tuple(contracts) if contracts is not None else load_contracts()
    mine = [c for c in known if c.id == client]
    if not mine:
        return ClientReport("skip", f"no client contract for {client!r} in compat_matrix/clients/")
    install, why = find_client(mine[0], checkout, version)
    if install is None:
        return ClientReport("skip", why)
    contract = find_contract(mine, client, install.version, install.commit)
    if contract is None:
        versions = ", ".join(c.versions for c in mine)
        return ClientReport(
            "skip",
            f"{install.label()} ({install.how}): no contract for it (known: {versions}); "
            "its calls are not known",
            client=install,
        )
    if server is None:
        return ClientReport(
            "skip", f"{install.label()}: no server given or running", client=install
        )
    if isinstance(server, str):
        from orch_doctor.server.probe import probe_server

        server = probe_server(server, timeout_s=timeout_s, credentials=credentials)
    if not server.ok:
        return ClientReport(
            "skip",
            f"{install.label()}: the server at {server.url} cannot be checked ({server.verdict})",
            client=install,
            server_url=server.url,
        )
    probe = probe_for(contract, server.url, credentials, timeout_s)
    return check_client(contract, install, server, probe, directory)
