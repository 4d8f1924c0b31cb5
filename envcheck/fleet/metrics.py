"""The fleet's Prometheus textfile (`report merge --prometheus FILE`): every host's report families with a ``host``
label (envcheck.report.prometheus), then the fleet's own: each host's outcome, hosts by outcome, the hosts that
drift from their group, the files that gave no host, and when the merge ran."""

from __future__ import annotations

import time

from envcheck.fleet.merge import FleetView
from envcheck.fleet.outcomes import HostOutcome
from envcheck.report.prometheus import Family, render_families, report_families


def render_fleet_prometheus(view: FleetView, *, now: float | None = None) -> str:
    """The textfile of a merged fleet; ``now`` (seconds since the epoch) is the merge's time, default the clock."""
    reports = [host.report for host in view.hosts if host.report is not None]
    families = report_families(reports, host_label=True)
    outcome = Family("envcheck_fleet_host_outcome",
                     "Each host's outcome in the merged fleet (pass, warn, failed, unjudged, unreachable) as the "
                     "label, the value always 1.")
    for host in view.hosts:
        outcome.add(1, host=host.name, outcome=host.outcome.value)
    hosts = Family("envcheck_fleet_hosts", "Hosts of the merged fleet by outcome.")
    counts = view.counts()
    for value in HostOutcome:
        hosts.add(counts[value.value], outcome=value.value)
    drift = Family("envcheck_fleet_drift_hosts",
                   "Hosts whose fact differs from the most common value in their group (all of them on a tie).")
    for found in view.drift:
        if found.odd:
            drift.add(len(found.odd), group=found.group, fact=found.fact)
    errors = Family("envcheck_fleet_file_errors", "Files given to the merge that gave no host (each one is unjudged).")
    errors.add(len(view.file_errors))
    merged = Family("envcheck_fleet_merge_timestamp_seconds", "When the merge ran, in seconds since the epoch.")
    merged.add(round(time.time() if now is None else now, 3))
    return render_families([*families, outcome, hosts, drift, errors, merged])
