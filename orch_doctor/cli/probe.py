"""``orch-doctor probe``: which OpenCode runs here and what each of its commands supports."""

from __future__ import annotations

import sys

import click

from orch_doctor.cli.common import emit_json
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import format_option, opencode_option, refresh_option, timeout_option


@click.command(epilog=epilog("probe"))
@opencode_option("OpenCode binary to probe (default: discover).")
@format_option()
@timeout_option(20.0, "Seconds each OpenCode call may take.", minimum=0.1)
@refresh_option()
def probe(opencode: str | None, output_format: str, timeout_s: float, refresh: bool) -> None:
    """Find OpenCode, read its version and parse every subcommand's flags.

    What was read from a binary is cached by the binary's identity, and a binary identical to a
    published release is known by its digest without running it: --refresh runs it again."""
    from orch_doctor.matrix import identify_published
    from orch_doctor.probe.binary import start_probe_installed

    def published_as(path: str) -> str | None:  # measured anyway: is it a published release
        known = identify_published(path)
        return known.identified_as if known is not None else None

    # --refresh writes the cache entry afresh (a failed or timed-out call is never cached)
    caps = start_probe_installed(
        opencode,
        timeout_s=timeout_s,
        use_cache=True,
        refresh=refresh,
        known=None if refresh else identify_published,
        identify=published_as if refresh else None,
    ).result()
    from orch_doctor.report.probe import probe_json, render_probe

    if output_format == "json":
        emit_json(probe_json(caps))
    else:
        render_probe(caps)
    failed = caps.binary_path is None or not caps.command("root").exists
    sys.exit(1 if failed else 0)
