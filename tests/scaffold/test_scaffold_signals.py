"""Real signals against the real CLI: SIGINT, SIGTERM and SIGHUP at random points of `envcheck scaffold`, with the
file system slowed as on NFS, never lose a byte of the user's and never leave a half project or a staging folder.

strace(1) delays every rename, unlink, mkdir and open by 20 ms after it returns
(``-e inject=SYSCALLS:delay_exit=20000``), so a write takes a second or two and a signal sent at a random moment of
it lands between two steps; without that, only a few runs in a hundred hit the write at all. The delay on openat
starts once the interpreter has imported what it needs (``when=N+``, N counted in a calibration run), or every
import would take 20 ms. After each run the folder holds the user's files byte for byte, or the whole new project
with each replaced file in the backup folder the output names; nothing is left beside it; exit 0 or 128 + the
signal (or death by the signal itself once the write is over), and no traceback.

ENVCHECK_SIGNAL_RUNS=N (default 4) sets the runs per signal and mode; `scripts/test` installs strace when missing.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

STRACE = shutil.which("strace", path=f"{os.environ.get('PATH', '')}:/usr/bin:/bin")
SLOWED = "rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat"
DELAY_US = 20000
RUNS = int(os.environ.get("ENVCHECK_SIGNAL_RUNS", "4"))
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
USER_FILES = {"README.md": b"my own readme\n", "src/proj/model.py": b"my model \x00\xff\n", "data.csv": b"1,2\n"}
ARGS = ["scaffold", "--cuda", "cpu", "--no-git"]


def envcheck(*args: str) -> list[str]:
    return [sys.executable, "-m", "envcheck", *args]


@dataclass(frozen=True)
class Calibration:
    opens_before_write: int  # openat calls of the main thread before the first one into the staging folder
    write_s: float  # how long the slowed write takes, from its staging folder appearing to the exit
    planned: tuple[str, ...]


def _strace(opens: int) -> list[str]:
    if STRACE is None:
        pytest.fail("strace is not installed: scripts/test installs it (apt-get install strace)")
    return [STRACE, "-f", "-o", "/dev/null", "-e", f"inject={SLOWED}:delay_exit={DELAY_US}",
            "-e", f"inject=openat:delay_exit={DELAY_US}:when={opens}+"]


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Calibration:
    if STRACE is None:
        pytest.fail("strace is not installed: scripts/test installs it (apt-get install strace)")
    folder = tmp_path_factory.mktemp("calibrate")
    log = folder / "trace"
    traced = subprocess.run([STRACE, "-f", "-o", str(log), "-e", "trace=openat",
                             *envcheck(*ARGS[:1], str(folder / "proj"), *ARGS[1:])], capture_output=True, text=True,
                            timeout=120)
    if traced.returncode != 0 and "ptrace" in traced.stderr:
        pytest.skip(f"strace cannot trace here (no ptrace permission): {traced.stderr.strip()[-200:]}")
    assert traced.returncode == 0, traced.stderr
    lines = log.read_text().splitlines()
    main = lines[0].split()[0]
    opens = 0
    for line in lines:
        if line.split()[0] == main:
            if ".envcheck/staging-" in line:
                break
            opens += 1
    (folder / "dry").mkdir()
    dry = subprocess.run(envcheck(*ARGS[:1], str(folder / "dry" / "proj"), *ARGS[1:], "--dry-run", "--json"),
                         capture_output=True, text=True, timeout=120)
    planned = tuple(f["path"] for f in json.loads(dry.stdout)["files"])
    target = folder / "slowed"
    started, took = _run_slowed(target, max(1, opens - 2), None, 0.0)
    assert started is not None and took.returncode == 0, took.stderr
    return Calibration(opens_before_write=max(1, opens - 2), write_s=time.monotonic() - started, planned=planned)


def _staging_appeared(target: Path) -> bool:
    try:
        return any(name.startswith("staging-") for name in os.listdir(target / ".envcheck"))
    except OSError:
        return False


def _run_slowed(target: Path, opens: int, signum: int | None, delay_s: float,
                before_write: bool = False) -> tuple[float | None, subprocess.CompletedProcess[str]]:
    """Run scaffold under strace; send ``signum`` ``delay_s`` after the staging folder appears (or after the
    start, ``before_write``). Returns when the staging folder appeared, and the finished process."""
    argv = [*_strace(opens), *envcheck(ARGS[0], str(target), *ARGS[1:], "--force")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    appeared = None
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not before_write:
        if _staging_appeared(target):
            appeared = time.monotonic()
            break
        time.sleep(0.002)
    if signum is not None:
        time.sleep(delay_s)
        child = _tracee(proc.pid)
        if child is not None:
            os.kill(child, signum)
    out, err = proc.communicate(timeout=120)
    return appeared, subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _tracee(strace_pid: int) -> int | None:
    """The interpreter strace started (its first child)."""
    try:
        children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _snapshot(root: Path) -> dict[str, bytes]:
    return {os.path.relpath(os.path.join(d, f), root): Path(d, f).read_bytes()
            for d, _, files in os.walk(root) for f in files}


def _user_folder(parent: Path, mode: str) -> Path:
    target = parent / "proj"
    if mode == "force":
        for rel, data in USER_FILES.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
    return target


def _judge(parent: Path, target: Path, mode: str, before: dict[str, bytes], signum: int,
           ran: subprocess.CompletedProcess[str], planned: tuple[str, ...], early: bool = False) -> str:
    """'old' or 'new' for a clean end, 'import' for Ctrl-C during start-up; an AssertionError for anything else."""
    if early and signum == signal.SIGINT and ran.stderr.endswith("\nKeyboardInterrupt\n"):
        # Ctrl-C before envcheck's entry point (envcheck/__main__.py) set its handlers, while the interpreter was
        # still starting (frames "in <module>" only, never "in main"): Python's own traceback, nothing written.
        # Later during start-up it ends quietly with 130 and is judged below.
        assert "envcheck/scaffold" not in ran.stderr and ", in main\n" not in ran.stderr, ran.stderr
        assert (_snapshot(target) if target.exists() else {}) == before
        return "import"
    assert "Traceback" not in ran.stderr, ran.stderr
    assert ran.returncode in (0, 128 + signum, -signum), (ran.returncode, ran.stderr)
    assert sorted(os.listdir(parent)) == (["proj"] if target.exists() else []), "something was left beside it"
    after = _snapshot(target) if target.exists() else {}
    assert not any(".envcheck/staging-" in rel for rel in after), sorted(after)
    if after == before:
        if ran.returncode == 128 + signum and "interrupted by" in ran.stderr:
            assert "was changed" in ran.stderr, ran.stderr
        return "old"
    assert set(planned) <= set(after), sorted(set(planned) - set(after))
    backups = sorted({rel.split("/")[2] for rel in after if rel.startswith(".envcheck/backup/")})
    for rel, data in before.items():
        if rel in planned:
            assert len(backups) == 1 and after[f".envcheck/backup/{backups[0]}/{rel}"] == data, rel
        else:
            assert after[rel] == data, rel
    if ran.returncode == 0:
        assert "Wrote" in ran.stdout and (mode == "new" or backups[0] in ran.stdout)
    return "new"


def _one(parent: Path, mode: str, signum: int, calibration: Calibration, rng: random.Random) -> str:
    parent.mkdir()
    target = _user_folder(parent, mode)
    before = _snapshot(target) if target.exists() else {}
    early = rng.random() < 0.15  # now and then while probing and planning, before the write
    delay_s = rng.uniform(0, 1.5 if early else calibration.write_s)
    _, ran = _run_slowed(target, calibration.opens_before_write, signum, delay_s, before_write=early)
    return _judge(parent, target, mode, before, signum, ran, calibration.planned, early)


def _matrix(tmp_path: Path, calibration: Calibration, runs: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    jobs = [(mode, signum, i) for mode in ("new", "force") for signum in SIGNALS for i in range(runs)]
    lock = threading.Lock()
    seen = {"old": 0, "new": 0, "import": 0}

    def go(job: tuple[str, int, int]) -> None:
        mode, signum, i = job
        with lock:
            local = random.Random(rng.random())
        end = _one(tmp_path / f"{mode}-{signal.Signals(signum).name}-{i}", mode, signum, calibration, local)
        with lock:
            seen[end] += 1

    # The runs spend their time in strace's delays, not on a CPU: four at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(go, jobs))
    return seen


def test_signals_at_random_points_of_a_slowed_write_lose_nothing(tmp_path: Path, calibration: Calibration) -> None:
    seed = int(os.environ.get("ENVCHECK_SIGNAL_SEED", str(int(time.time()))))
    seen = _matrix(tmp_path, calibration, RUNS, seed)
    assert sum(seen.values()) == RUNS * 6, (seed, seen)
    assert seen["old"] >= RUNS, (seed, seen)  # most signals land in the write and roll it back


def test_a_signal_rolls_back_with_its_own_exit_code_and_says_so(tmp_path: Path, calibration: Calibration) -> None:
    for signum in SIGNALS:
        parent = tmp_path / signal.Signals(signum).name
        parent.mkdir()
        target = _user_folder(parent, "force")
        before = _snapshot(target)
        _, ran = _run_slowed(target, calibration.opens_before_write, signum, calibration.write_s / 4)
        assert ran.returncode == 128 + signum, ran.stderr
        name = signal.Signals(signum).name
        assert re.fullmatch(rf"envcheck: error: interrupted by {name} while writing into {re.escape(str(target))}: "
                            rf"nothing in {re.escape(str(target))} was changed( \(every replaced file is back in "
                            r"place\))?\n", ran.stderr), ran.stderr
        assert _snapshot(target) == before and sorted(os.listdir(parent)) == ["proj"]


@pytest.mark.slow
@pytest.mark.skipif("ENVCHECK_SIGNAL_SOAK" not in os.environ, reason="a soak of many runs: ENVCHECK_SIGNAL_SOAK=N")
def test_soak(tmp_path: Path, calibration: Calibration) -> None:
    runs = int(os.environ["ENVCHECK_SIGNAL_SOAK"])
    seed = int(os.environ.get("ENVCHECK_SIGNAL_SEED", str(int(time.time()))))
    seen = _matrix(tmp_path, calibration, runs, seed)
    assert sum(seen.values()) == runs * 6, (seed, seen)


def test_unslowed_runs_leave_nothing_hidden_either(tmp_path: Path, calibration: Calibration) -> None:
    # Without strace the write takes milliseconds: signals sent at once after the staging folder appears.
    rng = random.Random(int(time.time()))
    for i, signum in enumerate(SIGNALS * 2):
        parent = tmp_path / f"fast-{i}"
        parent.mkdir()
        target = _user_folder(parent, "force")
        before = _snapshot(target)
        proc = subprocess.Popen(envcheck(ARGS[0], str(target), *ARGS[1:], "--force"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and not _staging_appeared(target):
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.02))
        if proc.poll() is None:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        ran = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        _judge(parent, target, "force", before, signum, ran, calibration.planned)


def test_after_sigkill_the_next_run_undoes_the_leftover_and_says_so(tmp_path: Path, calibration: Calibration) -> None:
    target = _user_folder(tmp_path, "force")
    before = _snapshot(target)
    _, killed = _run_slowed(target, calibration.opens_before_write, signal.SIGKILL, calibration.write_s / 3)
    assert killed.returncode == -signal.SIGKILL
    staging = [name for name in os.listdir(target / ".envcheck") if name.startswith("staging-")]
    assert len(staging) == 1  # the journal and what it needs to undo the run
    dry = subprocess.run(envcheck("scaffold", str(target), *ARGS[1:], "--dry-run"), capture_output=True, text=True,
                         timeout=120)
    assert f"Note: {target / '.envcheck' / staging[0]} is left from an interrupted envcheck run" in dry.stdout
    assert (target / ".envcheck" / staging[0]).is_dir()  # a dry run changes nothing
    ran = subprocess.run(envcheck("generate", "environment", str(target), "--cuda", "cpu", "--force"),
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert re.search(rf"Note: found {re.escape(str(target / '.envcheck' / staging[0]))}, left by an envcheck run "
                     r"that was interrupted, and undid it: (put back \d replaced file\(s\)|nothing)", ran.stdout)
    after = _snapshot(target)
    assert {rel: data for rel, data in after.items() if rel in before and rel != "environment.yml"} == before
    assert not any("staging-" in rel for rel in after)
