"""The versioned JSON envelope. Adding a field is free; renaming or removing one bumps SCHEMA_VERSION."""

from __future__ import annotations

from typing import Any

from envcheck import __version__
from envcheck.model import Report, Result
from envcheck.report.jsontext import indented
from envcheck.report.safetext import json_safe_report, json_text

SCHEMA = "envcheck.report"
SCHEMA_VERSION = 1


def result_to_dict(result: Result) -> dict[str, Any]:
    return {
        "id": result.id,
        "subject": result.subject,
        "item": result.item,
        "title": result.title,
        "status": result.status.value,
        "observed": result.observed,
        "expected": result.expected,
        "reason": result.reason,
        "fix": result.fix,
        "caused_by": result.caused_by,
        "duration_s": result.duration_s,
        "evidence": dict(result.evidence),
    }


def envelope(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "envcheck_version": __version__,
        "command": report.command,
        "host": report.host,
        "time": report.started_at,
        "duration_s": report.duration_s,
        "strict": report.strict,
        "overall": report.overall.value,
        "exit_code": report.exit_code,
        "counts": report.counts(),
        "facts": {name: None if value is None else json_text(value) for name, value in report.facts.items()},
        # Which policy judged this report: the file (null: the built-in defaults), the digest of the effective
        # values, the policy groups that matched; and the inventory groups the host was judged as a member of.
        "policy": None if report.policy is None else {"path": report.policy.path, "digest": report.policy.digest,
                                                       "groups": list(report.policy.groups)},
        "groups": list(report.groups),
        "results": [result_to_dict(r) for r in report.results],
    }


def render_json(report: Report) -> str:
    """The envelope as indented JSON. Mask secrets first (envcheck.redact.Redactor.report): on the raw strings,
    not on this text, where a secret holding a quote or a non-ASCII letter is already escaped."""
    return indented(envelope(json_safe_report(report))) + "\n"
