"""The terminal report: one line per subject with its worst outcome, the figures a smoke test measured, the
details of every problem with its fix under it, and a closing line that counts problems. ``verbose`` shows every
check. Lines are laid out to the terminal's width (envcheck.report.wrap), text under its label."""

from __future__ import annotations

import json

from envcheck.model import Report, Result, Status, worst
from envcheck.report.safetext import printable_report
from envcheck.report.wrap import fix_lines, hanging

SYMBOL = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.UNKNOWN: "?", Status.SKIP: "-"}
COLOR = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.UNKNOWN: "35", Status.SKIP: "2"}
PROBLEMS = (Status.FAIL, Status.UNKNOWN, Status.WARN)
# What a smoke test is run for: the training it did and, with --bench, the throughput it measured. Shown per
# device under the subject line when they passed (a problem shows them in its details anyway).
FIGURES = {"smoke.train": "train", "smoke.amp": "amp", "smoke.bench-matmul": "matmul",
           "smoke.bench-memory": "memory", "smoke.bench-transfer": "transfer"}
# Detail lines: the indent of a result's line, then of the text after a label ("found:    ").
_INDENT = " " * 8
_LABEL = 10


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


def _number(value: object) -> float | None:
    """A figure of the evidence, or None: evidence is the child's data, and the report must render whatever it holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
        return None
    return float(value)


def _figure(result: Result) -> str:
    """One measured result in a line: "train: loss 1.102 -> 0.0062, held-out accuracy 1.000, 23.3 steps/s";
    the judge's own words where the evidence lacks a figure."""
    ev = result.evidence
    name = FIGURES[result.id]
    start, end, per_step_ms = (_number(ev.get(key)) for key in ("loss_start", "loss_end", "time_per_step_ms"))
    if result.id not in ("smoke.train", "smoke.amp") or start is None or end is None or not per_step_ms:
        return f"{name}: {result.observed}"
    text = f"{name}: loss {start:.3f} -> {end:.4f}"
    accuracy = _number(ev.get("accuracy"))
    if accuracy is not None:
        text += f", held-out accuracy {accuracy:.3f}"
    return text + (f", {1000 / per_step_ms:.1f} steps/s" if per_step_ms > 0 else "")


def _device(result: Result) -> str:
    """"GPU 0" of the item "GPU 0 (GPU-5c7e9a1f-...)": the UUID is in the details, the index tells them apart."""
    return (result.item or "").split(" (", 1)[0]


def _figures(results: list[Result], width: int) -> list[str]:
    shown = [r for r in results if r.id in FIGURES and r.status is Status.PASS and r.observed]
    devices = list(dict.fromkeys(_device(r) for r in shown))  # cpu, then the GPUs, as the steps ran on them
    column = max((len(device) for device in devices), default=0)
    lines: list[str] = []
    for device in devices:
        for index, result in enumerate(r for r in shown if _device(r) == device):
            lines.extend(hanging(f"    {(device if index == 0 else '').ljust(column)}  ", _figure(result), width))
    return lines


def _field(label: str, text: str, width: int) -> list[str]:
    return hanging(f"{_INDENT}{label.ljust(_LABEL)}", text, width)


def _details(result: Result, style: _Style, verbose: bool, width: int) -> list[str]:
    heading = f"{result.id}{f' [{result.item}]' if result.item else ''}: {result.title}"
    first, *rest = hanging("    [?] ", heading, width)  # the mark is 3 columns wide, its colour codes added after
    lines = [f"    {style.mark(result.status)}{first[7:]}", *rest]
    if result.caused_by and not verbose:
        return [*lines[:-1], lines[-1] + style(f"  (blocked by {result.caused_by})", "2")]
    if result.observed:
        lines.extend(_field("found:", result.observed, width))
    if result.expected and result.status is not Status.PASS:
        lines.extend(_field("expected:", result.expected, width))
    if result.reason and (result.status is not Status.PASS or verbose):
        lines.extend(_field("why:", result.reason, width))
    if result.fix and result.status in PROBLEMS:
        lead = _INDENT + "fix:".ljust(_LABEL)
        for index, line in enumerate(fix_lines(result.fix, width - len(lead))):
            lines.append((lead if index == 0 else " " * len(lead)) + style(line, "1"))
    if result.caused_by:
        lines.extend(_field("blocked by:", result.caused_by, width))
    if verbose:
        lines.append(style(f"{_INDENT}took {result.duration_s * 1000:.0f} ms", "2"))
        if result.evidence:
            evidence = json.dumps(dict(result.evidence), default=str, sort_keys=True)
            lines.extend(style(line, "2") for line in _field("evidence:", evidence[:800], width))
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


def render_terminal(report: Report, *, color: bool = False, verbose: bool = False, width: int = 80,
                    header: bool = True) -> str:
    """The report for a person at a terminal ``width`` columns wide. Mask secrets first
    (envcheck.redact.Redactor.report); control characters and escape sequences from outside are stripped here,
    before envcheck adds its own colours. ``header=False`` when the live progress printed the header already."""
    report = printable_report(report)
    style = _Style(color)
    lines = [style(f"envcheck {report.command} on {report.host}", "1"), ""] if header else [""]
    column = max((len(s) for s in report.subjects()), default=6)
    for subject in report.subjects():
        results = report.by_subject(subject)
        status = worst([r.status for r in results])
        # The mark is 3 columns wide: the summary's further lines start under its first.
        first, *rest = hanging(f"[?] {subject.ljust(column)}  ", _summary(results), width)
        lines.append(style.mark(status) + first[3:])
        lines.extend(rest)
        if not verbose:
            lines.extend(_figures(results, width))
        troubled = status in PROBLEMS
        for result in results:
            # "<subject>.target" says where the subject's steps ran (smoke: which interpreter, env or image):
            # with a problem under it, a person needs that first, even though it passed.
            where = troubled and result.id == f"{subject}.target"
            if verbose or result.status in PROBLEMS or where:
                lines.extend(_details(result, style, verbose, width))
    lines.append("")
    if report.policy is not None and report.policy.path is not None:  # the built-in defaults go without saying
        lines.append(policy_line(report))
    lines.append(closing_line(report))
    return "\n".join(lines) + "\n"


def policy_line(report: Report) -> str:
    """"policy: lab.yaml (sha256:1f2e3d4c5b6a, groups a100)": which file judged the run; the digest's first 12
    hex digits tell two policies apart at a glance (the JSON report has all 64)."""
    ref = report.policy
    if ref is None:
        return "policy: built-in defaults"
    groups = f", groups {', '.join(ref.groups)}" if ref.groups else ""
    return f"policy: {ref.path or 'built-in defaults'} ({ref.digest[:19]}{groups})"
