"""The project's policy: read by the request resolution (orch_doctor.resolve.policy), which
every command shares; re-exported here for the doctor's checks."""

from __future__ import annotations

from orch_doctor.resolve.policy import KEYS, Policy, find_policy_file, load_policy, parse_policy

__all__ = ["KEYS", "Policy", "find_policy_file", "load_policy", "parse_policy"]
