"""Verdicts about git: installed with a usable version, and an identity for commits."""

from __future__ import annotations

from envcheck.model import CheckSpec, Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.git import GitFacts

# git 2.28 added init.defaultBranch; older gits are still usable, but it is a sign of an old distro.
_GIT_WARN_BELOW = (2, 28)


def installed(facts: GitFacts, policy: Policy) -> Outcome:
    if facts.path is None:
        return Outcome(
            Status.FAIL, observed="not found on PATH", expected="git installed",
            reason="git is needed to clone code and version your experiments",
            fix="sudo apt-get install -y git",
        )
    if facts.version is None:
        return Outcome(Status.UNKNOWN, observed=facts.path, reason=facts.error or "could not read git's version")
    parts = tuple(int(p) for p in facts.version.split(".")[:2])
    if parts < _GIT_WARN_BELOW:
        return Outcome(
            Status.WARN, observed=f"git {facts.version} at {facts.path}", expected="git >= 2.28",
            reason="this git predates init.defaultBranch and other current defaults",
            fix="sudo apt-get install -y git  # or a newer release from the git-core PPA",
        )
    return Outcome(Status.PASS, observed=f"git {facts.version} at {facts.path}", evidence={"path": facts.path})


def identity(facts: GitFacts, policy: Policy) -> Outcome:
    if facts.error:
        return Outcome(Status.UNKNOWN, reason=facts.error)
    missing = [key for key, value in (("user.name", facts.user_name), ("user.email", facts.user_email)) if not value]
    if missing:
        fixes = {"user.name": 'git config --global user.name "Your Name"',
                 "user.email": 'git config --global user.email "you@example.com"'}
        return Outcome(
            Status.WARN, observed=f"{' and '.join(missing)} not set", expected="user.name and user.email set",
            reason="git refuses to commit without an identity",
            fix="\n".join(fixes[key] for key in missing),
        )
    return Outcome(Status.PASS, observed=f"{facts.user_name} <{facts.user_email}>")


CHECKS = (
    CheckSpec("git.installed", "git installed", "git", installed),
    CheckSpec("git.identity", "git identity set", "git", identity, requires=("git.installed",)),
)
