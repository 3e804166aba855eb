"""Every orch_doctor name the release tools (track_releases, changes) use, in one place.

Re-point these imports when the engine moves and the tools follow. Nothing else in
tools/track_releases.py or tools/changes.py imports orch_doctor.
"""

from __future__ import annotations

from orch_doctor import __version__ as ORCH_DOCTOR_VERSION
from orch_doctor._util.proc import run_capture
from orch_doctor.decide.rules import client_generation
from orch_doctor.errors import VerifyRefused
from orch_doctor.matrix.location import compat_matrix_dir
from orch_doctor.matrix.recorded import folder_capabilities
from orch_doctor.matrix.types import Verification
from orch_doctor.probe.capabilities import capabilities_from_help
from orch_doctor.probe.helptext import parse_root_commands
from orch_doctor.probe.types import PROBED_COMMANDS, CommandSpec, HelpText
from orch_doctor.server.credentials import DEFAULT_USERNAME, Credentials
from orch_doctor.server.openapi import routes_from_openapi
from orch_doctor.server.probe import probe_server
from orch_doctor.verify.run import (
    VerifyOptions,
    VerifyReport,
    opencode_log_errors,
    run_verify,
)
from orch_doctor.verify.throwaway import (
    SERVE_1X,
    SERVE_2X,
    ServerStartError,
    isolated_env,
    start_server,
)

__all__ = [
    "DEFAULT_USERNAME",
    "ORCH_DOCTOR_VERSION",
    "PROBED_COMMANDS",
    "SERVE_1X",
    "SERVE_2X",
    "CommandSpec",
    "Credentials",
    "HelpText",
    "ServerStartError",
    "Verification",
    "VerifyOptions",
    "VerifyRefused",
    "VerifyReport",
    "capabilities_from_help",
    "client_generation",
    "compat_matrix_dir",
    "folder_capabilities",
    "isolated_env",
    "opencode_log_errors",
    "parse_root_commands",
    "probe_server",
    "routes_from_openapi",
    "run_capture",
    "run_verify",
    "start_server",
]
