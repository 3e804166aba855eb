"""Plans carry only flags the installed OpenCode has: a property over every stored release."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch_doctor.decide.decision import decide
from orch_doctor.decide.plan import build_plan, validate_argv, validate_plan
from orch_doctor.decide.replay import recorded_server
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.decide.steps import SESSION_ID, ProcessStep
from orch_doctor.errors import PlanValidationError
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities, stored_releases
from tests.support.examples import examples

MATRIX = load_matrix(overrides=False)
RELEASES = stored_releases()
CAPS = {v: stored_capabilities(v) for v in RELEASES}
SERVERS = {v: recorded_server(v) for v in RELEASES}

directories = st.builds(
    lambda parts: "/" + "/".join(parts),
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\0"),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    ),
) | st.sampled_from(["/tmp/with space", '/tmp/it\'s "quoted"', "/tmp/-dash", "/tmp/ünï cødé"])
prompts = (
    st.none()
    | st.text(min_size=1, max_size=200)
    | st.sampled_from(
        ["-starts with a dash", "--session x", "多言語のプロンプト 🚀", "line one\nline two"]
    )
)
models = st.none() | st.sampled_from(["opencode/big-pickle", "anthropic/claude-x", "a/b/c"])


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from(RELEASES),
    directory=directories,
    prompt=prompts,
    model=models,
    with_server=st.booleans(),
    auth=st.booleans(),
)
def test_every_plan_only_carries_flags_of_that_exact_command(
    version: str, directory: str, prompt: str | None, model: str | None, with_server: bool,
    auth: bool,
) -> None:  # fmt: skip
    caps = CAPS[version]
    server = SERVERS[version] if with_server else None
    if server is not None and auth:
        from dataclasses import replace

        server = replace(server, auth="basic")
    request = SpawnRequest(directory=directory, model=model, prompt=prompt)
    decision = decide(caps, server, request, MATRIX)
    if decision.plan is None:
        assert decision.strategy == "none" and decision.fix
        return
    validate_plan(decision.plan, caps)  # raises if any flag is missing
    for step in decision.plan.steps:
        if isinstance(step, ProcessStep):
            # a value learned while running is a Ref element; everything else is text
            assert all(isinstance(a, str) or a == SESSION_ID for a in step.argv)
            assert shlex.split(step.display()) == step.to_json()["argv"]
            if SESSION_ID in step.argv:
                where = str(list(step.argv).index(SESSION_ID))
                assert step.to_json()["refs"] == {f"/argv/{where}": "session_id"}
            else:
                assert step.to_json()["refs"] == {}
            spec = caps.command(step.command)
            assert spec.exists
            for token in step.argv[1:]:
                if not isinstance(token, str):
                    continue
                if token.startswith("--") and token.split("=")[0][2:] in spec.options:
                    continue
                assert not token.startswith("-") or token in (directory, prompt)
            if step.command == "root" and "--session" in step.argv:
                assert "--prompt" not in step.argv and not any(
                    isinstance(a, str) and a.startswith("--prompt=") for a in step.argv
                )
            assert "OPENCODE_SERVER_PASSWORD" not in step.display()
            if auth and with_server and decision.strategy.startswith("attach"):
                assert step.secret_env == ("OPENCODE_SERVER_PASSWORD",)


def test_the_seed_command_is_rejected_naming_the_missing_flags() -> None:
    caps = CAPS["1.0.152"]
    seed = ["opencode", "attach", "http://127.0.0.1:4096", "--session", "ses_1", "--model", "m/x"]
    with pytest.raises(PlanValidationError) as info:
        validate_argv(seed, "attach", caps)
    assert info.value.missing == ("--session", "--model")
    assert "--session" in str(info.value) and "--model" in str(info.value)
    # the same command is fine for the parts 1.18.33 has, and still not for --model
    with pytest.raises(PlanValidationError) as info:
        validate_argv(seed, "attach", CAPS["1.18.33"])
    assert info.value.missing == ("--model",)


def test_forcing_attach_session_on_1_0_152_cannot_be_built() -> None:
    request = SpawnRequest(directory="/tmp/x", prompt="hi")
    with pytest.raises(PlanValidationError) as info:
        build_plan("attach-session-api", CAPS["1.0.152"], request, server_url="http://h:1")
    assert "--session" in str(info.value)


def test_a_command_that_does_not_exist() -> None:
    with pytest.raises(PlanValidationError, match="does not exist"):
        validate_argv(["opencode", "attach", "http://x"], "attach", CAPS["0.5.29"])


def test_values_and_aliases() -> None:
    caps = CAPS["1.18.33"]
    validate_argv(["o", "attach", "u", "-s", "ses", "--dir=/x", "--no-replay"], "attach", caps)
    validate_argv(["o", "/d", "--prompt=-x", "--model", "a/b"], "root", caps)
    with pytest.raises(PlanValidationError):
        validate_argv(["o", "/d", "-p", "hello"], "root", caps)  # -p is not --prompt on 1.x


def _wait_steps() -> list[tuple[str, dict[str, object]]]:
    """Every wait step of every recorded release's plan, with and without a server."""
    from orch_doctor.decide.steps import WaitStep

    found = []
    for version in RELEASES:
        for server in (SERVERS[version], None):
            request = SpawnRequest(directory="/tmp/p", prompt="hello")
            plan = decide(CAPS[version], server, request, MATRIX).plan
            for step in plan.steps if plan else ():
                if isinstance(step, WaitStep):
                    found.append((version, step.to_json()))
    return found


def test_each_wait_condition_carries_its_parameters_in_the_schema() -> None:
    """A third-party executor can rely on the data: the plan schema demands, per condition,
    the params (and for tui-ready the markers) it needs, and rejects one without them."""
    import jsonschema

    from orch_doctor.decide.steps import WAIT_PARAMS, WaitCondition
    from orch_doctor.schemas import load_schema

    schema = load_schema("plan")
    step_schema = {"$defs": schema["$defs"], "$ref": "#/$defs/step"}
    validator = jsonschema.Draft202012Validator(step_schema)
    steps = _wait_steps()
    seen = {s["condition"] for _, s in steps}
    assert seen == {c.value for c in WaitCondition}  # every condition occurs in real plans
    for version, step in steps:
        assert validator.is_valid(step), (version, step)
        required, _ = WAIT_PARAMS[WaitCondition(str(step["condition"]))]
        if step["condition"] == "tui-ready":
            assert step["ready_markers"], version  # markers come from tui.toml for the release
        for key in required:
            params = dict(step["params"])  # type: ignore[call-overload]
            del params[key]
            assert not validator.is_valid({**step, "params": params}), (version, key)
        assert not validator.is_valid({**step, "params": {**step["params"], "extra": "x"}})  # type: ignore[dict-item]


def test_a_wait_step_without_its_parameters_cannot_be_made() -> None:
    from orch_doctor.decide.steps import WaitCondition, WaitStep

    with pytest.raises(ValueError, match="missing params"):
        WaitStep(WaitCondition.SESSION_CREATED, "x", params={"directory": "/tmp/p"})
    with pytest.raises(ValueError, match="does not take"):
        WaitStep(WaitCondition.MESSAGE_STORED, "x", params={"session_id": "s", "dir": "/"})
    with pytest.raises(ValueError, match="unknown wait condition"):
        WaitStep("tui-up", "x")  # type: ignore[arg-type]
    step = WaitStep("message-stored", "x", params={"session_id": SESSION_ID})  # type: ignore[arg-type]
    assert step.condition is WaitCondition.MESSAGE_STORED
    assert step.to_json()["condition"] == "message-stored"
