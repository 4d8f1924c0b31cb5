"""The whole `envcheck doctor` as a real unprivileged user (useradd; runuser), with the HOME a user can
end up with: unset, pointing nowhere, or someone else's that cannot be read. It must finish, print the
envelope, crash nowhere, and say "could not check" where it could not: a service account or a fresh
`useradd` without a home folder is how many shared servers run jobs."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
from typing import Any

import pytest
from helpers.docker_helpers import _tool, make_user, world_envcheck

# Fixtures, imported so pytest finds them here.
__all__ = ["make_user", "world_envcheck"]
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
# The subjects of a user's own setup (not of the engine or the GPU): each of their problems must come with a fix.
USER_SETUP_SUBJECTS = ("host", "python", "git", "conda", "jupyter")


def _doctor_as(user: str, world: tuple[str, str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str],
                                                                                 dict[str, Any]]:
    python, path = world
    child_env = {"PATH": CHILD_PATH, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1",
                 "LANG": "C.UTF-8", **env}
    # `env -i` after runuser: runuser would set HOME itself; the test decides what HOME is.
    pairs = [f"{k}={v}" for k, v in child_env.items()]
    argv = [_tool("runuser"), "-u", user, "--", "/usr/bin/env", "-i", *pairs, python, "-m", "envcheck", "doctor",
            "--json", "--timeout", "5"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
    assert done.stdout.startswith("{"), f"no JSON report: {done.stdout[:300]} {done.stderr[-2000:]}"
    return done, json.loads(done.stdout)


@pytest.mark.root
@pytest.mark.parametrize("home", ["unset", "/nonexistent", "/root"])
def test_doctor_as_an_unprivileged_user_completes_with_honest_unknowns(
    home: str, make_user: Any, world_envcheck: tuple[str, str]
) -> None:
    user = make_user()
    env = {} if home == "unset" else {"HOME": home}
    done, report = _doctor_as(user, world_envcheck, env)
    assert "Traceback" not in done.stderr
    statuses = {r["status"] for r in report["results"]}
    # README's exit-code table, applied to what this user's run found: 1 if anything failed, else 3 if anything
    # could not be checked, else 0.
    assert done.returncode == report["exit_code"] == (1 if "fail" in statuses else 3 if "unknown" in statuses else 0)
    results = {(r["id"], r["item"]): r for r in report["results"]}
    crashed = [r["id"] for r in report["results"] if "crashed" in r["reason"] or "did not finish" in r["reason"]]
    assert not crashed, crashed
    # Every problem says what to do about it, except results blocked by a root cause shown elsewhere.
    fixless = [r["id"] for r in report["results"] if r["subject"] in USER_SETUP_SUBJECTS
               and r["status"] in ("fail", "unknown") and not r["fix"] and not r["caused_by"]]
    assert not fixless, fixless
    disk = results[("host.disk-home", None)]
    if home != "/root":
        # HOME unset: Python falls back to the passwd entry, a folder useradd --no-create-home never made.
        missing = home if home == "/nonexistent" else pwd.getpwnam(user).pw_dir
        assert not os.path.exists(missing)
        assert disk["status"] == "unknown" and "No such file" in disk["reason"], disk
    else:
        # /root is 0700 (Debian's and Ubuntu's base-files): this user cannot even look inside it, so whether root's
        # ~/.gitconfig sets an identity is not known. Without git on the user's PATH git.installed fails first.
        assert stat.S_IMODE(os.stat("/root").st_mode) & 0o005 == 0, "a /root that others may enter"
        identity = results[("git.identity", None)]
        if shutil.which("git", path=CHILD_PATH) is None:
            assert (identity["status"], identity["caused_by"]) == ("unknown", "git.installed"), identity
        else:
            assert identity["status"] == "unknown" and "Permission denied" in identity["reason"], identity
