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

import functools
from xml.etree import ElementTree as ET

from envcheck.atomicfile import write_atomic
from envcheck.model import Report, Status
from envcheck.report.safetext import printable, xml_text

# Texts this long or shorter are remembered (_safe): a fleet's JUnit has every host's copy of each check's texts.
_REMEMBERED_CHARS = 1_024


def render_junit(report: Report) -> str:
    """The JUnit XML of an already masked report (envcheck.redact.Redactor.report)."""
    return ET.tostring(testsuite(report), encoding="unicode") + "\n"


def testsuite(report: Report, *, name: str | None = None, classname_prefix: str = "") -> ET.Element:
    """One report as a <testsuite> element, named ``name`` (default ``envcheck.<command>``); each testcase's
    classname is ``classname_prefix`` + its subject. A fleet's JUnit puts one of these per host in <testsuites>,
    with the host in both, so suites and cases stay unique across hosts."""
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name=xml_text(name) if name is not None else f"envcheck.{report.command}",
        hostname=_safe(report.host),
        timestamp=report.started_at,
        tests=str(len(report.results)),
        failures=str(counts["fail"] + (counts["warn"] if report.strict else 0)),
        errors=str(counts["unknown"]),
        skipped=str(counts["skip"]),
        time=f"{report.duration_s:.3f}",
    )
    if report.policy is not None or report.groups:
        # Suite-level <properties> (first in a testsuite, as the JUnit schema orders them): which policy judged
        # the host, so two hosts' suites are comparable in a dashboard.
        properties = ET.SubElement(suite, "properties")
        if report.policy is not None:
            path = report.policy.path
            ET.SubElement(properties, "property", name="envcheck.policy.path",
                          value=(None if path is None else _safe(path)) or "(built-in)")
            ET.SubElement(properties, "property", name="envcheck.policy.digest", value=report.policy.digest)
        ET.SubElement(properties, "property", name="envcheck.groups", value=",".join(map(_safe, report.groups)))
    for r in report.results:
        item = None if r.item is None else _safe(r.item)
        reason, observed, fix = _safe(r.reason), _safe(r.observed), _safe(r.fix, multi_line=True)
        case_name = r.id + (f"[{item}]" if item else "")
        case = ET.SubElement(suite, "testcase", classname=xml_text(classname_prefix) + r.subject, name=case_name,
                             time=f"{r.duration_s:.3f}")
        message = reason or observed
        body = f"found: {observed}\nexpected: {_safe(r.expected)}\nfix: {fix}"
        if r.status is Status.FAIL or (r.status is Status.WARN and report.strict):
            ET.SubElement(case, "failure", message=message, type=r.status.value).text = body
        elif r.status is Status.UNKNOWN:
            ET.SubElement(case, "error", message=message, type="unknown").text = body
        elif r.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=message)
        elif r.status is Status.WARN:
            properties = ET.SubElement(case, "properties")
            for key, value in (("status", "warn"), ("reason", reason), ("fix", fix)):
                if value:
                    ET.SubElement(properties, "property", name=f"envcheck.{key}", value=value)
            ET.SubElement(case, "system-out").text = f"warning: {reason}\n{body}" if reason else f"warning: {body}"
    return suite


def _safe(text: str, *, multi_line: bool = False) -> str:
    """An outside text (the host, a result's texts, the policy's path, a group) as XML may hold it: stripped as
    for a terminal (safetext.printable; line breaks kept in a fix), then only what XML 1.0 allows."""
    if len(text) > _REMEMBERED_CHARS:
        return xml_text(printable(text, multi_line=multi_line))
    return _safe_remembered(text, multi_line)


@functools.lru_cache(maxsize=4_096)
def _safe_remembered(text: str, multi_line: bool) -> str:
    return xml_text(printable(text, multi_line=multi_line))


def write_junit(report: Report, path: str) -> None:
    """Write :func:`render_junit` to ``path`` whole or not at all (envcheck.atomicfile). Raises OSError."""
    write_atomic(path, render_junit(report).encode("utf-8"))
