"""The fleet's JUnit XML: <testsuites> with one <testsuite> per host, so a CI dashboard shows every host apart.

A host's suite is its report's (envcheck.report.junit.testsuite: the same testcase per result), named
``envcheck.<command>@<host>`` with testcases classed ``<host>.<subject>``: unique across hosts, where every
host's own JUnit file says ``envcheck.doctor`` and the same test names. A host without a report (unreachable,
unjudged, expected and missing) is a suite of one ``error`` testcase saying why; so is each file that gave no
host, in a last suite named ``envcheck.merge``.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from envcheck.fleet.merge import FleetView, HostView
from envcheck.report.junit import testsuite
from envcheck.report.safetext import printable, xml_text


def render_fleet_junit(view: FleetView) -> str:
    """The JUnit XML of a merged fleet (what ET.tostring gives for the whole tree)."""
    return "".join(fleet_junit_pieces(view))


def fleet_junit_pieces(view: FleetView) -> list[str]:
    """:func:`render_fleet_junit` in pieces, to be written in turn: the opening tag, each suite, the closing tag.
    Each suite is made into text as soon as it is built, so the element trees of thousands of hosts are never all
    in memory at once; nor, written piece by piece, is the whole document (5000 hosts: 364 MB at the peak as one
    string and its bytes)."""
    suites = ET.Element("testsuites", name="envcheck.fleet")
    texts: list[str] = []
    tests = failures = errors = 0
    for host in view.hosts:
        suite = _host_suite(host)
        texts.append(ET.tostring(suite, encoding="unicode"))
        tests += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        errors += int(suite.get("errors", "0"))
    if view.file_errors:
        suite = ET.Element("testsuite", name="envcheck.merge", tests=str(len(view.file_errors)), failures="0",
                           errors=str(len(view.file_errors)), skipped="0")
        for bad in view.file_errors:
            case = ET.SubElement(suite, "testcase", classname="envcheck.merge", name=_text(bad.path))
            ET.SubElement(case, "error", message=_text(bad.message), type="file").text = _text(bad.message)
        texts.append(ET.tostring(suite, encoding="unicode"))
        tests += len(view.file_errors)
        errors += len(view.file_errors)
    suites.set("tests", str(tests))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    if not texts:
        return [ET.tostring(suites, encoding="unicode") + "\n"]  # the empty element's own short form
    opening = ET.tostring(suites, encoding="unicode").removesuffix(" />") + ">"
    texts.insert(0, opening)
    texts.append("</testsuites>\n")
    return texts


def _text(text: str) -> str:
    return xml_text(printable(text))


def _host_suite(host: HostView) -> ET.Element:
    if host.report is not None:
        command = host.report.command
        return testsuite(host.report, name=f"envcheck.{command}@{host.name}", classname_prefix=f"{host.name}.")
    suite = ET.Element("testsuite", name=_text(f"envcheck.doctor@{host.name}"), hostname=_text(host.name),
                       tests="1", failures="0", errors="1", skipped="0")
    case = ET.SubElement(suite, "testcase", classname=_text(f"{host.name}.host"), name=host.error or "unjudged")
    message = f"{host.outcome.value}: {host.message}" if host.message else host.outcome.value
    ET.SubElement(case, "error", message=_text(message), type=host.error or host.outcome.value).text = _text(
        f"{message}\nsource: {host.source or '(no file)'}")
    return suite
