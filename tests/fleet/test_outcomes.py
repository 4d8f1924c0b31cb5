"""Per-host outcomes, the worst-wins exit code, host-error records and safe file names (envcheck/fleet/outcomes.py)."""

from __future__ import annotations

import re

import pytest

from envcheck.fleet.outcomes import (
    HostError,
    HostOutcome,
    exit_code,
    host_error_record,
    outcome_of_overall,
    safe_file_name,
)


@pytest.mark.parametrize(("outcomes", "code"), [
    ([], 0),
    ([HostOutcome.PASS, HostOutcome.WARN], 0),
    ([HostOutcome.PASS, HostOutcome.UNREACHABLE], 5),
    ([HostOutcome.UNREACHABLE, HostOutcome.UNJUDGED], 3),
    ([HostOutcome.UNJUDGED, HostOutcome.FAILED, HostOutcome.UNREACHABLE], 1),
])
def test_the_worst_host_gives_the_exit_code(outcomes: list[HostOutcome], code: int) -> None:
    assert exit_code(outcomes) == code


def test_each_reason_has_its_outcome() -> None:
    assert {e.value: e.outcome for e in HostError} == {
        "unreachable": HostOutcome.UNREACHABLE, "no-python": HostOutcome.UNJUDGED,
        "timed-out": HostOutcome.UNJUDGED, "invalid-report": HostOutcome.UNJUDGED, "run-failed": HostOutcome.UNJUDGED,
    }


def test_a_report_overall_maps_to_an_outcome_and_nothing_else_is_a_pass() -> None:
    assert [outcome_of_overall(o) for o in ("pass", "warn", "fail", "unknown", "skip", None, 1)] == [
        HostOutcome.PASS, HostOutcome.WARN, HostOutcome.FAILED] + [HostOutcome.UNJUDGED] * 4


def test_host_error_record() -> None:
    record = host_error_record("h<1>", ["lab"], HostError.NO_PYTHON, "no python", time="2026-01-01T00:00:00+00:00")
    assert record == {"schema": "envcheck.host-error", "schema_version": 1, "host": "h<1>", "groups": ["lab"],
                      "outcome": "no-python", "message": "no python", "time": "2026-01-01T00:00:00+00:00"}


HOSTILE = ["a/b", "a_b", "..", ".", "../../etc/passwd", "<script>alert(1)</script>", "$(rm -rf ~)`id`;|&",
           "x" * 1000, "", "tab\there\nnl\x00nul\x1b[31m", ".hidden", "ｆｕｌｌ", "é", "a b"]


def test_safe_file_names_are_plain_unique_and_short() -> None:
    names = [safe_file_name(h) for h in HOSTILE]
    assert all(re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\.json", n) for n in names), names
    assert all(len(n) <= 120 for n in names)
    assert len(set(names)) == len(HOSTILE)


def test_an_ordinary_host_name_is_its_own_file_name() -> None:
    assert [safe_file_name(h) for h in ("gpu01", "node-3.lab.example.org")] == [
        "gpu01.json", "node-3.lab.example.org.json"]
    assert safe_file_name("a/b") == "a_b-c14cddc033f6.json"
