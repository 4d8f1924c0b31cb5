"""`--brief`: the one line NHC, node-problem-detector and Nagios-style readers take."""

from __future__ import annotations

from envcheck.model import Outcome, Report, Result, Status
from envcheck.report.brief import BRIEF_MAX_CHARS, first_problem, render_brief


def _result(check_id: str, status: Status, **fields: str | None) -> Result:
    return Result(id=check_id, title=check_id, outcome=Outcome(status=status, **fields))  # type: ignore[arg-type]


def _report(*results: Result, strict: bool = False) -> Report:
    return Report(command="doctor", host="node", started_at="2026-12-02T00:00:00+00:00", duration_s=0.2,
                  results=results, strict=strict)


def test_a_root_cause_comes_before_what_it_explains_and_a_failure_before_an_unknown() -> None:
    report = _report(
        _result("docker.engine", Status.UNKNOWN, reason="the engine did not answer"),
        _result("docker.nvidia-toolkit", Status.FAIL, reason="no toolkit", caused_by="gpu.driver"),
        _result("gpu.driver", Status.FAIL, reason="no NVIDIA driver", observed="none", expected=">= 550", item="GPU0"),
    )
    assert first_problem(report) is report.results[2]
    assert render_brief(report) == ("envcheck fail: gpu.driver[GPU0]: no NVIDIA driver (found none; expected >= 550) "
                                    "(+2 more)\n")


def test_nothing_wrong_says_how_many_checks_and_warnings() -> None:
    report = _report(_result("host.os", Status.PASS), _result("host.disk", Status.WARN, reason="little space"))
    assert render_brief(report) == "envcheck warn: 2 checks (1 warn)\n"
    assert render_brief(_report(_result("host.os", Status.PASS))) == "envcheck pass: 1 checks\n"


def test_strict_makes_a_warning_the_problem() -> None:
    report = _report(_result("host.os", Status.PASS), _result("host.disk", Status.WARN, reason="little space"),
                     strict=True)
    assert render_brief(report) == "envcheck fail: host.disk: little space\n"


def test_an_unknown_alone_is_named() -> None:
    report = _report(_result("docker.engine", Status.UNKNOWN, reason="the engine did not answer in 5 s"))
    assert render_brief(report) == "envcheck unknown: docker.engine: the engine did not answer in 5 s\n"


def test_outside_text_stays_one_short_line() -> None:
    hostile = "bad\x1b[31m\nline\rtwo\x00" + "x" * 5000
    line = render_brief(_report(_result("gpu.name", Status.FAIL, reason=hostile)))
    assert line.endswith("...\n") and len(line) == BRIEF_MAX_CHARS + 1
    assert line.count("\n") == 1 and "\x1b" not in line and "\r" not in line and "\x00" not in line
