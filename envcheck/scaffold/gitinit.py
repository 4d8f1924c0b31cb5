"""`git init` and a first commit for a new project, through the one subprocess seam.

The commit runs with ``user.useConfigOnly=true`` so git never invents an identity from the host name: with no
user.name / user.email configured (or GIT_AUTHOR_* set) the repository is initialised and the message says why
there is no commit. Only the files envcheck wrote are added, never anything else in the folder.

A repository that git could not finish (``git init`` failed, a step ran past its deadline, or the disk filled up
or failed under it) is removed again and the run fails: a `.git` with a truncated index or missing objects
breaks every later git command in the folder, which is worse than none. Between steps a held signal
(envcheck/scaffold/interrupts.py) ends the run the same way. git runs with LC_ALL=C so that its messages, which
are matched below, are in English.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable, Mapping

from envcheck import runner
from envcheck.frozen import frozen
from envcheck.model import EnvcheckError
from envcheck.scaffold.interrupts import Interrupted, signal_name

MESSAGE = "Initial project from envcheck scaffold"


@frozen
class GitOutcome:
    initialised: bool
    committed: bool
    message: str  # what happened, or why not, with the command to finish by hand


# A full disk, a quota, a failing or read-only disk: git mostly prints the C library's text for the error, but some
# of its writers say only that they could not write (seen on a full tmpfs with git 2.39: "sha1 file ... write
# error. Out of diskspace", "couldn't write '.git/refs/heads/master.lock'"). Not "failed to write": a commit that
# gpg refused to sign ends with "failed to write commit object", and that repository is sound.
_STORAGE_ERRORS = (*(os.strerror(e) for e in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)),
                   "Out of diskspace", "unable to write", "couldn't write", "could not write")


class GitError(EnvcheckError):
    """git failed half-way; the half-made repository was removed (the project's files stay)."""


class _Broken(Exception):
    """A step failed in a way that leaves the repository unusable."""


def init_and_commit(target: Path, files: Iterable[str], *, env: Mapping[str, str] | None = None,
                    timeout_s: float = 30.0, stop: Callable[[], None] = lambda: None) -> GitOutcome:
    """``stop`` is called between steps and may raise (a held signal's Interrupted)."""
    environ = {**(env if env is not None else os.environ), "LC_ALL": "C"}
    git = shutil.which("git", path=environ.get("PATH"))
    if git is None:
        return GitOutcome(False, False, "git is not on PATH: no repository; install git and run `git init`")
    if os.path.lexists(target / ".git"):
        return GitOutcome(False, False, f"{target} is already a git repository: nothing committed (see `git status`)")
    try:
        return _init_and_commit(git, target, sorted(files), environ, timeout_s, stop)
    except (_Broken, Interrupted) as exc:
        removed = _remove_repository(target / ".git")
        if isinstance(exc, Interrupted):
            raise Interrupted(exc.signum, f"interrupted by {signal_name(exc.signum)} during git init: the project is "
                                          f"complete in {target}; {removed}") from exc
        raise GitError(f"the project is complete in {target}, but {exc}: {removed}; run `git init` there once "
                       "that is fixed") from exc


def _init_and_commit(git: str, target: Path, paths: list[str], environ: dict[str, str], timeout_s: float,
                     stop: Callable[[], None]) -> GitOutcome:
    stop()
    init = runner.run([git, "init", "-q", str(target)], timeout_s, env=environ)
    if not init.ok:
        raise _Broken(f"git init failed ({_why(init)})")
    stop()
    add = runner.run([git, "-C", str(target), "add", "--", *paths], timeout_s, env=environ)
    if not add.ok:
        _raise_if_broken("git add", add)
        return GitOutcome(True, False, f"initialised, but `git add` failed: {add.describe()}")
    stop()
    commit = runner.run([git, "-C", str(target), "-c", "user.useConfigOnly=true", "commit", "-q", "-m", MESSAGE],
                        timeout_s, env=environ)
    stop()
    if commit.ok:
        return GitOutcome(True, True, f"git repository initialised with a first commit ({MESSAGE!r})")
    _raise_if_broken("git commit", commit)
    text = (commit.err + commit.out).lower()
    if any(s in text for s in ("user.useconfigonly", "tell me who you are", "no email was given", "empty ident")):
        return GitOutcome(True, False, (
            "git repository initialised, but no first commit: git has no identity (user.name and user.email).\n"
            '  git config --global user.name "Your Name" && git config --global user.email "you@example.com"\n'
            f'  git -C {target} commit -m "{MESSAGE}"'))
    return GitOutcome(True, False, f"git repository initialised, but the first commit failed: {commit.describe()}")


def _raise_if_broken(step: str, result: runner.CommandResult) -> None:
    """A step killed at its deadline, or one that met a storage error, left the repository half-written."""
    text = (result.err + result.out).lower()
    if result.timed_out or any(why.lower() in text for why in _STORAGE_ERRORS):
        raise _Broken(f"{step} failed ({_why(result)})")


def _why(result: runner.CommandResult) -> str:
    """The storage error by name when git met one (its last line can be cut before it), else git's own words."""
    text = (result.err + result.out).lower()
    found = [why for why in _STORAGE_ERRORS if why.lower() in text]
    return f"{found[0]}: {result.describe()}" if found else result.describe()


def _remove_repository(git_dir: Path) -> str:
    if not os.path.lexists(git_dir):
        return "no repository was made"
    try:
        shutil.rmtree(git_dir)
    except OSError as exc:
        return f"removing the half-made {git_dir} failed too ({exc.strerror or exc}): rm -rf {git_dir}"
    return f"the half-made {git_dir} was removed"
