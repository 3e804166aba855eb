"""``orch-doctor probe`` as text and JSON: which OpenCode runs, why, and every command's flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orch_doctor.probe.types import BinaryCandidate, BinaryFinding, Capabilities

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import CandidateJSON, DiscoveryJSON, ProbeJSON


def probe_json(caps: Capabilities) -> ProbeJSON:
    finding = finding_json(caps.finding) if caps.finding is not None else None
    return {**caps.to_json(), "discovery": finding}


def finding_json(finding: BinaryFinding) -> DiscoveryJSON:
    def cand(c: BinaryCandidate) -> CandidateJSON:
        return {
            "path": c.path,
            "source": c.source,
            "resolved": c.resolved,
            "usable": c.usable,
            "problem": c.problem,
            "fix": c.fix,
            "version": c.version,
        }

    return {
        "chosen": cand(finding.chosen) if finding.chosen else None,
        "reason": finding.reason,
        "shadowed": [cand(c) for c in finding.shadowed],
        "candidates": [cand(c) for c in finding.candidates],
        "problem": finding.problem,
        "fix": finding.fix,
    }


def render_probe(caps: Capabilities) -> None:
    from rich.table import Table

    from orch_doctor.report.console import make_console

    # help text and --version output are the binary's: shown() makes control characters
    # visible and escapes markup
    from orch_doctor.report.console import shown as escape

    # piped: no path is broken across lines and no table is squeezed to 80 columns
    console = make_console()
    warn = console.mark("warn")
    finding = caps.finding
    if finding is not None and finding.chosen is None:
        console.print(f"{console.mark('fail')} {escape(finding.problem or '')}")
        if finding.fix:
            console.print(f"  fix: {escape(finding.fix)}")
        for c in finding.candidates:
            if c.problem and c.problem != "missing":
                console.print(escape(f"  {c.source}: {c.path}: {c.problem}"))
        return
    version = caps.version
    vtext = version.text if version and version.text else "unknown"
    console.print(f"[bold]OpenCode[/] {escape(vtext)}  {escape(str(caps.binary_path))}")
    if finding is not None and finding.reason:
        console.print(escape(f"  chosen because: {finding.reason}"))
    if caps.identified_as:
        console.print(f"  {escape(caps.identified_as)}")
    if version is not None and version.problem:
        console.print(f"  {warn} version: {escape(version.problem)}")
    if finding is not None:
        for c in finding.shadowed:
            other = f"{c.path} ({c.source}, version {c.version or 'unknown'})"
            if finding.named:  # the caller chose the binary: the others are only also there
                console.print("  " + escape(f"also installed, not run: {other}"))
            else:
                console.print(f"  {warn} " + escape(f"shadows {other}"))
    for name, spec in caps.commands.items():
        if not spec.exists:
            console.print(f"\n[bold]{escape(name)}[/]: [dim]not available in this release[/]")
            continue
        table = Table(title=escape(f"{name}: {spec.usage or name}"), title_justify="left", box=None)
        table.add_column("option")
        table.add_column("aliases")
        table.add_column("type")
        table.add_column("description")
        for opt_name, opt in spec.options.items():
            table.add_row(
                escape(f"--{opt_name}"),
                escape(", ".join(f"-{a}" if len(a) == 1 else f"--{a}" for a in opt.aliases)),
                escape(opt.type or ""),
                escape(opt.description),
            )
        console.print()
        console.print(table)
    for warning in caps.warnings:
        console.print(f"{warn} {escape(warning)}")
