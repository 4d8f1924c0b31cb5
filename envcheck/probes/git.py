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


def collect(ctx: ProbeContext) -> GitFacts:
    path = shutil.which("git", path=ctx.env.get("PATH"))
    if path is None:
        return GitFacts(path=None)
    version_run = ctx.run([path, "--version"], timeout=ctx.timeout_s)
    if not version_run.ok:
        return GitFacts(path=path, error=version_run.describe())
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", version_run.out)
    # One call for the identity: `git config --get` per key would double the process starts.
    config_run = ctx.run([path, "config", "--global", "--includes", "--list"], timeout=ctx.timeout_s, env=ctx.env)
    values: dict[str, str] = {}
    if config_run.ok:
        for line in config_run.out.splitlines():
            key, _, value = line.partition("=")
            values[key.strip().lower()] = value.strip()
    elif config_run.timed_out or config_run.missing:
        return GitFacts(path=path, version=match.group(1) if match else None, error=config_run.describe())
    # rc 1 with no output means "no global config file": no identity, which is a fact, not an error.
    return GitFacts(
        path=path,
        version=match.group(1) if match else None,
        user_name=values.get("user.name") or None,
        user_email=values.get("user.email") or None,
    )


PROBES = (ProbeSpec("git", collect),)
