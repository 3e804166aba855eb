"""Write the JSON Schemas of every ``--format json`` output into orch_doctor/schemas/.

    python -m tools.write_schemas [--check]

One source for the shared definitions (advisory, plan steps, server status, capabilities), so
the eight schemas cannot drift apart. ``--check`` exits 1 when a written file differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "orch_doctor" / "schemas"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from orch_doctor.decide.rules import REJECTION_CODES  # noqa: E402
from orch_doctor.decide.steps import WAIT_PARAMS, WaitCondition  # noqa: E402
from orch_doctor.execute.executor import FAILURE_CODES  # noqa: E402
from orch_doctor.execute.spawn import SPAWN_FAILURE_CODES  # noqa: E402
from orch_doctor.matrix.model import PLAN_STRATEGIES  # noqa: E402
from orch_doctor.schemas import SCHEMA_VERSION  # noqa: E402

Schema = dict[str, Any]

STRING = {"type": "string"}
NSTRING = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": STRING}
#: where a value learned while running (the session id) stands in a step: the JSON Pointer
#: (RFC 6901, relative to the step) of a string replaced whole by the value saved under that name
REFS = {
    "type": "object",
    "description": "JSON Pointer (relative to the step) of each string that stands for a value "
    "learned while running -> the name it was saved under (an earlier http step's `save`, a "
    "session-created wait's params.save). The executor replaces exactly these strings, whole; "
    "every other string (prompt, directory, title, model) is literal, braces included.",
    "propertyNames": {"pattern": "^(/[^/]*)+$"},
    "additionalProperties": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
}
STRATEGIES: list[str] = list(PLAN_STRATEGIES)  # the one list: matrix/model.py PlanStrategyName


def wait_params(condition: WaitCondition) -> Schema:
    """The params a wait step of ``condition`` must and may carry (tui-ready: its markers)."""
    required, optional = WAIT_PARAMS[condition]
    then: Schema = {
        "properties": {
            "params": {
                "type": "object",
                "required": list(required),
                "properties": {k: {"type": "string", "minLength": 1} for k in required + optional},
                "additionalProperties": False,
            }
        }
    }
    if condition is WaitCondition.TUI_READY:
        then["required"] = ["ready_markers", "failure_markers"]
    return {"if": {"properties": {"condition": {"const": condition.value}}}, "then": then}


DEFS: dict[str, Schema] = {
    "advisory": {
        "type": "object",
        "required": ["id", "severity", "message", "fix", "evidence"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "warn", "error"]},
            "message": STRING,
            "fix": NSTRING,
            "evidence": NSTRING,
        },
    },
    "step": {
        "type": "object",
        "required": ["kind", "description", "refs"],
        "properties": {
            "kind": {"enum": ["http", "process", "wait", "keys"]},
            "description": STRING,
            "refs": REFS,
        },
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": "http"}}},
                "then": {
                    "required": [
                        "method",
                        "path",
                        "path_segments",
                        "query",
                        "body",
                        "expect_status",
                        "save",
                    ],
                    "properties": {
                        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                        # for reading; a client builds the URL from path_segments (each
                        # percent-encoded whole) with refs filled in
                        "path": {"type": "string", "pattern": "^/"},
                        "path_segments": {
                            "type": "array",
                            "items": {"type": "string", "minLength": 1},
                        },
                        "query": {"type": "object", "additionalProperties": STRING},
                        "expect_status": {"type": "array", "items": {"type": "integer"}},
                        "save": {"type": "object", "additionalProperties": STRING},
                    },
                },
            },
            {
                "if": {"properties": {"kind": {"const": "process"}}},
                "then": {
                    "required": ["argv", "command", "display", "cwd", "terminal", "secret_env"],
                    "properties": {
                        "argv": {"type": "array", "items": STRING, "minItems": 1},
                        "command": {"enum": ["root", "attach", "run", "serve"]},
                        "display": STRING,
                        "cwd": NSTRING,
                        "terminal": {"type": "boolean"},
                        "env": {"type": "object", "additionalProperties": STRING},
                        "secret_env": {
                            "type": "object",
                            "additionalProperties": {"const": "***"},
                        },
                    },
                },
            },
            {
                "if": {"properties": {"kind": {"const": "wait"}}},
                "then": {
                    "required": ["condition", "timeout_s", "params"],
                    "properties": {
                        "condition": {"enum": [c.value for c in WaitCondition]},
                        "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                        "params": {"type": "object", "additionalProperties": STRING},
                        "ready_markers": STRINGS,
                        "failure_markers": STRINGS,
                    },
                    # each condition carries its own parameters
                    "allOf": [wait_params(c) for c in WaitCondition],
                },
            },
            {
                "if": {"properties": {"kind": {"const": "keys"}}},
                "then": {
                    "required": ["keys", "literal"],
                    "properties": {"keys": STRINGS, "literal": {"type": "boolean"}},
                },
            },
        ],
    },
    "rejection": {
        "type": "object",
        "description": "why a strategy was not taken: a stable code (and every code when several "
        "requirements fail, the first first) with a sentence for people",
        "required": ["code", "codes", "message", "issue"],
        "properties": {
            "code": {"enum": list(REJECTION_CODES)},
            "codes": {"type": "array", "items": {"enum": list(REJECTION_CODES)}, "minItems": 1},
            "message": STRING,
            "issue": NSTRING,
        },
        "additionalProperties": False,
    },
    "decision": {
        "type": "object",
        "required": ["strategy", "reasons", "rejected", "warnings", "advisories", "steps", "fix"],
        "properties": {
            "strategy": {"enum": [*STRATEGIES, "none"]},
            "forced": {"type": "boolean"},
            "reasons": STRINGS,
            "rejected": {"type": "object", "additionalProperties": STRING},
            "rejections": {"type": "object", "additionalProperties": {"$ref": "#/$defs/rejection"}},
            "warnings": {"type": "array", "items": {"$ref": "#/$defs/advisory"}},
            "advisories": {"type": "array", "items": {"$ref": "#/$defs/advisory"}},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
            "server_url": NSTRING,
            "fix": NSTRING,
        },
    },
    "server": {
        "type": "object",
        "required": ["url", "verdict", "ok", "is_opencode", "version", "routes", "findings"],
        "properties": {
            "url": STRING,
            "verdict": STRING,
            "ok": {"type": "boolean"},
            "summary": STRING,
            "fix": NSTRING,
            "is_opencode": {"type": "boolean"},
            "version": NSTRING,
            "routes": {"type": ["array", "null"], "items": STRING},
            "directory": NSTRING,
            "findings": {"type": "array", "items": {"$ref": "#/$defs/advisory"}},
            "advisories": {"type": "array", "items": {"$ref": "#/$defs/advisory"}},
        },
    },
    "option": {
        "type": "object",
        "required": ["aliases", "type"],
        "properties": {"aliases": STRINGS, "type": NSTRING},
    },
    "capabilities": {
        "type": "object",
        "required": ["binary", "commands"],
        "properties": {
            "binary": {
                "type": "object",
                "required": ["path", "version", "version_raw", "release"],
                "properties": {
                    "path": NSTRING,
                    "version": NSTRING,
                    "version_raw": NSTRING,
                    "release": {"type": "boolean"},
                    "identified_as": NSTRING,
                },
            },
            "commands": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["exists", "options"],
                    "properties": {
                        "exists": {"type": "boolean"},
                        "options": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/$defs/option"},
                        },
                    },
                },
            },
            "warnings": STRINGS,
        },
    },
}


def document(name: str, title: str, body: Schema, uses: list[str]) -> Schema:
    wanted: set[str] = set()
    todo = list(uses)
    while todo:  # the definitions used, and the ones they use
        item = todo.pop()
        if item in wanted:
            continue
        wanted.add(item)
        text = json.dumps(DEFS[item])
        todo += [d for d in DEFS if f"#/$defs/{d}" in text]
    schema: Schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://orch-doctor.invalid/schemas/{name}.schema.json",
        "title": title,
        "description": f"Output of `orch-doctor {name.replace('-', ' ')} --format json` "
        "(extra keys may be added; a breaking change raises schema_version).",
        "type": "object",
        **body,
    }
    schema["required"] = ["schema_version", *body.get("required", [])]
    schema.setdefault("properties", {})["schema_version"] = {"const": SCHEMA_VERSION}
    if wanted:
        schema["$defs"] = {k: DEFS[k] for k in sorted(wanted)}
    return schema


def schemas() -> dict[str, Schema]:
    check = {
        "type": "object",
        "required": ["id", "title", "status", "summary", "details", "fix"],
        "properties": {
            "id": STRING,
            "status": {"enum": ["pass", "warn", "fail", "skip"]},
            "summary": STRING,
            "details": STRINGS,
            "fix": NSTRING,
        },
    }
    step_report = {
        "type": "object",
        "required": ["index", "kind", "description", "outcome", "duration_s"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "kind": {"enum": ["http", "process", "wait", "keys"]},
            "outcome": {"enum": ["ok", "failed", "skipped"]},
            "duration_s": {"type": "number", "minimum": 0},
            "expected": NSTRING,
            "seen": NSTRING,
            "code": {"enum": [*FAILURE_CODES, None]},  # on failure: why, as a stable code
        },
    }
    return {
        "doctor": document(
            "doctor",
            "orch-doctor report",
            {
                "required": [
                    "tool",
                    "status",
                    "exit_code",
                    "checks",
                    "capabilities",
                    "server",
                    "decision",
                    "matrix_files",
                    "policy_file",
                ],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["name", "version"],
                        "properties": {"name": {"const": "orch-doctor"}, "version": STRING},
                    },
                    "status": {"enum": ["pass", "warn", "fail"]},
                    "exit_code": {"enum": [0, 1]},
                    "strict": {"type": "boolean"},
                    "duration_s": {"type": "number", "minimum": 0},
                    "checks": {"type": "array", "minItems": 1, "items": check},
                    "capabilities": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/capabilities"}]},
                    "server": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/server"}]},
                    "decision": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/decision"}]},
                    "matrix_files": STRINGS,
                    "policy_file": NSTRING,
                },
            },
            ["capabilities", "server", "decision"],
        ),
        "probe": document(
            "probe",
            "orch-doctor probe",
            {"allOf": [{"$ref": "#/$defs/capabilities"}]},
            ["capabilities"],
        ),
        "server": document(
            "server",
            "orch-doctor server",
            {
                "required": ["client_version", "discovered", "servers"],
                "properties": {
                    "client_version": NSTRING,
                    "discovered": {"type": "boolean"},
                    "servers": {"type": "array", "items": {"$ref": "#/$defs/server"}},
                },
            },
            ["server"],
        ),
        "plan": document(
            "plan",
            "orch-doctor plan",
            {"allOf": [{"$ref": "#/$defs/decision"}]},
            ["decision"],
        ),
        "verify": document(
            "verify",
            "orch-doctor verify",
            {
                "required": [
                    "verified",
                    "strategy",
                    "release",
                    "server_url",
                    "steps",
                    "problem",
                    "fix",
                    "wall_s",
                ],
                "properties": {
                    "verified": {"type": "boolean"},
                    "strategy": {"enum": [*STRATEGIES, "none", None]},
                    "forced": {"type": "boolean"},
                    "release": NSTRING,
                    "server_url": NSTRING,
                    "warnings": {"type": "array", "items": {"$ref": "#/$defs/advisory"}},
                    "steps": {"type": "array", "items": step_report},
                    "problem": NSTRING,
                    "fix": NSTRING,
                    "wall_s": {"type": "number", "minimum": 0},
                    "kept": STRINGS,  # with --keep: what is left, how to inspect and remove it
                    "created": STRINGS,  # servers, sessions in a given server, scratch folder
                    "removed": STRINGS,  # what its clean-up removed (empty with --keep)
                    "left": STRINGS,  # what its clean-up could not remove
                },
            },
            ["advisory"],
        ),
        "spawn": document(
            "spawn",
            "orch-doctor spawn",
            {
                "required": ["ok", "session_id", "target", "steps"],
                "properties": {
                    "ok": {"type": "boolean"},
                    "session_id": NSTRING,
                    "target": NSTRING,
                    "window_id": NSTRING,  # the tmux window made (@12)
                    "strategy": {"enum": [*STRATEGIES, "none"]},
                    "steps": {"type": "array", "items": step_report},
                    "code": {"enum": [*SPAWN_FAILURE_CODES, None]},  # on failure: why
                },
            },
            [],
        ),
        "matrix-show": document(
            "matrix-show",
            "orch-doctor matrix show",
            {
                "required": ["files", "strategies", "known_issues", "policy", "verification"],
                "properties": {
                    "files": STRINGS,
                    "strategies": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "name",
                                "preference",
                                "needs_server",
                                "commands",
                                "routes",
                            ],
                            "properties": {"name": {"enum": STRATEGIES}},
                        },
                    },
                    "known_issues": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "versions", "severity", "affects", "evidence"],
                        },
                    },
                    "policy": {"type": "object"},
                    "verification": {"type": "object"},
                },
            },
            [],
        ),
        "matrix-check": document(
            "matrix-check",
            "orch-doctor matrix check",
            {
                "required": ["files", "ok", "releases"],
                "properties": {
                    "files": STRINGS,
                    "ok": {"type": "boolean"},
                    "releases": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["release", "without_server", "with_server", "error"],
                            "properties": {
                                "release": STRING,
                                "without_server": {"enum": [*STRATEGIES, "none", None]},
                                "with_server": {"enum": [*STRATEGIES, "none", None]},
                                "error": NSTRING,
                            },
                        },
                    },
                },
            },
            [],
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m tools.{Path(__file__).stem}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in schemas().items():
        path = OUT / f"{name}.schema.json"
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run python -m tools.write_schemas)")
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(schemas())} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
