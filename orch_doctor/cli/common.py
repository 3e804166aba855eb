"""Small pieces shared by the subcommands (no heavy imports)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from orch_doctor.cli.options import SelectionArgs
    from orch_doctor.resolve import Resolution, Selection
    from orch_doctor.schemas.shapes import Output

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


# JSON escapes C0 itself; these it would print raw (ensure_ascii=False keeps other text readable)
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def json_text(data: Any) -> str:
    """``data`` as indented JSON that is safe on a terminal: besides the C0 controls JSON always
    escapes, DEL, C1, bidi and line-separator characters and lone surrogates are ``\\uXXXX``
    escapes (they occur only inside strings, so the document is the same)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(data: Output) -> None:
    """Print ``data`` as terminal-safe JSON with ``schema_version`` first (its schema ships in
    orch_doctor/schemas/)."""
    from orch_doctor.schemas import versioned

    click.echo(json_text(versioned(data)))


def config_error(message: str) -> NoReturn:
    """A usage or configuration error: one clear line on stderr (control characters and
    newlines made visible), exit 2."""
    from orch_doctor._util.text import printable

    click.echo(f"orch-doctor: error: {printable(message, newlines=False)}", err=True)
    sys.exit(EXIT_USAGE)


#: a prompt is text for an agent; far larger than this is a mistake (and fits no argv)
PROMPT_MAX_BYTES = 1024 * 1024
_PROMPT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def read_prompt_file(path: Path) -> str:
    """The prompt in ``path`` ('-': stdin): UTF-8 text without control characters (tabs and
    newlines are fine), at most :data:`PROMPT_MAX_BYTES`; else a :class:`ConfigFileError`."""
    from orch_doctor._util.config_file import read_text
    from orch_doctor.errors import ConfigFileError

    shown = f"{PROMPT_MAX_BYTES // 1024} KiB"
    text = read_text(path, PROMPT_MAX_BYTES, shown, ConfigFileError, "--prompt-file", stdin=True)
    bad = _PROMPT_CONTROL.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ConfigFileError(
            path,
            "--prompt-file",
            f"contains a control character ({ord(bad.group()):#04x}, line {line})",
        )
    return text


def valid_model(model: str) -> bool:
    from orch_doctor.decide.rules import model_problem

    return model_problem(model) is None


def checked_request(
    prompt: str | None, prompt_file: str | Path | None, model: str | None
) -> str | None:
    """The prompt (``--prompt`` or ``--prompt-file``, not both) after the checks every command
    makes, and ``--model`` checked; a usage error (exit 2) naming what is wrong otherwise."""
    if prompt is not None and prompt_file is not None:
        config_error("give --prompt or --prompt-file, not both")
    if prompt_file is not None:
        from orch_doctor.errors import ConfigFileError

        try:
            prompt = read_prompt_file(Path(prompt_file))
        except ConfigFileError as exc:
            config_error(str(exc))
    if model is not None and not valid_model(model):
        config_error(f"--model must be provider/model, got {model!r}")
    return prompt


def selection_from(args: SelectionArgs, **overrides: Any) -> Selection:
    """The request the selection options select, after the checks every command makes (the
    prompt, the model: a usage error, exit 2, otherwise). ``overrides``: a command's own
    reading of one of them (verify's default directory)."""
    from dataclasses import replace

    from orch_doctor.resolve import Selection

    prompt = checked_request(args.prompt, args.prompt_file, args.model)
    selection = Selection(
        directory=args.directory,
        model=args.model,
        prompt=prompt,
        server_url=args.server_url,
        opencode=args.opencode,
        allow_standalone=args.allow_standalone,
        discover=not args.no_discover,
        refresh=args.refresh,
        matrix_files=tuple(args.matrix_files),
        policy_file=args.policy_file,
    )
    return replace(selection, **overrides) if overrides else selection


def resolve_selection(selection: Selection, **extra: Any) -> Resolution:
    """The request resolved (orch_doctor.resolve): its policy and matrix are read here, and a
    file that is not valid is a configuration error (exit 2) naming it."""
    from orch_doctor.errors import ConfigFileError
    from orch_doctor.resolve import Resolution

    try:
        return Resolution(selection, **extra)
    except ConfigFileError as exc:
        config_error(str(exc))
