"""One view of a fleet from per-host files: each host's outcome and report, the files that gave no host, the hosts
expected but missing, and the drift of machine facts within each group. Renderers take a FleetView
(envcheck.fleet.table, fleetjson, junit, html; envcheck.report.prometheus).

Public entry points (``envcheck report merge`` and ``envcheck fleet`` both call them):

    merge_paths(paths, *, expect_hosts=None) -> FleetView     files and folders of per-host JSON
    merge_folder(folder, *, expect_hosts=None) -> FleetView   one folder (what `envcheck fleet --out DIR` wrote)
    envcheck.fleet.table.render_table(view, *, color, width) -> str
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Mapping, Sequence

from envcheck.fleet.hostreport import BadFile, HostErrorRecord, list_files, read_host_file
from envcheck.fleet.hosttext import clean
from envcheck.fleet.outcomes import HostOutcome, exit_code, outcome_of_overall
from envcheck.frozen import frozen
from envcheck.model import Report, Status

# The facts compared across a group, in the order drift is listed ("policy" is the digest of the effective
# policy that judged the host: two hosts of one group judged by different requirements is drift too).
DRIFT_FACTS = ("driver", "cuda", "kernel", "docker", "torch", "gpu_model", "gpu_count", "policy")
UNGROUPED = "all"  # the group of hosts whose report names none
MISSING_MESSAGE = "expected, but no report was found for it"


@frozen
class FileError:
    """A file that gave no host: not JSON, a newer schema, too big, wrong types, a second file for one host."""

    path: str
    message: str


@frozen
class HostView:
    """One host of the fleet: its outcome and either its report or why it has none (``message``)."""

    name: str
    groups: tuple[str, ...]
    outcome: HostOutcome
    source: str | None  # the file it came from; None for a host expected and missing
    report: Report | None = None
    error: str | None = None  # a host-error record's reason ("unreachable", "timed-out", ...) or "missing"
    message: str = ""  # the host-error record's message, or MISSING_MESSAGE

    def fact(self, name: str) -> str | None:
        if self.report is None:
            return None
        if name == "policy":
            return self.report.policy.digest if self.report.policy else None
        value = self.report.facts.get(name)
        return value if value else None

    def cell(self, subject: str) -> Status | None:
        """The worst outcome of this host's results for ``subject``; None when it has none."""
        return self._cells.get(subject)

    @functools.cached_property
    def _cells(self) -> dict[str, Status]:
        # Every subject's at once: the table, the fleet JSON and the page each ask for every subject of every host.
        cells: dict[str, Status] = {}
        for result in self.report.results if self.report is not None else ():
            subject, status = result.subject, result.status
            if subject not in cells or status.rank > cells[subject].rank:
                cells[subject] = status
        return cells


@frozen
class Drift:
    """One fact that differs within one group. ``common`` is the most common known value, None on a tie (then
    ``odd`` lists every host with its value); ``unknown`` names the hosts whose value is not known (not drift,
    but shown)."""

    group: str
    fact: str
    common: str | None
    common_hosts: int  # how many hosts have ``common`` (on a tie: each tied value's count)
    odd: tuple[tuple[str, str], ...]  # (host, its value)
    unknown: tuple[str, ...]


@frozen
class FleetView:
    hosts: tuple[HostView, ...]
    file_errors: tuple[FileError, ...] = ()
    drift: tuple[Drift, ...] = ()

    @property
    def exit_code(self) -> int:
        """The worst host's exit code (envcheck.fleet.outcomes); a file that gave no host counts as unjudged."""
        outcomes = [h.outcome for h in self.hosts] + [HostOutcome.UNJUDGED for _ in self.file_errors]
        return exit_code(outcomes)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts if h.error == "missing")

    def subjects(self) -> list[str]:
        """Every subject any host's report has, in first-seen order."""
        seen: dict[str, None] = {}
        for host in self.hosts:
            for subject in host.report.subjects() if host.report else ():
                seen.setdefault(subject, None)
        return list(seen)

    def groups(self) -> list[str]:
        """Every group, in first-seen order."""
        seen: dict[str, None] = {}
        for host in self.hosts:
            for group in host.groups or (UNGROUPED,):
                seen.setdefault(group, None)
        return list(seen)

    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in HostOutcome}
        for host in self.hosts:
            counts[host.outcome.value] += 1
        return counts


def merge_paths(paths: Sequence[str], *,
                expect_hosts: Sequence[str] | Mapping[str, Sequence[str]] | None = None) -> FleetView:
    """Read every per-host file under ``paths`` (files, or folders' ``*.json``) into one view. ``expect_hosts``:
    the hosts that must have a report (a mapping gives each one's inventory groups); each without one is an
    UNREACHABLE host. A file that gives no host is a FileError; a second file for a host already read (in path
    order) is one too, naming the file that was kept."""
    files, problems = list_files(paths)
    errors = [FileError(_shown(path), message) for path, message in problems]
    hosts: dict[str, HostView] = {}
    for path in files:
        try:
            read = read_host_file(path)
        except BadFile as exc:
            errors.append(FileError(_shown(path), str(exc)))
            continue
        host = _host_view(read, _shown(path))
        kept = hosts.get(host.name)
        if kept is not None:
            errors.append(FileError(_shown(path), f"a second file for host {host.name!r}: {kept.source} was kept"))
            continue
        hosts[host.name] = host
    expected = {} if expect_hosts is None else (
        dict(expect_hosts) if isinstance(expect_hosts, Mapping) else {h: () for h in expect_hosts})
    for name, groups in expected.items():
        if name not in hosts:
            hosts[name] = HostView(name=name, groups=tuple(groups), outcome=HostOutcome.UNREACHABLE, source=None,
                                   error="missing", message=MISSING_MESSAGE)
    ordered = tuple(sorted(hosts.values(), key=lambda h: h.name))
    return FleetView(hosts=ordered, file_errors=tuple(errors), drift=tuple(find_drift(ordered)))


def _shown(path: str) -> str:
    """A file's path as every view shows it: a name is outside data too (a folder of reports gathered from
    anywhere), so its control characters are stripped and secrets in it masked, as in the reports' texts."""
    return clean(path, masked=True)


def merge_folder(folder: str, *,
                 expect_hosts: Sequence[str] | Mapping[str, Sequence[str]] | None = None) -> FleetView:
    """:func:`merge_paths` of one folder: what ``envcheck fleet --out DIR`` calls on DIR at its end."""
    return merge_paths([folder], expect_hosts=expect_hosts)


def _host_view(read: Report | HostErrorRecord, path: str) -> HostView:
    if isinstance(read, HostErrorRecord):
        return HostView(name=read.host, groups=read.groups, outcome=read.error.outcome, source=path,
                        error=read.error.value, message=read.message)
    return HostView(name=read.host, groups=read.groups, outcome=outcome_of_overall(read.overall.value),
                    source=path, report=read)


def find_drift(hosts: Sequence[HostView]) -> list[Drift]:
    """Within each group (hosts without one form UNGROUPED), each fact of DRIFT_FACTS whose known values differ,
    or that some hosts do not know while others do. Hosts without a report know no fact and are left out."""
    members: dict[str, list[HostView]] = {}
    for host in hosts:
        if host.report is not None:
            for group in host.groups or (UNGROUPED,):
                members.setdefault(group, []).append(host)
    drift: list[Drift] = []
    for group, group_hosts in members.items():
        for fact in DRIFT_FACTS:
            values = {h.name: h.fact(fact) for h in group_hosts}
            found = _drift_of(group, fact, values)
            if found is not None:
                drift.append(found)
    return drift


def _drift_of(group: str, fact: str, values: Mapping[str, str | None]) -> Drift | None:
    known = {host: value for host, value in values.items() if value is not None}
    unknown = tuple(host for host, value in values.items() if value is None)
    tally = Counter(known.values()).most_common()
    if not tally or (len(tally) == 1 and not unknown):
        return None  # nobody knows it, or everybody agrees
    top = tally[0][1]
    tied = len(tally) > 1 and tally[1][1] == top
    common = None if tied else tally[0][0]
    odd = tuple((host, value) for host, value in known.items() if value != common)
    return Drift(group=group, fact=fact, common=common, common_hosts=top, odd=odd, unknown=unknown)
