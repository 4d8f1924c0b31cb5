"""Hostile targets for `envcheck scaffold`, run through the real CLI in a process of its own: a long but legal
folder name works; a name too long for the file system, a parent that cannot be written and a path through a
file are each one line and exit 2; a disk that fills up at any point of the write or of `git init` ends with the
folder as it was, or the whole project with a working repository, or the whole project and no repository (exit 1,
the half-made .git removed), never a broken one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.scaffold_helpers import mounted_tmpfs
from test_scaffold_faults import FILES, USER_FILES, snapshot

from envcheck.scaffold.gitinit import GitError, init_and_commit
from envcheck.scaffold.write import WriteError, write_tree

ARGS = ("--cuda", "cpu", "--no-git")


def scaffold(target: Path | str, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envcheck", "scaffold", str(target), *ARGS, *extra],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def one_line_usage_error(ran: subprocess.CompletedProcess[str], *words: str) -> None:
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.startswith("envcheck: error: ") and ran.stderr.count("\n") == 1, ran.stderr
    assert all(word in ran.stderr for word in words), ran.stderr
    assert ran.stdout == ""


def test_a_folder_name_of_250_characters_works(tmp_path: Path) -> None:
    target = tmp_path / ("p" * 250)
    ran = scaffold(target, "--name", "long")  # a distribution name has at most 64 characters; the folder's, 255
    assert ran.returncode == 0, ran.stderr
    assert (target / "src" / "long" / "train.py").is_file()
    assert sorted(os.listdir(target / ".envcheck")) == ["project.json"] and os.listdir(tmp_path) == [target.name]


def test_a_folder_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    one_line_usage_error(scaffold(tmp_path / ("p" * 256)), "256 bytes long", "at most 255")
    assert os.listdir(tmp_path) == []


def test_a_path_through_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    one_line_usage_error(scaffold(tmp_path / "notes.txt" / "sub" / "proj"), "notes.txt is a file, not a folder")
    assert os.listdir(tmp_path) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine\n"


def test_a_path_too_long_is_one_line(tmp_path: Path) -> None:
    one_line_usage_error(scaffold(tmp_path.joinpath(*["d" * 200] * 20)), "too long")


def test_a_parent_on_a_read_only_file_system_is_one_line(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "ro", "size=64k,ro") as parent:
        one_line_usage_error(scaffold(parent / "proj"), "not writable", "Permission denied")


def test_a_disk_that_fills_at_any_point_of_the_write_loses_nothing(tmp_path: Path) -> None:
    # A real ENOSPC at every size from one that cannot hold the user's files plus the staged project to one
    # that holds both: tmpfs counts whole 4 KiB pages per file.
    ended = {"nothing changed": 0, "written": 0}
    for pages in range(8, 34):
        with mounted_tmpfs(tmp_path / f"disk{pages}", f"size={pages * 4}k") as disk:
            target = disk / "proj"
            for rel, data in USER_FILES.items():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                (target / rel).write_bytes(data)
            before = snapshot(target)
            try:
                result = write_tree(target, FILES, force=True)
            except WriteError as exc:
                assert "No space left on device" in str(exc) and "nothing in" in str(exc), exc
                assert snapshot(target) == before
                ended["nothing changed"] += 1
            else:
                assert result.backup is not None
                assert all((target / rel).read_text() == text for rel, text in FILES.items())
                assert all((result.backup / rel).read_bytes() == USER_FILES[rel] for rel in result.replaced)
                assert not any("staging-" in rel for rel in snapshot(target))
                ended["written"] += 1
    assert ended["nothing changed"] >= 5 and ended["written"] >= 5, ended


GIT_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}


def test_a_disk_that_fills_during_git_init_leaves_no_broken_repository(tmp_path: Path) -> None:
    ended = {"committed": 0, "removed": 0}
    failing: list[int] = []
    for pages in range(30, 72, 2):
        with mounted_tmpfs(tmp_path / f"git{pages}", f"size={pages * 4}k") as disk:
            target = disk / "proj"
            try:
                write_tree(target, FILES)
            except WriteError:
                continue  # the project itself does not fit: the test above covers that
            try:
                outcome = init_and_commit(target, FILES, env=GIT_ENV)
            except GitError as exc:
                # git's own words for the cause; a storage error named when git gave one.
                assert re.search(r"but git (init|add|commit) failed \(", str(exc)), exc
                assert "half-made" in str(exc) and "was removed" in str(exc), exc
                assert not (target / ".git").exists()
                assert all((target / rel).read_text() == text for rel, text in FILES.items())
                ended["removed"] += 1
                failing.append(pages)
                continue
            assert outcome.committed, outcome.message
            fsck = subprocess.run(["git", "-C", str(target), "fsck", "--strict"], capture_output=True, text=True,
                                  timeout=60, env=GIT_ENV)
            assert fsck.returncode == 0, fsck.stderr
            ended["committed"] += 1
    assert ended["removed"] >= 3 and ended["committed"] >= 1, ended
    # The same end through the CLI (whose plan, made for this machine, may differ by a page): exit 1, one message
    # saying what happened, the project complete, no repository.
    for pages in failing[len(failing) // 2:]:
        with mounted_tmpfs(tmp_path / f"cli{pages}", f"size={pages * 4}k") as disk:
            ran = subprocess.run([sys.executable, "-m", "envcheck", "scaffold", str(disk / "proj"), "--cuda", "cpu"],
                                 capture_output=True, text=True, timeout=120, env={**os.environ, **GIT_ENV})
            assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stdout + ran.stderr
            if "the project is complete" in ran.stderr:
                assert "half-made" in ran.stderr and "No space left on device" in ran.stderr, ran.stderr
                assert not (disk / "proj" / ".git").exists() and (disk / "proj" / "README.md").is_file()
                return
    pytest.fail(f"no size in {failing} made git fail through the CLI")
