"""Facts about git: installed, version, identity (user.name / user.email)."""

from __future__ import annotations

import re
import shutil
from typing import Mapping

from envcheck.frozen import frozen
from envcheck.units import ProbeContext, ProbeSpec


@frozen
class GitFacts:
    path: str | None  # None: not on PATH
    version: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    error: str = ""  # why a fact could not be read (timeout, crash), when one could not
    # Where each value comes from: a config file ("file:/home/ann/.gitconfig") or an environment variable
    # ("env:GIT_AUTHOR_NAME"), as git would pick it for a commit.
    name_origin: str | None = None
    email_origin: str | None = None


# git takes the author from these before any config file (git-commit-tree(1), "Commit Information"); EMAIL is
# its last resort for the address. The committer variables are not asked: `git commit` needs both, and an
# author set only for the committer is rare enough to leave out.
_NAME_ENV = ("GIT_AUTHOR_NAME",)
_EMAIL_ENV = ("GIT_AUTHOR_EMAIL",)


def _from_env(env: Mapping[str, str] | None, names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = (env or {}).get(name, "").strip()
        if value:
            return value, f"env:{name}"
    return None


def _no_global_config(rc: int | None, err: str) -> bool:
    """No ~/.gitconfig at all: no identity, a fact rather than an error. git 2.39 says so with rc 128 and
    "unable to read config file '...': No such file or directory"; other versions exit 1 silently."""
    return (rc == 1 and not err.strip()) or (rc == 128 and "No such file or directory" in err)


def collect(ctx: ProbeContext) -> GitFacts:
    path = shutil.which("git", path=ctx.env.get("PATH"))
    if path is None:
        return GitFacts(path=None)
    # The probe's env (its HOME): git reads its config files even for --version and stops on a malformed one.
    version_run = ctx.run([path, "--version"], timeout_s=ctx.timeout_s, env=ctx.env)
    if not version_run.ok:
        return GitFacts(path=path, error=version_run.describe())
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", version_run.out)
    version = match.group(1) if match else None
    # The identity a commit would get: every scope git reads (system, global, ~/.config/git/config, includes),
    # not only --global, so an identity set in /etc/gitconfig or an included file counts. One call for both
    # keys. From "/": the same answer wherever doctor is started, never a repository's own .git/config.
    # LC_ALL=C keeps git's messages (quoted in the report) untranslated.
    config_run = ctx.run([path, "config", "--includes", "--list", "--show-origin"], timeout_s=ctx.timeout_s,
                         env={**ctx.env, "LC_ALL": "C"}, cwd="/")
    if not config_run.ok:
        # rc 128 is git's "fatal": a config file unreadable (a HOME that belongs to someone else, as with `sudo`
        # keeping HOME) or malformed ("bad config line 3"). The identity is then unknown, not unset.
        return GitFacts(path=path, version=version, error=config_run.describe())
    values: dict[str, tuple[str, str]] = {}
    for line in config_run.out.splitlines():
        origin, _, pair = line.partition("\t")
        key, _, value = pair.partition("=")
        if value.strip():
            values[key.strip().lower()] = (value.strip(), origin)  # later scopes win, as in git
    name = _from_env(ctx.env, _NAME_ENV) or values.get("user.name")
    email = _from_env(ctx.env, _EMAIL_ENV) or values.get("user.email") or _from_env(ctx.env, ("EMAIL",))
    if not (name and email):
        # Read this way, git skips a ~/.gitconfig it may not read, silently (git 2.39): "not set" could then
        # be wrong. Asked for that scope alone it says why (rc 128), or exits 1 / "No such file" when there is
        # no such file, which is a plain "not set".
        global_run = ctx.run([path, "config", "--global", "--includes", "--list"], timeout_s=ctx.timeout_s,
                             env={**ctx.env, "LC_ALL": "C"}, cwd="/")
        if not global_run.ok and (global_run.timed_out or global_run.missing
                                  or not _no_global_config(global_run.rc, global_run.err)):
            return GitFacts(path=path, version=version, error=global_run.describe())
    return GitFacts(
        path=path,
        version=version,
        user_name=name[0] if name else None,
        user_email=email[0] if email else None,
        name_origin=name[1] if name else None,
        email_origin=email[1] if email else None,
    )


PROBES = (ProbeSpec("git", collect),)
