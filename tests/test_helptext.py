"""The help parser over every stored real help text, plus layouts and hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch_doctor._util.text import strip_ansi
from orch_doctor.matrix.recorded import load_help_texts, stored_capabilities, stored_releases
from orch_doctor.probe.helptext import parse_help, parse_root_commands
from tests.support.examples import examples

# Hand-checked against the raw texts in compat_matrix/help/<version>/ (the flag column of each
# "Options:" section). Commands a release does not have are absent here and must not exist.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "0.5.29": {
        "root": {"agent", "continue", "help", "hostname", "log-level", "model", "port",
                 "print-logs", "prompt", "session", "version"},
        "run": {"agent", "continue", "help", "log-level", "model", "print-logs", "session",
                "share", "version"},
        "serve": {"help", "hostname", "log-level", "port", "print-logs", "version"},
    },
    "1.0.0": {
        "root": {"agent", "continue", "help", "hostname", "log-level", "model", "port",
                 "print-logs", "session", "version"},
        "attach": {"dir", "help", "log-level", "print-logs", "version"},
        "run": {"agent", "command", "continue", "file", "format", "help", "log-level", "model",
                "print-logs", "session", "share", "title", "version"},
        "serve": {"help", "hostname", "log-level", "port", "print-logs", "version"},
    },
    "1.0.152": {
        "root": {"agent", "continue", "help", "hostname", "log-level", "model", "port",
                 "print-logs", "prompt", "session", "version"},
        "attach": {"dir", "help", "log-level", "print-logs", "version"},
        "run": {"agent", "attach", "command", "continue", "file", "format", "help", "log-level",
                "model", "port", "print-logs", "session", "share", "title", "version"},
        "serve": {"help", "hostname", "log-level", "port", "print-logs", "version"},
    },
    "1.0.162": {
        "root": {"agent", "continue", "help", "hostname", "log-level", "model", "port",
                 "print-logs", "prompt", "session", "version"},
        "attach": {"dir", "help", "log-level", "print-logs", "session", "version"},
        "run": {"agent", "attach", "command", "continue", "file", "format", "help", "log-level",
                "model", "port", "print-logs", "session", "share", "title", "version"},
        "serve": {"help", "hostname", "log-level", "port", "print-logs", "version"},
    },
    "1.1.34": {
        "root": {"agent", "continue", "cors", "help", "hostname", "log-level", "mdns", "model",
                 "port", "print-logs", "prompt", "session", "version"},
        "attach": {"dir", "help", "log-level", "print-logs", "session", "version"},
        "run": {"agent", "attach", "command", "continue", "file", "format", "help", "log-level",
                "model", "port", "print-logs", "session", "share", "title", "variant",
                "version"},
        "serve": {"cors", "help", "hostname", "log-level", "mdns", "port", "print-logs",
                  "version"},
    },
    "1.2.27": {
        "root": {"agent", "continue", "cors", "fork", "help", "hostname", "log-level", "mdns",
                 "mdns-domain", "model", "port", "print-logs", "prompt", "session", "version"},
        "attach": {"continue", "dir", "fork", "help", "log-level", "password", "print-logs",
                   "session", "version"},
        "run": {"agent", "attach", "command", "continue", "dir", "file", "fork", "format",
                "help", "log-level", "model", "password", "port", "print-logs", "session",
                "share", "thinking", "title", "variant", "version"},
        "serve": {"cors", "help", "hostname", "log-level", "mdns", "mdns-domain", "port",
                  "print-logs", "version"},
    },
    "1.14.34": {
        "root": {"agent", "continue", "cors", "fork", "help", "hostname", "log-level", "mdns",
                 "mdns-domain", "model", "port", "print-logs", "prompt", "pure", "session",
                 "version"},
        "attach": {"continue", "dir", "fork", "help", "log-level", "password", "print-logs",
                   "pure", "session", "username", "version"},
        "run": {"agent", "attach", "command", "continue", "dangerously-skip-permissions", "dir",
                "file", "fork", "format", "help", "log-level", "model", "password", "port",
                "print-logs", "pure", "session", "share", "thinking", "title", "username",
                "variant", "version"},
        "serve": {"cors", "help", "hostname", "log-level", "mdns", "mdns-domain", "port",
                  "print-logs", "pure", "version"},
    },
    "1.18.33": {
        "root": {"agent", "auto", "continue", "cors", "fork", "help", "hostname", "log-level",
                 "mdns", "mdns-domain", "mini", "model", "no-replay", "port", "print-logs",
                 "prompt", "pure", "replay-limit", "session", "version"},
        "attach": {"continue", "dir", "fork", "help", "log-level", "mini", "no-replay",
                   "password", "print-logs", "pure", "replay-limit", "session", "username",
                   "version"},
        "run": {"agent", "attach", "auto", "command", "continue", "dir", "file", "fork",
                "format", "help", "interactive", "log-level", "model", "password", "port",
                "print-logs", "pure", "session", "share", "thinking", "title", "username",
                "variant", "version"},
        "serve": {"cors", "help", "hostname", "log-level", "mdns", "mdns-domain", "port",
                  "print-logs", "pure", "version"},
    },
}  # fmt: skip


def test_every_required_release_is_stored() -> None:
    assert set(EXPECTED) <= set(stored_releases())


@pytest.mark.parametrize("version", sorted(EXPECTED))
def test_exact_option_sets(version: str) -> None:
    caps = stored_capabilities(version)
    for command in ("root", "attach", "run", "serve"):
        spec = caps.command(command)
        if command in EXPECTED[version]:
            assert spec.exists, f"{version} {command} should exist"
            assert set(spec.options) == EXPECTED[version][command], f"{version} {command}"
            assert not spec.warnings, spec.warnings
        else:
            assert not spec.exists, f"{version} {command} should not exist"
            assert dict(spec.options) == {}


@pytest.mark.parametrize("version", stored_releases())
def test_every_stored_release_parses_without_warnings(version: str) -> None:
    caps = stored_capabilities(version)
    assert caps.command("root").exists
    assert caps.version is not None and caps.version.text == version
    if caps.version.release:
        assert caps.warnings == ()
    else:  # a dev build (0.0.0-dev-...): only the version is flagged
        assert caps.warnings == (f"version: {caps.version.problem}",)


def test_attach_of_1_0_152_has_only_dir() -> None:
    attach = stored_capabilities("1.0.152").command("attach")
    assert set(attach.options) == {"help", "version", "print-logs", "log-level", "dir"}
    assert not attach.has_flag("--session") and not attach.has_flag("-s")
    assert not attach.has_flag("--model")


def test_attach_session_alias_from_1_0_162_on() -> None:
    for version in ("1.0.162", "1.1.34", "1.18.33"):
        session = stored_capabilities(version).command("attach").options["session"]
        assert session.aliases == ("s",) and session.type == "string"


def test_0_5_29_has_no_attach_although_its_help_prints_root_help() -> None:
    texts = load_help_texts("0.5.29")
    assert "--session" in texts["attach"].text  # the root help, printed for "attach --help"
    caps = stored_capabilities("0.5.29")
    assert not caps.command("attach").exists
    assert "attach" not in parse_root_commands(texts["root"].text)


def test_option_details() -> None:
    root = stored_capabilities("1.18.33").command("root")
    assert root.options["log-level"].choices == ("DEBUG", "INFO", "WARN", "ERROR")
    assert root.options["log-level"].type == "string"
    assert root.options["port"].default == "0" and root.options["port"].type == "number"
    assert root.options["hostname"].default == '"127.0.0.1"'
    assert root.options["prompt"].aliases == ()  # 1.18.33: "--prompt" has no short form
    assert root.options["no-replay"].type == "boolean"  # a --no-x option keeps its name
    assert root.options["auto"].default == "false"  # [default] wrapped onto its own line
    assert root.options["cors"].default == "[]"  # nested brackets in a default
    # 0.5.29 (80 columns) wraps log-level's tags onto a continuation line
    old = stored_capabilities("0.5.29").command("root")
    assert old.options["log-level"].choices == ("DEBUG", "INFO", "WARN", "ERROR")
    assert old.options["prompt"].aliases == ("p",)
    assert old.options["hostname"].aliases == ("h",) and old.options["help"].aliases == ()


@pytest.mark.parametrize(
    ("version", "prompt_aliases", "serve_port_aliases"),
    [
        ("0.5.29", ("p",), ("p",)),
        ("1.0.0", None, ("p",)),  # 1.0.0's root has no --prompt at all
        ("1.0.152", ("p",), ("p",)),
        ("1.0.162", ("p",), ("p",)),
        ("1.1.11", (), ()),  # from 1.1 on neither has "-p"
        ("1.18.33", (), ()),
    ],
)
def test_short_p_as_measured(
    version: str, prompt_aliases: tuple[str, ...] | None, serve_port_aliases: tuple[str, ...]
) -> None:
    caps = stored_capabilities(version)
    prompt = caps.command("root").options.get("prompt")
    assert (prompt.aliases if prompt else None) == prompt_aliases
    assert caps.command("serve").options["port"].aliases == serve_port_aliases


def test_continuation_line_starting_with_a_flag_is_not_an_option() -> None:
    run = stored_capabilities("1.14.34").command("run")
    # "fork the session before continuing (requires --continue or\n  --session)"
    assert run.options["fork"].description.endswith("(requires --continue or --session)")
    assert run.options["fork"].type == "boolean"
    assert "session)" not in run.options


def test_tag_glued_to_description_and_type_on_its_own_line() -> None:
    attach = stored_capabilities("1.14.34").command("attach")
    assert attach.options["username"].type == "string"  # "...or 'opencode')[string]"
    attach_new = stored_capabilities("1.18.33").command("attach")
    assert attach_new.options["username"].type == "string"  # "[string]" on the next line
    assert attach_new.options["username"].aliases == ("u",)


def test_positionals_and_usage() -> None:
    run = stored_capabilities("1.18.33").command("run")
    assert run.usage == "opencode run [message..]"
    assert [(p.name, p.type, p.variadic) for p in run.positionals] == [("message", "array", True)]
    attach = stored_capabilities("1.18.33").command("attach")
    assert attach.positionals[0].name == "url" and attach.positionals[0].required


@pytest.mark.parametrize("version", ["1.0.152", "1.2.27", "1.14.34"])
def test_root_usage_is_the_default_entry_not_log_noise(version: str) -> None:
    # 1.2.27 prints an offline models.dev ERROR line and 1.14.34 a migration notice first
    root = stored_capabilities(version).command("root")
    assert root.usage == "opencode [project]"
    assert [p.name for p in root.positionals] == ["project"]


def test_root_command_list_includes_aliases() -> None:
    names = parse_root_commands(load_help_texts("1.18.33")["root"].text)
    assert {"attach", "run", "serve", "providers", "auth", "plugin", "plug"} <= set(names)
    assert "[project]" not in names


def test_ansi_logo_is_stripped() -> None:
    raw = load_help_texts("1.0.152")["root"].text
    assert "\x1b" in raw
    assert "\x1b" not in strip_ansi(raw)
    assert parse_help(raw, "root").warnings == ()


SAMPLE = """opencode attach <url>

attach to a running opencode server

Options:
  -h, --help        show help                                                              [boolean]
      --dir         directory to run in                                                     [string]
      --dir         directory to run in                                                     [string]
      --no-color    disable colour                                                         [boolean]
  -x                a short-only flag                                                      [boolean]
"""


def test_duplicated_lines_short_only_flags_and_negations() -> None:
    spec = parse_help(SAMPLE, "attach")
    assert set(spec.options) == {"help", "dir", "no-color", "x"}
    assert spec.warnings == ()


def test_same_option_twice_with_different_details_warns() -> None:
    text = SAMPLE.replace(
        "      --no-color", "      --dir         other text  [number]\n      --no-color"
    )
    spec = parse_help(text, "attach")
    assert any("--dir is listed twice" in w for w in spec.warnings)


def test_unknown_layout_degrades_with_a_warning() -> None:
    spec = parse_help("USAGE: opencode [flags]\n\nFLAGS\n  --dir string   directory\n", "attach")
    assert spec.options == {}
    assert any("not recognised" in w for w in spec.warnings)


def test_megabyte_of_input_in_bounded_time() -> None:
    real = load_help_texts("1.18.33")["run"].text
    nasty = [
        real * (1_000_000 // len(real)),
        "Options:\n" + ("  --" + "a-" * 5000 + "  [" * 200 + "\n") * 40,
        "Options:\n" + " " * 1_000_000,
        "Options:\n  --x  [default: " + '"' * 500_000 + "]\n",
        "Commands:\n" + "  opencode " * 100_000,
    ]
    for text in nasty:
        start = time.monotonic()
        parse_help(text, "run")
        parse_root_commands(text)
        # a correctness guard against catastrophic backtracking, not a speed goal
        assert time.monotonic() - start < 10


_fixture_texts = [t.text for v in stored_releases() for t in load_help_texts(v).values()]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=2000))
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    spec = parse_help(text, "attach")
    assert spec.name == "attach"
    parse_root_commands(text)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_fixture_texts),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=400),
    st.text(alphabet="-[]\"' ,:\n\x1b()=", max_size=40),
)
def test_parser_never_raises_on_mutated_real_help(
    base: str, position: int, cut: int, insert: str
) -> None:
    position %= max(1, len(base))
    mutated = base[:position] + insert + base[position + cut :]
    spec = parse_help(mutated, "run")
    for name, option in spec.options.items():
        assert name and not name.startswith("-")
        assert all(not alias.startswith("-") for alias in option.aliases)


# --- OpenCode 2.x: help in the effect CLI framework's layout (derived from source, not run) ------


def test_derived_2x_help_is_labelled_as_derived() -> None:
    from orch_doctor.matrix.recorded import release_meta

    meta = release_meta("2.0.0")
    assert meta["synthesized"] is True and meta["run_here"] is False
    assert meta["derived"] == "source"
    assert meta["derived_from"].startswith("anomalyco/opencode@")
    assert "not run here" in meta["evidence"]


def test_derived_2x_root_help_parses() -> None:
    caps = stored_capabilities("2.0.0")
    root = caps.command("root")
    assert not root.warnings
    assert set(root.options) == {"standalone", "server", "auto", "continue", "session",
                                 "prompt", "model", "print-logs"}  # fmt: skip
    assert root.options["session"].aliases == ("s",) and root.options["session"].type == "string"
    assert root.options["server"].type == "string"
    assert root.options["standalone"].type == "boolean"  # no type printed: a boolean
    assert [(p.name, p.required) for p in root.positionals] == [("directory", False)]
    assert {"run", "serve", "service", "api", "mini"} <= set(root.subcommands)
    assert caps.version is not None and caps.version.text == "2.0.0"  # "opencode v2.0.0"


def test_derived_2x_has_no_attach_and_its_run_and_serve_parse() -> None:
    caps = stored_capabilities("2.0.0")
    assert not caps.command("attach").exists  # not in SUBCOMMANDS (its help is the root's)
    run = caps.command("run")
    assert run.exists and {"server", "session", "model", "title", "format"} <= set(run.options)
    assert run.positionals[0].name == "message" and run.positionals[0].variadic
    serve = caps.command("serve")
    assert serve.options["port"].type == "integer" and serve.options["stdio"].type == "boolean"


def test_effect_layout_with_colours_and_unknown_lines() -> None:
    text = (
        "\x1b[1mUSAGE\x1b[0m\n  \x1b[36mopencode2 [flags]\x1b[0m\n\n\x1b[1mFLAGS\x1b[0m\n"
        "  \x1b[32m--server\x1b[0m \x1b[2mstring\x1b[0m    Connect to a server URL\n"
        "  ??? not a flag\n"
    )
    spec = parse_help(text, "root")
    assert spec.usage == "opencode2 [flags]"
    assert spec.options["server"].type == "string"
    assert any("unreadable flag line" in w for w in spec.warnings)
    assert parse_root_commands(text) == ()


def test_yargs_text_mentioning_usage_is_not_read_as_effect_layout() -> None:
    # a 1.x help whose epilog says "USAGE" is still parsed as yargs
    text = "opencode attach <url>\n\nOptions:\n  --dir  directory  [string]\n\nUSAGE\n"
    spec = parse_help(text, "attach")
    assert spec.options["dir"].type == "string"
