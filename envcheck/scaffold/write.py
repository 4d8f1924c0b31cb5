"""Atomic writing of a rendered tree (issue #5, item 6; STYLE.md convention 11).

The whole tree is first written into a temporary folder beside the target (same file system, so the
moves below are renames that need no free space), then moved into place:

- a new target: one ``rename`` of the staged folder onto it;
- an existing empty target: its top-level entries renamed into it, undone on any failure; the folder itself
  stays (swapping it would strand a shell or editor inside it, `envcheck scaffold .`, and drop its mode);
- a non-empty target (only with ``force``): file by file, each replaced file first renamed into the
  staging folder as a backup; any failure or interruption puts every backup back and removes what was
  added, so the user's files end as they were.

A full disk or any other error while staging changes nothing in the target.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

from envcheck.model import EnvcheckError, UsageError
from envcheck.scaffold.validate import existing_entries, show


class WriteError(EnvcheckError):
    """Writing failed (full disk, permissions); the target was left as it was."""


@dataclass(frozen=True)
class WriteResult:
    target: Path
    written: tuple[str, ...]
    replaced: tuple[str, ...]


def safe_relpath(rel: str) -> PurePosixPath:
    """A plan path must be relative, plain and free of '..', backslashes and control characters."""
    pure = PurePosixPath(rel)
    bad = (
        not rel
        or pure.is_absolute()
        or "\\" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
        or any(unicodedata.category(ch).startswith("C") for ch in rel)
    )
    if bad:
        raise UsageError(f"refusing to write {show(rel)}: not a plain relative path")
    return pure


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
        dest = resolve_inside(target, rel)
        if dest.is_dir():
            raise UsageError(f"{dest} is a folder, but the project needs a file there: move it away first")
        for parent in dest.parents:
            if parent == root:
                break
            if parent.exists() and not parent.is_dir():
                raise UsageError(f"{parent} is a file, but the project needs a folder there: move it away first")


def _stage(staging: Path, files: Mapping[str, str]) -> None:
    for rel, text in sorted(files.items()):
        path = staging.joinpath(*safe_relpath(rel).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # a crash after the rename must not leave empty files behind


def write_tree(
    target: Path, files: Mapping[str, str], *, force: bool = False, whole_project: bool = True
) -> WriteResult:
    """Write ``{relative path: text}`` under ``target`` atomically; see the module docstring.

    ``whole_project``: refuse a non-empty target without ``force``; otherwise (adding one file to an
    existing project) refuse only when a planned file already exists.
    """
    _preflight(target, files)
    existing = existing_entries(target)
    replaced = replaced_files(target, files)
    if (existing if whole_project else replaced) and not force:
        what = f"is not empty ({len(existing)} entries)" if whole_project else f"already has {', '.join(replaced)}"
        raise UsageError(f"{target} {what}: pass --force to replace the project's files")
    if target.is_dir() and not os.access(target, os.W_OK | os.X_OK):
        raise WriteError(f"{target} is not writable for this user: nothing was written (ls -ld {target})")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.envcheck-", dir=target.parent))
    except OSError as exc:
        raise WriteError(f"could not create a temporary folder in {target.parent}: {exc.strerror or exc}") from exc
    try:
        tree = staging / "tree"
        try:
            tree.mkdir()
            _stage(tree, files)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise WriteError(f"could not write the project ({why}); nothing in {target} was changed") from exc
        if not existing and target.is_dir():
            _fill_empty(tree, target)
        elif not existing:
            try:
                os.chmod(tree, 0o777 & ~_umask())
                os.rename(tree, target)  # atomic: the project appears whole or not at all
            except OSError as exc:
                raise WriteError(f"could not move the project into {target}: {exc.strerror or exc}") from exc
        else:
            _move_each(tree, staging / "backup", target, files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return WriteResult(target=target, written=tuple(sorted(files)), replaced=tuple(replaced))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fill_empty(tree: Path, target: Path) -> None:
    """Rename the staged top-level entries into the existing empty ``target``; on any failure (KeyboardInterrupt
    included) remove what was moved, so the folder is empty again."""
    moved: list[Path] = []
    try:
        for name in sorted(os.listdir(tree)):
            dest = target / name
            if os.path.lexists(dest):  # appeared since the emptiness check: never overwrite it
                raise FileExistsError(errno.EEXIST, "appeared while writing", str(dest))
            os.rename(tree / name, dest)
            moved.append(dest)
    except BaseException as exc:
        for path in reversed(moved):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(f"could not move the project into {target} ({exc.strerror or exc}); "
                             f"{target} was left empty") from exc
        raise


def _move_each(tree: Path, backup: Path, target: Path, files: Mapping[str, str]) -> None:
    """Replace file by file, undoing everything on any failure (KeyboardInterrupt included)."""
    placed: list[Path] = []
    saved: list[tuple[Path, Path]] = []
    made: list[Path] = []
    try:
        for rel in sorted(files):
            parts = safe_relpath(rel).parts
            dest = target.joinpath(*parts)
            for parent in reversed(dest.parents):
                if not parent.exists():
                    parent.mkdir()
                    made.append(parent)
            if os.path.lexists(dest):
                keep = backup.joinpath(*parts)
                keep.parent.mkdir(parents=True, exist_ok=True)
                os.rename(dest, keep)
                saved.append((keep, dest))
            os.rename(tree.joinpath(*parts), dest)
            placed.append(dest)
    except BaseException as exc:
        for path in reversed(placed):
            path.unlink(missing_ok=True)
        for keep, dest in reversed(saved):
            os.rename(keep, dest)
        for folder in reversed(made):
            folder.rmdir()
        if isinstance(exc, OSError):
            raise WriteError(f"could not move the project into {target} ({exc.strerror or exc}); "
                             "every replaced file was put back") from exc
        raise
