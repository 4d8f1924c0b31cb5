"""The one result model: five outcomes, a result per check, a report per run.

Standard library only; every other module imports this one and it imports none of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


class Status(str, enum.Enum):
    """The five outcomes of a check. ``unknown`` means "could not check" and is never a pass."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        """Badness, for picking a subject's worst outcome: skip < pass < warn < unknown < fail."""
        return _RANK[self]


_RANK = {Status.SKIP: 0, Status.PASS: 1, Status.WARN: 2, Status.UNKNOWN: 3, Status.FAIL: 4}


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The worst of several outcomes; skip when there are none."""
    return max(statuses, key=lambda s: s.rank, default=Status.SKIP)


@dataclass(frozen=True)
class Outcome:
    """What a check function decides; the engine adds id, title and timing to make a Result.

    ``item`` names one instance when a check judges several things (one GPU, one conda env);
    the id stays the same for all of them, so JSON consumers key on (id, item).
    """

    status: Status
    observed: str = ""
    expected: str = ""
    reason: str = ""
    fix: str = ""
    caused_by: str | None = None
    item: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """One judged fact, as every report shows it.

    ``id`` is stable once released (``subject.kebab-name``); ``caused_by`` names the id of a root
    cause elsewhere that makes this result moot.
    """

    id: str
    title: str
    status: Status
    observed: str = ""
    expected: str = ""
    reason: str = ""
    fix: str = ""
    duration_s: float = 0.0
    caused_by: str | None = None
    item: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return self.id.split(".", 1)[0]

    @classmethod
    def from_outcome(cls, check_id: str, title: str, outcome: Outcome, duration_s: float) -> Result:
        return cls(
            id=check_id,
            title=title,
            status=outcome.status,
            observed=outcome.observed,
            expected=outcome.expected,
            reason=outcome.reason,
            fix=outcome.fix,
            duration_s=duration_s,
            caused_by=outcome.caused_by,
            item=outcome.item,
            evidence=dict(outcome.evidence),
        )


# Exit codes: the table in README.md. Only cli.py calls sys.exit with them.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3


@dataclass(frozen=True)
class Report:
    """A whole run: what was checked on which host, when, and the results in registry order."""

    command: str
    host: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    results: tuple[Result, ...]
    strict: bool = False

    def subjects(self) -> list[str]:
        """Subjects in first-seen order."""
        seen: dict[str, None] = {}
        for result in self.results:
            seen.setdefault(result.subject, None)
        return list(seen)

    def by_subject(self, subject: str) -> list[Result]:
        return [r for r in self.results if r.subject == subject]

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    @property
    def overall(self) -> Status:
        statuses = [r.status for r in self.results]
        if self.strict:
            statuses = [Status.FAIL if s is Status.WARN else s for s in statuses]
        return worst(statuses) if statuses else Status.SKIP

    @property
    def exit_code(self) -> int:
        overall = self.overall
        if overall is Status.FAIL:
            return EXIT_FAILED
        if overall is Status.UNKNOWN:
            return EXIT_UNKNOWN
        return EXIT_OK


class EnvcheckError(Exception):
    """The one error base class; the CLI turns it into a message and an exit code."""

    exit_code = EXIT_FAILED


class UsageError(EnvcheckError):
    """Bad input from the user: nothing was done."""

    exit_code = EXIT_USAGE


# --- the units the engine runs -------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeContext:
    """What a probe may read: the environment, the home folder, its time budget, and the options
    the user passed (``options`` holds strings such as ``docker_host`` or ``python``).

    ``run`` is the subprocess seam (``envcheck.runner.run`` or a remote runner with its signature).
    """

    env: Mapping[str, str]
    home: str
    timeout_s: float
    run: Callable[..., Any]
    options: Mapping[str, Any] = field(default_factory=dict)
    # The run's Policy (None in hand-built contexts): for probes whose *scope* is policy data, such as
    # host's list of basic tools to look up. Verdicts still belong to the checks.
    policy: Any = None


@dataclass(frozen=True)
class ProbeSpec:
    """A named fact-finder: ``collect(ctx)`` returns a frozen dataclass of facts, never a verdict."""

    name: str
    collect: Callable[[ProbeContext], Any]
    timeout_s: float | None = None  # None: the policy's probe_timeout_s


@dataclass(frozen=True)
class CheckSpec:
    """A named verdict: ``judge(facts, policy)`` is pure and returns one Outcome or several
    (one per GPU, per env, ...). ``requires`` names checks whose failure makes this one moot."""

    id: str
    title: str
    probe: str
    judge: Callable[[Any, Any], Outcome | Sequence[Outcome]]
    requires: tuple[str, ...] = ()
