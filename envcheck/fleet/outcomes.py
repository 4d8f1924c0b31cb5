"""What became of one host in a fleet run, and the exit code of a fleet run or merge. Standard library only.

Five outcomes per host (``HostOutcome``). A host that gave a valid report is judged by its report's overall:
pass -> PASS, warn -> WARN, fail -> FAILED, unknown (or nothing judged) -> UNJUDGED. A host that gave no valid
report gets a host-error record instead, with a ``HostError`` reason; each reason maps to one outcome:

    unreachable     -> UNREACHABLE  (SSH could not connect or authenticate; or, in a merge, expected and missing)
    no-python       -> UNJUDGED     (no CPython >= 3.10 on the host: envcheck could not start)
    timed-out       -> UNJUDGED     (the host did not finish before the deadline: a hung host)
    invalid-report  -> UNJUDGED     (it answered, but not with a report envelope envcheck can read)
    run-failed      -> UNJUDGED     (anything else that ended the run without a report)

None of them is ever a pass, and none is "failed the policy": only a report can say that.

Exit code of a fleet run or merge: the worst outcome wins, in this order (worst first):

    FAILED -> 1 (EXIT_FAILED) > UNJUDGED -> 3 (EXIT_UNKNOWN) > UNREACHABLE -> 5 (EXIT_UNREACHABLE) > WARN, PASS -> 0

A host that failed the policy is the most urgent news, so it wins over a host that could not be judged; a host
that was not reached at all is the least specific, so every judged problem outranks it. Usage errors (2) and
output errors (4) are as for doctor.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from envcheck.model import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, EXIT_UNREACHABLE

HOST_ERROR_SCHEMA = "envcheck.host-error"
HOST_ERROR_SCHEMA_VERSION = 1


class HostOutcome(str, enum.Enum):
    """One host's outcome in a fleet run or merge."""

    PASS = "pass"
    WARN = "warn"  # passed, with warnings
    FAILED = "failed"  # the report's overall is fail: the host failed the policy
    UNJUDGED = "unjudged"  # no verdict: overall unknown, or no-python / timed-out / invalid-report / run-failed
    UNREACHABLE = "unreachable"  # never reached (or, in a merge, expected and missing)

    @property
    def rank(self) -> int:
        """Badness for "the worst wins": PASS < WARN < UNREACHABLE < UNJUDGED < FAILED."""
        return _RANK[self]


_RANK = {
    HostOutcome.PASS: 0,
    HostOutcome.WARN: 1,
    HostOutcome.UNREACHABLE: 2,
    HostOutcome.UNJUDGED: 3,
    HostOutcome.FAILED: 4,
}

_EXIT = {
    HostOutcome.PASS: EXIT_OK,
    HostOutcome.WARN: EXIT_OK,
    HostOutcome.UNREACHABLE: EXIT_UNREACHABLE,
    HostOutcome.UNJUDGED: EXIT_UNKNOWN,
    HostOutcome.FAILED: EXIT_FAILED,
}


class HostError(str, enum.Enum):
    """Why a host has no report: the ``outcome`` field of a host-error record."""

    UNREACHABLE = "unreachable"
    NO_PYTHON = "no-python"
    TIMED_OUT = "timed-out"
    INVALID_REPORT = "invalid-report"
    RUN_FAILED = "run-failed"

    @property
    def outcome(self) -> HostOutcome:
        return HostOutcome.UNREACHABLE if self is HostError.UNREACHABLE else HostOutcome.UNJUDGED


# A report envelope's "overall" (model.Status values) -> the host's outcome. "skip" (nothing was judged) and
# anything unexpected are UNJUDGED: a host is never a pass by default.
_BY_OVERALL = {"pass": HostOutcome.PASS, "warn": HostOutcome.WARN, "fail": HostOutcome.FAILED}


def outcome_of_overall(overall: object) -> HostOutcome:
    """The outcome of a host whose valid report has this ``overall``."""
    return _BY_OVERALL.get(overall, HostOutcome.UNJUDGED) if isinstance(overall, str) else HostOutcome.UNJUDGED


def worst_outcome(outcomes: Iterable[HostOutcome]) -> HostOutcome | None:
    """The worst of several outcomes (the order in this module's docstring); None when there are none."""
    return max(outcomes, key=lambda o: o.rank, default=None)


def exit_code(outcomes: Iterable[HostOutcome]) -> int:
    """The exit code of a fleet run or merge: the worst host's (FAILED 1 > UNJUDGED 3 > UNREACHABLE 5 > 0).
    No hosts at all is 0 here; the caller decides whether an empty fleet is a usage error."""
    worst = worst_outcome(outcomes)
    return EXIT_OK if worst is None else _EXIT[worst]


def now_iso() -> str:
    """The current time as ISO 8601 UTC, as reports write ``started_at``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def host_error_record(
    host: str, groups: Sequence[str], error: HostError, message: str, *, time: str | None = None
) -> dict[str, Any]:
    """The record written for a host without a valid report (schema ``envcheck.host-error``, version 1)."""
    return {
        "schema": HOST_ERROR_SCHEMA,
        "schema_version": HOST_ERROR_SCHEMA_VERSION,
        "host": host,
        "groups": list(groups),
        "outcome": error.value,
        "message": message,
        "time": time if time is not None else now_iso(),
    }


# Characters kept in a file name as they are; everything else becomes "_". No "/" (a path), no leading "." (a
# hidden file, "." and ".."), nothing a shell or an HTML page would read as syntax.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_STEM = 100  # well under NAME_MAX (255 bytes on Linux file systems) with ".json" and a digest added


def safe_file_name(host: str) -> str:
    """A file name for ``host``'s result in the out folder: ``<stem>.json``, made only of [A-Za-z0-9._-].

    A host name is data (an inventory may hold any text): '/', '..', shell and HTML characters, control
    characters and very long names are all replaced, and whenever the stem differs from the host name a short
    digest of the name is appended, so two different hosts never share a file ("a/b" and "a_b" differ).
    """
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFKC", host)).lstrip(".")
    if stem != host or not stem or len(stem) > _MAX_STEM:
        digest = hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        stem = f"{stem[:_MAX_STEM]}-{digest}" if stem else digest
    return f"{stem}.json"
