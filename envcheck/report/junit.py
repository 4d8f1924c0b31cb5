"""JUnit XML for CI dashboards: one testcase per result; fail is a failure, unknown an error."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from envcheck.model import Report, Status
from envcheck.redact import redact


def render_junit(report: Report, secrets: tuple[str, ...] = ()) -> str:
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name=f"envcheck.{report.command}",
        hostname=report.host,
        timestamp=report.started_at,
        tests=str(len(report.results)),
        failures=str(counts["fail"] + (counts["warn"] if report.strict else 0)),
        errors=str(counts["unknown"]),
        skipped=str(counts["skip"]),
        time=f"{report.duration_s:.3f}",
    )
    for r in report.results:
        name = r.id + (f"[{r.item}]" if r.item else "")
        case = ET.SubElement(suite, "testcase", classname=r.subject, name=name, time=f"{r.duration_s:.3f}")
        message = redact(r.reason or r.observed, secrets=secrets)
        body = redact(f"found: {r.observed}\nexpected: {r.expected}\nfix: {r.fix}", secrets=secrets)
        if r.status is Status.FAIL or (r.status is Status.WARN and report.strict):
            ET.SubElement(case, "failure", message=message, type=r.status.value).text = body
        elif r.status is Status.UNKNOWN:
            ET.SubElement(case, "error", message=message, type="unknown").text = body
        elif r.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=message)
        elif r.status is Status.WARN:
            ET.SubElement(case, "system-out").text = "warning: " + body
    return ET.tostring(suite, encoding="unicode") + "\n"
