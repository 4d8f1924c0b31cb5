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
    return type(ctx)(env=env, home=str(home), timeout_s=5.0, run=ctx.run)


def test_real_git_without_identity(tmp_path: Path) -> None:
    facts = collect(_ctx(tmp_path))
    # The git on PATH, and the version it prints itself ("git version 2.39.5").
    printed = subprocess.run([GIT, "--version"], capture_output=True, text=True, check=True).stdout
    assert (facts.path, facts.version) == (GIT, printed.split()[2])
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
    assert verdict.observed == f"Ada Lovelace <ada@example.org> (from {tmp_path}/.gitconfig)"


def test_an_identity_outside_the_global_file_counts(tmp_path: Path) -> None:
    """Set in a file ~/.gitconfig includes (a lab's shared identity file), or by GIT_AUTHOR_* for the session:
    git commits with it, so "not set" would be a false warning. Real git reads both."""
    shared = tmp_path / "lab.gitconfig"
    shared.write_text("[user]\n  name = Lab Robot\n  email = robot@lab.example\n")
    (tmp_path / ".gitconfig").write_text(f"[include]\n  path = {shared}\n")
    verdict = identity(collect(_ctx(tmp_path)), default_policy())
    assert verdict.status is Status.PASS
    assert verdict.observed == f"Lab Robot <robot@lab.example> (from {shared})"

    (tmp_path / ".gitconfig").unlink()
    ctx = _ctx(tmp_path)
    env = {**ctx.env, "GIT_AUTHOR_NAME": "Ada", "EMAIL": "ada@example.org"}
    verdict = identity(collect(type(ctx)(env=env, home=ctx.home, timeout_s=5.0, run=ctx.run)),
                       default_policy())
    assert verdict.status is Status.PASS
    assert verdict.observed == "Ada <ada@example.org> (from $GIT_AUTHOR_NAME and $EMAIL)"


def test_a_repository_where_doctor_starts_does_not_lend_its_identity(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity is the machine user's, the same wherever doctor runs: a repo's own .git/config is not read."""
    repo = tmp_path / "repo"
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([GIT, "init", "-q", str(repo)], env=env, check=True)
    subprocess.run([GIT, "-C", str(repo), "config", "user.name", "Repo Only"], env=env, check=True)
    subprocess.run([GIT, "-C", str(repo), "config", "user.email", "repo@example.org"], env=env, check=True)
    monkeypatch.chdir(repo)  # doctor started inside that repository
    verdict = identity(collect(_ctx(tmp_path)), default_policy())
    assert verdict.status is Status.WARN and verdict.observed == "user.name and user.email not set"


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


def test_a_malformed_gitconfig_fails_with_the_file_to_edit(tmp_path: Path) -> None:
    # git stops on it for every command, `git --version` included (git 2.39: "fatal: bad config line 1").
    (tmp_path / ".gitconfig").write_text("[user\n  name = Ada\n")
    facts = collect(_ctx(tmp_path))
    verdict = installed(facts, default_policy())
    assert verdict.status is Status.FAIL, verdict
    assert "bad config" in verdict.observed
    assert verdict.fix == f"${{EDITOR:-nano}} {tmp_path}/.gitconfig  # fix the line git names"


def test_an_unreadable_gitconfig_is_unknown_not_unset() -> None:
    """As an unprivileged user whose HOME is someone else's (sudo keeping HOME): git cannot read
    ~/.gitconfig, so whether an identity is set is not known; "not set" with a fix would be wrong."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to run git as another user")
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="envck-git-", dir="/tmp"))  # reachable by nobody, unlike tmp_path
    try:
        home.chmod(0o755)
        env = {"HOME": str(home), "PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run([GIT, "config", "--global", "user.name", "Root"], env=env, check=True)
        (home / ".gitconfig").chmod(0o600)

        def as_nobody(argv, timeout_s, env=None, cwd=None):
            from envcheck import runner

            # runuser would set HOME to nobody's; `env` puts the probe's environment back.
            pairs = [f"{k}={v}" for k, v in (env or {}).items()]
            return runner.run(["runuser", "-u", "nobody", "--", "env", "-i", *pairs, *argv], timeout_s=timeout_s,
                              cwd="/")

        ctx = _ctx(home)
        facts = collect(type(ctx)(env=ctx.env, home=ctx.home, timeout_s=5.0, run=as_nobody))
        assert facts.version is not None, facts
        verdict = identity(facts, default_policy())
        assert verdict.status is Status.UNKNOWN, verdict
        assert "Permission denied" in verdict.reason and verdict.fix.startswith("ls -l ~/.gitconfig")
    finally:
        shutil.rmtree(home, ignore_errors=True)
