"""The engine: parallel probes with deadlines, crash isolation, root causes, selection."""

from __future__ import annotations

import threading
import time

import pytest

from envcheck.engine import examine, select
from envcheck.model import Outcome, Status, UsageError
from envcheck.policy import default_policy
from envcheck.units import CheckSpec, ProbeSpec


def _fact(value: object):
    return lambda ctx: value


def _judge_pass(facts, policy) -> Outcome:
    return Outcome(status=Status.PASS, observed=str(facts))


def test_probe_that_raises_gives_unknown_with_reason_and_report_completes() -> None:
    def boom(ctx):
        raise RuntimeError("kaput")

    probes = {"a": ProbeSpec("a", boom), "b": ProbeSpec("b", _fact("fine"))}
    checks = [CheckSpec("a.one", "A", "a", _judge_pass), CheckSpec("b.one", "B", "b", _judge_pass)]
    report = examine(checks, probes, default_policy())
    by_id = {r.id: r for r in report.results}
    assert by_id["a.one"].status is Status.UNKNOWN
    assert "RuntimeError: kaput" in by_id["a.one"].reason
    assert by_id["b.one"].status is Status.PASS
    assert report.exit_code == 3


def test_probe_that_overruns_is_unknown_within_its_deadline() -> None:
    release = threading.Event()

    def hang(ctx):
        release.wait(30)
        return "late"

    probes = {"slow": ProbeSpec("slow", hang, timeout_s=0.5), "fast": ProbeSpec("fast", _fact(1))}
    checks = [CheckSpec("slow.x", "S", "slow", _judge_pass), CheckSpec("fast.x", "F", "fast", _judge_pass)]
    start = time.monotonic()
    report = examine(checks, probes, default_policy())
    elapsed = time.monotonic() - start
    release.set()
    assert elapsed < 1.5
    slow = next(r for r in report.results if r.id == "slow.x")
    assert slow.status is Status.UNKNOWN
    assert "deadline" in slow.reason


def test_probes_run_in_parallel() -> None:
    def sleepy(ctx):
        time.sleep(0.4)
        return "ok"

    probes = {f"p{i}": ProbeSpec(f"p{i}", sleepy) for i in range(5)}
    checks = [CheckSpec(f"p{i}.x", "P", f"p{i}", _judge_pass) for i in range(5)]
    start = time.monotonic()
    report = examine(checks, probes, default_policy())
    assert time.monotonic() - start < 1.5  # five 0.4 s probes in sequence would take 2 s
    assert all(r.status is Status.PASS for r in report.results)


def test_a_crashing_check_is_unknown_never_pass() -> None:
    def bad(facts, policy):
        raise KeyError("missing")

    report = examine([CheckSpec("a.x", "A", "a", bad)], {"a": ProbeSpec("a", _fact(1))}, default_policy())
    assert report.results[0].status is Status.UNKNOWN
    assert "check crashed" in report.results[0].reason


def test_dependent_check_points_at_its_root_cause() -> None:
    def fail(facts, policy):
        return Outcome(status=Status.FAIL, reason="daemon down")

    checks = [
        CheckSpec("d.reachable", "reachable", "d", fail),
        CheckSpec("d.runtime", "runtime", "d", _judge_pass, requires=("d.reachable",)),
        CheckSpec("d.deeper", "deeper", "d", _judge_pass, requires=("d.runtime",)),
    ]
    report = examine(checks, {"d": ProbeSpec("d", _fact(1))}, default_policy())
    by_id = {r.id: r for r in report.results}
    assert by_id["d.runtime"].status is Status.UNKNOWN
    assert by_id["d.runtime"].caused_by == "d.reachable"
    assert by_id["d.deeper"].caused_by == "d.reachable"  # the chain is followed to the root
    assert report.exit_code == 1


def test_skipped_prerequisite_skips_dependents() -> None:
    def skip(facts, policy):
        return Outcome(status=Status.SKIP, reason="not installed")

    checks = [CheckSpec("d.a", "a", "d", skip), CheckSpec("d.b", "b", "d", _judge_pass, requires=("d.a",))]
    report = examine(checks, {"d": ProbeSpec("d", _fact(1))}, default_policy())
    assert report.results[1].status is Status.SKIP
    assert report.results[1].caused_by == "d.a"
    assert report.exit_code == 0


def test_a_check_may_judge_several_items_under_one_id() -> None:
    def per_gpu(facts, policy):
        return [Outcome(status=Status.PASS, item="GPU 0"), Outcome(status=Status.WARN, item="GPU 1")]

    report = examine([CheckSpec("g.temp", "T", "g", per_gpu)], {"g": ProbeSpec("g", _fact(1))}, default_policy())
    assert [(r.id, r.item, r.status) for r in report.results] == [
        ("g.temp", "GPU 0", Status.PASS),
        ("g.temp", "GPU 1", Status.WARN),
    ]


def test_strict_turns_warnings_into_failure() -> None:
    def warn(facts, policy):
        return Outcome(status=Status.WARN)

    args = ([CheckSpec("w.x", "W", "w", warn)], {"w": ProbeSpec("w", _fact(1))}, default_policy())
    assert examine(*args).exit_code == 0
    assert examine(*args, strict=True).exit_code == 1


def test_select_by_id_and_subject_and_reject_unknown_names() -> None:
    checks = [CheckSpec("a.x", "", "a", _judge_pass), CheckSpec("a.y", "", "a", _judge_pass),
              CheckSpec("b.x", "", "b", _judge_pass)]
    assert [c.id for c in select(checks, only=["a"])] == ["a.x", "a.y"]
    assert [c.id for c in select(checks, only=["a"], skip=["a.y"])] == ["a.x"]
    assert [c.id for c in select(checks, skip=["b"])] == ["a.x", "a.y"]
    with pytest.raises(UsageError, match="no check or subject named 'c'"):
        select(checks, only=["c"])


def test_a_selection_that_leaves_nothing_is_a_usage_error_and_near_misses_are_named() -> None:
    checks = [CheckSpec("a.disk-home", "", "a", _judge_pass), CheckSpec("a.disk-tmp", "", "a", _judge_pass)]
    # An empty run would print "No problems found" and exit 0 having checked nothing.
    with pytest.raises(UsageError, match="leaves no check to run"):
        select(checks, only=["a"], skip=["a"])
    with pytest.raises(UsageError, match="did you mean") as raised:
        select(checks, only=["a.disk"])
    assert "a.disk-home" in str(raised.value) and "a.disk-tmp" in str(raised.value)


def test_an_unknown_from_a_crashed_probe_or_check_has_a_command_to_paste() -> None:
    def boom(ctx):
        raise RuntimeError("kaput")

    def bad(facts, policy):
        raise KeyError("missing")

    checks = [CheckSpec("a.one", "A", "a", _judge_pass), CheckSpec("b.one", "B", "b", bad)]
    report = examine(checks, {"a": ProbeSpec("a", boom), "b": ProbeSpec("b", _fact(1))}, default_policy())
    fixes = {r.id: r.fix for r in report.results}
    assert fixes["a.one"] == "envcheck doctor -v --only a.one"
    assert fixes["b.one"].startswith("envcheck doctor -v --only b.one")
