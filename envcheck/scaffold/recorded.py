"""`envcheck generate` in a scaffolded project: plan from the decisions in its record, not from this machine.

A project made with ``--driver 535.104.05`` on a laptop has a Dockerfile for that driver; `generate environment`
there must write an environment.yml for the same machine, or the two files disagree. So the record's host facts
(or its ``--driver``) and its torch, Python, route and minor-compat decisions become the inputs of the new plan;
options given on the command line still win. ``--replan`` plans for this machine instead and shows, per decision,
what changes.
"""

from __future__ import annotations

from dataclasses import replace

from envcheck import compat
from envcheck.project_record import RECORD_PATH, ProjectRecord, UnreadableRecord
from envcheck.scaffold.decide import Decision, Request
from envcheck.scaffold.facts import PlanFacts

# The decisions that say what gets installed and for which machine: what --replan compares.
COMPARED = ("target", "python", "torch", "variant", "route", "base_image", "cpu_image", "image_python", "minor_compat")


def _capability(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    parts = compat.parse_version(text)
    return (parts[0], parts[1] if len(parts) > 1 else 0) if parts else None


def recorded_facts(record: ProjectRecord, current: PlanFacts) -> PlanFacts:
    """The machine the record was planned for, as PlanFacts (this Python where the record names none)."""
    host = record.host
    return PlanFacts(driver=host.driver, cuda=host.cuda, capability=_capability(host.capability),
                     gpu_name=host.gpu_name, ubuntu=host.ubuntu, python=host.python or current.python,
                     notes=host.notes)


def recorded_request(record: ProjectRecord, request: Request) -> Request:
    """The request with the record's decisions filled in wherever the command line left the default.

    Python and the route are pinned only where the record says they were asked for: otherwise the recorded host
    facts decide them again the same way, and the reasons (which environment.yml's comments quote) stay the same
    words, so an unchanged plan rewrites no file."""
    python = record.decided("python")
    route = record.decided("route")
    asked_python = python.value if python and python.reason.startswith("--python") else None
    asked_route = route.value if route and route.reason.startswith("--route") else None
    return replace(
        request,
        driver=request.driver or record.planned_driver,
        gpu=request.gpu or _capability(record.planned_gpu),
        gpu_label=request.gpu_label if request.gpu else None,
        python=request.python or asked_python,
        torch=request.torch or record.torch,
        route=request.route or (asked_route if asked_route in ("pip", "conda-forge") else None),
        minor_compat=request.minor_compat or record.decided("minor_compat") is not None,
    )


def summary_line(record: ProjectRecord) -> str:
    """One line naming what the record decided, for `generate`'s output."""
    python = record.decided("python")
    route = record.decided("route")
    parts = [f"torch {record.torch} {record.variant}"]
    parts += [f"python {python.value}"] if python else []
    parts += [f"route {route.value}"] if route else []
    return (f"using the decisions recorded in {RECORD_PATH}: {', '.join(parts)}, planned for {record.planned_for}; "
            "--replan plans for this machine instead")


def unusable_line(record: UnreadableRecord | None) -> str:
    why = record.reason if record is not None else f"no {RECORD_PATH} in this folder"
    return f"{why}: planned for this machine and the options given"


def changes(record: ProjectRecord, items: tuple[Decision, ...]) -> list[str]:
    """``key: old -> new`` for each compared decision that --replan changes."""
    new = {d.key: d.value for d in items}
    lines: list[str] = []
    for key in COMPARED:
        old = record.decided(key)
        before, after = (old.value if old else "-"), new.get(key, "-")
        if before != after:
            lines.append(f"{key}: {before} -> {after}")
    return lines
