"""The whole `envcheck doctor` as a real unprivileged user (useradd; runuser), with the HOME a user can
end up with: unset, pointing nowhere, or someone else's that cannot be read. It must finish, print the
envelope, crash nowhere, and say "could not check" where it could not (issue #2, items 4-5)."""

from __future__ import annotations

import json
import pwd
import subprocess
from typing import Any

import pytest
from docker_helpers import _tool, make_user, world_envcheck

# Fixtures, imported so pytest finds them here.
__all__ = ["make_user", "world_envcheck"]
ISSUE_2_SUBJECTS = ("host", "python", "git", "conda", "jupyter")


def _doctor_as(user: str, world: tuple[str, str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str],
                                                                                 dict[str, Any]]:
    python, path = world
    child_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1",
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
    assert done.returncode == report["exit_code"] in (0, 1, 3)
    results = {(r["id"], r["item"]): r for r in report["results"]}
    crashed = [r["id"] for r in report["results"] if "crashed" in r["reason"] or "did not finish" in r["reason"]]
    assert not crashed, crashed
    # Every problem says what to do about it, except results blocked by a root cause shown elsewhere.
    fixless = [r["id"] for r in report["results"] if r["subject"] in ISSUE_2_SUBJECTS
               and r["status"] in ("fail", "unknown") and not r["fix"] and not r["caused_by"]]
    assert not fixless, fixless
    disk = results[("host.disk-home", None)]
    if home == "/nonexistent":
        assert disk["status"] == "unknown" and "No such file" in disk["reason"], disk
    elif home == "unset":  # Python falls back to the passwd entry, which useradd --no-create-home left empty
        assert disk["observed"].endswith(pwd.getpwnam(user).pw_dir) or disk["status"] == "unknown", disk
    identity = results[("git.identity", None)]
    if home == "/root" and identity["status"] != "skip":
        # root's ~/.gitconfig cannot be read by this user: whether an identity is set is not known.
        assert identity["status"] in ("unknown", "warn"), identity
        if identity["status"] == "unknown":
            assert "Permission denied" in identity["reason"], identity
