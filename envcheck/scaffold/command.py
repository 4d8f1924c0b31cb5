"""What `envcheck scaffold` and `envcheck generate ...` do, step by step; cli.py passes the options and a
``say`` function (the only printing), so this module never prints or exits itself.

Order matters for safety: validate every input, undo what an interrupted earlier run left in the folder, probe,
plan (no disk), refuse or list what would be replaced, and only then write, all or nothing
(envcheck/scaffold/write.py), so a bad option or an occupied folder leaves the disk as it was.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from envcheck.model import Report, UsageError
from envcheck.project_record import RECORD_PATH, ProjectRecord, read_record
from envcheck.scaffold import interrupts, validate
from envcheck.scaffold.decide import Request
from envcheck.scaffold.facts import PlanFacts, collect_plan_facts
from envcheck.scaffold.journal import leftovers, older_leftovers, recover
from envcheck.scaffold.plan import Plan, plan_project
from envcheck.scaffold.write import WriteResult, check_target, replaced_files, write_tree

Say = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    path: str
    name: str | None = None
    python: str | None = None
    torch: str | None = None
    cuda: str = "auto"
    driver: str | None = None
    route: str | None = None
    minor_compat: bool = False
    jupyter: bool = True
    docker: bool = True
    git: bool = True
    dry_run: bool = False
    force: bool = False
    as_json: bool = False


def _recorded_name(target: Path) -> str | None:
    """The name scaffold gave the project, so `generate` keeps it; None without a usable record."""
    record = read_record(target / RECORD_PATH)
    return record.name if isinstance(record, ProjectRecord) else None


@dataclass(frozen=True)
class ScaffoldResult:
    summary: dict[str, Any]  # the plan and what was written, as `--json` prints it
    verified: Report | None = None  # `scaffold --verify`: the images built and smoke-tested


def build_request(opts: Options, *, existing_project: bool = False) -> tuple[Path, Request]:
    """Validate every option; nothing has been probed or written yet."""
    target = validate.target_path(opts.path)
    if existing_project and not target.is_dir():
        raise UsageError(f"{target} is not a folder: `envcheck scaffold {opts.path}` creates a project")
    name = opts.name or (_recorded_name(target) if existing_project else None) or target.name
    request = Request(
        name=validate.dist_name(name),
        package=validate.package_name(name),
        python=validate.python_version(opts.python) if opts.python else None,
        torch=validate.torch_version(opts.torch) if opts.torch else None,
        cuda=validate.cuda_option(opts.cuda),
        driver=validate.driver_version(opts.driver) if opts.driver else None,
        route=opts.route,
        minor_compat=opts.minor_compat,
        jupyter=opts.jupyter,
        docker=opts.docker,
        git=opts.git,
    )
    return target, request


def plan_text(plan: Plan, replaces: list[str]) -> str:
    """The plan for a person: decisions with reasons, then the files."""
    lines = [f"Plan for {plan.target} ({plan.request.name}, package {plan.request.package}):", ""]
    lines += [f"  {d.key:<13} {d.value}\n  {'':<13} {d.reason}" for d in plan.decisions.items]
    lines += ["", "Files:"]
    lines += [f"  {path}{'  (replaces the existing file)' if path in replaces else ''}" for path in sorted(plan.files)]
    lines += [f"  note: {note}" for note in plan.facts.notes]
    return "\n".join(lines)


def plan_and_write(opts: Options, say: Say, *, part: str = "project", facts: PlanFacts | None = None) -> dict[str, Any]:
    """Scaffold (``part="project"``) or generate one part; returns the JSON summary."""
    target, request = build_request(opts, existing_project=part != "project")
    check_target(target)
    recovered = _undo_leftovers(target, opts, say)
    facts = facts if facts is not None else collect_plan_facts()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    plan = plan_project(str(target), request, facts, part=part, created=created)
    replaces = replaced_files(target, plan.files)
    existing = validate.existing_entries(target) if part == "project" else replaces
    summary = plan.to_json(replaces=tuple(replaces), dry_run=opts.dry_run)
    summary["needs_force"] = bool(existing) and not opts.force
    if recovered:
        summary["leftovers"] = recovered
    if existing and not opts.force and not opts.dry_run:
        shown = ", ".join(existing[:8]) + (f" and {len(existing) - 8} more" if len(existing) > 8 else "")
        what = "is not empty" if part == "project" else "already has"
        raise UsageError(f"{target} {what}: {shown}. Nothing was written; pass --force to replace "
                         f"{'the project' if part == 'project' else 'them'} (user files outside the plan stay)")
    if opts.dry_run:
        if not opts.as_json:
            say(plan_text(plan, replaces))
            say("\nDry run: nothing was written." + (f" {target} is not empty: writing needs --force."
                                                     if summary["needs_force"] else ""))
        return summary
    if replaces and not opts.as_json:
        say(f"Replacing {len(replaces)} existing file(s) in {target}:")
        for path in replaces:
            say(f"  {path}")
    written = _write(target, plan, opts, summary, part=part, git=part == "project" and request.git)
    if not opts.as_json:
        say(plan_text(plan, replaces))
        say(f"\nWrote {len(plan.files)} files into {target}.")
        say_written(written, say)
        if "git" in summary:
            say(summary["git"]["message"])
    return summary


def _write(target: Path, plan: Plan, opts: Options, summary: dict[str, Any], *, part: str, git: bool) -> WriteResult:
    """Write the plan, then `git init`, with SIGINT, SIGTERM and SIGHUP held from the first change to the last:
    before the last file is placed a signal rolls the write back; after it, the run ends once the step under way
    is done, saying what stands."""
    with interrupts.held() as signals:
        written = write_tree(target, plan.files, force=opts.force, whole_project=part == "project")
        summary["written"] = sorted(plan.files)
        summary["backup"] = str(written.backup) if written.backup else None
        if git:
            from envcheck.scaffold.gitinit import init_and_commit

            outcome = init_and_commit(target, plan.files, stop=signals.check)
            summary["git"] = {"initialised": outcome.initialised, "committed": outcome.committed,
                              "message": outcome.message}
        if signals.pending is not None:
            raise interrupts.Interrupted(signals.pending, f"{interrupts.signal_name(signals.pending)} arrived "
                                                          f"after the project was complete in {target}")
    return written


def _undo_leftovers(target: Path, opts: Options, say: Say) -> list[str]:
    """Undo what an interrupted run (SIGKILL, a power cut) left in the target, before anything is planned from
    what the folder holds; a dry run only says so."""
    if opts.dry_run:
        notes = [f"{staging} is left from an interrupted envcheck run; a run without --dry-run undoes it first"
                 for staging in leftovers(target)]
    else:
        with interrupts.held() as signals:
            notes = recover(target)
            if signals.pending is not None:
                raise interrupts.Interrupted(signals.pending, (
                    f"interrupted by {interrupts.signal_name(signals.pending)}; nothing was written"
                    + (f" ({' '.join(notes)})" if notes else "")))
    notes += older_leftovers(target)
    if not opts.as_json:
        for note in notes:
            say(f"Note: {note}")
    return notes


def say_written(written: WriteResult, say: Say) -> None:
    """Where the replaced files went, and how to put them back."""
    if written.backup is not None:
        say(f"The {len(written.replaced)} replaced file(s) are kept in {written.backup}/; to put them back: "
            f"cp -a {shlex.quote(str(written.backup))}/. {shlex.quote(str(written.target))}/")
    for note in written.notes:
        say(f"Note: {note}")


def scaffold(opts: Options, say: Say, *, part: str = "project", then_verify: bool = False) -> ScaffoldResult:
    """`envcheck scaffold` (or `generate PART`), then, with ``then_verify``, `envcheck verify` on what it wrote."""
    summary = plan_and_write(opts, say, part=part)
    if not then_verify or opts.dry_run:
        return ScaffoldResult(summary)
    from envcheck.scaffold.verify import verify

    return ScaffoldResult(summary, verify(Path(summary["target"])))  # verify's own default deadline
