"""The fleet JSON (schema ``envcheck.fleet``, version 1; README "The fleet JSON"): every host with its outcome and
its report's verdicts, the files that gave no host, and the drift. Adding a field is free; renaming or removing
one bumps SCHEMA_VERSION, as for the report envelope."""

from __future__ import annotations

from typing import Any, Iterator

from envcheck import __version__
from envcheck.fleet.merge import Drift, FleetView, HostView
from envcheck.fleet.outcomes import now_iso
from envcheck.report.jsonreport import result_to_dict
from envcheck.report.jsontext import INDENT, encode_basestring_ascii, indented

SCHEMA = "envcheck.fleet"
SCHEMA_VERSION = 1


def fleet_envelope(view: FleetView, *, time: str | None = None) -> dict[str, Any]:
    subjects = view.subjects()
    return _envelope(view, time, subjects, [_host(host, subjects) for host in view.hosts])


def render_fleet_json(view: FleetView, *, time: str | None = None) -> str:
    """The fleet envelope as indented JSON: what ``json.dumps(fleet_envelope(view), indent=2)`` gives."""
    return "".join(fleet_json_pieces(view, time=time))


def fleet_json_pieces(view: FleetView, *, time: str | None = None) -> Iterator[str]:
    """The text of :func:`render_fleet_json` in pieces, a host at a time, to be written as they are made: the
    fleet JSON of 5000 hosts is about 200 MB, and neither its objects nor its text need be in memory whole."""
    subjects = view.subjects()
    separator = "{\n"
    for key, value in _envelope(view, time, subjects, hosts=[]).items():
        yield separator + INDENT + encode_basestring_ascii(key) + ": "
        separator = ",\n"
        if key != "hosts" or not view.hosts:
            yield indented(value, 1)
            continue
        before = "[\n"
        for host in view.hosts:
            yield before + INDENT * 2 + indented(_host(host, subjects), 2)
            before = ",\n"
        yield "\n" + INDENT + "]"
    yield "\n}\n"


def _envelope(view: FleetView, time: str | None, subjects: list[str], hosts: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "envcheck_version": __version__,
        "time": time if time is not None else now_iso(),
        "exit_code": view.exit_code,
        "counts": view.counts(),
        "subjects": subjects,
        "groups": view.groups(),
        "hosts": hosts,
        "missing": list(view.missing),
        "file_errors": [{"path": bad.path, "message": bad.message} for bad in view.file_errors],
        "drift": [_drift(found) for found in view.drift],
    }


def _host(host: HostView, subjects: list[str]) -> dict[str, Any]:
    report = host.report
    data: dict[str, Any] = {
        "host": host.name,
        "groups": list(host.groups),
        "outcome": host.outcome.value,
        "source": host.source,
        "error": host.error,
        "message": host.message,
        "report": None,
    }
    if report is not None:
        cells = {subject: host.cell(subject) for subject in subjects}
        data["report"] = {
            "command": report.command,
            "time": report.started_at,
            "duration_s": report.duration_s,
            "strict": report.strict,
            "overall": report.overall.value,
            "counts": report.counts(),
            "policy": None if report.policy is None else {
                "path": report.policy.path, "digest": report.policy.digest, "groups": list(report.policy.groups)},
            "facts": dict(report.facts),
            "cells": {subject: None if status is None else status.value for subject, status in cells.items()},
            "results": [result_to_dict(result) for result in report.results],
        }
    return data


def _drift(found: Drift) -> dict[str, Any]:
    return {
        "group": found.group,
        "fact": found.fact,
        "common": found.common,
        "common_hosts": found.common_hosts,
        "odd": [{"host": host, "value": value} for host, value in found.odd],
        "unknown": list(found.unknown),
    }
