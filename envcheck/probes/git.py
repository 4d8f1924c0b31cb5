"""Facts about git: installed, version, identity (user.name / user.email)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from envcheck.model import ProbeContext, ProbeSpec


@dataclass(frozen=True)
class GitFacts:
    path: str | None  # None: not on PATH
    version: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    error: str = ""  # why a fact could not be read (timeout, crash), when one could not


def _no_global_config(rc: int | None, err: str) -> bool:
    """No ~/.gitconfig at all: no identity, a fact rather than an error. git 2.39 says so with rc 128 and
    "unable to read config file '...': No such file or directory"; other versions exit 1 silently."""
    return (rc == 1 and not err.strip()) or (rc == 128 and "No such file or directory" in err)


def collect(ctx: ProbeContext) -> GitFacts:
    path = shutil.which("git", path=ctx.env.get("PATH"))
    if path is None:
        return GitFacts(path=None)
    # The probe's env (its HOME): git reads its config files even for --version and stops on a malformed one.
    version_run = ctx.run([path, "--version"], timeout=ctx.timeout_s, env=ctx.env)
    if not version_run.ok:
        return GitFacts(path=path, error=version_run.describe())
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", version_run.out)
    # One call for the identity: `git config --get` per key would double the process starts.
    # LC_ALL=C: the "No such file or directory" that _no_global_config looks for is translated otherwise.
    config_run = ctx.run([path, "config", "--global", "--includes", "--list"], timeout=ctx.timeout_s,
                         env={**ctx.env, "LC_ALL": "C"})
    values: dict[str, str] = {}
    if config_run.ok:
        for line in config_run.out.splitlines():
            key, _, value = line.partition("=")
            values[key.strip().lower()] = value.strip()
    elif config_run.timed_out or config_run.missing or not _no_global_config(config_run.rc, config_run.err):
        # Otherwise rc 128 is git's "fatal": ~/.gitconfig unreadable (a HOME that belongs to someone else, as
        # with `sudo` keeping HOME) or malformed ("bad config line 3"). The identity is then unknown, not unset.
        return GitFacts(path=path, version=match.group(1) if match else None, error=config_run.describe())
    return GitFacts(
        path=path,
        version=match.group(1) if match else None,
        user_name=values.get("user.name") or None,
        user_email=values.get("user.email") or None,
    )


PROBES = (ProbeSpec("git", collect),)
