"""Safety of writing: refusals before any write, paths kept inside the target, the tree
staged and moved into place, and a full disk half-way (a real 64 KiB tmpfs) leaving nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.scaffold_helpers import envcheck_main, files_under, mounted_tmpfs

from envcheck.model import UsageError
from envcheck.scaffold import render, validate
from envcheck.scaffold import write as writer
from envcheck.scaffold.fsops import FileOps
from envcheck.scaffold.render import TemplateError
from envcheck.scaffold.write import resolve_inside, write_tree


@pytest.mark.parametrize("bad", [".envcheck/backup/x", ".envcheck/staging-1/journal.json"])
def test_plan_paths_cannot_reach_the_writers_own_folders(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match="keeps its backups and staging folders there"):
        write_tree(tmp_path / "t", {bad: "x\n"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../x", "a//b", "./a", "a\\b", "a\nb", "", "a/\x00"])
def test_plan_paths_must_be_plain_relative_paths(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError):
        resolve_inside(tmp_path / "t", bad)


def test_a_symlink_in_the_target_cannot_lead_a_write_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "t"
    target.mkdir()
    (target / "src").symlink_to(outside)
    with pytest.raises(UsageError, match="outside"):
        write_tree(target, {"src/pkg/model.py": "x\n"}, force=True)
    assert list(outside.iterdir()) == []


def test_new_target_is_moved_into_place_with_no_staging_left(tmp_path: Path) -> None:
    result = write_tree(tmp_path / "new", {"a.txt": "a\n", "b/c.txt": "c\n"})
    assert (tmp_path / "new/b/c.txt").read_text() == "c\n"
    assert result.replaced == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]  # no .new.envcheck-* left beside it


def test_non_empty_target_is_refused_without_force(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    with pytest.raises(UsageError, match="--force"):
        write_tree(target, {"a.txt": "a\n"})
    assert files_under(target) == {"notes.txt"}


def test_write_trees_refusal_names_top_level_entries_as_the_commands_does(tmp_path: Path) -> None:
    target = tmp_path / "t"
    (target / ".venv" / "lib").mkdir(parents=True)
    for i in range(3):
        (target / ".venv" / "lib" / f"f{i}.py").write_text("")
    (target / "notes.txt").write_text("mine\n")
    with pytest.raises(UsageError) as refused:
        write_tree(target, {"a.txt": "a\n"})
    assert str(refused.value) == (f"{target} is not empty (2 top-level entries: .venv, notes.txt). Nothing was "
                                  "written; pass --dry-run to see the plan, or --force to replace the project "
                                  "(user files outside the plan stay)")


def test_a_folder_that_cannot_be_listed_is_refused_not_taken_for_empty(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t"
    target.mkdir()

    def denied(path: object) -> list[str]:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(validate.os, "listdir", denied)
    with pytest.raises(UsageError) as refused:
        validate.existing_entries(target)
    assert str(refused.value) == (f"cannot list {target} (Permission denied): envcheck writes a project only into "
                                  f"a folder it can list (ls -ld {target})")


def test_force_replaces_only_planned_files_and_keeps_the_rest(tmp_path: Path) -> None:
    target = tmp_path / "t"
    (target / "src").mkdir(parents=True)
    (target / "README.md").write_text("old\n")
    (target / "notes.txt").write_text("mine\n")
    result = write_tree(target, {"README.md": "new\n", "src/x.py": "x\n"}, force=True)
    assert result.replaced == ("README.md",)
    assert (target / "README.md").read_text() == "new\n"
    assert (target / "notes.txt").read_text() == "mine\n"


def test_a_failure_while_moving_puts_every_replaced_file_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t"
    target.mkdir()
    (target / "a.txt").write_text("old a\n")
    (target / "c.txt").write_text("old c\n")
    before = {p: (target / p).read_text() for p in ("a.txt", "c.txt")}
    real_rename = os.rename
    calls = {"n": 0}

    def failing_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # after a.txt was backed up and replaced, and b/ placed: an interruption
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(writer.os, "rename", failing_rename)
    with pytest.raises(KeyboardInterrupt):
        write_tree(target, {"a.txt": "new a\n", "b/b.txt": "b\n", "c.txt": "new c\n"}, force=True)
    monkeypatch.undo()
    assert files_under(target) == {"a.txt", "c.txt"}
    assert {p: (target / p).read_text() for p in ("a.txt", "c.txt")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs: too small for a whole project, so writing fails half-way with ENOSPC."""
    with mounted_tmpfs(tmp_path / "small", "size=64k") as mount:
        yield mount


def test_full_disk_leaves_no_partial_project(small_disk: Path) -> None:
    ran = envcheck_main(["scaffold", str(small_disk / "proj"), "--driver", "580.65.06", "--no-git"])
    assert ran.code == 1, ran.out + ran.err
    assert "No space left on device" in ran.err and "nothing in" in ran.err
    assert "Traceback" not in ran.err
    assert files_under(small_disk) == set()


def test_full_disk_changes_no_user_file_with_force(small_disk: Path) -> None:
    target = small_disk / "proj"
    target.mkdir()
    (target / "README.md").write_text("my own readme\n")
    (target / "data.csv").write_text("1,2\n")
    ran = envcheck_main(["scaffold", str(target), "--force", "--driver", "580.65.06", "--no-git"])
    assert ran.code == 1, ran.out + ran.err
    assert "No space left on device" in ran.err
    assert files_under(small_disk) == {"proj", "proj/README.md", "proj/data.csv"}
    assert (target / "README.md").read_text() == "my own readme\n"


def test_force_lists_the_files_to_be_replaced_first(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    target.mkdir()
    (target / "README.md").write_text("mine\n")
    refused = envcheck_main(["scaffold", str(target), "--cuda", "cpu", "--no-git"])
    assert refused.code == 2 and "README.md" in refused.err and "--force" in refused.err
    assert (target / "README.md").read_text() == "mine\n"
    ran = envcheck_main(["scaffold", str(target), "--cuda", "cpu", "--no-git", "--force"])
    assert ran.code == 0, ran.err
    listing = ran.out.split("Plan for")[0]
    assert "Replacing 1 existing file in" in listing and "README.md" in listing


def test_templates_render_in_a_sandbox_with_strict_undefined() -> None:
    with pytest.raises(TemplateError, match="undefined"):
        render.render_text("{{ missing }}", {})
    # A value is data: template syntax inside it is not evaluated.
    assert render.render_text("{{ name }}", {"name": "{{ 7 * 7 }}"}) == "{{ 7 * 7 }}"
    with pytest.raises(TemplateError, match="SecurityError"):
        render.render_text("{{ ''.__class__.__mro__ }}", {})
    assert render.render_text("a\n", {}) == "a\n"  # keep_trailing_newline


def test_an_existing_empty_folder_is_filled_not_swapped(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    inode = target.stat().st_ino
    write_tree(target, {"a.txt": "a\n", "b/c.txt": "c\n"})
    assert files_under(target) == {"a.txt", "b", "b/c.txt"}
    assert target.stat().st_ino == inode  # the same folder: a shell inside it (`scaffold .`) still sees the project
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_scaffold_dot_is_seen_from_the_working_folder_it_ran_in(tmp_path: Path) -> None:
    # `mkdir proj && cd proj && envcheck scaffold .`: the shell's working folder must be the project afterwards,
    # not a deleted folder that lists as empty.
    target = tmp_path / "proj"
    target.mkdir()
    cwd = os.getcwd()
    os.chdir(target)
    try:
        ran = envcheck_main(["scaffold", ".", "--cuda", "cpu", "--no-git"])
        seen = set(os.listdir("."))
    finally:
        os.chdir(cwd)
    assert ran.code == 0, ran.out + ran.err
    assert {"environment.yml", "README.md", "src"} <= seen


def test_an_interrupted_fill_leaves_the_empty_folder_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    real_rename = os.rename
    calls = {"n": 0}

    def rename_then_interrupt(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the first entry moved in, then Ctrl-C
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(writer.os, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_tree(target, {"a.txt": "a\n", "b/c.txt": "c\n"})
    monkeypatch.undo()
    assert calls["n"] == 2 and files_under(tmp_path) == {"empty"}


def test_interrupted_while_staging_leaves_nothing(tmp_path: Path) -> None:
    written: list[Path] = []

    def stage_then_interrupt(count: int, op: str, path: Path) -> None:
        if op == "write" and written:  # one file staged, then Ctrl-C
            raise KeyboardInterrupt
        if op == "write":
            written.append(path)

    with pytest.raises(KeyboardInterrupt):
        write_tree(tmp_path / "proj", {"a.txt": "a\n", "b.txt": "b\n"}, ops=FileOps(stage_then_interrupt))
    assert [p.name for p in written] == ["a.txt"] and files_under(tmp_path) == set()


def test_a_target_holding_only_a_link_to_a_folder_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "t"
    target.mkdir()
    (target / "data").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="not empty"):
        write_tree(target, {"a.txt": "a\n"})
