"""Check `directory`: spawn directory."""

from __future__ import annotations

import os

from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    path = ctx.directory
    if not os.path.exists(path):
        return verdict("fail", f"{path} does not exist", fix=f"mkdir -p '{path}'")
    if not os.path.isdir(path):
        return verdict("fail", f"{path} is not a directory", fix="pass --dir with a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        return verdict(
            "fail",
            f"{path} is not writable",
            fix=f"chmod u+w '{path}' or choose another --dir",
        )
    return verdict("pass", f"{path} exists and is writable")


CHECK = Check("directory", "spawn directory", judge)
