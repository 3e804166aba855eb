"""Run the doctor's checks concurrently, each with its own timeout; a crash becomes a failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from orch_doctor import __version__
from orch_doctor.decide.decision import Decision
from orch_doctor.doctor.checks import CHECKS, Check
from orch_doctor.doctor.context import DoctorContext, DoctorOptions
from orch_doctor.doctor.types import CheckResult, DoctorStatus
from orch_doctor.matrix.types import Matrix
from orch_doctor.probe.types import Capabilities
from orch_doctor.resolve.policy import Policy
from orch_doctor.server.types import ServerStatus

if TYPE_CHECKING:
    from orch_doctor.schemas.shapes import DoctorJSON


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[CheckResult, ...]
    capabilities: Capabilities | None
    server: ServerStatus | None
    decision: Decision | None
    matrix_files: tuple[str, ...]
    policy_file: str | None
    duration_s: float

    @property
    def status(self) -> DoctorStatus:
        statuses = {c.status for c in self.checks}
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"

    def exit_code(self, strict: bool = False) -> Literal[0, 1]:
        if self.status == "fail" or (strict and self.status == "warn"):
            return 1
        return 0

    def to_json(self, strict: bool = False) -> DoctorJSON:
        return {
            "tool": {"name": "orch-doctor", "version": __version__},
            "status": self.status,
            "exit_code": self.exit_code(strict),
            "strict": strict,
            "duration_s": round(self.duration_s, 3),
            "checks": [c.to_json() for c in self.checks],
            "capabilities": self.capabilities.to_json() if self.capabilities else None,
            "server": self.server.to_json() if self.server else None,
            "decision": self.decision.to_json() if self.decision else None,
            "matrix_files": list(self.matrix_files),
            "policy_file": self.policy_file,
        }


def run_doctor(
    options: DoctorOptions,
    policy: Policy,
    matrix: Matrix,
    checks: tuple[Check, ...] = CHECKS,
    capabilities: Callable[[], Capabilities] | None = None,
) -> DoctorReport:
    """Run ``checks``; ``capabilities`` may finish a binary probe started earlier."""
    start = time.monotonic()
    ctx = DoctorContext(options=options, policy=policy, matrix=matrix)
    if capabilities is not None:
        ctx.capabilities.adopt(capabilities)
    wanted = [c for c in checks if c.id not in policy.skip_checks]
    with ThreadPoolExecutor(max_workers=len(wanted) + 2) as pool:
        # both probes start at once: their latencies overlap
        ctx.capabilities.start(pool)
        ctx.server.start(pool)
        futures = [(check, pool.submit(_run_one, check, ctx)) for check in wanted]
        results = []
        for check, future in futures:
            remaining = max(0.0, check.timeout_s - (time.monotonic() - start))
            try:
                results.append(future.result(timeout=remaining))
            except FutureTimeout:
                results.append(
                    CheckResult(
                        check.id, check.title, "fail",
                        f"the check did not finish within {check.timeout_s:g}s",
                        alternatives=("run again with -v: a probe is hanging (see the other "
                                      "checks)",),
                    )
                )  # fmt: skip
        skipped = [
            CheckResult(c.id, c.title, "skip", "skipped by policy", (f"policy: {policy.source}",))
            for c in checks
            if c.id in policy.skip_checks
        ]
        by_id = {r.id: r for r in [*results, *skipped]}
        ordered = tuple(by_id[c.id] for c in checks)
        return DoctorReport(
            checks=ordered,
            capabilities=_value(ctx.capabilities.get),
            server=_value(ctx.server.get),
            decision=_value(ctx.decision.get),
            matrix_files=matrix.files,
            policy_file=policy.source,
            duration_s=time.monotonic() - start,
        )


def _run_one(check: Check, ctx: DoctorContext) -> CheckResult:
    start = time.monotonic()
    try:
        result = check.run(ctx)
    except Exception as exc:  # a crashing check is a failed check, not a traceback
        result = CheckResult(
            check.id, check.title, "fail", f"the check crashed: {type(exc).__name__}: {exc}",
            alternatives=("report this as a bug in orch-doctor, with the output of -v",),
        )  # fmt: skip
    from dataclasses import replace

    return replace(result, duration_s=time.monotonic() - start)


def _value(get: Any) -> Any:
    try:
        return get()
    except Exception:
        return None
