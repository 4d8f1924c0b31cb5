"""`git init` and a first commit for a new project, through the one subprocess seam (issue #5, item 3).

The commit runs with ``user.useConfigOnly=true`` so git never invents an identity from the host name: with no
user.name / user.email configured (or GIT_AUTHOR_* set) the repository is initialised and the message says why
there is no commit. Only the files envcheck wrote are added, never anything else in the folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from envcheck import runner

MESSAGE = "Initial project from envcheck scaffold"


@dataclass(frozen=True)
class GitOutcome:
    initialised: bool
    committed: bool
    message: str  # what happened, or why not, with the command to finish by hand


def init_and_commit(target: Path, files: Iterable[str], *, env: Mapping[str, str] | None = None,
                    timeout_s: float = 30.0) -> GitOutcome:
    environ = dict(env if env is not None else os.environ)
    git = shutil.which("git", path=environ.get("PATH"))
    if git is None:
        return GitOutcome(False, False, "git is not on PATH: no repository; install git and run `git init`")
    if (target / ".git").exists():
        return GitOutcome(False, False, f"{target} is already a git repository: nothing committed (see `git status`)")
    init = runner.run([git, "init", "-q", str(target)], timeout_s, env=environ)
    if not init.ok:
        return GitOutcome(False, False, f"git init failed: {init.describe()}")
    paths = sorted(files)
    add = runner.run([git, "-C", str(target), "add", "--", *paths], timeout_s, env=environ)
    if not add.ok:
        return GitOutcome(True, False, f"initialised, but `git add` failed: {add.describe()}")
    commit = runner.run([git, "-C", str(target), "-c", "user.useConfigOnly=true", "commit", "-q", "-m", MESSAGE],
                        timeout_s, env=environ)
    if commit.ok:
        return GitOutcome(True, True, f"git repository initialised with a first commit ({MESSAGE!r})")
    text = (commit.err + commit.out).lower()
    if any(s in text for s in ("user.useconfigonly", "tell me who you are", "no email was given", "empty ident")):
        return GitOutcome(True, False, (
            "git repository initialised, but no first commit: git has no identity (user.name and user.email).\n"
            '  git config --global user.name "Your Name" && git config --global user.email "you@example.com"\n'
            f'  git -C {target} commit -m "{MESSAGE}"'))
    return GitOutcome(True, False, f"git repository initialised, but the first commit failed: {commit.describe()}")
