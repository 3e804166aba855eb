"""Check `directory`: spawn directory."""

from __future__ import annotations

import os
import shlex

from orch_doctor._util.directory import directory_problem
from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    path = ctx.directory
    problem = directory_problem(path)
    if problem is not None:
        return verdict("fail", problem.message, fix=problem.fix, alternatives=problem.alternatives)
    if not os.access(path, os.W_OK | os.X_OK):
        return verdict(
            "fail",
            f"{path} is not writable",
            fix=f"chmod u+w -- {shlex.quote(path)}",
            alternatives=("choose another --dir",),
        )
    return verdict("pass", f"{path} exists and is writable")


CHECK = Check("directory", "spawn directory", judge)
