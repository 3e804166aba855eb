"""Probe the installed OpenCode: version and the help of each subcommand, all at once.

Every call has a timeout and an output cap; the whole process group is killed on timeout. The
child gets no server secret (help and version need none).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, TypedDict, Unpack

from orch_doctor._util import cache
from orch_doctor._util.cache import binary_identity
from orch_doctor._util.once import Once, done, then
from orch_doctor._util.proc import CaptureResult, start_many
from orch_doctor.probe.discover import discover
from orch_doctor.probe.types import (
    DECISION_COMMANDS,
    PROBED_COMMANDS,
    BinaryCandidate,
    Capabilities,
    HelpText,
    RecordedProbe,
)

DEFAULT_TIMEOUT_S = 20.0
HELP_MAX_BYTES = 512 * 1024
SECRET_VARS = ("OPENCODE_SERVER_PASSWORD",)


def help_argv(binary: str, command: str) -> list[str]:
    return [binary, "--help"] if command == "root" else [binary, command, "--help"]


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    for name in SECRET_VARS:
        base.pop(name, None)
    return base


def start_probe(
    path: str,
    *,
    commands: Sequence[str] = PROBED_COMMANDS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
    use_cache: bool = False,
    refresh: bool = False,
    known: Callable[[str], RecordedProbe | None] | None = None,
    identify: Callable[[str], str | None] | None = None,
) -> Once[Capabilities]:
    """Start ``--version`` and each command's ``--help`` concurrently and parse them.

    With ``use_cache`` the raw outputs are kept on disk keyed by the binary's identity (path,
    size, mtime, inode) and the tool's version, and parsed again on the next call (< 1 ms);
    ``refresh`` ignores what is cached. Failed or timed-out probes are never cached.
    The OpenCode calls are started before this returns; ``.result()`` waits for them.

    ``known`` may identify the binary without running it (a later stage's knowledge, e.g. the
    digests of published releases); its answer is used and cached like a probe's.
    ``identify`` names what a binary that is run anyway is (``Capabilities.identified_as``),
    worked out while the calls run and cached with their outputs.

    What is probed, cached, identified and reported (``Capabilities.binary_path``, and so a
    plan's ``argv[0]``) is the file that runs: an npm launcher script is resolved by its own
    rules ($OPENCODE_BIN_PATH, then the platform package it picks), a symlink to its target."""
    from orch_doctor.probe.identity import runs_file

    path = runs_file(path, env)
    identity = binary_identity(path) if use_cache else None
    key = {"identity": identity, "commands": list(commands)}
    if identity is not None and not refresh:
        cached = cache.load("probe", key, valid=valid_probe_entry)
        if cached is not None:
            from orch_doctor.probe.capabilities import capabilities_from_help

            texts = {
                name: HelpText(command=name, text=item["text"])
                for name, item in cached["help"].items()
            }
            caps = capabilities_from_help(texts, cached["version"], binary_path=path)
            identified = cached.get("identified_as")
            return done(replace(caps, identified_as=identified) if identified else caps)

    def from_recorded(recorded: RecordedProbe) -> Capabilities:
        from orch_doctor.probe.capabilities import capabilities_from_help

        texts = {
            name: HelpText(command=name, text=text)
            for name, text in recorded.help.items()
            if name in commands or name == "root"
        }
        caps = capabilities_from_help(texts, recorded.version_output, binary_path=path)
        if identity is not None:
            cache.store(
                "probe",
                key,
                {
                    "version": recorded.version_output,
                    "help": {name: {"text": t.text} for name, t in texts.items()},
                    "identified_as": recorded.identified_as,
                },
            )
        return replace(caps, identified_as=recorded.identified_as)

    naming: list[Future[str | None]] = []  # started with the calls: only a binary run is named

    def run_binary() -> Future[dict[str, CaptureResult]]:
        naming.extend(_start_naming(identify, path))
        runs: dict[str, list[str]] = {"version": [path, "--version"]}
        runs.update({cmd: help_argv(path, cmd) for cmd in commands})
        return start_many(runs, timeout_s=timeout_s, max_bytes=HELP_MAX_BYTES, env=child_env(env))

    def finish(results: dict[str, CaptureResult]) -> Capabilities:
        from orch_doctor.probe.capabilities import capabilities_from_help

        version = results.pop("version")
        texts = {name: to_help_text(name, res) for name, res in results.items()}
        caps = capabilities_from_help(texts, version_output(version), binary_path=path)
        problem = capture_problem(version)
        if problem:
            caps = replace(caps, warnings=(f"--version {problem}", *caps.warnings))
        identified = naming[0].result() if naming else None
        if identified:
            caps = replace(caps, identified_as=identified)
        all_ok = problem is None and all(capture_problem(r) is None for r in results.values())
        if identity is not None and all_ok:
            help_texts = {name: {"text": t.text} for name, t in texts.items()}
            entry: dict[str, Any] = {"version": version_output(version), "help": help_texts}
            if identified:
                entry["identified_as"] = identified
            cache.store("probe", key, entry)
        return caps

    if known is None:
        return then(run_binary(), finish)

    # identify in a thread of its own (hashing overlaps the caller's imports); the moment the
    # binary is not a published release, the OpenCode calls start from there
    outcome: Future[Capabilities | Future[dict[str, CaptureResult]]] = Future()

    def recognise() -> None:
        try:
            try:
                recorded = known(path)
            except Exception:  # knowing it is a shortcut: any trouble means probing it
                recorded = None
            outcome.set_result(from_recorded(recorded) if recorded else run_binary())
        except BaseException as exc:  # pragma: no cover - start_many does not raise
            outcome.set_exception(exc)

    threading.Thread(target=recognise, name="orch-doctor-identify", daemon=True).start()

    def result() -> Capabilities:
        got = outcome.result()
        return got if isinstance(got, Capabilities) else finish(got.result())

    return Once(result)


def _start_naming(
    identify: Callable[[str], str | None] | None, path: str
) -> list[Future[str | None]]:
    """``identify(path)`` started in a thread of its own (no future: nothing to name); any
    trouble in it is no name, never a failed probe."""
    if identify is None:
        return []
    naming: Future[str | None] = Future()

    def work() -> None:
        try:
            naming.set_result(identify(path))
        except Exception:  # a name is a courtesy: the probe stands without it
            naming.set_result(None)

    threading.Thread(target=work, name="orch-doctor-name", daemon=True).start()
    return [naming]


def valid_probe_entry(value: Mapping[str, Any]) -> bool:
    """A cached probe as :func:`start_probe` writes it: anything else is a miss (and is
    rewritten), never a crash."""
    help_texts = value.get("help")
    identified = value.get("identified_as")
    return (
        isinstance(value.get("version"), str)
        and isinstance(help_texts, dict)
        and "root" in help_texts
        and all(
            isinstance(name, str) and isinstance(item, dict) and isinstance(item.get("text"), str)
            for name, item in help_texts.items()
        )
        and (identified is None or isinstance(identified, str))
    )


def valid_version_entry(value: Mapping[str, Any]) -> bool:
    version = value.get("version")
    return version is None or isinstance(version, str)


def start_probe_installed(
    opencode: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    commands: Sequence[str] = PROBED_COMMANDS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    use_cache: bool = False,
    refresh: bool = False,
    known: Callable[[str], RecordedProbe | None] | None = None,
    identify: Callable[[str], str | None] | None = None,
) -> Once[Capabilities]:
    """Discover the OpenCode that runs, probe it, and read the versions of shadowed ones; every
    OpenCode call is started before this returns (``.result()`` waits for them)."""
    finding = discover(opencode, env)
    if finding.chosen is None:
        return done(Capabilities(binary_path=None, version=None, commands={}, finding=finding))
    chosen_path = finding.chosen.path
    if finding.shadowed:  # a candidate the chosen launcher runs itself is not hidden by it
        from orch_doctor.probe.identity import runs_file

        runs = runs_file(chosen_path, env)
        hidden = tuple(c for c in finding.shadowed if runs_file(c.path, env) != runs)
        finding = replace(finding, shadowed=hidden)
    probing = start_probe(
        chosen_path, commands=commands, timeout_s=timeout_s, env=env,
        use_cache=use_cache, refresh=refresh, known=known, identify=identify,
    )  # fmt: skip
    versions = start_shadowed_versions(finding.shadowed, timeout_s, env, use_cache and not refresh)

    def finish(caps: Capabilities) -> Capabilities:
        found = finding
        if found.shadowed:
            shadowed = versions.result()
            found = replace(
                found, shadowed=tuple(replace(c, version=shadowed[c.path]) for c in found.shadowed)
            )
        assert found.chosen is not None
        chosen = replace(found.chosen, version=caps.version.text if caps.version else None)
        return replace(caps, finding=replace(found, chosen=chosen))

    return then(probing, finish)


class DecisionProbeOptions(TypedDict, total=False):
    """The options of :func:`start_probe_installed` the decision's probe takes (their defaults
    are that function's, but ``use_cache``: True here)."""

    timeout_s: float
    use_cache: bool
    refresh: bool
    known: Callable[[str], RecordedProbe | None] | None


def start_decision_probe(
    opencode: str | None = None,
    env: Mapping[str, str] | None = None,
    **options: Unpack[DecisionProbeOptions],
) -> Once[Capabilities]:
    """The probe the decision needs: version plus the root and ``attach`` help (run/serve are
    not used by any strategy), cached by binary identity — one cache entry shared by the
    doctor, ``select_strategy`` and ``verify``."""
    options.setdefault("use_cache", True)
    return start_probe_installed(opencode, env, commands=DECISION_COMMANDS, **options)


def start_shadowed_versions(
    candidates: Sequence[BinaryCandidate],
    timeout_s: float,
    env: Mapping[str, str] | None,
    use_cache: bool,
) -> Once[dict[str, str | None]]:
    """Versions of the binaries the chosen one hides (cached by binary identity)."""
    found: dict[str, str | None] = {}
    from orch_doctor.probe.identity import runs_file

    keys = {c.path: {"identity": binary_identity(runs_file(c.path, env))} for c in candidates}
    for c in candidates:
        cached = (
            cache.load("version", keys[c.path], valid=valid_version_entry) if use_cache else None
        )
        if cached is not None:
            found[c.path] = cached.get("version")
    todo = [c for c in candidates if c.path not in found]
    running = start_many(
        {c.path: [c.path, "--version"] for c in todo},
        timeout_s=timeout_s,
        max_bytes=HELP_MAX_BYTES,
        env=child_env(env),
    )

    def finish(results: dict[str, CaptureResult]) -> dict[str, str | None]:
        from orch_doctor.probe.version import parse_version_output

        for c in todo:
            text = parse_version_output(version_output(results[c.path])).text
            found[c.path] = text
            if text is not None and keys[c.path]["identity"] is not None:
                cache.store("version", keys[c.path], {"version": text})
        return found

    return then(running, finish)


def to_help_text(command: str, res: CaptureResult) -> HelpText:
    return HelpText(
        command=command,
        text=res.output,
        returncode=res.returncode,
        timed_out=res.timed_out,
        truncated=res.truncated,
        duration_s=res.duration_s,
        error=res.error,
    )


def version_output(res: CaptureResult) -> str:
    return res.output if res.error is None else ""


def capture_problem(res: CaptureResult) -> str | None:
    if res.error:
        return f"could not run: {res.error}"
    if res.timed_out:
        return f"timed out after {res.duration_s:.1f}s (process group killed)"
    if res.truncated:
        return "printed more than the output cap (process group killed)"
    if res.returncode not in (0, None):
        return f"exited with status {res.returncode}"
    return None
