"""Verdicts about git: installed with a usable version, and an identity for commits."""

from __future__ import annotations

import re
import shlex

from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.git import GitFacts
from envcheck.units import CheckSpec

# git 2.28 added init.defaultBranch; older gits are still usable, but it is a sign of an old distro.
_GIT_WARN_BELOW = (2, 28)


def _bad_config(facts: GitFacts) -> Outcome | None:
    """A malformed config file ("fatal: bad config line 3 in file ~/.gitconfig") makes every git command
    fail, even `git --version`: a failure with the file to edit, not an unknown."""
    if "bad config" not in facts.error:
        return None
    found = re.search(r"bad config (?:line \d+ )?in file (.+?)\s*$", facts.error)
    target = shlex.quote(found.group(1)) if found else "~/.gitconfig"
    return Outcome(status=Status.FAIL, observed=facts.error, expected="config files git can parse",
                   reason="git stops on a malformed config file: every git command fails",
                   fix=f"${{EDITOR:-nano}} {target}  # fix the line git names")


def installed(facts: GitFacts, policy: Policy) -> Outcome:
    if facts.path is None:
        return Outcome(
            status=Status.FAIL, observed="not found on PATH", expected="git installed",
            reason="git is needed to clone code and version your experiments",
            fix="sudo apt-get install -y git",
        )
    if facts.version is None:
        return _bad_config(facts) or Outcome(status=Status.UNKNOWN, observed=facts.path,
                                             reason=facts.error or "could not read git's version",
                                             fix=f"{facts.path} --version")
    parts = tuple(int(p) for p in facts.version.split(".")[:2])
    if parts < _GIT_WARN_BELOW:
        return Outcome(
            status=Status.WARN, observed=f"git {facts.version} at {facts.path}", expected="git >= 2.28",
            reason="this git predates init.defaultBranch and other current defaults",
            fix="sudo apt-get install -y git  # or a newer release from the git-core PPA",
        )
    return Outcome(status=Status.PASS, observed=f"git {facts.version} at {facts.path}", evidence={"path": facts.path})


def identity(facts: GitFacts, policy: Policy) -> Outcome:
    if facts.error:
        return _bad_config(facts) or Outcome(status=Status.UNKNOWN, reason=facts.error,
                       fix="ls -l ~/.gitconfig  # must be readable by you; `sudo -H` or your own HOME if it is not")
    missing = [key for key, value in (("user.name", facts.user_name), ("user.email", facts.user_email)) if not value]
    if missing:
        fixes = {"user.name": 'git config --global user.name "Your Name"',
                 "user.email": 'git config --global user.email "you@example.com"'}
        return Outcome(
            status=Status.WARN, observed=f"{' and '.join(missing)} not set", expected="user.name and user.email set",
            reason="git refuses to commit without an identity (none in any config file git reads, nor in "
                   "GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL)",
            fix="\n".join(fixes[key] for key in missing),
        )
    origins = [_where(o) for o in dict.fromkeys((facts.name_origin, facts.email_origin)) if o]
    observed = f"{facts.user_name} <{facts.user_email}>" + (f" (from {' and '.join(origins)})" if origins else "")
    return Outcome(status=Status.PASS, observed=observed,
                   evidence={"user.name": facts.name_origin, "user.email": facts.email_origin})


def _where(origin: str) -> str:
    """git's --show-origin ("file:/home/ann/.gitconfig") or the probe's "env:GIT_AUTHOR_NAME", for a person."""
    kind, _, rest = origin.partition(":")
    return f"${rest}" if kind == "env" else rest if kind == "file" else origin


CHECKS = (
    CheckSpec("git.installed", "git installed", "git", installed),
    CheckSpec("git.identity", "git identity set", "git", identity, requires=("git.installed",)),
)
