"""Client contracts: what a consumer of OpenCode's server (orch) calls and assumes, as data.

``compat_matrix/clients/<id>.toml``, written from the consumer's source and keyed by its version
(a specifier) and the commits read. Validated as the rest of the matrix is: an unknown key, a bad
specifier, a route that is not ``/path``, a shape this engine does not know, a source that is not
``file:line@commit`` is a :class:`MatrixError` naming the file and the entry. Loaded only by the
orch-client check (not on the decision's warm path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from orch_doctor._util.config_file import value_text
from orch_doctor.errors import MatrixError
from orch_doctor.matrix.load import _check_keys, _Item, _spec, _table, _unique, read_toml
from orch_doctor.matrix.location import compat_matrix_dir

#: a [client], [discovery] or [auth] table that is absent or not a table
_NOT_TABLE = "missing, or not a table"
#: what the consumer does with a call's answer
#: ``status-only``: reads the status code; ``array-of-objects``: iterates a list and reads
#: ``fields`` of each item; ``object``: reads ``fields`` of one object; ``json``: parses a JSON
#: body (an empty 204 breaks it); ``json-or-empty``: a JSON body or none
SHAPES = ("status-only", "array-of-objects", "object", "json", "json-or-empty")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_SOURCE = re.compile(r"[\w.\-/]+\.(py|toml|cfg|txt):\d{1,6}@[0-9a-f]{7,40}")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


@dataclass(frozen=True, kw_only=True)
class ClientEntry:
    """What every entry of a contract (a call, the discovery, the auth) says: what ``breaks``
    in the client when the server does not hold it (in which of its ``commands``), the ``fix``,
    and the ``source`` lines it was read at."""

    breaks: str
    fix: str
    source: tuple[str, ...]  # "file:line@commit"
    commands: tuple[str, ...] = ()


class _EntryFields(TypedDict):
    breaks: str
    fix: str
    source: tuple[str, ...]
    commands: tuple[str, ...]


def _entry(item: _Item) -> _EntryFields:
    """The :class:`ClientEntry` fields of ``item``."""
    return {
        "commands": item.strings("commands"),
        "breaks": item.req("breaks"),
        "fix": item.req("fix"),
        "source": _sources(item, "source"),
    }


@dataclass(frozen=True, kw_only=True)
class ClientCall(ClientEntry):
    id: str
    method: str
    route: str  # as the consumer writes it: "/session/{id}/message"
    shape: str  # one of SHAPES
    function: str
    fields: tuple[str, ...] = ()
    scoped: bool = True  # False: sends no directory (the server's own project only)
    unscoped_breaks: str | None = None  # scoped = false: what the server's own scope misses
    unscoped_fix: str | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}"


@dataclass(frozen=True, kw_only=True)
class ClientDiscovery(ClientEntry):
    host: str
    ports: tuple[int, ...]
    route: str


@dataclass(frozen=True, kw_only=True)
class ClientAuth(ClientEntry):
    sends_credentials: bool


@dataclass(frozen=True)
class ClientContract:
    id: str
    name: str
    distribution: str  # the installed distribution's name (importlib.metadata)
    module: str  # its import name
    versions: str  # a specifier
    commits: tuple[str, ...]  # the commits the contract was read at
    repository: str
    discovery: ClientDiscovery
    auth: ClientAuth
    calls: tuple[ClientCall, ...]
    version_source: tuple[str, ...] = ()
    source: str = ""

    def applies_to(self, version: str | None, commit: str | None) -> bool:
        """A commit read for this contract, else a version inside ``versions``."""
        if commit and any(c.startswith(commit) or commit.startswith(c) for c in self.commits):
            return True
        if not version:
            return False
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version

        try:
            return Version(version) in SpecifierSet(self.versions)
        except (InvalidVersion, ValueError):
            return False


def load_contracts(extra: Sequence[str | Path] = ()) -> tuple[ClientContract, ...]:
    """Every shipped contract (compat_matrix/clients/*.toml), then those among ``extra`` (the
    ``--matrix`` files: a file with a ``[client]`` table is a contract); the same id replaces
    the shipped one."""
    found: dict[str, ClientContract] = {}
    shipped = sorted((compat_matrix_dir() / "clients").glob("*.toml"))
    for path in [*shipped, *(Path(p) for p in extra)]:
        doc = read_toml(path)
        if path in shipped or "client" in doc:
            contract = parse_contract(str(path), doc)
            found[contract.id] = contract
    return tuple(found.values())


def find_contract(
    contracts: Sequence[ClientContract], client: str, version: str | None, commit: str | None
) -> ClientContract | None:
    return next(
        (c for c in contracts if c.id == client and c.applies_to(version, commit)),
        None,
    )


def parse_contract(path: str, doc: Mapping[str, Any]) -> ClientContract:
    try:
        return _contract(path, doc)
    except MatrixError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise MatrixError(path, "-", f"invalid client contract ({type(exc).__name__})") from None


def _contract(path: str, doc: Mapping[str, Any]) -> ClientContract:
    _check_keys(path, "", doc, {"client", "discovery", "auth", "call"})
    head = _table(
        path,
        "client",
        doc.get("client"),
        {"id", "name", "distribution", "module", "versions", "commits", "repository",
         "version_source"},
        not_table=_NOT_TABLE,
    )  # fmt: skip
    commits = head.strings("commits")
    if not commits:
        raise head.error("commits", "names no commit the contract was read at")
    for commit in commits:
        if not _COMMIT.fullmatch(commit):
            raise head.error("commits", f"{value_text(commit)} is not a commit hash")
    repository = head.req("repository")
    if not repository.startswith("https://"):
        raise head.error("repository", "must be a https:// link")
    calls = tuple(_call(path, item) for item in _unique(path, "call", doc.get("call", []), "id"))
    if not calls:
        raise MatrixError(path, "call", "the contract names no call")
    return ClientContract(
        id=head.req("id"),
        name=head.req("name"),
        distribution=head.req("distribution"),
        module=head.req("module"),
        versions=_spec(head, "versions", head.req("versions")),
        commits=commits,
        repository=repository,
        discovery=_discovery(path, doc.get("discovery")),
        auth=_auth(path, doc.get("auth")),
        calls=calls,
        version_source=_sources(head, "version_source", required=False),
        source=path,
    )


def _sources(item: _Item, key: str, *, required: bool = True) -> tuple[str, ...]:
    found = item.strings(key)
    if required and not found:
        raise item.error(key, "cites no source line")
    for text in found:
        if not _SOURCE.fullmatch(text):
            raise item.error(key, f"{value_text(text)} is not 'file:line@commit'")
    return found


def _discovery(path: str, raw: Any) -> ClientDiscovery:
    item = _table(
        path,
        "discovery",
        raw,
        {"host", "ports", "route", "commands", "breaks", "fix", "source"},
        not_table=_NOT_TABLE,
    )
    ports = item.data.get("ports")
    if (
        not isinstance(ports, list)
        or not ports
        or not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports)
    ):
        raise item.error("ports", "must be a non-empty list of port numbers")
    route = item.req("route")
    _method_path(item, "route", route)
    return ClientDiscovery(
        host=item.req("host"),
        ports=tuple(ports),
        route=route,
        **_entry(item),
    )


def _auth(path: str, raw: Any) -> ClientAuth:
    item = _table(
        path,
        "auth",
        raw,
        {"sends_credentials", "commands", "breaks", "fix", "source"},
        not_table=_NOT_TABLE,
    )
    if "sends_credentials" not in item.data:
        raise item.error("sends_credentials", "missing")
    return ClientAuth(
        sends_credentials=item.bool("sends_credentials", False),
        **_entry(item),
    )


def _call(path: str, item: _Item) -> ClientCall:
    item.check_keys(
        {"id", "method", "route", "shape", "fields", "scoped", "function", "commands", "breaks",
         "fix", "source", "unscoped_breaks", "unscoped_fix"},
    )  # fmt: skip
    method = item.req("method")
    if method not in METHODS:
        raise item.error("method", f"{value_text(method)} is not one of {', '.join(METHODS)}")
    route = item.req("route")
    if not route.startswith("/") or " " in route:
        raise item.error("route", f"{value_text(route)} is not a '/path'")
    shape = item.req("shape")
    if shape not in SHAPES:
        raise item.error("shape", f"{value_text(shape)} is not one of {', '.join(SHAPES)}")
    fields = item.strings("fields")
    if fields and shape not in ("array-of-objects", "object"):
        raise item.error("fields", f"only for the shapes array-of-objects and object, not {shape}")
    scoped = item.bool("scoped", True)
    unscoped_breaks = item.text("unscoped_breaks", required=False)
    unscoped_fix = item.text("unscoped_fix", required=False)
    if not scoped and (unscoped_breaks is None or unscoped_fix is None):
        raise item.error("unscoped_breaks", "missing (an unscoped call says what it misses)")
    return ClientCall(
        id=item.id,
        unscoped_breaks=unscoped_breaks,
        unscoped_fix=unscoped_fix,
        method=method,
        route=route,
        shape=shape,
        fields=fields,
        scoped=scoped,
        function=item.req("function"),
        **_entry(item),
    )


def _method_path(item: _Item, key: str, value: str) -> None:
    method, _, route = value.partition(" ")
    if method not in METHODS or not route.startswith("/"):
        raise item.error(key, f"{value_text(value)} is not 'METHOD /path'")
