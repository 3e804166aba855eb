"""``orch-doctor spawn``: decide, then run the plan in a new window of the caller's tmux session.

Exit codes: 0 the prompt was delivered (the agent runs on in the window); 1 not delivered (the
failed step, what was expected and seen, and the fix are printed); 2 usage or configuration
error (a bad flag, a tmux session that does not exist). No possible strategy is exit 1.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from orch_doctor.cli.common import config_error, emit_json, resolve_selection, selection_from
from orch_doctor.cli.helptext import epilog
from orch_doctor.cli.options import format_option, selection_options, timeout_option

if TYPE_CHECKING:
    from orch_doctor.cli.options import SelectionArgs

EXIT_DELIVERED = 0
EXIT_NOT_DELIVERED = 1
EXIT_USAGE = 2


@click.command(epilog=epilog("spawn"))
@selection_options(dir_required=True, dir_help="Directory of the agent.",
                   prompt_help="The agent's first prompt.")  # fmt: skip
@click.option(
    "--tmux-target",
    metavar="SESSION:WINDOW",
    required=True,
    help="Open WINDOW in the existing tmux SESSION (the server plain `tmux` addresses).",
)
@click.option("--tmux-socket", metavar="NAME", help="tmux socket name (tmux -L NAME).")
@timeout_option(120.0, "Overall time limit in seconds.", minimum=0.1)
@format_option()
def spawn(
    selection: SelectionArgs,
    tmux_target: str,
    tmux_socket: str | None,
    timeout_s: float,
    output_format: str,
) -> None:
    """Spawn an agent: pick the strategy, run its plan in a tmux window, confirm delivery."""
    from orch_doctor._util.text import printable
    from orch_doctor.decide.advice import CONDITION_UNMEASURED
    from orch_doctor.errors import TmuxTargetError
    from orch_doctor.execute.spawn import SpawnFailureCode, SpawnResult, execute_plan
    from orch_doctor.execute.terminal import parse_tmux_target
    from orch_doctor.report.steps import finished_line, phase_line, started_line, warning_lines

    request = selection_from(selection)
    try:
        parse_tmux_target(tmux_target)
    except TmuxTargetError as exc:
        config_error(str(exc))
    text = output_format == "text"
    begin = time.monotonic()
    # the same resolution as the doctor and plan: the named server, else one running here
    resolution = resolve_selection(request)
    credentials = resolution.credentials  # never shown
    if text:
        what = "probe OpenCode" + (
            " and the server" if resolution.server_url else
            (" and look for a server running here" if request.discover else "")
        ) + ", decide"  # fmt: skip
        click.echo(phase_line(what, 0.0))
    decision = resolution.decision.get()
    if text and resolution.discovery is not None:
        choice = resolution.discovery
        click.echo(printable(f"server found running: {choice.chosen.url} ({choice.reason})"))
    unmeasured = decision.advisory(CONDITION_UNMEASURED) if decision.plan is not None else None
    if decision.plan is None or unmeasured is not None:
        # not ✓ (plan exits 1): no spawn that rests on a condition nobody measured
        problem = (
            f"{decision.strategy} is not ✓ here: {unmeasured.message}"
            if unmeasured is not None
            else "no spawn strategy is possible: "
            + "; ".join(f"{k}: {v.message}" for k, v in decision.rejected.items())
        )
        fix = unmeasured.fix if unmeasured is not None else decision.fix
        code: SpawnFailureCode = "not-measured" if unmeasured is not None else "no-strategy"
        if text:
            click.echo(f"NOT SPAWNED: {printable(problem)}\nfix: {printable(fix or '')}")
        else:
            emit_json(
                SpawnResult(
                    ok=False, session_id=None, target=tmux_target, strategy=decision.strategy,
                    code=code, problem=problem, fix=fix, wall_s=time.monotonic() - begin,
                ).to_json() | {"warnings": [a.to_json() for a in decision.warnings]}
            )  # fmt: skip
        sys.exit(EXIT_NOT_DELIVERED)
    if text:
        click.echo(f"strategy: {decision.strategy} -> {printable(tmux_target, newlines=False)}")
        # what `plan` warns about is said before anything runs (a CVE, a failed verify, ...)
        for line in warning_lines(decision.warnings):
            click.echo(line)

    def started(index: int, step: Any) -> None:
        if text:
            click.echo(started_line(index, step, time.monotonic() - begin))

    def finished(step: Any) -> None:
        if text:
            click.echo(finished_line(step))

    try:
        result = execute_plan(
            decision.plan,
            tmux_target=tmux_target,
            tmux_socket=tmux_socket,
            credentials=credentials,
            # --timeout bounds the whole command: what the decision took is spent
            timeout_s=max(timeout_s - (time.monotonic() - begin), 0.1),
            on_step=finished,
            on_step_start=started,
        )
    except TmuxTargetError as exc:
        config_error(str(exc))
    if not text:
        emit_json({**result.to_json(), "warnings": [a.to_json() for a in decision.warnings]})
    else:
        if result.ok:
            click.echo(
                f"DELIVERED in {time.monotonic() - begin:.1f}s: "
                + (
                    f"session {printable(result.session_id, newlines=False)}"
                    if result.session_id
                    else "the TUI (no server: no session id)"
                )
                + f" runs in tmux window {printable(result.target or '', newlines=False)}"
                + (f" ({printable(result.window_id, newlines=False)})" if result.window_id else "")
            )
        else:
            click.echo(f"NOT DELIVERED: {printable(result.problem or '')}")
            if result.fix:
                click.echo(f"fix: {printable(result.fix)}")
    sys.exit(EXIT_DELIVERED if result.ok else EXIT_NOT_DELIVERED)
