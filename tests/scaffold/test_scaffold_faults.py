"""Fault injection into the scaffold writer: whatever fails, and whenever, no byte of the user's is lost.

Every disk change the writer makes goes through envcheck.scaffold.fsops.FileOps, whose fault hook sees each one
numbered. For every number N from the first operation of a real project's write to the last, in a new folder, an
existing empty folder and a folder of the user's with --force, each test fails operation N one way:

- a full disk (ENOSPC) at N, once;
- a permission taken away at N for the rest of the run (EACCES from then on), so the roll back fails too and the
  next run must finish it from the journal;
- SIGTERM delivered to this process at N (the real handler holds it until the step is done);
- SIGKILL at N: the write runs in a forked child that ends with os._exit at N; the next run finds the journal.

After each: the folder is as it was (every user file byte-identical, nothing added) or holds the whole new project
with each replaced file in the backup folder the run names; no staging folder is left; and the next run works.
The matrix runs on tmpfs (/dev/shm) where there is one: the same code, without ext4's fsync costs.
"""

from __future__ import annotations

import errno
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from envcheck.scaffold import fsops
from envcheck.scaffold.command import Options, build_request
from envcheck.scaffold.facts import PlanFacts
from envcheck.scaffold.interrupts import Interrupted
from envcheck.scaffold.journal import STATE_DIR, LeftoverError, leftovers, older_leftovers, recover
from envcheck.scaffold.plan import plan_project
from envcheck.scaffold.write import WriteError, WriteResult, write_tree

NAME = "proj"
# The user's folder for --force: three files the plan replaces (one in a folder the plan also writes), one in a
# planned folder that the plan does not name, and two the plan does not touch, with bytes no text file has.
USER_FILES = {
    "README.md": b"my own readme\n",
    "src/proj/model.py": b"my model \x00\xff\xfe\n",
    ".envcheck/project.json": b'{"made": "by hand"}\n',
    "src/proj/mine.py": b"mine\n",
    "data.csv": b"1,2\n3,4\n",
    "notes/keep.txt": b"keep \x00 me",
}
MODES = ("new", "empty", "force")


def _plan() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        target, request = build_request(Options(path=os.path.join(folder, NAME), cuda="cpu"))
        return plan_project(str(target), request, PlanFacts(python="3.12", ubuntu="24.04")).files


FILES = _plan()
REPLACED = sorted(set(USER_FILES) & set(FILES))


def test_the_user_folder_overlaps_the_plan_as_intended() -> None:
    assert REPLACED == [".envcheck/project.json", "README.md", "src/proj/model.py"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) below root."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            found[os.path.relpath(os.path.join(folder, name), root)] = Path(folder, name).read_bytes()
    return found


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="envcheck-faults-", dir=shm)) if shm.is_dir() else tmp_path / "faults"
    base.mkdir(exist_ok=True)
    yield base
    import shutil

    shutil.rmtree(base, ignore_errors=True)


def prepare(parent: Path, mode: str) -> Path:
    """A fresh parent folder holding the target as ``mode`` wants it."""
    for entry in list(parent.iterdir()):
        import shutil

        shutil.rmtree(entry)
    target = parent / NAME
    if mode != "new":
        target.mkdir()
    if mode == "force":
        for rel, data in USER_FILES.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
    return target


def assert_old_state(parent: Path, mode: str, before: dict[str, bytes | None], *, after_kill: bool = False) -> None:
    if mode == "new" and not (after_kill and (parent / NAME).is_dir() and not any((parent / NAME).iterdir())):
        assert sorted(os.listdir(parent)) == [], "a new target must not be left behind"
        return
    assert sorted(os.listdir(parent)) == [NAME], "nothing may be left beside the target"
    assert snapshot(parent / NAME) == before


def backups(target: Path) -> list[Path]:
    folder = target / STATE_DIR / "backup"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def assert_new_state(parent: Path, mode: str, result: WriteResult | None = None) -> None:
    target = parent / NAME
    assert sorted(os.listdir(parent)) == [NAME]
    assert leftovers(target) == []
    for rel, text in FILES.items():
        assert (target / rel).read_bytes() == text.encode(), rel
    for rel, data in USER_FILES.items() if mode == "force" else ():
        if rel not in FILES:
            assert (target / rel).read_bytes() == data, rel
    kept = backups(target)
    if mode != "force":
        assert kept == []
        return
    assert len(kept) >= 1  # one per finished --force run
    assert {rel: (kept[0] / rel).read_bytes() for rel in REPLACED} == {rel: USER_FILES[rel] for rel in REPLACED}
    if result is not None:
        assert result.backup == kept[-1] and result.replaced == tuple(REPLACED)


def assert_nothing_lost(target: Path) -> None:
    """Every user file is in its place or, with its bytes, in a backup folder."""
    kept = backups(target)
    for rel, data in USER_FILES.items():
        places = [target / rel] + [folder / rel for folder in kept]
        assert any(p.is_file() and p.read_bytes() == data for p in places), f"{rel} is lost"


def count_ops(parent: Path, mode: str) -> int:
    target = prepare(parent, mode)
    ops = fsops.FileOps()
    write_tree(target, FILES, force=mode == "force", ops=ops)
    return ops.count


def next_run_works(parent: Path, mode: str) -> None:
    """The next --force run writes the project; over one that already stands, it backs that one up whole."""
    target = parent / NAME
    finished = target.is_dir() and all(os.path.isfile(target / rel) for rel in FILES)
    result = write_tree(target, FILES, force=True)
    assert result.notes == ()
    if not finished:
        assert_new_state(parent, mode, result)
        return
    assert result.replaced == tuple(sorted(FILES)) and result.backup is not None
    assert {rel: (result.backup / rel).read_text() for rel in FILES} == FILES
    assert_nothing_lost(target) if mode == "force" else None
    assert leftovers(target) == [] and sorted(os.listdir(parent)) == [NAME]


@pytest.mark.parametrize("mode", MODES)
def test_a_full_disk_at_any_operation_changes_nothing(sandbox: Path, mode: str) -> None:
    total = count_ops(sandbox, mode)
    assert total > 40  # the hook sees the whole write: staging, journal, moves, clean-up
    ended = {"rolled back": 0, "finished": 0}
    for n in range(1, total + 1):
        target = prepare(sandbox, mode)
        before = snapshot(target) if target.exists() else {}

        def full(count: int, op: str, path: Path, n: int = n) -> None:
            if count == n:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        try:
            result = write_tree(target, FILES, force=mode == "force", ops=fsops.FileOps(full))
        except WriteError as exc:
            assert "No space left on device" in str(exc) and "nothing in" in str(exc) and "was changed" in str(exc)
            assert_old_state(sandbox, mode, before)
            ended["rolled back"] += 1
        else:  # the fault fell on the clean-up after the last file was placed: retried, and the project stands
            assert_new_state(sandbox, mode, result)
            ended["finished"] += 1
        next_run_works(sandbox, mode)
    assert ended["rolled back"] > total / 2 and sum(ended.values()) == total


def test_a_permission_lost_for_the_rest_of_the_run_is_finished_by_the_next_run(sandbox: Path) -> None:
    total = count_ops(sandbox, "force")
    outcomes = {"rolled back": 0, "left for the next run": 0, "finished": 0}
    for n in range(1, total + 1):
        target = prepare(sandbox, "force")
        before = snapshot(target)

        def lost(count: int, op: str, path: Path, n: int = n) -> None:
            if count >= n:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

        try:
            result = write_tree(target, FILES, force=True, ops=fsops.FileOps(lost))
        except WriteError as exc:
            assert "Permission denied" in str(exc)
            assert_nothing_lost(target)
            if "run the same envcheck command again" in str(exc):
                outcomes["left for the next run"] += 1
                assert len(leftovers(target)) == 1
                notes = recover(target)
                assert len(notes) == 1 and "undid it" in notes[0]
            else:
                outcomes["rolled back"] += 1
            assert_old_state(sandbox, "force", before)
        else:
            outcomes["finished"] += 1
            if result.notes:  # the staging folder could not be removed: the next run does it
                assert "the project is complete" in result.notes[0] and "could not be removed" in result.notes[0]
                assert recover(target) and leftovers(target) == []
            assert_new_state(sandbox, "force", result)
        next_run_works(sandbox, "force")
    assert outcomes["left for the next run"] > total / 3, outcomes


@pytest.mark.parametrize("mode", ("new", "force"))
def test_sigterm_at_any_operation_rolls_back_or_finishes(sandbox: Path, mode: str) -> None:
    total = count_ops(sandbox, mode)
    codes = set()
    for n in range(1, total + 1):
        target = prepare(sandbox, mode)
        before = snapshot(target) if target.exists() else {}

        def term(count: int, op: str, path: Path, n: int = n) -> None:
            if count == n:
                os.kill(os.getpid(), signal.SIGTERM)  # held by the writer's handler, not the end of pytest

        with pytest.raises(Interrupted) as caught:
            write_tree(target, FILES, force=mode == "force", ops=fsops.FileOps(term))
        codes.add(caught.value.exit_code)
        if "nothing in" in str(caught.value):
            assert_old_state(sandbox, mode, before)
        else:
            assert "after the last file was in place" in str(caught.value)
            assert_new_state(sandbox, mode)
        next_run_works(sandbox, mode)
    assert codes == {128 + signal.SIGTERM}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone again


@pytest.mark.parametrize("mode", ("new", "force"))
def test_sigkill_at_any_operation_is_undone_by_the_next_run(sandbox: Path, mode: str) -> None:
    total = count_ops(sandbox, mode)
    undone = 0
    for n in range(1, total + 1):
        target = prepare(sandbox, mode)
        before = snapshot(target) if target.exists() else {}

        def kill(count: int, op: str, path: Path, n: int = n) -> None:
            if count == n:
                os._exit(137)  # no handler, no finally: what SIGKILL or a power cut leaves

        pid = os.fork()
        if pid == 0:  # the child: write, or die at operation n
            try:
                write_tree(target, FILES, force=mode == "force", ops=fsops.FileOps(kill))
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 137
        if mode == "force":
            assert_nothing_lost(target)
        if target.is_dir():  # what the next run does first
            had = len(leftovers(target))
            notes = recover(target)
            assert len(notes) == had and all("interrupted, and undid it" in note for note in notes)
            undone += had
        if all((target / rel).is_file() for rel in FILES) and not leftovers(target) and \
                all((target / rel).read_bytes() == text.encode() for rel, text in FILES.items()):
            assert_new_state(sandbox, mode)  # killed in the clean-up, after the last file was placed
        else:
            assert_old_state(sandbox, mode, before, after_kill=True)
        next_run_works(sandbox, mode)
    assert undone >= total - 3  # all but a kill before the staging folder exists


def test_a_leftover_of_another_live_run_is_not_touched(sandbox: Path) -> None:
    target = prepare(sandbox, "force")
    entered: list[int] = []

    def pause(count: int, op: str, path: Path) -> None:
        if op == "rename" and not entered:  # the first move: the journal is written, the lock held
            entered.append(count)
            with pytest.raises(LeftoverError, match="another envcheck is writing"):
                recover(target)

    write_tree(target, FILES, force=True, ops=fsops.FileOps(pause))
    assert entered and leftovers(target) == []
    assert_new_state(sandbox, "force")


def test_a_journal_that_cannot_be_read_is_left_alone_with_what_to_do(sandbox: Path) -> None:
    target = prepare(sandbox, "force")
    staging = target / STATE_DIR / "staging-0badf00d"
    staging.mkdir()
    (staging / "journal.json").write_text('{"schema": "envcheck.scaffold-journal", "schema_version": 1, "entr')
    before = snapshot(target)
    with pytest.raises(LeftoverError, match=r"is not JSON.*cannot be trusted.*backup"):
        write_tree(target, FILES, force=True)
    assert snapshot(target) == before


def test_a_forged_journal_removes_no_file_of_the_users(sandbox: Path) -> None:
    # A cloned repository can carry .envcheck/staging-*/journal.json: it must not make envcheck delete or move
    # files. Only a file with exactly the content the journal names is removed, and nothing leaves the target.
    target = prepare(sandbox, "force")
    staging = target / STATE_DIR / "staging-c10ed000"
    staging.mkdir()
    outside = sandbox / "outside.txt"
    outside.write_text("not yours to move\n")
    entries = [{"path": "README.md", "size": 14, "sha256": "0" * 64, "replaces": False},
               {"path": "gone.txt", "size": 8, "sha256": "1" * 64, "replaces": True}]
    (staging / "journal.json").write_text(
        '{"schema": "envcheck.scaffold-journal", "schema_version": 1, "started": "", "pid": 1, '
        '"backup": ".envcheck/backup/x", "made": ["notes"], "entries": ' + str(entries).replace("'", '"')
        .replace("False", "false").replace("True", "true") + "}")
    (target / ".envcheck/backup/x").mkdir(parents=True)
    (target / ".envcheck/backup/x/gone.txt").symlink_to(outside)
    before = {rel: (target / rel).read_bytes() for rel in USER_FILES}
    notes = recover(target)
    assert notes == [f"found {staging}, left by an envcheck run that was interrupted, and undid it: put back 1 "
                     "replaced file(s)"]
    assert {rel: (target / rel).read_bytes() for rel in USER_FILES} == before
    assert outside.read_text() == "not yours to move\n"  # the link was moved back, never what it points at
    assert os.readlink(target / "gone.txt") == str(outside)


@pytest.mark.parametrize("journal", [
    '{"schema": "envcheck.scaffold-journal", "schema_version": 1, "started": "", "pid": 1, "backup": "../../x", '
    '"made": [], "entries": []}',
    '{"schema": "envcheck.scaffold-journal", "schema_version": 1, "started": "", "pid": 1, "backup": null, '
    '"made": ["/etc"], "entries": []}',
    '{"schema": "envcheck.scaffold-journal", "schema_version": 1, "started": "", "pid": 1, "backup": null, '
    '"made": [], "entries": [{"path": "../x", "size": 1, "sha256": "' + "0" * 64 + '", "replaces": false}]}',
    '{"schema": "envcheck.scaffold-journal", "schema_version": 99}',
    '[]',
])
def test_a_journal_with_paths_leading_out_is_refused(sandbox: Path, journal: str) -> None:
    target = prepare(sandbox, "force")
    staging = target / STATE_DIR / "staging-0000beef"
    staging.mkdir()
    (staging / "journal.json").write_text(journal)
    before = snapshot(target)
    with pytest.raises(LeftoverError, match="cannot be trusted"):
        recover(target)
    assert snapshot(target) == before


def test_a_folder_an_older_envcheck_left_beside_the_target_is_named_with_how_to_restore(tmp_path: Path) -> None:
    # envcheck 0.x staged beside the target (.NAME.envcheck-*/backup/): it had no journal, so it is only shown.
    target = tmp_path / NAME
    target.mkdir()
    old = tmp_path / f".{NAME}.envcheck-k2j4a9x1"
    (old / "backup").mkdir(parents=True)
    (old / "backup" / "README.md").write_text("mine\n")
    assert older_leftovers(target) == [
        f"{old} was left by an interrupted older envcheck; the files it had replaced are in its backup/: "
        f"cp -an {old}/backup/. {target}/ && rm -r {old}"]
    assert (old / "backup" / "README.md").read_text() == "mine\n"
