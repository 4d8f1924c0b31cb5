"""Collects the probes' facts in parallel under deadlines, isolates their crashes, then applies the checks.

A probe that raises or overruns gives every check that needs it an ``unknown`` result with the
reason; the report always completes. Probes run on daemon threads, so an abandoned one (stuck in
an uninterruptible call) never holds up the exit; anything that can hang for good (NVML, CUDA,
torch) runs in a child process under the probe's own hard deadline as well.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

from envcheck import runner
from envcheck.frozen import frozen
from envcheck.hostfs import HOST, HostFS
from envcheck.model import Outcome, Report, Result, Status, UsageError
from envcheck.policy import Policy
from envcheck.units import FACT_NAMES, CheckSpec, ProbeContext, ProbeOptions, ProbeSpec

ContextFactory = Callable[[float], ProbeContext]  # a probe's timeout in seconds -> the context it runs with


@frozen
class Collected:
    """What became of one probe: its facts, or why there are none."""

    name: str
    facts: Any = None
    error: str = ""  # set when the probe raised or overran
    duration_s: float = 0.0


def close_names(name: str, ids: Iterable[str], subjects: Iterable[str]) -> list[str]:
    """At most three check ids or subjects a mistyped ``name`` may have meant: the closest by difflib's ratio,
    then ids that start with it (``gpu`` -> ``gpu.driver``)."""
    import difflib

    ids = set(ids)
    close = difflib.get_close_matches(name, sorted(ids | set(subjects)), n=3, cutoff=0.6)
    return close + sorted(i for i in ids if i.startswith(name) and i not in close)[: 3 - len(close)]


def select(checks: Sequence[CheckSpec], only: Iterable[str] = (), skip: Iterable[str] = (),
           policy: Policy | None = None) -> list[CheckSpec]:
    """Filter by id or subject; an unknown name is a usage error, not a silent no-op. With ``policy``, the
    requirement checks it states no requirement for are left out (their ids still count as known names)."""
    only, skip = list(only), list(skip)
    ids = {c.id for c in checks}
    subjects = {c.id.split(".", 1)[0] for c in checks}
    for name in [*only, *skip]:
        if name not in ids and name not in subjects:
            close = close_names(name, ids, subjects)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"no check or subject named {name!r}{hint} (`envcheck doctor --list` shows them)")

    def matches(check: CheckSpec, names: list[str]) -> bool:
        return check.id in names or check.id.split(".", 1)[0] in names

    chosen = [c for c in checks if not only or matches(c, only)]
    chosen = [c for c in chosen if not matches(c, skip) and (policy is None or c.applies_to(policy))]
    if not chosen and (only or skip):
        # An empty report would say "No problems found" and exit 0 for a run that checked nothing.
        raise UsageError(f"--only {','.join(only) or '(all)'} --skip {','.join(skip)} leaves no check to run")
    return chosen


def collect_all(
    probes: Sequence[ProbeSpec], ctx_for: ContextFactory, default_timeout_s: float
) -> dict[str, Collected]:
    """Start every probe at once on a daemon thread; wait for each until its own deadline."""
    results: dict[str, Collected] = {}
    lock = threading.Lock()
    threads: list[tuple[ProbeSpec, threading.Thread, float, float]] = []

    def work(spec: ProbeSpec, timeout_s: float) -> None:
        start = time.monotonic()
        try:
            facts = spec.collect(ctx_for(timeout_s))
            got = Collected(spec.name, facts=facts, duration_s=time.monotonic() - start)
        except Exception as exc:  # a crashing probe must not take the report down
            got = Collected(
                spec.name,
                error=f"probe {spec.name!r} crashed: {type(exc).__name__}: {exc}",
                duration_s=time.monotonic() - start,
            )
        with lock:
            results.setdefault(spec.name, got)

    for spec in probes:
        timeout_s = spec.timeout_s if spec.timeout_s is not None else default_timeout_s
        thread = threading.Thread(target=work, args=(spec, timeout_s), name=f"probe-{spec.name}", daemon=True)
        started = time.monotonic()
        thread.start()
        threads.append((spec, thread, timeout_s, started))

    for spec, thread, timeout_s, started in threads:
        # A little grace past the deadline for probes whose own subprocess timeouts fire right at it.
        deadline = started + timeout_s + 0.25
        thread.join(max(0.0, deadline - time.monotonic()))
        with lock:
            if spec.name not in results:
                results[spec.name] = Collected(
                    spec.name,
                    error=f"probe {spec.name!r} did not finish within its {timeout_s:g} s deadline",
                    duration_s=time.monotonic() - started,
                )
    return results


def apply_checks(checks: Sequence[CheckSpec], collected: Mapping[str, Collected], policy: Policy) -> list[Result]:
    """Apply every check to its probe's facts; the Results come in registry order. A check is applied after
    the checks it requires, even one listed later (docker's GPU checks require gpu.driver), so it can point
    at their root cause."""
    emitted: dict[str, list[Result]] = {}
    by_id: dict[str, Result] = {}
    checks = [c for c in checks if c.applies_to(policy)]
    for check in _required_first(checks):
        results = emitted.setdefault(check.id, [])
        got = collected.get(check.probe)
        blocker = _blocker(check, by_id)
        start = time.monotonic()
        outcomes: Sequence[Outcome]
        skipped = policy.skip_reason(check.id)
        if skipped is not None:  # not run at all: the admin said why it does not apply to these servers
            outcomes = [Outcome(status=Status.SKIP, reason=f"skipped by policy: {skipped}")]
        elif blocker is not None:
            outcomes = [blocker]
        elif got is None or got.error:
            reason = got.error if got is not None else f"probe {check.probe!r} did not run"
            # Rerunning just this check shows its evidence and tells a one-off hang from a lasting one.
            outcomes = [Outcome(status=Status.UNKNOWN, reason=reason, fix=f"envcheck doctor -v --only {check.id}")]
        else:
            try:
                produced = check.judge(got.facts, policy)
                outcomes = [produced] if isinstance(produced, Outcome) else list(produced)
            except Exception as exc:  # a buggy check is "could not check", never a pass
                outcomes = [Outcome(status=Status.UNKNOWN, reason=f"check crashed: {type(exc).__name__}: {exc}",
                                    fix=f"envcheck doctor -v --only {check.id}  # and report it with --share")]
        probe_s = got.duration_s if got is not None else 0.0
        elapsed_s = probe_s + time.monotonic() - start
        for outcome in outcomes or [Outcome(status=Status.SKIP, reason="nothing to check")]:
            result = Result(check.id, check.title, as_policy_counts(check.id, outcome, policy), round(elapsed_s, 4))
            results.append(result)
            previous = by_id.get(check.id)
            if previous is None or result.status.rank > previous.status.rank:
                by_id[check.id] = result
    return [result for check in dict.fromkeys(c.id for c in checks) for result in emitted[check]]


def as_policy_counts(check_id: str, outcome: Outcome, policy: Policy) -> Outcome:
    """A warning of a check the policy's warnings_as_failures names is a failure, and says so."""
    if outcome.status is not Status.WARN or not policy.warning_fails(check_id):
        return outcome
    why = outcome.reason or "a warning"
    return replace(outcome, status=Status.FAIL,
                   reason=f"{why} (a failure here: the policy counts this check's warnings as failures)")


def counted_by_policy(results: Sequence[Result], policy: Policy) -> tuple[Result, ...]:
    """Results judged elsewhere (the smoke steps) as the policy counts them: a step its skip names is reported as
    skipped by policy (a step runs on the ones before it, so it ran; its verdict is not counted), and
    warnings_as_failures applies."""
    counted = []
    for result in results:
        skipped = policy.skip_reason(result.id)
        outcome = (Outcome(status=Status.SKIP, reason=f"skipped by policy: {skipped}", item=result.item)
                   if skipped is not None else as_policy_counts(result.id, result.outcome, policy))
        counted.append(replace(result, outcome=outcome))
    return tuple(counted)


def _required_first(checks: Sequence[CheckSpec]) -> list[CheckSpec]:
    """The checks in registry order, except that each comes after the selected checks it requires."""
    by_id = {c.id: c for c in checks}
    ordered: dict[str, CheckSpec] = {}
    visiting: set[str] = set()

    def visit(check: CheckSpec) -> None:
        if check.id in ordered or check.id in visiting:  # a cycle is the registry's bug: registry order wins
            return
        visiting.add(check.id)
        for required in check.requires:
            if required in by_id:
                visit(by_id[required])
        visiting.discard(check.id)
        ordered[check.id] = check

    for check in checks:
        visit(check)
    return list(ordered.values())


def _blocker(check: CheckSpec, done: Mapping[str, Result]) -> Outcome | None:
    """When a required check did not pass, this one is moot: point at the root cause."""
    for required in check.requires:
        prior = done.get(required)
        blocked = blocked_by(prior) if prior is not None else None
        if blocked is not None:
            return blocked
    return None


def _not_applicable(prior: Result) -> str:
    why = prior.reason or prior.title
    # A chain of skips (a -> b -> c) says "not applicable" once, not once per link.
    return why if why.startswith("not applicable: ") else f"not applicable: {why}"


def blocked_by(prior: Result, skip_reason: Callable[[Result], str] = _not_applicable) -> Outcome | None:
    """The outcome of a result that needs ``prior``: None when prior passed or warned (go ahead); else it points
    at the root cause, as a skip when prior was skipped (``skip_reason`` words it) and unknown otherwise.
    The one rule for "blocked by an earlier result": the engine's ``requires``, and smoke's GPU steps."""
    if prior.status in (Status.PASS, Status.WARN):
        return None
    root = prior.caused_by or prior.id
    if prior.status is Status.SKIP:
        return Outcome(status=Status.SKIP, reason=skip_reason(prior), caused_by=root)
    return Outcome(status=Status.UNKNOWN, reason=f"could not check because {root} is {prior.status.value}",
                   caused_by=root)


def make_context(policy: Policy, options: ProbeOptions | None = None, fs: HostFS = HOST) -> ContextFactory:
    """Contexts for this process's environment, one per probe timeout; ``fs`` is where host files are read."""
    env = dict(os.environ)
    home = os.path.expanduser("~")

    def ctx_for(timeout_s: float) -> ProbeContext:
        return ProbeContext(env=env, home=home, timeout_s=timeout_s, run=runner.run, options=options or ProbeOptions(),
                            policy=policy, fs=fs)

    return ctx_for


def examine(
    checks: Sequence[CheckSpec],
    probes: Mapping[str, ProbeSpec],
    policy: Policy,
    *,
    command: str = "doctor",
    options: ProbeOptions | None = None,
    strict: bool = False,
    ctx_for: ContextFactory | None = None,
) -> Report:
    """The whole examination: the probes' facts collected in parallel, then the checks applied, into one Report."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.monotonic()
    # A probe only checks that the policy skips (or states no requirement for) would need is not started.
    running = [c for c in checks if c.applies_to(policy) and policy.skip_reason(c.id) is None]
    needed = [probes[name] for name in dict.fromkeys(c.probe for c in running) if name in probes]
    collected = collect_all(needed, ctx_for or make_context(policy, options), policy.probe_timeout_s)
    results = apply_checks(checks, collected, policy)
    return Report(
        command=command,
        host=socket.gethostname(),
        started_at=started_at,
        duration_s=round(time.monotonic() - start, 4),
        results=tuple(results),
        strict=strict,
        facts=summarize_facts(needed, collected),
    )


def summarize_facts(probes: Sequence[ProbeSpec], collected: Mapping[str, Collected]) -> dict[str, str | None]:
    """Report.facts: every name of FACT_NAMES, from the ``summarize`` of the probes that gave facts (None where no
    probe that ran knows it). A summary that fails leaves its facts unknown rather than the report unwritten."""
    facts: dict[str, str | None] = dict.fromkeys(FACT_NAMES)
    for spec in probes:
        got = collected.get(spec.name)
        if spec.summarize is None or got is None or got.facts is None:
            continue
        try:
            summary = spec.summarize(got.facts)
        except Exception:  # a summary is a convenience for fleet views; the verdicts do not depend on it
            continue
        for name, value in summary.items():
            if name in facts and facts[name] is None and value:
                facts[name] = str(value)[:200]
    return facts
