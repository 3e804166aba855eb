"""``orch-doctor verify``: run the chosen (or forced) spawn plan for real and confirm delivery.

Exit codes: 0 verified; 1 not verified (a step failed or delivery was not confirmed);
2 usage or configuration error — including a forced ``--strategy`` whose flags this OpenCode
does not have: nothing was run, so there is no verdict on the release, only a request it cannot
honour (plan validation names the missing flag).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from orch_doctor.cli.common import config_error, emit_json, selection_from
from orch_doctor.cli.epilog import epilog
from orch_doctor.cli.options import format_option, selection_options, timeout_option
from orch_doctor.matrix.types import PLAN_STRATEGIES, strategy_name

if TYPE_CHECKING:
    from orch_doctor.cli.options import SelectionArgs

EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1
EXIT_USAGE = 2


@click.command(epilog=epilog("verify"))
@selection_options(
    dir_help="Directory of the agent (default: a fresh temp project dir).",
    server_help="Use this server, not a throwaway one.",
    prompt_help="Prompt to deliver (default: a unique marker).",
    discover_help="Accepted for the same options as every command: verify never looks for a "
    "server running here (it starts a throwaway one unless --server is given).",
)
@click.option(
    "--strategy",
    type=click.Choice(PLAN_STRATEGIES),
    help="Force this strategy (even one the matrix demoted); its flags must exist.",
)
@click.option(
    "--no-server",
    is_flag=True,
    help="Decide as if no server ran (standalone strategies); a server sharing the isolated "
    "data dir only reads the result.",
)
@click.option("--keep", is_flag=True, help="Leave the TUI, server and temp dir for inspection.")
@timeout_option(120.0, "Overall time limit in seconds.", minimum=0.1)
@click.option(
    "--terminal",
    type=click.Choice(["tmux", "pty"]),
    help="Terminal for the TUI (default: tmux when installed, else a pseudo-terminal).",
)
@format_option()
def verify(
    selection: SelectionArgs,
    strategy: str | None,
    no_server: bool,
    keep: bool,
    timeout_s: float,
    terminal: str | None,
    output_format: str,
) -> None:
    """Execute the spawn plan against a throwaway OpenCode server and confirm the prompt arrived."""
    from orch_doctor.errors import ConfigFileError, PlanValidationError, VerifyRefused
    from orch_doctor.execute.executor import StepReport
    from orch_doctor.report.steps import finished_line, phase_line, started_line
    from orch_doctor.server.credentials import credentials_from_env, split_userinfo
    from orch_doctor.verify.run import VerifyOptions, run_verify

    request = selection_from(selection)
    if request.server_url and no_server:
        config_error("give --server or --no-server, not both")
    # a URL's user:password@ is never shown; it is the password when the environment has none
    server_url = request.server_url
    server_url, url_credentials = split_userinfo(server_url) if server_url else (None, None)
    options = VerifyOptions(
        opencode=request.opencode,
        directory=request.directory,
        model=request.model,
        prompt=request.prompt,
        strategy=strategy_name(strategy) if strategy else None,
        server_url=server_url,
        no_server=no_server,
        keep=keep,
        timeout_s=timeout_s,
        terminal=terminal,
        matrix_files=request.matrix_files,
        credentials=(credentials_from_env() or url_credentials) if server_url else None,
        allow_standalone=request.allow_standalone,
        refresh=request.refresh,
        policy_file=request.policy_file,
    )
    text = output_format == "text"

    begin = time.monotonic()

    def progress(step: StepReport) -> None:
        if text:
            click.echo(finished_line(step))

    def starting(index: int, step: Any) -> None:
        if text:
            click.echo(started_line(index, step, time.monotonic() - begin))

    def phase(what: str) -> None:
        if text:
            click.echo(phase_line(what, time.monotonic() - begin))

    # SIGINT/SIGTERM: the group's handler (cli/signals.py) stops everything the run registered
    # and exits 130/143 at once
    try:
        report = run_verify(options, on_step=progress, on_step_start=starting, on_phase=phase)
    except PlanValidationError as exc:
        config_error(f"--strategy {strategy} cannot run on this OpenCode: {exc}")
    except VerifyRefused as exc:
        config_error(f"{exc}" + (f" (fix: {exc.fix})" if exc.fix else ""))
    except ConfigFileError as exc:  # the matrix or the policy
        config_error(str(exc))
    except KeyboardInterrupt:  # only where no handler could be installed (not the main thread)
        click.echo("orch-doctor: verify interrupted; its clean-up ran", err=True)
        sys.exit(130)
    if output_format == "json":
        emit_json(report.to_json())
    else:
        click.echo(_summary(report))
    sys.exit(EXIT_VERIFIED if report.verified else EXIT_NOT_VERIFIED)


def _summary(report: Any) -> str:
    from orch_doctor._util.text import printable
    from orch_doctor.report.status import glyphs_ok, mark

    plain = not glyphs_ok()
    lines = []
    who = f"OpenCode {report.release or '?'} ({report.binary or 'no binary'})"
    forced = " (forced)" if report.forced else ""
    lines.append(f"strategy: {report.strategy or '-'}{forced} on {who}")
    if report.server_url:
        kind = "throwaway server" if report.throwaway_server else "server"
        lines.append(f"{kind}: {report.server_url}")
    if report.confirmation is not None:
        for check in report.confirmation.checks:
            status = mark("pass" if check.ok else "fail", ascii=plain, styled=False, pad=plain)
            lines.append(f"  {status} {check.name}: {printable(check.detail, newlines=False)}")
    if report.verified:
        lines.append(f"VERIFIED in {report.wall_s:.1f}s: the prompt reached the session")
        if report.proof:
            lines.append(f"kept as proof on this machine: {printable(report.proof)}")
    else:
        lines.append(f"NOT VERIFIED ({report.wall_s:.1f}s): {printable(report.problem or '')}")
        if report.fix:
            lines.append(f"fix: {printable(report.fix)}")
        if report.last_screen.strip():
            from orch_doctor.execute.executor import screen_tail

            tail = screen_tail(report.last_screen, 15).splitlines()
            lines.append("last screen:")
            lines.extend("  | " + printable(ln, newlines=False) for ln in tail)
    if report.kept:
        lines.extend(f"kept: {note}" for note in report.kept)
    elif report.removed:
        lines.append("cleaned up: " + "; ".join(report.removed))
    for item in report.left:
        lines.append(f"NOT cleaned up: {item}")
    return "\n".join(lines)
