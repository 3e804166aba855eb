"""JUnit XML: one testcase per check; fail -> <failure>, skip -> <skipped>, warn -> system-out."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from orch_doctor._util.text import printable
from orch_doctor.doctor.runner import DoctorReport


def render_junit(
    report: DoctorReport, strict: bool = False, finished: datetime | None = None
) -> str:
    """The report as a JUnit XML document (valid XML 1.0 whatever text the checks carry:
    :func:`printable` leaves no character XML forbids, ElementTree escapes markup). The suite's
    ``timestamp`` is when the run started (UTC, ISO 8601 as the JUnit schema has it), from
    ``finished`` (default: now) and the run's duration."""
    finished = finished or datetime.now(UTC)
    started = finished.astimezone(UTC) - timedelta(seconds=report.duration_s)
    failures = sum(
        1 for c in report.checks if c.status == "fail" or (strict and c.status == "warn")
    )
    suite = ET.Element(
        "testsuite",
        name="orch-doctor",
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
        skipped=str(sum(1 for c in report.checks if c.status == "skip")),
        time=f"{report.duration_s:.3f}",
        timestamp=started.strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=printable(socket.gethostname() or "localhost", newlines=False),
    )
    for check in report.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="orch-doctor",
            name=printable(f"{check.id}: {check.title}", newlines=False),
            time=f"{check.duration_s:.3f}",
        )
        # printable: no control character (invalid in XML 1.0, hostile on a terminal)
        body = printable(
            "\n".join(
                [check.summary, *check.details] + ([f"fix: {check.fix}"] if check.fix else [])
            )
        )
        summary = printable(check.summary, newlines=False)
        if check.status == "fail" or (strict and check.status == "warn"):
            failure = ET.SubElement(case, "failure", message=summary, type=check.status)
            failure.text = body
        elif check.status == "skip":
            ET.SubElement(case, "skipped", message=summary)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("WARNING: " if check.status == "warn" else "") + body
    suites = ET.Element("testsuites", name="orch-doctor")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")
