"""The one result model: five outcomes, a result per check, a report per run.

Standard library only; every other module imports this one and it imports none of them but envcheck.frozen (how
envcheck defines its frozen dataclasses, itself standard library only and importing nothing of envcheck).
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any, Mapping

from envcheck.frozen import frozen


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


@frozen
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


@frozen
class Result:
    """One judged fact, as every report shows it: a check's Outcome with the check's id, title and timing.

    ``id`` is stable once released (``subject.kebab-name``). The verdict's fields live on ``outcome`` only, so
    a field added to Outcome needs no edit here (read it as ``result.outcome.field``); the properties below
    read the established ones through, so renderers and tests say ``result.status``.
    """

    id: str
    title: str
    outcome: Outcome
    duration_s: float = 0.0

    @property
    def subject(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def status(self) -> Status:
        return self.outcome.status

    @property
    def observed(self) -> str:
        return self.outcome.observed

    @property
    def expected(self) -> str:
        return self.outcome.expected

    @property
    def reason(self) -> str:
        return self.outcome.reason

    @property
    def fix(self) -> str:
        return self.outcome.fix

    @property
    def caused_by(self) -> str | None:
        """The id of a root cause elsewhere that makes this result moot."""
        return self.outcome.caused_by

    @property
    def item(self) -> str | None:
        return self.outcome.item

    @property
    def evidence(self) -> Mapping[str, Any]:
        return self.outcome.evidence


# Exit codes: the table in README.md. Only cli.py calls sys.exit with them.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_OUTPUT = 4  # stdout (or a report file) closed, full or failing: the verdict could not be written
# The reader of stdout left before all was written (`envcheck doctor | head -1` on a long output): 128 + SIGPIPE,
# what the shell reports for cat or grep in the same place, so `set -o pipefail` treats envcheck like them.
EXIT_BROKEN_PIPE = 141
# `envcheck fleet` and `envcheck report merge` only: some host gave no report at all (unreachable over SSH, or a
# report expected and missing). EXIT_FAILED and EXIT_UNKNOWN keep their meaning there, per host.
EXIT_UNREACHABLE = 5


@frozen
class PolicyRef:
    """Which policy judged a report: the file (None: the built-in defaults), the digest of the *effective*
    policy (the file's defaults with the matching groups' overrides applied, as canonical JSON) and the names
    of the groups that matched. Two reports with one digest were judged by the same requirements."""

    path: str | None
    digest: str
    groups: tuple[str, ...] = ()


@frozen
class Report:
    """A whole run: what was checked on which host, when, and the results in registry order."""

    command: str
    host: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    results: tuple[Result, ...]
    strict: bool = False
    policy: PolicyRef | None = None
    # The inventory groups the host was judged as a member of (`doctor --group`): fleet reports are grouped by them.
    groups: tuple[str, ...] = ()
    # A few facts about the machine, each a short text or None when unknown (driver, cuda, kernel, docker, torch,
    # gpu_model, gpu_count, os, python): what a fleet view compares across hosts to find drift.
    facts: Mapping[str, str | None] = field(default_factory=dict)

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
