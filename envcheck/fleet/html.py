"""The fleet page (`envcheck report html`, `report merge --html FILE`): one self-contained HTML file.

No external asset (styles and script inline, from envcheck/data/fleet-page.css and .js), so it opens from a
file:// URL on a machine without network, and a Content-Security-Policy forbids loading anything at all. It holds:
the host x subject grid (a symbol in every cell as well as a colour, for colour-blind readers and printouts),
filters by outcome and group (kept in the URL's fragment: ``#outcome=failed&group=lab-a`` is a link to that
view), each host's problems with their fix one click away (details/summary, no script needed), the drift list,
and the files that gave no host.

Every text from a report is data: it goes through html.escape (quotes too) and nowhere else; no text is
placed in the script, and the script reads only attributes envcheck wrote (data-outcome, data-groups as JSON).
A check whose observed value is ``<script>alert(1)</script>`` shows those characters.
"""

from __future__ import annotations

import json
from html import escape

from envcheck import packagedata
from envcheck.atomicfile import write_atomic
from envcheck.fleet.merge import UNGROUPED, FleetView, HostView
from envcheck.fleet.outcomes import HostOutcome, now_iso
from envcheck.fleet.table import HOST_SYMBOL, drift_text, summary_line
from envcheck.model import Result, Status
from envcheck.report.terminal import SYMBOL

# script-src and style-src allow only what is inline; nothing may be fetched (default-src 'none').
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
PROBLEM_STATUSES = (Status.FAIL, Status.UNKNOWN, Status.WARN)


def _asset(name: str) -> str:
    return packagedata.read_text(name)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def script_json(value: object) -> str:
    """``value`` as JSON safe inside a <script> element: "<", ">" and "&" as \\u escapes, so no "</script>" or
    "<!--" can form from data, and U+2028/2029 escaped (line breaks to JavaScript before ES2019)."""
    text = json.dumps(value, ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _script() -> str:
    """The page's own script, inlined as it is: it is envcheck's code, holding no data, and must not contain
    what would end or comment out its element early."""
    code = _asset("fleet-page.js")
    if "</script" in code.lower() or "<!--" in code:
        raise ValueError("envcheck/data/fleet-page.js must not contain </script or <!--")
    return code


def render_html(view: FleetView, *, time: str | None = None) -> str:
    """The whole page for a merged fleet; ``time`` is when it was made (default now)."""
    made = time if time is not None else now_iso()
    subjects = view.subjects()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>envcheck fleet: {len(view.hosts)} hosts</title>",
        f"<style>{_asset('fleet-page.css')}</style>",
        "</head><body>",
        "<h1>envcheck fleet</h1>",
        f'<p class="summary">{_e(summary_line(view))} (exit code {view.exit_code}; made {_e(made)}). '
        f'Showing <span id="shown">{len(view.hosts)}</span> of {len(view.hosts)} hosts.</p>',
        _filters(view),
        _grid(view, subjects),
        _details(view),
        _drift(view),
        _file_errors(view),
        f'<script type="application/json" id="fleet-counts">{script_json(view.counts())}</script>',
        f"<script>{_script()}</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def write_html(view: FleetView, path: str) -> None:
    """Write :func:`render_html` to ``path`` whole or not at all. Raises OSError."""
    write_atomic(path, render_html(view).encode("utf-8"))


def _groups_attr(host: HostView) -> str:
    return _e(json.dumps(list(host.groups or (UNGROUPED,))))


def _filters(view: FleetView) -> str:
    counts = view.counts()
    boxes = "".join(
        f'<label><input type="checkbox" name="outcome" value="{o.value}" checked> '
        f'<span class="o-{o.value}">{HOST_SYMBOL[o]} {o.value}</span> ({counts[o.value]})</label>'
        for o in HostOutcome
    )
    options = "".join(f'<option value="{_e(group)}">{_e(group)}</option>' for group in view.groups())
    return (f'<form class="filters" onsubmit="return false"><fieldset><legend>Outcome</legend>{boxes}</fieldset>'
            f'<label>Group <select id="group-filter"><option value="">every group</option>{options}'
            "</select></label></form>")


def _grid(view: FleetView, subjects: list[str]) -> str:
    head = "".join(f'<th scope="col">{_e(subject)}</th>' for subject in subjects)
    rows = []
    for index, host in enumerate(view.hosts):
        cells = [
            f'<th scope="row" class="host" title="{_e(host.name)}"><a href="#host-{index}">{_e(host.name)}</a></th>',
            f'<td class="groups">{_e(", ".join(host.groups))}</td>',
            f'<td class="outcome o-{host.outcome.value}">{HOST_SYMBOL[host.outcome]} {host.outcome.value}</td>',
        ]
        if host.report is None:
            cells.append(f'<td class="message" colspan="{max(1, len(subjects))}">{_e(host.message)}</td>')
        else:
            for subject in subjects:
                status = host.cell(subject)
                if status is None:
                    cells.append(f'<td class="s-none" data-subject="{_e(subject)}" title="not checked"></td>')
                else:
                    cells.append(f'<td class="s-{status.value}" data-subject="{_e(subject)}" '
                                 f'title="{_e(subject)}: {status.value}">{SYMBOL[status]}</td>')
        rows.append(f'<tr class="host-row" data-host="{_e(host.name)}" data-outcome="{host.outcome.value}" '
                    f'data-groups="{_groups_attr(host)}">{"".join(cells)}</tr>')
    return (f'<div class="grid-wrap"><table class="grid" id="grid"><thead><tr><th scope="col">host</th>'
            f'<th scope="col">groups</th><th scope="col">outcome</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _result_details(result: Result) -> str:
    label = result.title + (f" ({result.item})" if result.item else "")
    summary = f"[{SYMBOL[result.status]}] {label}: {result.observed or result.reason}"
    rows = [("check", result.id), ("found", result.observed), ("expected", result.expected),
            ("why", result.reason)]
    items = "".join(f"<dt>{name}</dt><dd>{_e(text)}</dd>" for name, text in rows if text)
    if result.fix:
        items += f"<dt>fix</dt><dd><pre>{_e(result.fix)}</pre></dd>"
    return (f'<details class="result s-{result.status.value}-text"><summary><span class="s-{result.status.value}">'
            f"{_e(summary)}</span></summary><dl>{items}</dl></details>")


def _details(view: FleetView) -> str:
    articles = []
    for index, host in enumerate(view.hosts):
        if host.outcome is HostOutcome.PASS:
            continue
        heading = (f'<h3 id="host-{index}">{_e(host.name)} <span class="o-{host.outcome.value}">'
                   f"{HOST_SYMBOL[host.outcome]} {host.outcome.value}</span></h3>")
        if host.report is None:
            body = f"<p>{_e(host.message)}</p><p class=\"muted\">file: {_e(host.source or '(none)')}</p>"
        else:
            problems = sorted((r for r in host.report.results if r.status in PROBLEM_STATUSES and not r.caused_by),
                              key=lambda r: -r.status.rank)
            body = "".join(_result_details(r) for r in problems) or '<p class="muted">no problem</p>'
        articles.append(f'<article class="host-detail" data-host="{_e(host.name)}" '
                        f'data-outcome="{host.outcome.value}" data-groups="{_groups_attr(host)}">{heading}{body}'
                        "</article>")
    if not articles:
        return ""
    return f'<section id="problems"><h2>Problems by host</h2>{"".join(articles)}</section>'


def _drift(view: FleetView) -> str:
    if not view.drift:
        return '<section id="drift"><h2>Drift within groups</h2><p class="muted">none</p></section>'
    items = "".join(
        f'<li data-group="{_e(found.group)}" data-fact="{_e(found.fact)}"><strong>{_e(found.group)}</strong>: '
        f"{_e(found.fact)}: {_e(drift_text(found))}</li>"
        for found in view.drift
    )
    return f'<section id="drift"><h2>Drift within groups</h2><ul>{items}</ul></section>'


def _file_errors(view: FleetView) -> str:
    if not view.file_errors:
        return ""
    items = "".join(f"<li><code>{_e(bad.path)}</code>: {_e(bad.message)}</li>" for bad in view.file_errors)
    return f'<section id="file-errors"><h2>Files that gave no host</h2><ul>{items}</ul></section>'
