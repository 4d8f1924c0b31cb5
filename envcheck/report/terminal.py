"""The terminal report: one line per subject with its worst outcome, the details of every problem
with its fix under it, and a closing line that counts problems. ``verbose`` shows every check."""

from __future__ import annotations

import json

from envcheck.model import Report, Result, Status, worst
from envcheck.report.safetext import printable_report

SYMBOL = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.UNKNOWN: "?", Status.SKIP: "-"}
COLOR = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.UNKNOWN: "35", Status.SKIP: "2"}
PROBLEMS = (Status.FAIL, Status.UNKNOWN, Status.WARN)


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def mark(self, status: Status) -> str:
        return self(f"[{SYMBOL[status]}]", COLOR[status])


def _label(result: Result) -> str:
    return f"{result.title} ({result.item})" if result.item else result.title


def _summary(results: list[Result]) -> str:
    problems = [r for r in results if r.status in PROBLEMS and not r.caused_by]
    # The subject line carries the subject's worst outcome, so it names a problem of that outcome first
    # (a failed kernelspec, not the warning listed before it); sorted() keeps registry order within a rank.
    problems = sorted(problems, key=lambda r: -r.status.rank)
    if problems:
        first = problems[0]
        text = f"{_label(first)}: {first.observed or first.reason}"
        return text + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
    shown = [r.observed for r in results if r.status is Status.PASS and r.observed][:2]
    if shown:
        return "; ".join(shown)
    skipped = [r for r in results if r.status is Status.SKIP]
    return skipped[0].reason if skipped else ""


def _details(result: Result, style: _Style, verbose: bool) -> list[str]:
    lines = [f"    {style.mark(result.status)} {result.id}{f' [{result.item}]' if result.item else ''}: {result.title}"]
    if result.caused_by and not verbose:
        return [lines[0] + style(f"  (blocked by {result.caused_by})", "2")]
    if result.observed:
        lines.append(f"        found:    {result.observed}")
    if result.expected and result.status is not Status.PASS:
        lines.append(f"        expected: {result.expected}")
    if result.reason and (result.status is not Status.PASS or verbose):
        lines.append(f"        why:      {result.reason}")
    if result.fix and result.status in PROBLEMS:
        fix_lines = result.fix.splitlines()
        lines.append("        fix:      " + style(fix_lines[0], "1"))
        lines.extend("                  " + style(line, "1") for line in fix_lines[1:])
    if result.caused_by:
        lines.append(f"        blocked by: {result.caused_by}")
    if verbose:
        lines.append(style(f"        took {result.duration_s * 1000:.0f} ms", "2"))
        if result.evidence:
            evidence = json.dumps(dict(result.evidence), default=str, sort_keys=True)
            lines.append(style(f"        evidence: {evidence[:800]}", "2"))
    return lines


def closing_line(report: Report) -> str:
    counts = report.counts()
    roots = [r for r in report.results if r.status in PROBLEMS and not r.caused_by]
    blocked = sum(1 for r in report.results if r.status in PROBLEMS and r.caused_by)
    n_fail = sum(1 for r in roots if r.status is Status.FAIL)
    n_unknown = sum(1 for r in roots if r.status is Status.UNKNOWN)
    n_warn = sum(1 for r in roots if r.status is Status.WARN)
    if not roots:
        head = "No problems found"
    else:
        parts = []
        if n_fail:
            parts.append(f"{n_fail} failed")
        if n_unknown:
            parts.append(f"{n_unknown} could not be checked")
        if n_warn:
            parts.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
        head = f"{len(roots)} problem{'s' if len(roots) != 1 else ''}: " + ", ".join(parts)
    tail = f"{counts['pass']} passed, {counts['skip']} skipped"
    if blocked:
        tail += f", {blocked} blocked by the above"
    return f"{head} ({tail}) in {report.duration_s:.2f} s; exit code {report.exit_code}."


def render_terminal(report: Report, *, color: bool = False, verbose: bool = False) -> str:
    """The report for a person at a terminal. Mask secrets first (envcheck.redact.Redactor.report); control
    characters and escape sequences from outside are stripped here, before envcheck adds its own colours."""
    report = printable_report(report)
    style = _Style(color)
    lines = [style(f"envcheck {report.command} on {report.host}", "1"), ""]
    width = max((len(s) for s in report.subjects()), default=6)
    for subject in report.subjects():
        results = report.by_subject(subject)
        status = worst([r.status for r in results])
        lines.append(f"{style.mark(status)} {subject.ljust(width)}  {_summary(results)}")
        troubled = status in PROBLEMS
        for result in results:
            # "<subject>.target" says where the subject's steps ran (smoke: which interpreter, env or image):
            # with a problem under it, a person needs that first, even though it passed.
            where = troubled and result.id == f"{subject}.target"
            if verbose or result.status in PROBLEMS or where:
                lines.extend(_details(result, style, verbose))
    lines.append("")
    lines.append(closing_line(report))
    return "\n".join(lines) + "\n"
