"""JUnit XML for CI dashboards: one testcase per result; fail is a failure, unknown an error.

JUnit has no "warning" element: a testcase passes, fails, errs or is skipped. A warning stays a pass (it does not
fail the run without --strict, so it must not turn the CI job's test view red either) and carries what a person
needs in the two places CI dashboards show for a passing case: <properties> (envcheck.status, envcheck.reason,
envcheck.fix; the per-testcase properties pytest's record_property writes, which GitLab and Jenkins display) and
<system-out>, as text.

The XML is always well-formed, whatever the report holds (report/safetext.py: control characters stripped,
then only what XML 1.0 allows), and the file is written whole or not at all (:func:`write_junit`).
"""

from __future__ import annotations

import os
import tempfile
from xml.etree import ElementTree as ET

from envcheck.model import Report, Status
from envcheck.redact import map_strings
from envcheck.report.safetext import printable_report, xml_text


def render_junit(report: Report) -> str:
    """The JUnit XML of an already masked report (envcheck.redact.Redactor.report)."""
    report = map_strings(printable_report(report), lambda _field, text: xml_text(text))
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
        message = r.reason or r.observed
        body = f"found: {r.observed}\nexpected: {r.expected}\nfix: {r.fix}"
        if r.status is Status.FAIL or (r.status is Status.WARN and report.strict):
            ET.SubElement(case, "failure", message=message, type=r.status.value).text = body
        elif r.status is Status.UNKNOWN:
            ET.SubElement(case, "error", message=message, type="unknown").text = body
        elif r.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=message)
        elif r.status is Status.WARN:
            properties = ET.SubElement(case, "properties")
            for key, value in (("status", "warn"), ("reason", r.reason), ("fix", r.fix)):
                if value:
                    ET.SubElement(properties, "property", name=f"envcheck.{key}", value=value)
            ET.SubElement(case, "system-out").text = f"warning: {r.reason}\n{body}" if r.reason else f"warning: {body}"
    return ET.tostring(suite, encoding="unicode") + "\n"


def write_junit(report: Report, path: str) -> None:
    """Write :func:`render_junit` to ``path`` through a temporary file in the same folder renamed over it
    (os.replace is atomic on POSIX), so a failed write leaves the old file or none, never a truncated one.
    Raises OSError."""
    data = render_junit(report).encode("utf-8")
    folder, name = os.path.split(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        # mkstemp makes the file 0600; a report is for the CI job and whoever reads its artifacts, as the
        # file it replaces was (or as a new file under a usual umask of 022).
        os.chmod(temporary, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
