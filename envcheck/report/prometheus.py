"""Prometheus metrics in the text exposition format, for node_exporter's textfile collector
(https://github.com/prometheus/node_exporter#textfile-collector): `doctor --prometheus FILE` writes one report's,
`report merge --prometheus FILE` every host's with a ``host`` label (envcheck.fleet.metrics adds the fleet's own).

Names follow https://prometheus.io/docs/practices/naming/: snake_case, the ``envcheck_`` prefix, base units in the
suffix (``_seconds``). A check's outcome is a label of one series per check and item, valued 1 (the "info"
pattern of kube-state-metrics' ``kube_pod_status_phase``), so `envcheck_check_outcome{outcome="fail"} == 1`
lists every failing check. Every family is one block with its HELP and TYPE lines; samples carry no timestamp
(the textfile collector refuses them). Label values are escaped as the format says (backslash, double quote,
line feed: https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details); other control
characters are dropped and other line breaks become a line feed first (envcheck.report.safetext), so a sample
stays one line.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Mapping, Sequence

from envcheck.model import Report, Status, worst
from envcheck.report.safetext import printable

MetricType = Literal["gauge", "counter", "untyped"]


@dataclass
class Family:
    """One metric family: its name, HELP text, TYPE, and samples as (labels, value)."""

    name: str
    help: str
    type: MetricType = "gauge"
    samples: list[tuple[Mapping[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def escape_label_value(text: str) -> str:
    """A label value as the text format wants it: backslash, double quote and line feed escaped."""
    # A merge's textfile repeats the same few values (check ids, outcomes, host names) hundreds of thousands of
    # times: short ones are escaped once.
    return _escaped_label(text) if len(text) <= _REMEMBERED_LABEL else _escape_label(text)


_REMEMBERED_LABEL = 256


def _escape_label(text: str) -> str:
    return printable(text, multi_line=True).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_escaped_label = functools.lru_cache(maxsize=8_192)(_escape_label)


def _escape_help(text: str) -> str:
    # HELP text escapes backslash and line feed only (a double quote stays as it is).
    return printable(text).replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def render_families(families: Sequence[Family]) -> str:
    """The exposition text of ``families``, in order; a family without samples still gets its HELP and TYPE."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for labels, value in family.samples:
            pairs = ",".join(f'{key}="{escape_label_value(text)}"' for key, text in labels.items())
            lines.append(f"{family.name}{{{pairs}}} {_number(value)}" if pairs else f"{family.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def epoch_s(iso_time: str) -> float | None:
    """An ISO 8601 time with its offset as seconds since the epoch; None when it is not one."""
    try:
        moment = datetime.fromisoformat(iso_time)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def report_families(reports: Sequence[Report], *, host_label: bool = False) -> list[Family]:
    """The families of one or several reports; with ``host_label`` every sample names its report's host."""
    checks = Family("envcheck_check_outcome",
                    "One series per check and item of the last run; its outcome is the label "
                    "(pass, warn, fail, unknown, skip), the value always 1.")
    counts = Family("envcheck_checks", "Results of the last run by outcome.")
    overall = Family("envcheck_run_outcome",
                     "The last run's overall outcome (the worst of its results) as the label, the value always 1.")
    started = Family("envcheck_last_run_timestamp_seconds", "When the last run started, in seconds since the epoch.")
    duration = Family("envcheck_run_duration_seconds", "How long the last run took.")
    for report in reports:
        base = {"host": report.host} if host_label else {}
        base["command"] = report.command
        # One series per (check, item): the same pair twice in one textfile makes node_exporter drop the whole
        # file ("was collected before with the same name and label values"), so a repeated pair keeps its worst.
        per_item: dict[tuple[str, str], Status] = {}
        for result in report.results:
            key = (result.id, result.item or "")
            per_item[key] = worst([per_item.get(key, Status.SKIP), result.status])
        for (check, item), status in per_item.items():
            checks.add(1, **base, check=check, subject=check.split(".", 1)[0], item=item, outcome=status.value)
        for status in Status:
            counts.add(report.counts()[status.value], **base, outcome=status.value)
        overall.add(1, **base, outcome=report.overall.value)
        moment = epoch_s(report.started_at)
        if moment is not None:
            started.add(moment, **base)
        duration.add(report.duration_s, **base)
    return [checks, counts, overall, started, duration]


def render_prometheus(report: Report) -> str:
    """The textfile of one already masked report (`doctor --prometheus FILE`)."""
    return render_families(report_families([report]))
