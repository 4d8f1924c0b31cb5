"""One line for a program that reads one line: Slurm's drain reason (through an NHC module), a
node-problem-detector condition message, a Nagios-style status line. Pure: Report -> str.

The line names the overall outcome and, when it is not a pass, the first result that makes it so (a root cause
before a result it explains, a failure before a could-not-check), with that result's reason, then how many more
problems there are. It is short enough for the readers' caps: node-problem-detector keeps
``max_output_length`` characters of a plugin's output (default 80,
https://github.com/kubernetes/node-problem-detector/blob/master/docs/custom_plugin_monitor.md), Slurm shows a
drain reason in one ``sinfo -R`` column.
"""

from __future__ import annotations

from envcheck.model import Report, Result, Status
from envcheck.report.safetext import printable

BRIEF_MAX_CHARS = 200


def first_problem(report: Report) -> Result | None:
    """The result a person should look at first: the first failure that has no root cause elsewhere, else the
    first failure, else the first could-not-check (and, with ``strict``, warnings count as failures)."""
    failing = {Status.FAIL, Status.WARN} if report.strict else {Status.FAIL}
    for wanted in (failing, {Status.UNKNOWN}):
        found = [r for r in report.results if r.status in wanted]
        roots = [r for r in found if r.caused_by is None]
        if roots or found:
            return (roots or found)[0]
    return None


def render_brief(report: Report, max_chars: int = BRIEF_MAX_CHARS) -> str:
    """``envcheck fail: host.memory: <reason> (found ...; expected ...) (+2 more)``; ``envcheck pass: 41 checks
    (3 warn)`` when nothing is wrong. One line, control characters stripped, at most ``max_chars`` characters,
    then a newline."""
    counts = report.counts()
    overall = report.overall.value
    problem = first_problem(report)
    if problem is None:
        warned = f" ({counts['warn']} warn)" if counts["warn"] else ""
        line = f"envcheck {overall}: {len(report.results)} checks{warned}"
    else:
        name = problem.id + (f"[{problem.item}]" if problem.item else "")
        found = "; ".join(part for part in (f"found {problem.observed}" if problem.observed else "",
                                             f"expected {problem.expected}" if problem.expected else "") if part)
        what = problem.reason or problem.status.value
        what += f" ({found})" if found else ""
        problems = counts["fail"] + counts["unknown"] + (counts["warn"] if report.strict else 0)
        more = f" (+{problems - 1} more)" if problems > 1 else ""
        line = f"envcheck {overall}: {name}: {what}{more}"
    line = " ".join(printable(line).split())
    if len(line) > max_chars:
        line = line[: max_chars - 3] + "..."
    return line + "\n"
