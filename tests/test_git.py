"""git checks against the real git binary, with a throwaway HOME so the user's config is untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from envcheck.checks.git import identity, installed
from envcheck.engine import make_context
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.git import GitFacts, collect

GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed on this machine")


def _ctx(home: Path, path: str | None = None):
    env = {"HOME": str(home), "PATH": path if path is not None else os.environ["PATH"],
           "GIT_CONFIG_NOSYSTEM": "1"}
    ctx = make_context(default_policy())(5.0)
    return type(ctx)(env=env, home=str(home), timeout_s=5.0, run=ctx.run, options={})


def test_real_git_without_identity(tmp_path: Path) -> None:
    facts = collect(_ctx(tmp_path))
    assert facts.path is not None and facts.version is not None
    assert installed(facts, default_policy()).status is Status.PASS
    verdict = identity(facts, default_policy())
    assert verdict.status is Status.WARN
    assert verdict.observed == "user.name and user.email not set"
    assert 'git config --global user.email "you@example.com"' in verdict.fix


def test_real_git_with_identity_set_through_git_itself(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([GIT, "config", "--global", "user.name", "Ada Lovelace"], env=env, check=True)
    subprocess.run([GIT, "config", "--global", "user.email", "ada@example.org"], env=env, check=True)
    facts = collect(_ctx(tmp_path))
    verdict = identity(facts, default_policy())
    assert verdict.status is Status.PASS
    assert verdict.observed == "Ada Lovelace <ada@example.org>"


def test_only_email_missing_names_only_email(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([GIT, "config", "--global", "user.name", "Ada"], env=env, check=True)
    verdict = identity(collect(_ctx(tmp_path)), default_policy())
    assert verdict.observed == "user.email not set"
    assert "user.name" not in verdict.fix


def test_git_missing_from_path_fails_with_install_fix(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    facts = collect(_ctx(tmp_path, path=str(empty)))
    assert facts.path is None
    verdict = installed(facts, default_policy())
    assert verdict.status is Status.FAIL
    assert verdict.fix == "sudo apt-get install -y git"


def test_old_git_warns_and_unreadable_version_is_unknown() -> None:
    assert installed(GitFacts(path="/usr/bin/git", version="2.17.1"), default_policy()).status is Status.WARN
    unknown = installed(GitFacts(path="/usr/bin/git", error="`git --version` did not finish"), default_policy())
    assert unknown.status is Status.UNKNOWN
