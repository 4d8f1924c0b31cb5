"""The journal of one scaffold write, and the roll back that undoes a write that did not finish.

Everything the writer keeps lives inside the target, under ``.envcheck/`` (beside project.json), so a read-only
parent folder or a 250-character folder name does not matter, and nothing hidden is left beside the project:

- ``.envcheck/staging-<id>/``: the run's lock, its ``tree/`` of staged files and, before the first change to the
  user's files, ``journal.json``: every file the run places (with the size and SHA-256 of the new content and
  whether it replaces one), every folder it makes, and the backup folder;
- ``.envcheck/backup/<time>/``: the files ``--force`` replaced, kept after a finished run so it can be undone.

The journal is written once, synced, and renamed into place, so it is whole or absent. Rolling back needs nothing
else: a staged file that is gone was placed; a backup that exists holds the original. It is the same code in the
run that failed and in the next run, which finds a leftover of a killed one (SIGKILL, a power cut) and undoes it.
The journal sits in a folder a cloned repository can carry, so it is read as untrusted: a file is removed only
when it is a regular file with exactly the new content the journal names, nothing is ever overwritten, and every
path must stay inside the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from envcheck.frozen import frozen
from envcheck.model import EnvcheckError, UsageError
from envcheck.scaffold.fsops import FileOps, is_real_dir, try_lock
from envcheck.scaffold.validate import safe_relpath

STATE_DIR = ".envcheck"  # relative to the target
STAGING_PREFIX = "staging-"
BACKUP_DIR = ".envcheck/backup"
JOURNAL_NAME = "journal.json"
LOCK_NAME = "lock"
TREE_NAME = "tree"
SCHEMA = "envcheck.scaffold-journal"
SCHEMA_VERSION = 1
MAX_JOURNAL_BYTES = 4 * 1024 * 1024  # a real one is a few KiB: one line per file of the project
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LeftoverError(EnvcheckError):
    """A leftover of an interrupted run could not be undone; the message says how to finish by hand."""


@frozen
class Entry:
    path: str  # relative to the target
    size: int  # of the new content
    sha256: str  # of the new content
    replaces: bool  # a file was there; it goes to the backup folder first

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "replaces": self.replaces}


@frozen
class Journal:
    started: str  # ISO 8601, UTC
    pid: int
    backup: str | None  # the folder replaced files go to, relative to the target; None when none is replaced
    made: tuple[str, ...]  # folders the run makes in the target, parents first (relative)
    entries: tuple[Entry, ...]
    schema_version: int = SCHEMA_VERSION

    def to_text(self) -> str:
        return json.dumps({"schema": SCHEMA, "schema_version": self.schema_version, "started": self.started,
                           "pid": self.pid, "backup": self.backup, "made": list(self.made),
                           "entries": [e.to_json() for e in self.entries]}, indent=1) + "\n"

    @classmethod
    def from_json(cls, data: object) -> Journal:
        """Parse decoded JSON; ValueError says what is wrong."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError("is not an envcheck scaffold journal")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
            raise ValueError(f"has schema_version {version!r}; this envcheck reads {SCHEMA_VERSION}")
        started, pid, backup = data.get("started"), data.get("pid"), data.get("backup")
        made, entries = data.get("made"), data.get("entries")
        if not isinstance(started, str) or not isinstance(pid, int) or not isinstance(made, list) \
                or not isinstance(entries, list) or not (backup is None or isinstance(backup, str)):
            raise ValueError("lacks started, pid, made or entries, or has a value of the wrong type")
        if backup is not None and not (backup.startswith(BACKUP_DIR + "/") and len(_plain(backup).parts) == 3):
            raise ValueError(f"names a backup folder outside {BACKUP_DIR}/: {backup!r}")
        return cls(started=started, pid=pid, backup=backup, made=tuple(_plain(m).as_posix() for m in made),
                   entries=tuple(_entry(e) for e in entries), schema_version=version)


def _plain(value: object) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"has a path that is not a string: {value!r}")
    try:
        return safe_relpath(value)
    except UsageError as exc:
        raise ValueError(f"has a path that is not plain and relative: {value!r}") from exc


def _entry(value: object) -> Entry:
    if not isinstance(value, dict):
        raise ValueError("has an entry that is not an object")
    path, size, digest, replaces = value.get("path"), value.get("size"), value.get("sha256"), value.get("replaces")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(replaces, bool) \
            or not isinstance(digest, str) or not _SHA256.match(digest):
        raise ValueError(f"has an entry with a bad size, sha256 or replaces: {value!r}")
    return Entry(path=_plain(path).as_posix(), size=size, sha256=digest, replaces=replaces)


def read_journal(path: Path) -> Journal:
    """The journal at ``path``; ValueError (what is wrong) or OSError (why it cannot be read)."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_JOURNAL_BYTES + 1)
    if len(data) > MAX_JOURNAL_BYTES:
        raise ValueError(f"is larger than {MAX_JOURNAL_BYTES} bytes")
    try:
        return Journal.from_json(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"is not JSON ({exc})") from exc


@dataclass
class Undo:
    """What a roll back did, and what it could not do with the commands that finish it by hand."""

    restored: list[str] = field(default_factory=list)  # replaced files put back
    removed: list[str] = field(default_factory=list)  # files the run had added, removed
    failed: list[str] = field(default_factory=list)  # "path: why"
    by_hand: list[str] = field(default_factory=list)  # shell commands

    def summary(self) -> str:
        parts = [f"put back {len(self.restored)} replaced file(s)" if self.restored else "",
                 f"removed {len(self.removed)} file(s) it had added" if self.removed else ""]
        return ", ".join(p for p in parts if p) or "nothing in the folder had been changed yet"


def _twice(step: Callable[..., None], *args: Path) -> None:
    """A roll back step, tried again once: a transient error (EINTR from NFS, a one-off EIO) must not be what
    leaves a user's file in the backup folder."""
    try:
        step(*args)
    except OSError:
        step(*args)


def _inside(target: Path, path: Path) -> bool:
    """``path``'s folder resolves inside the target: a link planted in a cloned project cannot lead a rename out."""
    root = target.resolve()
    folder = path.parent.resolve()
    return folder == root or root in folder.parents


def _is_new(path: Path, entry: Entry) -> bool:
    """``path`` is a regular file holding exactly the new content the entry names."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size != entry.size:
            return False
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(entry.size + 1)).hexdigest() == entry.sha256
    except OSError:
        return False


def _undo_entry(target: Path, tree: Path, journal: Journal, entry: Entry, ops: FileOps, undo: Undo) -> None:
    dest = target / entry.path
    saved = target / journal.backup / entry.path if journal.backup and entry.replaces else None
    if not _inside(target, dest) or (saved is not None and not _inside(target, saved)):
        undo.failed.append(f"{entry.path}: its folder leads outside {target}; left alone")
        return
    try:
        if not os.path.lexists(tree / entry.path) and _is_new(dest, entry):
            _twice(ops.unlink, dest)
            undo.removed.append(entry.path)
        if saved is not None and os.path.lexists(saved):
            if os.path.lexists(dest):  # never overwrite: whatever is there now is someone's
                undo.failed.append(f"{entry.path}: both it and its backup {saved} exist; both kept")
                undo.by_hand.append(f"diff {shlex.quote(str(saved))} {shlex.quote(str(dest))}")
                return
            _twice(ops.rename, saved, dest)
            undo.restored.append(entry.path)
    except OSError as exc:
        undo.failed.append(f"{entry.path}: {exc.strerror or exc}")
        if saved is not None:
            undo.by_hand.append(f"mv -n {shlex.quote(str(saved))} {shlex.quote(str(dest))}")


def roll_back(target: Path, staging: Path, journal: Journal | None, ops: FileOps, *, made_state: bool) -> Undo:
    """Undo what the journal's run did, then remove its staging folder, and ``.envcheck`` when ``made_state`` (the
    run made it) and it is empty; with failures, keep the staging folder (the journal) so that the next run can try
    again, and say what is left."""
    undo = Undo()
    tree = staging / TREE_NAME
    if journal is not None:
        for entry in reversed(journal.entries):
            _undo_entry(target, tree, journal, entry, ops, undo)
        for rel in reversed(journal.made):
            folder = target / rel
            if rel != STATE_DIR and is_real_dir(folder) and _inside(target, folder) and not os.listdir(folder):
                try:
                    _twice(ops.rmdir, folder)
                except OSError as exc:
                    undo.failed.append(f"{rel}/: {exc.strerror or exc}")
    if undo.failed:
        return undo
    try:
        if os.path.lexists(staging / JOURNAL_NAME):  # first: from here on there is nothing left to undo
            _twice(ops.unlink, staging / JOURNAL_NAME)
        _twice(ops.remove_tree, staging)
        state = target / STATE_DIR
        if made_state and is_real_dir(state) and not os.listdir(state):
            _twice(ops.rmdir, state)
    except OSError as exc:
        undo.failed.append(f"{staging}: {exc.strerror or exc}")
        undo.by_hand.append(f"rm -r {shlex.quote(str(staging))}")
    return undo


def leftovers(target: Path) -> list[Path]:
    """Staging folders of runs that did not finish, in the target's ``.envcheck``."""
    state = target / STATE_DIR
    if not is_real_dir(state):
        return []
    try:
        names = sorted(os.listdir(state))
    except OSError:
        return []
    return [state / name for name in names if name.startswith(STAGING_PREFIX) and is_real_dir(state / name)]


def recover(target: Path, ops: FileOps | None = None) -> list[str]:
    """Undo every leftover of an interrupted run in ``target``; one line per leftover saying what was done.
    LeftoverError when one cannot be undone (with the commands that finish it by hand) or another envcheck is
    writing there now."""
    ops = ops if ops is not None else FileOps()
    notes = []
    for staging in leftovers(target):
        lock = _lock_leftover(staging)
        try:
            journal = _leftover_journal(staging)
            # Without a journal the run died before its first change: .envcheck, if empty, is what it made.
            made_state = journal is None or STATE_DIR in journal.made
            undo = roll_back(target, staging, journal, ops, made_state=made_state)
        finally:
            if lock is not None:
                os.close(lock)
        if undo.failed:
            raise LeftoverError(
                f"{staging} is left from an interrupted envcheck run, and undoing it failed: "
                + "; ".join(undo.failed) + ". Finish by hand: " + " && ".join(undo.by_hand or ["(see above)"]))
        notes.append(f"found {staging}, left by an envcheck run that was interrupted, and undid it: {undo.summary()}")
    state = target / STATE_DIR
    if is_real_dir(state) and not os.listdir(state):  # a run killed before it made its staging folder in it
        _twice(ops.rmdir, state)
    return notes


def older_leftovers(target: Path) -> list[str]:
    """Folders that envcheck 0.x left beside the target when killed while writing (``.NAME.envcheck-*``, with the
    files it had replaced in ``backup/``): they have no journal, so they are shown with the commands to restore."""
    try:
        names = sorted(n for n in os.listdir(target.parent) if n.startswith(f".{target.name}.envcheck-"))
    except OSError:
        return []
    notes = []
    for name in names:
        old = target.parent / name
        if not is_real_dir(old):
            continue
        if is_real_dir(old / "backup"):
            notes.append(f"{old} was left by an interrupted older envcheck; the files it had replaced are in its "
                         f"backup/: cp -an {shlex.quote(str(old))}/backup/. {shlex.quote(str(target))}/ && "
                         f"rm -r {shlex.quote(str(old))}")
        else:
            notes.append(f"{old} was left by an interrupted older envcheck and holds no file of yours: "
                         f"rm -r {shlex.quote(str(old))}")
    return notes


def _lock_leftover(staging: Path) -> int | None:
    try:
        fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None  # no lock file: the run died before it took the lock, so it changed nothing
    if not try_lock(fd):
        os.close(fd)
        raise LeftoverError(f"another envcheck is writing into {staging.parent.parent} now ({staging}): "
                            "wait for it to finish, then run this again")
    return fd


def _leftover_journal(staging: Path) -> Journal | None:
    path = staging / JOURNAL_NAME
    if not os.path.lexists(path):
        return None  # the run died before its first change to the target: only the staging folder is left
    try:
        return read_journal(path)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LeftoverError(
            f"{path} {why}: it cannot be trusted to undo the run that left it. Any file that run replaced is in "
            f"{staging.parent / 'backup'}/ (the newest folder); copy back what you need, then remove "
            f"{staging}") from exc
