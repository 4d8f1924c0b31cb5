"""Atomic writing of a rendered tree: a failure part-way leaves the target as it was, never half a project.

Every file is first written and synced into a staging folder inside the target, ``.envcheck/staging-<id>/``
(same file system, so the moves are renames that need no free space; inside, so a read-only parent or a
250-character folder name does not matter), then moved into place file by file. Before the first change to the
target a journal (envcheck/scaffold/journal.py) records every step; a file ``force`` replaces is renamed into
``.envcheck/backup/<time>/``, which is kept. Any failure (a full disk, a permission taken away, an exception) or
SIGINT, SIGTERM or SIGHUP (held until the step under way is done: envcheck/scaffold/interrupts.py) rolls the
journal back: the target ends as it was, or, once the last file is placed, as the whole new project. A run killed
outright (SIGKILL, a power cut) leaves the journal, and the next write into the folder undoes it first.
An existing folder is filled, never swapped: a shell or editor inside it (`envcheck scaffold .`) keeps seeing it,
and it keeps its mode.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from envcheck.frozen import frozen
from envcheck.model import EnvcheckError, UsageError
from envcheck.scaffold import interrupts
from envcheck.scaffold.fsops import FileOps, is_real_dir
from envcheck.scaffold.journal import (
    BACKUP_DIR,
    JOURNAL_NAME,
    LOCK_NAME,
    STAGING_PREFIX,
    STATE_DIR,
    TREE_NAME,
    Entry,
    Journal,
    Undo,
    recover,
    roll_back,
)
from envcheck.scaffold.validate import existing_entries, safe_relpath, show


class WriteError(EnvcheckError):
    """Writing failed (full disk, permissions); the target was left as it was."""


@frozen
class WriteResult:
    target: Path
    written: tuple[str, ...]
    replaced: tuple[str, ...]
    backup: Path | None = None  # where the replaced files were moved, kept so a mistaken --force can be undone
    notes: tuple[str, ...] = ()  # leftovers of interrupted runs undone first, a staging folder left behind


def resolve_inside(target: Path, rel: str) -> Path:
    """``target/rel`` with symlinks resolved; refused unless it stays inside the (resolved) target."""
    pure = safe_relpath(rel)
    root = target.resolve()
    dest = root.joinpath(*pure.parts).resolve()
    if dest == root or root not in dest.parents:
        raise UsageError(f"refusing to write {show(rel)}: it resolves to {dest}, outside {root}")
    return dest


def replaced_files(target: Path, files: Mapping[str, str]) -> list[str]:
    """The plan's paths that already exist in the target: what --force would replace."""
    return sorted(rel for rel in files if os.path.lexists(target.joinpath(*safe_relpath(rel).parts)))


def _preflight(target: Path, files: Mapping[str, str]) -> None:
    root = target.resolve()
    for rel in files:
        if rel.startswith((f"{BACKUP_DIR}/", f"{STATE_DIR}/{STAGING_PREFIX}")):
            raise UsageError(f"refusing to write {show(rel)}: envcheck keeps its backups and staging folders there")
        dest = resolve_inside(target, rel)
        if dest.is_dir():
            raise UsageError(f"{dest} is a folder, but the project needs a file there: move it away first")
        for parent in dest.parents:
            if parent == root:
                break
            if parent.exists() and not parent.is_dir():
                raise UsageError(f"{parent} is a file, but the project needs a folder there: move it away first")


def check_target(target: Path) -> None:
    """Refuse a target that no write could succeed in (a usage error, exit 2), before anything is done."""
    if not os.path.lexists(target) and not os.access(target.parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot create {target}: {target.parent} is not writable for this user (Permission "
                         f"denied); nothing was written (ls -ld {shlex.quote(str(target.parent))})")
    state = target / STATE_DIR
    if os.path.lexists(state) and not is_real_dir(state):
        raise UsageError(f"{state} is a link or a file: envcheck keeps the project record and backups in that "
                         "folder; move it away first")


def refusal(target: Path, existing: list[str], *, whole_project: bool) -> str:
    """Why nothing was written, in the same words from the command's check and from write_tree's own (which
    catches a file that appeared in between): a project's folder is counted by its top-level entries (a .venv
    alone holds tens of thousands of files), and --dry-run shows the plan without writing."""
    if whole_project:  # ``existing``: the top-level entries; otherwise the planned files already there
        shown = ", ".join(existing[:8]) + (f" and {len(existing) - 8} more" if len(existing) > 8 else "")
        return (f"{target} is not empty ({len(existing)} top-level entr{'ies' if len(existing) != 1 else 'y'}: "
                f"{shown}). Nothing was written; pass --dry-run to see the plan, or --force to replace the project "
                "(user files outside the plan stay)")
    return (f"{target} already has {', '.join(existing)} with other content. Nothing was written; pass --dry-run "
            "to see the plan, or --force to replace them (the old files are kept in a backup)")


def write_tree(target: Path, files: Mapping[str, str], *, force: bool = False, whole_project: bool = True,
               ops: FileOps | None = None) -> WriteResult:
    """Write ``{relative path: text}`` under ``target``; see the module docstring.

    ``whole_project``: refuse a non-empty target without ``force``; otherwise (adding one file to an
    existing project) refuse only when a planned file already exists.
    """
    check_target(target)
    _preflight(target, files)
    ops = ops if ops is not None else FileOps()
    with interrupts.held() as signals:
        notes = recover(target, ops) if target.is_dir() else []
        existing = existing_entries(target)
        replaced = replaced_files(target, files)
        if (existing if whole_project else replaced) and not force:
            raise UsageError(refusal(target, existing if whole_project else replaced, whole_project=whole_project))
        if target.is_dir() and not os.access(target, os.W_OK | os.X_OK):
            raise WriteError(f"{target} is not writable for this user: nothing was written (ls -ld {target})")
        run = _Run(target, files, ops, signals)
        try:
            run.prepare()
            run.stage()
            run.write_journal(set(replaced))
            run.apply()
            run.commit()
        except BaseException as exc:
            outcome = run.failed(exc)
            if outcome is exc:
                raise
            raise outcome from exc
        left = run.clean_up()
        backup = target / run.journal.backup if run.journal and run.journal.backup else None
        if signals.pending is not None:
            raise interrupts.Interrupted(signals.pending, (
                f"{interrupts.signal_name(signals.pending)} arrived after the last file was in place: the whole "
                f"project is in {target}" + (f", the replaced files in {backup}" if backup else "")))
    return WriteResult(target=target, written=tuple(sorted(files)), replaced=tuple(replaced), backup=backup,
                       notes=tuple(notes) + ((left,) if left else ()))


class _Run:
    """One write: the steps in order, each disk change through ``ops``, a held signal checked before each."""

    def __init__(self, target: Path, files: Mapping[str, str], ops: FileOps, signals: interrupts.Held) -> None:
        self.target, self.files, self.ops, self.signals = target, files, ops, signals
        self.created_target = False
        self.created_state = False  # the run made .envcheck/ (a new project, or generate into a plain folder)
        self.staging: Path | None = None
        self.journal: Journal | None = None
        self.lock: int | None = None

    def _step(self) -> None:
        self.signals.check()

    def prepare(self) -> None:
        state = self.target / STATE_DIR
        if not os.path.lexists(self.target):
            self._step()
            self.ops.mkdir(self.target)
            self.created_target = True
        if not os.path.lexists(state):
            self._step()
            self.ops.mkdir(state)
            self.created_state = True
        staging = state / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
        self._step()
        self.ops.mkdir(staging)
        self.staging = staging
        self._step()
        self.lock = self.ops.lock(staging / LOCK_NAME)

    def _tree(self) -> Path:
        assert self.staging is not None
        return self.staging / TREE_NAME

    def stage(self) -> None:
        tree = self._tree()
        self._step()
        self.ops.mkdir(tree)
        for rel, text in sorted(self.files.items()):
            path = tree.joinpath(*safe_relpath(rel).parts)
            for folder in reversed(path.relative_to(tree).parents[:-1]):
                if not os.path.lexists(tree / folder):
                    self._step()
                    self.ops.mkdir(tree / folder)
            self._step()
            self.ops.write_file(path, text.encode("utf-8"))

    def write_journal(self, replaced: set[str]) -> None:
        assert self.staging is not None
        made: list[str] = [STATE_DIR] if self.created_state else []  # made already; listed for the roll back
        backup = _backup_folder(self.target) if replaced else None
        folders = [p for rel in sorted(self.files) for p in reversed(safe_relpath(rel).parents[:-1])]
        if backup is not None:
            folders += [p for p in reversed(safe_relpath(backup).parents[:-1])] + [safe_relpath(backup)]
            folders += [safe_relpath(backup) / p for rel in sorted(replaced) for p in
                        reversed(safe_relpath(rel).parents[:-1])]
        for folder in folders:
            if folder.as_posix() not in made and not os.path.lexists(self.target / folder):
                made.append(folder.as_posix())
        encoded = sorted((rel, text.encode("utf-8")) for rel, text in self.files.items())
        entries = tuple(Entry(path=rel, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                              replaces=rel in replaced) for rel, data in encoded)
        self.journal = Journal(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), pid=os.getpid(),
                               backup=backup, made=tuple(made), entries=entries)
        part = self.staging / f"{JOURNAL_NAME}.part"
        self._step()
        self.ops.write_file(part, self.journal.to_text().encode("utf-8"))
        self._step()
        self.ops.rename(part, self.staging / JOURNAL_NAME)  # whole or absent, never half a journal
        self._step()
        self.ops.sync_dir(self.staging)

    def apply(self) -> None:
        assert self.journal is not None
        for rel in self.journal.made:
            if rel == STATE_DIR:
                continue
            self._step()
            self.ops.mkdir(self.target / rel)
        for entry in self.journal.entries:
            dest = self.target / entry.path
            if entry.replaces and self.journal.backup and os.path.lexists(dest):
                self._step()
                self.ops.rename(dest, self.target / self.journal.backup / entry.path)
            elif os.path.lexists(dest):  # appeared since the plan was checked: never overwrite it
                raise FileExistsError(errno.EEXIST, "appeared while writing", str(dest))
            self._step()
            self.ops.rename(self._tree() / entry.path, dest)

    def commit(self) -> None:
        """Make every rename durable, then remove the journal: from here on the new project stands."""
        assert self.journal is not None and self.staging is not None
        folders = {self.target} | {(self.target / e.path).parent for e in self.journal.entries}
        if self.journal.backup:
            folders |= {(self.target / self.journal.backup / e.path).parent for e in self.journal.entries
                        if e.replaces}
        for folder in sorted(folders):
            self._step()
            self.ops.sync_dir(folder)
        self._step()
        self.ops.unlink(self.staging / JOURNAL_NAME)

    def clean_up(self) -> str | None:
        """Remove the staging folder of a finished write; a note (the project stands) when that fails."""
        assert self.staging is not None
        try:
            undo = roll_back(self.target, self.staging, None, self.ops, made_state=self.created_state)
        finally:
            self._unlock()
        if undo.failed:
            return (f"the project is complete, but {self.staging} could not be removed ({undo.failed[0]}); the next "
                    f"envcheck run in {self.target} removes it, or: rm -r {shlex.quote(str(self.staging))}")
        return None

    def _unlock(self) -> None:
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None

    def failed(self, exc: BaseException) -> BaseException:
        """Roll back after ``exc``; the exception that says in which state the target is."""
        undo = Undo()
        try:
            if self.staging is not None:
                undo = roll_back(self.target, self.staging, self.journal, self.ops, made_state=self.created_state)
            elif self.created_state:
                self.ops.rmdir(self.target / STATE_DIR)
        except OSError as err:
            undo.failed.append(f"{self.target / STATE_DIR}: {err.strerror or err}")
        finally:
            self._unlock()
        if not undo.failed and self.created_target:
            try:
                self.ops.rmdir(self.target)
            except OSError:
                pass  # left empty: an empty folder holds nothing to lose
        why = f"{exc.strerror or exc}" if isinstance(exc, OSError) else ""
        if undo.failed:
            state = (f"undoing it failed too ({'; '.join(undo.failed)}). The journal in {self.staging} records "
                     f"what is left: run the same envcheck command again to undo the rest"
                     + (", or by hand: " + " && ".join(undo.by_hand) if undo.by_hand else ""))
        elif not os.path.lexists(self.target):
            state = f"nothing in {self.target.parent} was changed ({self.target} was not created)"
        else:
            state = f"nothing in {self.target} was changed" + (
                " (every replaced file is back in place)" if undo.restored else "")
        if isinstance(exc, interrupts.Interrupted):
            return interrupts.Interrupted(exc.signum, f"interrupted by {interrupts.signal_name(exc.signum)} "
                                                      f"while writing into {self.target}: {state}")
        if isinstance(exc, OSError):
            return WriteError(f"could not write the project into {self.target} ({why}); {state}")
        if undo.failed:
            return WriteError(f"{type(exc).__name__} while writing into {self.target}; {state}")
        return exc


def _backup_folder(target: Path) -> str:
    """A new ``.envcheck/backup/<UTC time>`` for this run's replaced files (``-2``, ``-3`` within one second)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name, n = f"{BACKUP_DIR}/{stamp}", 1
    while os.path.lexists(target / name):
        n += 1
        name = f"{BACKUP_DIR}/{stamp}-{n}"
    return name
