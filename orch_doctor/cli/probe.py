"""``orch-doctor probe``: which OpenCode runs here and what each of its commands supports."""

from __future__ import annotations

import sys

import click

from orch_doctor.cli.common import emit_json
from orch_doctor.cli.helptext import epilog
from orch_doctor.cli.options import format_option, opencode_option, timeout_option


@click.command(epilog=epilog("probe"))
@opencode_option("OpenCode binary to probe (default: discover).")
@format_option()
@timeout_option(20.0, "Seconds each OpenCode call may take.", minimum=0.1)
def probe(opencode: str | None, output_format: str, timeout_s: float) -> None:
    """Find OpenCode, read its version and parse every subcommand's flags."""
    from orch_doctor.probe.binary import probe_installed

    caps = probe_installed(opencode, timeout_s=timeout_s)
    if caps.binary_path is not None:  # measured anyway; say when it is a published release
        from dataclasses import replace

        from orch_doctor.matrix import identify_published

        known = identify_published(caps.binary_path)
        if known is not None:
            caps = replace(caps, identified_as=known.identified_as)
    from orch_doctor.report.probe import probe_json, render_probe

    if output_format == "json":
        emit_json(probe_json(caps))
    else:
        render_probe(caps)
    failed = caps.binary_path is None or not caps.command("root").exists
    sys.exit(1 if failed else 0)
