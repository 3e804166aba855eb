"""The decision says which kind of evidence stands behind its strategy: verified here on a
recorded release, verified on this machine (a local proof of this very binary), contract only,
or not verified. Pure: the proofs are data the edge passes in."""

from __future__ import annotations

from dataclasses import replace

from orch_doctor.decide.decision import decide
from orch_doctor.decide.evidence import LocalProof
from orch_doctor.decide.replay import recorded_server
from orch_doctor.decide.request import SpawnRequest
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.recorded import stored_capabilities
from orch_doctor.probe.types import VersionInfo
from tests.support.schemas import SCHEMA_VERSION, assert_valid

MATRIX = load_matrix(overrides=False)
REQUEST = SpawnRequest(directory="/srv/x", model="opencode/big-pickle", prompt="do it")
SHA = "ab" * 32


def _unrecorded(version: str = "1.18.40"):  # type: ignore[no-untyped-def]
    caps = stored_capabilities("1.18.33")
    return replace(caps, version=VersionInfo(raw=version, text=version, release=True))


def _contract(strategy: str):  # type: ignore[no-untyped-def]
    return replace(
        MATRIX,
        strategies=tuple(
            replace(s, evidence_kind="contract") if s.name == strategy else s
            for s in MATRIX.strategies
        ),
    )


def test_a_recorded_release_says_recorded() -> None:
    decision = decide(stored_capabilities("1.18.33"), None, REQUEST, MATRIX)
    assert decision.evidence is not None and decision.evidence.kind == "recorded"
    assert decision.evidence.said[0].startswith("verified on a real OpenCode 1.18.33")
    assert decision.to_json()["evidence"] == {
        "kind": "recorded",
        "said": list(decision.evidence.said),
    }


def test_an_unrecorded_release_without_a_proof_is_unverified() -> None:
    decision = decide(_unrecorded(), None, REQUEST, MATRIX)
    assert decision.evidence is not None and decision.evidence.kind == "unverified"
    assert decision.advisory("not-verified") is not None


def test_a_local_proof_makes_an_unrecorded_release_verified_on_this_machine() -> None:
    caps = _unrecorded()
    chosen = decide(caps, None, REQUEST, MATRIX).strategy
    proof = LocalProof(chosen, SHA, "2026-12-01", "1.18.40", "0.1.0")
    decision = decide(caps, None, REQUEST, MATRIX, proofs={chosen: proof})
    assert decision.strategy == chosen
    assert decision.evidence is not None and decision.evidence.kind == "local"
    said = decision.evidence.said
    assert said == (
        f"verified on this machine, 2026-12-01 (`orch-doctor verify` of {chosen} with this "
        "binary: OpenCode 1.18.40, sha256 abababababab…)",
    )
    assert said[0] in decision.reasons
    assert decision.advisory("not-verified") is None  # the local proof says more
    # a proof of another strategy says nothing about this one
    other = decide(caps, None, REQUEST, MATRIX, proofs={"attach-tui-api": replace(proof)})
    assert other.evidence is not None and other.evidence.kind == "unverified"


def test_a_recorded_release_with_a_local_proof_says_both() -> None:
    caps = stored_capabilities("1.18.33")
    chosen = decide(caps, None, REQUEST, MATRIX).strategy
    proof = LocalProof(chosen, SHA, "2026-12-01", "1.18.33")
    decision = decide(caps, None, REQUEST, MATRIX, proofs={chosen: proof})
    assert decision.evidence is not None and decision.evidence.kind == "local"
    local, recorded = decision.evidence.said
    assert local.startswith("verified on this machine, 2026-12-01")
    assert recorded.startswith("verified on a real OpenCode 1.18.33")


def test_a_contract_only_strategy_warns_with_how_to_prove_it() -> None:
    caps = _unrecorded("1.19.0")  # (a 2.x release is refused here until 2.x is known)
    chosen = decide(caps, None, REQUEST, MATRIX).strategy
    matrix = _contract(chosen)
    decision = decide(caps, None, REQUEST, matrix)
    assert decision.strategy == chosen
    assert decision.evidence is not None and decision.evidence.kind == "contract"
    assert decision.evidence.said[0].startswith(f"contract only: {chosen} is declared from")
    warning = decision.advisory("contract-only")
    assert warning is not None and warning.severity == "warn"
    assert warning in decision.warnings  # so --strict fails on it
    assert warning.fix == f"orch-doctor verify --strategy {chosen}"
    assert decision.advisory("not-verified") is None  # "verified on no release": said once
    assert decision.holds  # a plan that may deliver: a warning, not an error
    # proven on this machine: no warning, and the evidence says so
    proof = LocalProof(chosen, SHA, "2026-12-02", "1.19.0")
    proven = decide(caps, None, REQUEST, matrix, proofs={chosen: proof})
    assert proven.advisory("contract-only") is None
    assert proven.evidence is not None and proven.evidence.kind == "local"
    assert not [w for w in proven.warnings if w.id in ("contract-only", "not-verified")]


def test_a_recorded_failure_is_cleared_by_a_local_proof() -> None:
    import tomllib

    from orch_doctor.matrix.load import matrix_files, merge, read_toml

    docs = [
        (str(p), {k: v for k, v in read_toml(p).items() if k != "verification"})
        for p in matrix_files(overrides=False)
    ]
    record = (
        "[[verification]]\nrelease='1.18.33'\nstrategy='attach-session-api'\noutcome='failed'\n"
        "date='2026-11-24'\norch_doctor_version='0.1.0'\n"
    )
    docs.append(("extra.toml", tomllib.loads(record)))
    matrix = merge(docs)
    caps, server = stored_capabilities("1.18.33"), recorded_server("1.18.33")
    refused = decide(caps, server, REQUEST, matrix)
    assert refused.rejected["attach-session-api"].code == "recorded-failure"
    proof = LocalProof("attach-session-api", SHA, "2026-12-01", "1.18.33")
    decision = decide(caps, server, REQUEST, matrix, proofs={"attach-session-api": proof})
    assert decision.strategy == "attach-session-api"
    failed = decision.advisory("verify-failed")
    assert failed is not None and failed.severity == "info"
    assert "since verified on this machine, 2026-12-01" in failed.message


def test_the_plan_json_with_evidence_is_valid() -> None:
    caps = _unrecorded()
    chosen = decide(caps, None, REQUEST, MATRIX).strategy
    proof = LocalProof(chosen, SHA, "2026-12-01", "1.18.40")
    decision = decide(caps, None, REQUEST, MATRIX, proofs={chosen: proof})
    data = {**decision.to_json(), "matrix_files": [], "policy_file": None}
    data["discovered_server"] = None
    data["schema_version"] = SCHEMA_VERSION
    assert_valid("plan", data)
