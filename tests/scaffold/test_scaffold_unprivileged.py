"""Read-only targets as a real unprivileged user meets them: a user made with useradd runs the
real CLI (`python3 -m envcheck scaffold`) through setpriv, against folders whose permissions refuse it.

Root would write anywhere, so only a real user shows what permissions do. The user's interpreter is the system
python3 of the test interpreter's version (the venv's own may sit under a root-only home); envcheck and its
dependencies come from this checkout and this environment's site-packages through PYTHONPATH.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.scaffold_helpers import files_under

ROOT = Path(__file__).resolve().parents[2]
USER = "envcheck-scaffold"
PYTHON = "/usr/bin/python3"


def _system_python_matches() -> bool:
    if not os.access(PYTHON, os.X_OK):
        return False
    done = subprocess.run([PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True,
                          timeout=30)
    return done.stdout.strip() == str(sys.version_info[:2])


@pytest.fixture(scope="module")
def as_user() -> Iterator[list[str]]:
    """The argv prefix that runs `python3 -m envcheck` as the unprivileged user."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("useradd") is None:
        pytest.skip("needs root, setpriv and useradd (CI runs as root)")
    if not _system_python_matches():
        pytest.skip(f"{PYTHON} is not Python {sys.version_info[0]}.{sys.version_info[1]} (compiled dependencies)")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", USER],
                       check=True, capture_output=True, timeout=30)
    entry = pwd.getpwnam(USER)
    path = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    prefix = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--",
              "env", f"PYTHONPATH={path}", "HOME=/nonexistent", PYTHON, "-m", "envcheck"]
    probe = subprocess.run([*prefix, "--version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"the user cannot run this checkout's envcheck (is the checkout readable?): {probe.stderr[-300:]}")
    yield prefix


@pytest.fixture
def sandbox() -> Iterator[Path]:
    # pytest's tmp_path sits under a root-only folder: the user needs a path it can traverse.
    folder = Path(tempfile.mkdtemp(prefix="envcheck-scaffold-ro-", dir="/tmp"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _chown(path: Path) -> None:
    entry = pwd.getpwnam(USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _scaffold(prefix: list[str], target: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, "scaffold", str(target), "--cuda", "cpu", "--no-git", *extra],
                          capture_output=True, text=True, timeout=120, cwd="/")


def _users_project(sandbox: Path, mode: int, files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """~/proj in a home, both the user's, with ``files`` (the user's too) in it; then proj set to ``mode``."""
    parent = sandbox / "home"
    target = parent / "proj"
    target.mkdir(parents=True)
    owned = [parent, target]
    for name, text in (files or {}).items():
        (target / name).write_text(text)
        owned.append(target / name)
    for path in owned:
        _chown(path)
    target.chmod(mode)
    return parent, target


@pytest.mark.root
def test_a_parent_folder_the_user_cannot_write_is_refused_cleanly(as_user: list[str], sandbox: Path) -> None:
    # sandbox: root's, mode 755; the user may enter it but not create anything in it.
    ran = _scaffold(as_user, sandbox / "proj")
    assert ran.returncode == 2, ran.stdout + ran.stderr  # a usage error: nothing was tried
    assert "Permission denied" in ran.stderr and str(sandbox) in ran.stderr
    assert "Traceback" not in ran.stderr
    assert files_under(sandbox) == set()


@pytest.mark.root
def test_a_read_only_empty_folder_is_not_swapped_for_a_writable_one(as_user: list[str], sandbox: Path) -> None:
    # The parent is the user's, so rename(2) could replace the empty folder: the folder's own mode must still count.
    parent, target = _users_project(sandbox, 0o555)
    ran = _scaffold(as_user, target)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "not writable" in ran.stderr and "nothing was written" in ran.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o555 and files_under(parent) == {"proj"}


@pytest.mark.root
def test_force_into_a_read_only_folder_changes_no_user_file(as_user: list[str], sandbox: Path) -> None:
    parent, target = _users_project(sandbox, 0o555, {"README.md": "my notes\n"})
    ran = _scaffold(as_user, target, "--force")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "not writable" in ran.stderr and "Traceback" not in ran.stderr
    assert files_under(parent) == {"proj", "proj/README.md"}
    assert (target / "README.md").read_text() == "my notes\n"


@pytest.mark.root
def test_an_empty_folder_the_user_owns_keeps_its_mode(as_user: list[str], sandbox: Path) -> None:
    # A shared project folder (group-writable, setgid) must stay one after the staged tree replaces it.
    _, target = _users_project(sandbox, 0o2775)
    ran = _scaffold(as_user, target)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o2775
    assert (target / "src" / "proj" / "train.py").is_file()
    assert target.stat().st_uid == pwd.getpwnam(USER).pw_uid


@pytest.mark.root
def test_scaffold_dot_works_in_a_writable_folder_under_a_read_only_parent(as_user: list[str], sandbox: Path) -> None:
    # `cd ~/proj && envcheck scaffold .` where the parent (here root's, mode 755) refuses the user: everything
    # envcheck keeps while writing lives inside the target, so nothing needs the parent.
    target = sandbox / "proj"
    target.mkdir()
    _chown(target)
    ran = subprocess.run([*as_user, "scaffold", ".", "--cuda", "cpu", "--no-git"], capture_output=True, text=True,
                         timeout=120, cwd=target)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (target / "src" / "proj" / "train.py").is_file() and (target / ".envcheck" / "project.json").is_file()
    assert sorted(os.listdir(target / ".envcheck")) == ["project.json"]  # no staging folder left
    assert sorted(os.listdir(sandbox)) == ["proj"]


@pytest.mark.root
def test_force_with_a_state_folder_the_user_cannot_write_changes_nothing(as_user: list[str], sandbox: Path) -> None:
    # The user owns the project, but .envcheck/ inside it is root's: the staging folder cannot be made, so the
    # run fails before its first change and says so.
    target = sandbox / "proj"
    (target / ".envcheck").mkdir(parents=True)
    (target / ".envcheck" / "project.json").write_text("{}\n")
    (target / "README.md").write_text("my notes\n")
    for path in (target, target / "README.md"):
        _chown(path)
    (target / ".envcheck").chmod(0o755)
    before = files_under(target)
    ran = _scaffold(as_user, target, "--force")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert ran.stderr.count("\n") == 1 and "Permission denied" in ran.stderr and "nothing in" in ran.stderr
    assert files_under(target) == before and (target / "README.md").read_text() == "my notes\n"
