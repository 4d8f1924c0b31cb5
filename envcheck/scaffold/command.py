"""What `envcheck scaffold` and `envcheck generate ...` do, step by step; cli.py passes the options and a
``say`` function (the only printing), so this module never prints or exits itself.

Order matters for safety: validate every input, undo what an interrupted earlier run left in the folder, probe,
plan (no disk), refuse or list what would be replaced, and only then write, all or nothing
(envcheck/scaffold/write.py), so a bad option or an occupied folder leaves the disk as it was.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from envcheck.frozen import frozen
from envcheck.model import UsageError
from envcheck.project_record import RECORD_PATH, ProjectRecord, UnreadableRecord, read_record
from envcheck.scaffold import interrupts, validate
from envcheck.scaffold.decide import Request
from envcheck.scaffold.facts import PlanFacts, collect_plan_facts
from envcheck.scaffold.journal import leftovers, older_leftovers, recover
from envcheck.scaffold.plan import Plan, plan_project
from envcheck.scaffold.recorded import changes, recorded_facts, recorded_request, summary_line, unusable_line
from envcheck.scaffold.write import WriteResult, check_target, refusal, replaced_files, write_tree

Say = Callable[[str], None]


@frozen
class Options:
    path: str
    name: str | None = None
    python: str | None = None
    torch: str | None = None
    cuda: str = "auto"
    driver: str | None = None
    gpu: str | None = None
    replan: bool = False  # generate: plan for this machine, not from the project's record
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


def build_request(opts: Options, *, existing_project: bool = False) -> tuple[Path, Request]:
    """Validate every option; nothing has been probed or written yet."""
    target = validate.target_path(opts.path)
    if existing_project and not target.is_dir():
        raise UsageError(f"{target} is not a folder: `envcheck scaffold {opts.path}` creates a project")
    name = opts.name or (_recorded_name(target) if existing_project else None) or target.name
    gpu, gpu_label = validate.gpu_option(opts.gpu) if opts.gpu else (None, None)
    request = Request(
        name=validate.dist_name(name),
        package=validate.package_name(name),
        python=validate.python_version(opts.python) if opts.python else None,
        torch=validate.torch_version(opts.torch) if opts.torch else None,
        cuda=validate.cuda_option(opts.cuda),
        driver=validate.driver_version(opts.driver) if opts.driver else None,
        gpu=gpu,
        gpu_label=gpu_label,
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
    lines += [f"Warning: {warning}" for warning in plan.decisions.warnings]
    return "\n".join(lines)


def plan_and_write(opts: Options, say: Say, *, part: str = "project", facts: PlanFacts | None = None) -> dict[str, Any]:
    """Scaffold (``part="project"``) or generate one part; returns the JSON summary."""
    target, request = build_request(opts, existing_project=part != "project")
    check_target(target)
    recovered = _undo_leftovers(target, opts, say)
    facts = facts if facts is not None else collect_plan_facts()
    # A folder without a record is a plain folder, not an unreadable record: say which it is.
    record = read_record(target / RECORD_PATH) if part != "project" and os.path.lexists(target / RECORD_PATH) else None
    replan_from: ProjectRecord | None = None
    if isinstance(record, ProjectRecord) and not opts.replan:
        facts, request = recorded_facts(record, facts), recorded_request(record, request)
        _say_text(opts, say, summary_line(record))
    elif isinstance(record, ProjectRecord):
        replan_from = record
    elif part != "project":
        _say_text(opts, say, "Note: " + unusable_line(record if isinstance(record, UnreadableRecord) else None))
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    plan = plan_project(str(target), request, facts, part=part, created=created)
    replaces, unchanged = _compare(target, plan.files)
    existing = validate.existing_entries(target) if part == "project" else replaces
    summary = plan.to_json(replaces=tuple(replaces), dry_run=opts.dry_run)
    summary["needs_force"] = bool(existing) and not opts.force
    summary["unchanged"] = unchanged
    summary["warnings"] = list(plan.decisions.warnings)
    if part == "dockerfile":
        summary["warnings"] += _missing_copy_sources(target, plan.files)
        for warning in summary["warnings"][len(plan.decisions.warnings):]:
            _say_text(opts, say, f"Warning: {warning}")
    if recovered:
        summary["leftovers"] = recovered
    if replan_from is not None:
        summary["replan_changes"] = changes(replan_from, plan.decisions.items)
        _say_text(opts, say, _replan_text(summary["replan_changes"]))
    if existing and not opts.force and not opts.dry_run:
        raise UsageError(refusal(target, existing, whole_project=part == "project"))
    if opts.dry_run:
        if not opts.as_json:
            say(plan_text(plan, replaces))
            say("\nDry run: nothing was written." + (f" {target} is not empty: writing needs --force."
                                                     if summary["needs_force"] else ""))
        return summary
    if unchanged and not opts.as_json:
        say(f"Unchanged (same content, not rewritten): {', '.join(unchanged)}")
    if replaces and not opts.as_json:
        say(f"Replacing {len(replaces)} existing file{'s' if len(replaces) != 1 else ''} in {target}:")
        for path in replaces:
            say(f"  {path}")
    to_write = {path: text for path, text in plan.files.items() if path not in unchanged}
    if not to_write:
        if not opts.as_json:
            say(plan_text(plan, replaces))
            say(f"\nNothing to write: every planned file in {target} already has this content.")
        summary["written"] = []
        return summary
    written = _write(target, replace(plan, files=to_write), opts, summary, part=part,
                     git=part == "project" and request.git)
    if not opts.as_json:
        say(plan_text(plan, replaces))
        say(f"\nWrote {len(to_write)} file{'s' if len(to_write) != 1 else ''} into {target}.")
        say_written(written, say)
        if "git" in summary:
            say(summary["git"]["message"])
    return summary


def _say_text(opts: Options, say: Say, text: str) -> None:
    if not opts.as_json and text:
        say(text)


def _replan_text(lines: list[str]) -> str:
    if not lines:
        return f"--replan: the plan for this machine makes the same decisions as {RECORD_PATH}"
    return "\n".join([f"--replan: planned for this machine; changes from {RECORD_PATH} (old -> new):"]
                     + [f"  {line}" for line in lines]
                     + [f"  ({RECORD_PATH} and the project's other files keep the old decisions)"])


def _compare(target: Path, files: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(the planned files that exist with other content, those that exist with exactly the planned content):
    an identical file is neither replaced nor backed up, so --force lists only what really changes."""
    replaces: list[str] = []
    unchanged: list[str] = []
    for rel in replaced_files(target, files):
        path, planned = target / rel, files[rel].encode("utf-8")
        same = False
        try:
            # A regular file only (opening a FIFO would block), read no further than the planned size and a byte.
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as handle:
                    same = handle.read(len(planned) + 1) == planned
        except OSError:
            pass
        (unchanged if same else replaces).append(rel)
    return replaces, unchanged


def _missing_copy_sources(target: Path, files: Mapping[str, str]) -> list[str]:
    """The Dockerfiles' COPY sources this folder lacks: `generate dockerfile` in a folder that was not scaffolded
    writes COPY lines `docker build` cannot satisfy ("COPY failed: ... not found")."""
    sources: list[str] = []
    for text in files.values():
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
                sources += [w for w in words[1:-1] if not w.startswith("--") and w not in sources]
    missing = [src for src in sources if not os.path.lexists(target / src.rstrip("/"))]
    if not missing:
        return []
    return [f"the Dockerfile copies {', '.join(missing)}, which {target} lacks: `docker build` fails until "
            f"{'they exist' if len(missing) > 1 else 'it exists'} (`envcheck scaffold` creates them), or remove "
            f"{'those COPY lines' if len(missing) > 1 else 'that COPY line'}"]


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

