"""Load, validate and merge compat_matrix/ TOML data.

Shipped files first, then site and user override folders, then ``--matrix`` files; an entry with
an id already seen replaces it, a new id is added. Every file is validated on load: an unknown
key, a bad specifier or version, an unknown strategy name, a duplicate id within a file is a
:class:`MatrixError` naming the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orch_doctor._util.config_file import key_text, value_text
from orch_doctor._util.config_file import read_toml as read_config
from orch_doctor.errors import MatrixError
from orch_doctor.matrix.location import compat_matrix_dir
from orch_doctor.matrix.model import (
    COMMANDS,
    MODEL_VIA,
    OUTCOMES,
    PLAN_STRATEGIES,
    SERVER_DIRECTORY_CONDITIONS,
    SERVER_FACTS,
    SEVERITIES,
    WORKAROUNDS,
    BlockedRange,
    ExpectedCapability,
    KnownIssue,
    Matrix,
    ServerFacts,
    Strategy,
    TuiScreen,
    Verification,
    VersionPolicy,
    strategy_name,
)

#: evidence is a link, or says how it was measured/recorded (and so how to reproduce it)
EVIDENCE_PREFIXES = ("https://", "http://", "measured:", "recorded:")

# ---------------------------------------------------------------------------------------------


def override_dirs() -> list[Path]:
    """Site then user folders whose ``*.toml`` files are merged over the shipped data."""
    env = os.environ.get("ORCH_DOCTOR_MATRIX_DIRS")
    if env is not None:
        return [Path(p) for p in env.split(os.pathsep) if p]
    import platformdirs

    return [
        Path(platformdirs.site_config_dir("orch-doctor")) / "compat_matrix",
        Path(platformdirs.user_config_dir("orch-doctor")) / "compat_matrix",
    ]


def matrix_files(extra: Sequence[str | Path] = (), *, overrides: bool = True) -> list[Path]:
    shipped = sorted(compat_matrix_dir().glob("*.toml"))
    found = list(shipped)
    if overrides:
        for folder in override_dirs():
            try:
                if folder.is_dir():
                    found.extend(sorted(folder.glob("*.toml")))
            except OSError as exc:
                raise MatrixError(folder, "-", f"cannot read: {exc.strerror or exc}") from None
    for item in extra:
        path = Path(item)
        try:
            is_file = path.is_file()
        except OSError as exc:  # e.g. under a folder that cannot be searched
            raise MatrixError(path, "-", f"cannot read: {exc.strerror or exc}") from None
        if not is_file:
            raise MatrixError(path, "-", "no such matrix file")
        found.append(path)
    return found


def load_matrix(extra: Sequence[str | Path] = (), *, overrides: bool = True) -> Matrix:
    """The shipped matrix with site/user overrides and ``extra`` files merged over it."""
    files = matrix_files(extra, overrides=overrides)
    return merge([(str(path), read_toml(path)) for path in files])


def read_toml(path: Path) -> dict[str, Any]:
    return read_config(path, MatrixError)


def merge(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> Matrix:
    strategies: dict[str, Strategy] = {}
    issues: dict[str, KnownIssue] = {}
    capabilities: dict[str, ExpectedCapability] = {}
    verifications: dict[tuple[str, str], Verification] = {}
    tui: dict[str, TuiScreen] = {}
    server = ServerFacts()
    policy = VersionPolicy()
    files = []
    for path, doc in documents:
        files.append(path)
        try:
            _check_keys(
                path,
                "",
                doc,
                {"strategy", "issue", "capability", "policy", "verification", "tui", "server"},
            )
            for item in _unique(path, "strategy", doc.get("strategy", []), "name"):
                strategies[item.name] = _strategy(path, item)
            for item in _unique(path, "issue", doc.get("issue", []), "id"):
                issues[item.id] = _issue(path, item)
            for item in _unique(path, "capability", doc.get("capability", []), "id"):
                capabilities[item.id] = _capability(path, item)
            if "policy" in doc:
                policy = _policy(path, doc["policy"], policy)
            for i, raw in enumerate(_list(path, "verification", doc.get("verification", []))):
                ver = _verification(path, f"verification[{i}]", raw)
                verifications[(ver.release, ver.strategy)] = ver
            for i, raw in enumerate(_list(path, "tui", doc.get("tui", []))):
                screen = _tui(path, f"tui[{i}]", raw)
                tui[screen.versions] = screen
            if "server" in doc:
                server = _server(path, doc["server"], server)
        except MatrixError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
            # a shape the checks above did not foresee: still the file's fault, still one line
            raise MatrixError(path, "-", f"invalid matrix data ({type(exc).__name__})") from None
    for issue in issues.values():
        for name in issue.affects:
            if name not in strategies and name not in PLAN_STRATEGIES:
                raise MatrixError(
                    issue.source,
                    f"issue.{key_text(issue.id)}.affects",
                    f"no strategy {value_text(name)}",
                )
    return Matrix(
        strategies=tuple(sorted(strategies.values(), key=lambda s: (s.preference, s.name))),
        issues=tuple(issues.values()),
        capabilities=tuple(capabilities.values()),
        policy=policy,
        verifications=tuple(verifications.values()),
        files=tuple(files),
        tui=tuple(tui.values()),
        server=server,
    )


# --- validation helpers ----------------------------------------------------------------------


class _Item:
    """A table of an array of tables, with the key path used in error messages."""

    def __init__(self, path: str, where: str, data: Mapping[str, Any]) -> None:
        self.path, self.where, self.data = path, where, data

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise MatrixError(self.path, f"{self.where}.{key}", "missing")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise MatrixError(self.path, f"{self.where}.{key}", "must be a non-empty string")
        return value

    def req(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise MatrixError(self.path, f"{self.where}.{key}", "must be true or false")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MatrixError(self.path, f"{self.where}.{key}", "must be a list of strings")
        return tuple(value)

    def error(self, key: str, message: str) -> MatrixError:
        return MatrixError(self.path, f"{self.where}.{key}", message)


def _list(path: str, key: str, value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MatrixError(path, key, "must be an array of tables ([[" + key + "]])")
    return value


def _unique(path: str, key: str, value: Any, id_key: str) -> list[_Item]:
    items = []
    seen: set[str] = set()
    for i, raw in enumerate(_list(path, key, value)):
        ident = raw.get(id_key)
        where = f"{key}[{i}]"
        if not isinstance(ident, str) or not ident:
            raise MatrixError(path, f"{where}.{id_key}", "missing")
        if ident in seen:
            raise MatrixError(
                path, f"{key}.{key_text(ident)}", f"duplicate {id_key} {value_text(ident)}"
            )
        seen.add(ident)
        items.append(_Item(path, f"{key}.{key_text(ident)}", raw))
    return items


def _check_keys(path: str, where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            shown = f"{where}.{key_text(key)}" if where else key_text(key)
            raise MatrixError(path, shown, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _version(item: _Item, key: str, value: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        Version(value)
    except InvalidVersion:
        raise item.error(key, f"{value_text(value)} is not a version") from None
    except ValueError:  # a number longer than Python converts (sys.get_int_max_str_digits)
        raise item.error(key, f"{value_text(value)} has a number too long to compare") from None
    return value


def _spec(item: _Item, key: str, value: str) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        # each clause compared once: packaging parses the numbers only then, and a number longer
        # than Python converts (sys.get_int_max_str_digits) raises ValueError
        for clause in SpecifierSet(value):
            clause.contains("0", prereleases=True)
    except InvalidSpecifier:
        raise item.error(key, f"{value_text(value)} is not a version specifier") from None
    except ValueError:
        raise item.error(key, f"{value_text(value)} has a number too long to compare") from None
    return value


def _strategy(path: str, item: _Item) -> Strategy:
    _check_keys(
        path,
        item.where,
        item.data,
        {"name", "summary", "preference", "needs_server", "terminal", "commands", "routes",
         "evidence", "needs_local_server", "model"},
    )  # fmt: skip
    name = strategy_name(item.name)
    if name is None or name == "none":
        raise item.error("name", f"unknown strategy (known: {', '.join(PLAN_STRATEGIES)})")
    preference = item.data.get("preference")
    if not isinstance(preference, int) or isinstance(preference, bool):
        raise item.error("preference", "must be an integer")
    commands_raw = item.data.get("commands", {})
    if not isinstance(commands_raw, dict):
        raise item.error("commands", "must be a table of command = [options]")
    commands: dict[str, tuple[str, ...]] = {}
    for command, options in commands_raw.items():
        if command not in COMMANDS:
            raise item.error(
                f"commands.{key_text(command)}", f"unknown command (known: {', '.join(COMMANDS)})"
            )
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise item.error(f"commands.{command}", "must be a list of long option names")
        commands[command] = tuple(o.lstrip("-") for o in options)
    routes = item.strings("routes")
    for route in routes:
        method, _, route_path = route.partition(" ")
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE") or not route_path.startswith(
            "/"
        ):
            raise item.error("routes", f"{value_text(route)} is not 'METHOD /path'")
    model_text = item.text("model", required=False) or "api"
    model = next((m for m in MODEL_VIA if m == model_text), None)
    if model is None:
        raise item.error("model", f"{value_text(model_text)} is not one of {', '.join(MODEL_VIA)}")
    return Strategy(
        name=name,
        needs_local_server=item.bool("needs_local_server", False),
        model=model,
        summary=item.req("summary"),
        preference=preference,
        needs_server=item.bool("needs_server", False),
        terminal=item.bool("terminal", True),
        commands=commands,
        routes=routes,
        evidence=item.req("evidence"),
        source=path,
    )


def _issue(path: str, item: _Item) -> KnownIssue:
    _check_keys(
        path,
        item.where,
        item.data,
        {"id", "title", "versions", "when", "severity", "affects", "breaks", "workaround", "fix",
         "evidence", "see_also", "side", "detected_by", "security"},
    )  # fmt: skip
    severity = item.req("severity")
    if severity not in SEVERITIES:
        raise item.error(
            "severity", f"{value_text(severity)} is not one of {', '.join(SEVERITIES)}"
        )
    affects = item.strings("affects")
    if not affects:
        raise item.error("affects", "names no strategy")
    workaround = item.text("workaround", required=False)
    if workaround is not None and workaround not in WORKAROUNDS:
        raise item.error("workaround", f"unknown workaround (known: {', '.join(WORKAROUNDS)})")
    if severity == "workaround" and workaround is None:
        raise item.error("workaround", "missing (severity 'workaround' needs one)")
    when = item.data.get("when")
    when_command = when_option = None
    if when is not None:
        if not isinstance(when, dict):
            raise item.error("when", "must be a table { command = ..., option = ... }")
        _check_keys(path, f"{item.where}.when", when, {"command", "option", "server_directory"})
        when_command = when.get("command")
        when_option = when.get("option")
        when_directory = when.get("server_directory")
        if when_command is not None and when_command not in COMMANDS:
            raise item.error("when.command", f"unknown command (known: {COMMANDS})")
        if when_option is not None and (when_command is None or not isinstance(when_option, str)):
            raise item.error("when.option", "must be an option name, with when.command")
        if when_directory is not None and when_directory not in SERVER_DIRECTORY_CONDITIONS:
            raise item.error(
                "when.server_directory", f"must be one of {', '.join(SERVER_DIRECTORY_CONDITIONS)}"
            )
    else:
        when_directory = None
    evidence = _evidence(item, "evidence", item.req("evidence"))
    detected_by = item.text("detected_by", required=False)
    if detected_by is not None and detected_by not in SERVER_FACTS:
        raise item.error("detected_by", f"unknown server fact (known: {', '.join(SERVER_FACTS)})")
    side = item.text("side", required=False) or "client"
    if side not in ("client", "server"):
        raise item.error("side", f"{value_text(side)} is not 'client' or 'server'")
    see_also = item.strings("see_also")
    for link in see_also:
        _evidence(item, "see_also", link)
    return KnownIssue(
        id=item.id,
        title=item.req("title"),
        versions=_spec(item, "versions", item.req("versions")),
        severity=severity,
        affects=affects,
        breaks=item.req("breaks"),
        evidence=evidence,
        when_command=when_command,
        when_option=when_option,
        when_server_directory=when_directory,
        detected_by=detected_by,
        security=item.bool("security", False),
        workaround=workaround,
        fix=item.text("fix", required=False),
        see_also=see_also,
        side=side,
        source=path,
    )


def _evidence(item: _Item, key: str, value: str) -> str:
    if not value.startswith(EVIDENCE_PREFIXES):
        raise item.error(
            key, "must be a link, or say how it was measured ('measured: ...', 'recorded: ...')"
        )
    return value


def _tui(path: str, where: str, raw: Mapping[str, Any]) -> TuiScreen:
    item = _Item(path, where, raw)
    _check_keys(path, where, raw, {"versions", "ready_markers", "failure_markers", "evidence"})
    ready = item.strings("ready_markers")
    if not ready or not all(m.strip() for m in ready):
        raise item.error("ready_markers", "must name at least one non-empty marker")
    return TuiScreen(
        versions=_spec(item, "versions", item.req("versions")),
        ready_markers=ready,
        failure_markers=item.strings("failure_markers"),
        evidence=_evidence(item, "evidence", item.req("evidence")),
        source=path,
    )


def _server(path: str, raw: Any, base: ServerFacts) -> ServerFacts:
    if not isinstance(raw, dict):
        raise MatrixError(path, "server", "must be a table")
    item = _Item(path, "server", raw)
    _check_keys(path, "server", raw, {"health_route_since", "health_route_evidence"})
    since = item.text("health_route_since", required=False)
    evidence = item.text("health_route_evidence", required=False)
    return ServerFacts(
        health_route_since=_version(item, "health_route_since", since)
        if since
        else base.health_route_since,
        health_route_evidence=_evidence(item, "health_route_evidence", evidence)
        if evidence
        else base.health_route_evidence,
    )


def _capability(path: str, item: _Item) -> ExpectedCapability:
    _check_keys(
        path,
        item.where,
        item.data,
        {"id", "command", "option", "since", "absent_through", "evidence"},
    )
    command = item.req("command")
    if command not in COMMANDS:
        raise item.error("command", f"unknown command (known: {COMMANDS})")
    absent = item.text("absent_through", required=False)
    return ExpectedCapability(
        id=item.id,
        command=command,
        since=_version(item, "since", item.req("since")),
        evidence=item.req("evidence"),
        option=item.text("option", required=False),
        absent_through=_version(item, "absent_through", absent) if absent else None,
        source=path,
    )


def _policy(path: str, raw: Any, base: VersionPolicy) -> VersionPolicy:
    if not isinstance(raw, dict):
        raise MatrixError(path, "policy", "must be a table")
    item = _Item(path, "policy", raw)
    _check_keys(
        path, "policy", raw, {"minimum", "tested", "known_majors", "blocked", "minimum_evidence"}
    )
    minimum = item.text("minimum", required=False)
    tested = item.text("tested", required=False)
    majors = raw.get("known_majors", list(base.known_majors))
    if not isinstance(majors, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in majors
    ):
        raise item.error("known_majors", "must be a list of integers")
    blocked = list(base.blocked)
    for i, entry in enumerate(_list(path, "policy.blocked", raw.get("blocked", []))):
        sub = _Item(path, f"policy.blocked[{i}]", entry)
        _check_keys(path, sub.where, entry, {"versions", "reason", "evidence"})
        blocked.append(
            BlockedRange(
                versions=_spec(sub, "versions", sub.req("versions")),
                reason=sub.req("reason"),
                evidence=sub.req("evidence"),
            )
        )
    return VersionPolicy(
        minimum=_version(item, "minimum", minimum) if minimum else base.minimum,
        tested=_spec(item, "tested", tested) if tested else base.tested,
        known_majors=tuple(majors),
        blocked=tuple(blocked),
        minimum_evidence=item.text("minimum_evidence", required=False) or base.minimum_evidence,
    )


def _verification(path: str, where: str, raw: Mapping[str, Any]) -> Verification:
    item = _Item(path, where, raw)
    _check_keys(
        path,
        where,
        raw,
        {"release", "strategy", "outcome", "date", "orch_doctor_version", "wall_s", "note"},
    )
    strategy = item.req("strategy")
    if strategy not in PLAN_STRATEGIES:
        raise item.error("strategy", f"unknown strategy {value_text(strategy)}")
    outcome = item.req("outcome")
    if outcome not in OUTCOMES:
        raise item.error("outcome", f"{value_text(outcome)} is not one of {', '.join(OUTCOMES)}")
    date = item.req("date")
    import datetime as dt

    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise item.error("date", f"{value_text(date)} is not YYYY-MM-DD") from None
    wall = raw.get("wall_s")
    if wall is not None and (not isinstance(wall, int | float) or isinstance(wall, bool)):
        raise item.error("wall_s", "must be a number")
    return Verification(
        release=_version(item, "release", item.req("release")),
        strategy=strategy,
        outcome=outcome,
        date=date,
        orch_doctor_version=item.req("orch_doctor_version"),
        wall_s=float(wall) if wall is not None else None,
        note=item.text("note", required=False),
        source=path,
    )
