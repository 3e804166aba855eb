"""Check `model`: model."""

from __future__ import annotations

import shlex

from orch_doctor.doctor.checks.base import Check, Verdict, verdict
from orch_doctor.doctor.context import DoctorContext


def judge(ctx: DoctorContext) -> Verdict:
    model = ctx.options.model
    if not model:
        return verdict("skip", "no model given (--model provider/model)")
    from orch_doctor.decide.rules import model_problem

    provider = model.partition("/")[0]
    if model_problem(model) is not None:
        return verdict(
            "fail",
            f"{model!r} is not provider/model",
            fix="opencode models",
            alternatives=("pass --model as provider/model, e.g. --model opencode/big-pickle",),
        )
    server = ctx.server.get()
    if server is None or not server.ok:
        return verdict("pass", f"{model} (format ok; no server to ask)")
    from orch_doctor.server.probe import server_models

    known = server_models(
        server.url, credentials=ctx.credentials, timeout_s=ctx.options.server_timeout_s
    )
    if known is None:
        return verdict(
            "warn",
            f"{model}: the server did not list its models",
            fix=f"curl -sS -- {shlex.quote(server.url + '/config/providers')}",
        )
    if model not in known:
        same = sorted(m for m in known if m.startswith(provider + "/"))[:8]
        return verdict(
            "fail",
            f"{model} is not known to the server",
            *(f"known: {m}" for m in same),
            fix="opencode models",
            alternatives=("configure the provider",),
        )
    return verdict("pass", f"{model} is known to the server")


CHECK = Check("model", "model", judge)
