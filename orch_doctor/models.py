"""Compatibility re-exports for callers of orch-doctor 0.1.0 (``from orch_doctor.models import
ProcessStep``). Each type now lives in the pipeline stage that owns it; import them from
:mod:`orch_doctor.api`. Nothing inside orch-doctor imports this module."""

from orch_doctor.api import (
    Capabilities,
    CommandSpec,
    Decision,
    HttpStep,
    KeystrokeStep,
    OptionSpec,
    ProcessStep,
    ServerStatus,
    SpawnPlan,
    SpawnRequest,
    Step,
    WaitStep,
)
from orch_doctor.matrix.types import STRATEGY_NAMES
from orch_doctor.probe.types import PROBED_COMMANDS, BinaryFinding, HelpText, VersionInfo

__all__ = [
    "PROBED_COMMANDS",
    "STRATEGY_NAMES",
    "BinaryFinding",
    "Capabilities",
    "CommandSpec",
    "Decision",
    "HelpText",
    "HttpStep",
    "KeystrokeStep",
    "OptionSpec",
    "ProcessStep",
    "ServerStatus",
    "SpawnPlan",
    "SpawnRequest",
    "Step",
    "VersionInfo",
    "WaitStep",
]
