"""``--share``: a markdown report to paste into a bug report. The caller masks it first (envcheck.redact:
secrets, who the person is, home as ~) and passes the Redactor's summary, the report's last line."""

from __future__ import annotations

import re

from envcheck import __version__
from envcheck.model import Report, Status
from envcheck.report.safetext import printable_report
from envcheck.report.terminal import SYMBOL, closing_line


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _cell(text: str) -> str:
    # `<` as an entity: GitHub drops what looks like an HTML tag ("Ada <ada@x.org>", "hub/<old models>").
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _policy_cell(report: Report) -> str:
    """Which policy judged the report: its file (or the built-in defaults), digest and matched groups."""
    ref = report.policy
    assert ref is not None
    where = f"`{_cell(ref.path).replace('`', '')}`" if ref.path is not None else "built-in defaults"
    groups = f", groups {_cell(', '.join(ref.groups))}" if ref.groups else ""
    return f"{where}, digest `{ref.digest}`{groups}"


def render_markdown(report: Report, *, masked: str | None = None) -> str:
    """Markdown of an already masked report; ``masked`` (what was masked, one line) ends it."""
    report = printable_report(report)
    lines = [
        f"### envcheck {report.command} report",
        "",
        f"envcheck {__version__}, {report.started_at}, overall **{report.overall.value}**, "
        f"exit code {report.exit_code}",
        "",
        *([f"Policy: {_policy_cell(report)}", ""] if report.policy is not None else []),
        "| | check | found | note |",
        "|---|---|---|---|",
    ]
    for r in report.results:
        note = r.reason if r.status is not Status.PASS else ""
        if r.caused_by:
            note = f"blocked by `{r.caused_by}`"
        check = f"`{r.id}`" + (f" ({_cell(r.item)})" if r.item else "")
        lines.append(f"| {SYMBOL[r.status]} {r.status.value} | {check} | {_cell(r.observed)} | {_cell(note)} |")
    fixes = [r for r in report.results if r.fix and r.status in (Status.FAIL, Status.WARN, Status.UNKNOWN)]
    if fixes:
        lines += ["", "<details><summary>Suggested fixes</summary>", ""]
        for r in fixes:
            # A fenced block keeps a fix pasteable: every line of a multi-line fix stays its own line, and `|`
            # or `\` (sed addresses) are not escaped, which inline code in a list would show literally.
            fence = "`" * max(3, _longest_backtick_run(r.fix) + 1)
            lines += [f"`{r.id}`" + (f" ({_cell(r.item)})" if r.item else "") + ":", "", f"{fence}sh", r.fix, fence, ""]
        lines += ["</details>"]
    lines += ["", closing_line(report)] + (["", masked] if masked else [])
    return "\n".join(lines) + "\n"
