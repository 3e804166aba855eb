"""Assemble :class:`Capabilities` from help texts and ``--version`` output. Pure.

The same function serves the live probe and the stored help fixtures, so a decision made from a
stored release is the decision a real binary of that release gets.
"""

from __future__ import annotations

from collections.abc import Mapping

from orch_doctor.probe.helptext import parse_help, parse_root_commands
from orch_doctor.probe.types import PROBED_COMMANDS, Capabilities, CommandSpec, HelpText
from orch_doctor.probe.version import parse_version_output


def capabilities_from_help(
    texts: Mapping[str, HelpText],
    version_raw: str | None,
    *,
    binary_path: str | None = None,
) -> Capabilities:
    """Parse every help text; a subcommand exists only if the root's ``Commands:`` lists it
    (a release without ``attach`` prints the ROOT help for ``attach --help``)."""
    warnings: list[str] = []
    version = parse_version_output(version_raw) if version_raw is not None else None
    if version is not None and version.problem:
        warnings.append(f"version: {version.problem}")

    root_text = texts.get("root")
    listed: tuple[str, ...] = ()
    root_ok = root_text is not None and _usable(root_text)
    if root_text is not None and root_ok:
        listed = parse_root_commands(root_text.text)
        if not listed:
            warnings.append("root help lists no 'Commands:': subcommand existence is a guess")
    elif root_text is not None:
        warnings.append(f"root help unusable: {_why(root_text)}")

    commands: dict[str, CommandSpec] = {}
    for name in dict.fromkeys(("root", *PROBED_COMMANDS, *texts)):
        help_text = texts.get(name)
        if help_text is None:
            continue
        if not _usable(help_text):
            warnings.append(f"{name} help unusable: {_why(help_text)}")
            commands[name] = CommandSpec(name=name, exists=False, warnings=(_why(help_text),))
            continue
        if name != "root" and listed and name not in listed:
            commands[name] = CommandSpec(
                name=name,
                exists=False,
                warnings=(f"'{name}' is not in the root's Commands: list",),
            )
            continue
        spec = parse_help(help_text.text, name)
        if name != "root" and not listed:
            # no command list to trust: a subcommand's own usage line must name it
            exists = f" {name}" in f" {spec.usage} " and spec.usage.split()[1:2] == [name]
            spec = _with(spec, exists=exists)
        if help_text.truncated:
            spec = _with(spec, warnings=(*spec.warnings, "help output was cut at the size cap"))
        warnings.extend(f"{name}: {w}" for w in spec.warnings)
        commands[name] = spec
    return Capabilities(
        binary_path=binary_path,
        version=version,
        commands=commands,
        warnings=tuple(warnings),
    )


def _usable(help_text: HelpText) -> bool:
    return help_text.error is None and not help_text.timed_out and bool(help_text.text.strip())


def _why(help_text: HelpText) -> str:
    if help_text.error:
        return help_text.error
    if help_text.timed_out:
        return f"timed out after {help_text.duration_s:.1f}s"
    if not help_text.text.strip():
        return f"printed nothing (exit {help_text.returncode})"
    return "unknown"


def _with(spec: CommandSpec, **changes: object) -> CommandSpec:
    from dataclasses import replace

    return replace(spec, **changes)  # type: ignore[arg-type]
