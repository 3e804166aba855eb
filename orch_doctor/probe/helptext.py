"""Parse OpenCode's ``--help`` output into a :class:`CommandSpec`. Pure; never raises.

Two layouts: yargs (0.x/1.x) and the effect CLI framework's (2.x: ``USAGE``, ``ARGUMENTS``,
``FLAGS``, ``SUBCOMMANDS`` headings; a flag's type follows its names, a boolean has none).

Handles every layout seen in 0.x/1.x releases: an ANSI-coloured or Unicode logo before the text,
80- and 100-column layouts, descriptions wrapping onto continuation lines (which may themselves
begin with ``--something)``), type tags wrapping onto a line of their own, tags glued to the
description (``'opencode')[string]``), ``--no-x`` options and duplicated lines. What cannot be
read is skipped with a warning; the parser works line by line with anchored patterns, so its time
is linear in the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from orch_doctor._util.text import strip_ansi
from orch_doctor.probe.types import CommandSpec, OptionSpec, PositionalSpec

_SECTION = re.compile(r"^(Commands|Positionals|Options|Arguments|Flags):\s*$")
_FLAG_TOKEN = re.compile(r"-{1,2}[A-Za-z0-9][A-Za-z0-9_.-]*")
# "  -s, --session   text": flags, then two spaces (or the end) before the description
_OPTION_HEAD = re.compile(
    r"^( *)(-{1,2}[A-Za-z0-9][\w.-]*(?:, *-{1,2}[A-Za-z0-9][\w.-]*)*)((?:\s.*)?)$"
)
_POSITIONAL_HEAD = re.compile(r"^( *)([A-Za-z][\w-]*)((?: {2,}.*)?)$")
_TYPES = ("string", "boolean", "number", "array", "count")
_TAG_START = re.compile(
    r"\[(?:string|boolean|number|array|count|required|deprecated|choices:|default:|aliases:)"
)
_BLOCK_CHARS = frozenset("█▀▄░▒▓▌▐■▪▬─━│┃┌┐└┘├┤┬┴┼╭╮╯╰")
#: indentation past the first flag column that still counts as a new option line ("      --x")
_FLAG_COLUMN_SLACK = 6
MAX_LINE = 4000  # longer lines are cut (bounded work per line)


@dataclass
class _Entry:
    head: str  # flags (options) or name (positionals)
    indent: int
    lines: list[str] = field(default_factory=list)


@dataclass
class _Tags:
    description: str
    type: str | None = None
    choices: tuple[str, ...] = ()
    default: str | None = None
    required: bool = False
    aliases: tuple[str, ...] = ()


@lru_cache(maxsize=256)  # pure and frozen: a warm spawn parses the same texts each time
def parse_help(text: str, command: str) -> CommandSpec:
    """Parse the help text of ``opencode [command] --help``. ``exists`` is left True: whether
    the subcommand really exists comes from the root's ``Commands:`` list."""
    try:
        clean = strip_ansi(text)
        if _is_effect_layout(clean):
            return _parse_effect(clean, command)
        return _parse(text, command)
    except Exception as exc:  # the parser must never take the probe down
        return CommandSpec(
            name=command,
            exists=True,
            warnings=(f"help text could not be parsed ({type(exc).__name__}: {exc})",),
        )


@lru_cache(maxsize=64)
def parse_root_commands(text: str) -> tuple[str, ...]:
    """Names listed under ``Commands:`` (aliases included; the ``[project]`` default excluded)."""
    try:
        clean = strip_ansi(text)
        if _is_effect_layout(clean):
            return _effect_commands(_effect_sections(clean)[0].get("SUBCOMMANDS", []))
        sections, _, _ = _split_sections(clean)
        return _parse_commands(sections.get("Commands", []))
    except Exception:
        return ()


# ---------------------------------------------------------------------------------------------


def _parse(text: str, command: str) -> CommandSpec:
    clean = strip_ansi(text)
    sections, preamble, warnings = _split_sections(clean)
    usage = _usage(preamble, sections.get("Commands", []))
    positional_lines = sections.get("Positionals", []) + sections.get("Arguments", [])
    positionals = _parse_positionals(positional_lines)
    options, opt_warnings = _parse_options(sections.get("Options", []) + sections.get("Flags", []))
    warnings.extend(opt_warnings)
    if "Options" not in sections and "Flags" not in sections:
        warnings.append("no 'Options:' section found: the help layout is not recognised")
    variadic = set(re.findall(r"[\[<]([\w-]+)\.\.[\]>]", usage))
    return CommandSpec(
        name=command,
        exists=True,
        usage=usage,
        positionals=tuple(
            PositionalSpec(p.name, p.type, p.description, p.required, p.name in variadic)
            for p in positionals
        ),
        options=options,
        subcommands=_parse_commands(sections.get("Commands", [])),
        warnings=tuple(warnings),
    )


def _split_sections(
    clean: str, heading: re.Pattern[str] = _SECTION, *, keep_blank: bool = True
) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """The text's sections by their ``heading`` (yargs' ``Options:``; 2.x's ``FLAGS``), the
    lines before any section, and warnings; an unindented line ends a section."""
    sections: dict[str, list[str]] = {}
    preamble: list[str] = []
    warnings: list[str] = []
    current: list[str] | None = None
    for raw in clean.split("\n"):
        line = raw.rstrip()
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
            if not warnings or not warnings[-1].startswith("over-long"):
                warnings.append(f"over-long line(s) cut to {MAX_LINE} characters")
        match = heading.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
            continue
        if current is None:
            preamble.append(line)
        elif line and not line[0].isspace():
            # an unindented line ends the section (epilog text, "Examples:", an error, ...)
            current = None
            preamble.append(line)
        elif line or keep_blank:
            current.append(line)
    return sections, preamble, warnings


def _usage(preamble: list[str], command_lines: list[str]) -> str:
    """The line that starts with the program's name (log noise and logos before it skipped);
    for the root, whose help has no such line, the ``[default]`` entry of ``Commands:``."""
    program = next((ln.split()[0] for ln in command_lines if ln.strip()), "opencode")
    for line in preamble:
        stripped = line.strip()
        if any(ch in _BLOCK_CHARS for ch in stripped):
            continue
        if stripped.split(" ", 1)[0] == program:
            return stripped
    for line in command_lines:
        stripped = line.strip()
        if stripped.endswith("[default]") and stripped.startswith(program):
            return re.split(r"\s{2,}", stripped, maxsplit=1)[0]
    return ""


def _parse_commands(lines: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    program: str | None = None
    for line in lines:
        words = line.split()
        if len(words) < 2 or not line.startswith("  ") or line.startswith("   " * 4):
            continue
        if program is None:
            program = words[0]
        if words[0] != program:
            continue
        name = words[1]
        if name[:1] in "[<":  # "opencode [project]": the default command is the root itself
            continue
        names.append(name)
        alias_match = re.search(r"\[aliases: ([^\]]{1,200})\]\s*$", line)
        if alias_match:
            names.extend(a.strip() for a in alias_match.group(1).split(",") if a.strip())
    return tuple(dict.fromkeys(names))


def _group_entries(lines: list[str], head: re.Pattern[str]) -> list[_Entry]:
    """Group a section's lines into entries: a head line plus its continuation lines."""
    entries: list[_Entry] = []
    first_indent: int | None = None
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        match = head.match(line)
        is_head = match is not None and (
            first_indent is None or indent <= first_indent + _FLAG_COLUMN_SLACK
        )
        if is_head and match is not None:
            if first_indent is None:
                first_indent = indent
            entries.append(_Entry(match.group(2), indent, [(match.group(3) or "").strip()]))
        elif entries:
            entries[-1].lines.append(line.strip())
        # text before the first entry of a section is ignored
    return entries


def _parse_options(lines: list[str]) -> tuple[dict[str, OptionSpec], list[str]]:
    options: dict[str, OptionSpec] = {}
    warnings: list[str] = []
    for entry in _group_entries(lines, _OPTION_HEAD):
        flags = [f.strip() for f in entry.head.split(",") if f.strip()]
        if not all(_FLAG_TOKEN.fullmatch(f) for f in flags):
            warnings.append(f"unreadable option line: {entry.head[:80]!r}")
            continue
        longs = [f[2:] for f in flags if f.startswith("--")]
        shorts = [f[1:] for f in flags if not f.startswith("--")]
        if longs:
            name, aliases = longs[0], tuple(shorts + longs[1:])
        else:
            name, aliases = shorts[0], tuple(shorts[1:])
        tags = _split_tags(" ".join(part for part in entry.lines if part))
        spec = OptionSpec(
            name=name,
            aliases=tuple(dict.fromkeys(aliases + tags.aliases)),
            type=tags.type,
            choices=tags.choices,
            default=tags.default,
            description=tags.description,
            required=tags.required,
        )
        if name in options:
            if options[name] != spec:
                warnings.append(f"option --{name} is listed twice with different details")
            continue  # duplicated line: keep the first
        options[name] = spec
    return options, warnings


def _parse_positionals(lines: list[str]) -> list[PositionalSpec]:
    result: list[PositionalSpec] = []
    for entry in _group_entries(lines, _POSITIONAL_HEAD):
        tags = _split_tags(" ".join(part for part in entry.lines if part))
        result.append(PositionalSpec(entry.head, tags.type, tags.description, tags.required))
    return result


def _split_tags(text: str) -> _Tags:
    """Split "description [string] [choices: "a", "b"] [default: x]" into its parts."""
    start = _TAG_START.search(text)
    if start is None:
        return _Tags(description=text.strip())
    description = text[: start.start()].strip()
    tags = _Tags(description=description)
    for tag in _bracket_groups(text[start.start() :]):
        if tag in _TYPES:
            tags.type = tags.type or tag
        elif tag == "required":
            tags.required = True
        elif tag.startswith("choices:"):
            tags.choices = tuple(_split_list(tag[len("choices:") :]))
        elif tag.startswith("default:"):
            tags.default = tag[len("default:") :].strip()
        elif tag.startswith("aliases:"):
            tags.aliases = tuple(a.lstrip("-") for a in _split_list(tag[len("aliases:") :]))
    return tags


def _bracket_groups(text: str) -> list[str]:
    """Top-level [...] groups, nesting- and quote-aware ("[default: []]" is one group)."""
    groups: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and depth > 0 and text[i - 1] in " :[,":
            quote = ch
        elif ch == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "]" and depth > 0:
            depth -= 1
            if depth == 0:
                groups.append(text[start:i].strip())
    return groups


def _split_list(text: str) -> list[str]:
    items = []
    for raw in text.split(","):
        item = raw.strip()
        if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
            item = item[1:-1]
        if item:
            items.append(item)
    return items


# --- the effect CLI framework's layout (OpenCode 2.x) -------------------------------------------

_EFFECT_SECTION = re.compile(
    r"^(DESCRIPTION|USAGE|ARGUMENTS|FLAGS|GLOBAL FLAGS|SUBCOMMANDS|COMMANDS)\s*$"
)
# "  --session, -s string    Session ID": names, an optional type word, then 2+ spaces
_EFFECT_FLAG = re.compile(
    r"^ +(-{1,2}[A-Za-z0-9][\w.-]*(?:, *-{1,2}[A-Za-z0-9][\w.-]*)*)"
    r"(?: ([A-Za-z][\w=<>|-]*))?(?: {2,}(.*))?$"
)
# "  directory string    Directory to start in (optional)"
_EFFECT_ARG = re.compile(r"^ +([A-Za-z][\w-]*(?:\.\.\.)?) ([A-Za-z][\w=<>|-]*)(?: {2,}(.*))?$")
_EFFECT_SUB = re.compile(r"^ +([A-Za-z][\w-]*)(?: {2,}.*)?$")


def _is_effect_layout(clean: str) -> bool:
    """USAGE and FLAGS headings, each alone on its line (yargs writes ``Options:``)."""
    headings = {
        m.group(1)
        for line in clean.split("\n")[:400]
        if (m := _EFFECT_SECTION.match(line.rstrip()[:MAX_LINE]))
    }
    return "USAGE" in headings and bool(headings & {"FLAGS", "GLOBAL FLAGS", "SUBCOMMANDS"})


def _effect_sections(clean: str) -> tuple[dict[str, list[str]], list[str]]:
    sections, _, warnings = _split_sections(clean, _EFFECT_SECTION, keep_blank=False)
    return sections, warnings


def _effect_commands(lines: list[str]) -> tuple[str, ...]:
    names = [m.group(1) for line in lines if (m := _EFFECT_SUB.match(line))]
    return tuple(dict.fromkeys(names))


def _parse_effect(clean: str, command: str) -> CommandSpec:
    sections, warnings = _effect_sections(clean)
    usage = next((line.strip() for line in sections.get("USAGE", []) if line.strip()), "")
    options: dict[str, OptionSpec] = {}
    for line in sections.get("FLAGS", []) + sections.get("GLOBAL FLAGS", []):
        match = _EFFECT_FLAG.match(line)
        if match is None:
            warnings.append(f"unreadable flag line: {line.strip()[:80]!r}")
            continue
        flags = [f.strip() for f in match.group(1).split(",") if f.strip()]
        longs = [f[2:] for f in flags if f.startswith("--")]
        shorts = [f[1:] for f in flags if not f.startswith("--")]
        name, aliases = (longs[0], shorts + longs[1:]) if longs else (shorts[0], shorts[1:])
        spec = OptionSpec(
            name=name,
            aliases=tuple(aliases),
            type=match.group(2) or "boolean",  # the framework prints no type for a boolean
            description=(match.group(3) or "").strip(),
        )
        if name in options:
            if options[name] != spec:
                warnings.append(f"option --{name} is listed twice with different details")
            continue
        options[name] = spec
    if not options:
        warnings.append("no flags found under FLAGS: the help layout is not recognised")
    positionals: list[PositionalSpec] = []
    for line in sections.get("ARGUMENTS", []):
        match = _EFFECT_ARG.match(line)
        if match is None:
            warnings.append(f"unreadable argument line: {line.strip()[:80]!r}")
            continue
        raw_name, description = match.group(1), (match.group(3) or "").strip()
        optional = description.endswith("(optional)")
        if optional:
            description = description[: -len("(optional)")].rstrip()
        positionals.append(
            PositionalSpec(
                raw_name.removesuffix("..."),
                match.group(2),
                description,
                not optional,
                raw_name.endswith("..."),
            )
        )
    return CommandSpec(
        name=command,
        exists=True,
        usage=usage,
        positionals=tuple(positionals),
        options=options,
        subcommands=_effect_commands(
            sections.get("SUBCOMMANDS", []) + sections.get("COMMANDS", [])
        ),
        warnings=tuple(warnings),
    )
