"""The fleet as a terminal table: a line per host with its outcome and, per subject, the worst outcome of its checks
(a symbol, coloured when colour is wanted: the symbol alone must carry the meaning), then each host's problems
with their fix, the drift within groups, the files that gave no host, and a closing count.

Wide fleets stay readable: host names are cut to a width; when the subjects' names do not fit the line, the
columns are numbered and a legend names them. Every outside text went through safetext when the file was read
(envcheck.fleet.hostreport); this module adds only its own colour codes.
"""

from __future__ import annotations

from envcheck.fleet.merge import Drift, FleetView
from envcheck.fleet.outcomes import HostOutcome
from envcheck.model import Status
from envcheck.report.terminal import COLOR, SYMBOL

HOST_SYMBOL = {HostOutcome.PASS: "✓", HostOutcome.WARN: "!", HostOutcome.FAILED: "✗", HostOutcome.UNJUDGED: "?",
               HostOutcome.UNREACHABLE: "~"}
HOST_COLOR = {HostOutcome.PASS: "32", HostOutcome.WARN: "33", HostOutcome.FAILED: "31", HostOutcome.UNJUDGED: "35",
              HostOutcome.UNREACHABLE: "36"}
MAX_HOST = 32  # a host column wider than this is cut with "…" (the full name is in the problem lines)
MAX_GROUP = 16
_OUTCOME_WIDTH = len("✗ unreachable")


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(view: FleetView, *, color: bool = False, width: int = 80) -> str:
    """The whole terminal view of a merged fleet."""
    lines = _grid(view, color, width)
    lines += _problems(view, color)
    lines += drift_lines(view.drift)
    if view.file_errors:
        lines += ["", "Files that gave no host:"]
        lines += [f"  {bad.path}: {bad.message}" for bad in view.file_errors]
    lines += ["", summary_line(view)]
    return "\n".join(lines) + "\n"


def summary_line(view: FleetView) -> str:
    counts = view.counts()
    parts = [f"{counts[o.value]} {o.value}" for o in HostOutcome]
    errors = len(view.file_errors)
    tail = f"; {errors} file{'s' if errors != 1 else ''} gave no host" if errors else ""
    return f"{len(view.hosts)} host{'s' if len(view.hosts) != 1 else ''}: {', '.join(parts)}{tail}"


def _grid(view: FleetView, color: bool, width: int) -> list[str]:
    subjects = view.subjects()
    host_w = min(MAX_HOST, max([len("HOST"), *(len(h.name) for h in view.hosts)]))
    group_w = min(MAX_GROUP, max([len("GROUPS"), *(len(",".join(h.groups)) for h in view.hosts)]))
    lead = host_w + group_w + _OUTCOME_WIDTH + 6
    named = lead + sum(len(s) + 1 for s in subjects) <= width
    labels = subjects if named else [str(i + 1) for i in range(len(subjects))]
    header = f"{'HOST'.ljust(host_w)}  {'GROUPS'.ljust(group_w)}  {'OUTCOME'.ljust(_OUTCOME_WIDTH)}  "
    lines = [(header + " ".join(labels)).rstrip()]
    for host in view.hosts:
        mark = _paint(f"{HOST_SYMBOL[host.outcome]} {host.outcome.value}".ljust(_OUTCOME_WIDTH),
                      HOST_COLOR[host.outcome], color)
        groups = _cut(",".join(host.groups), group_w).ljust(group_w)
        row = f"{_cut(host.name, host_w).ljust(host_w)}  {groups}  {mark}  "
        if host.report is None:
            row += f"({_cut(host.message or host.error or '', max(30, width - lead - 2))})"
        else:
            row += " ".join(_cell(host.cell(s), len(label), color) for s, label in zip(subjects, labels, strict=True))
        lines.append(row.rstrip())
    if not named and subjects:
        lines.append("  ".join(f"{i + 1}={s}" for i, s in enumerate(subjects)))
    return lines


def _cell(status: Status | None, width: int, color: bool) -> str:
    if status is None:
        return " " * width
    return _paint(SYMBOL[status], COLOR[status], color) + " " * (width - 1)


def _problems(view: FleetView, color: bool) -> list[str]:
    lines: list[str] = []
    for host in view.hosts:
        if host.report is None:
            mark = _paint(HOST_SYMBOL[host.outcome], HOST_COLOR[host.outcome], color)
            lines.append(f"  {host.name}  {mark} {host.outcome.value}: {host.message or host.error}")
            continue
        failing = [r for r in host.report.results if r.status in (Status.FAIL, Status.UNKNOWN) and not r.caused_by]
        for result in failing:
            label = result.id + (f" ({result.item})" if result.item else "")
            mark = _paint(f"[{SYMBOL[result.status]}]", COLOR[result.status], color)
            lines.append(f"  {host.name}  {mark} {label}: {result.observed or result.reason}")
            fix = result.fix.splitlines()
            if fix:
                lines.append(f"      fix: {fix[0]}" + (" …" if len(fix) > 1 else ""))
    return ["", "Problems:", *lines] if lines else []  # the full message of a host without a report is here too


def drift_text(found: Drift) -> str:
    """One drift as a line of text: the most common value and the odd ones out, or the tie."""
    if found.common is None:
        values = ", ".join(f"{host}={value}" for host, value in found.odd)
        text = f"no most common value ({found.common_hosts} host(s) each): {values}"
    else:
        odd = ", ".join(f"{host}={value}" for host, value in found.odd)
        text = f"{found.common} on {found.common_hosts} host(s)" + (f"; odd ones out: {odd}" if odd else "")
    if found.unknown:
        text += f"; unknown on: {', '.join(found.unknown)}"
    return text


def drift_lines(drift: tuple[Drift, ...]) -> list[str]:
    if not drift:
        return []
    return ["", "Drift within groups:", *(f"  {d.group}: {d.fact}: {drift_text(d)}" for d in drift)]
