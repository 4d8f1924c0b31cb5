"""Children that flood their output, never end a line, or leave their process group with ``setsid()``: envcheck
keeps a bounded tail, holds the deadline while they talk, and ends every process they started.

Real processes only. Every hostile process writes its pid to a file as it starts, so that "nothing survived" is
checked by pid, for the grandchildren that left the group too. Time bounds carry a margin for a loaded 2-core
CI runner (the deadline plus a few seconds), far below the minutes a flood used to hold envcheck for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from helpers.docker_images import base_image  # noqa: F401 - the fixture: a local Debian image with python3

from envcheck import linereader, proctree, runner
from envcheck.verify import read_build_stream

MARGIN_S = 4.0  # on top of a deadline: a loaded CI runner; the kill itself takes milliseconds
RSS_LIMIT_MB = 150  # envcheck's peak RSS with any child flooding (a doctor run needs about 25 MB)

# One script, a mode per kind of hostile child. argv: MODE FOLDER.
HOSTILE = r"""
import os, sys, time
mode, folder = sys.argv[1], sys.argv[2]

def note(role):
    tmp = os.path.join(folder, role + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(str(os.getpid()))
    os.rename(tmp, os.path.join(folder, role + ".pid"))

def flood(fd=1, line=b"y\n"):
    chunk = line * (65536 // len(line))
    while True:
        os.write(fd, chunk)

note("root")
if mode == "lines":
    flood()
elif mode == "no-newline":
    flood(line=b"x")
elif mode == "stderr":
    flood(fd=2)
elif mode == "burst":  # 20 MiB in one go (past the point where runner starts to read a flood slowly), then exit
    os.write(1, b"z" * (20 << 20))
else:  # the grandchild leaves the root's session and process group
    if os.fork() == 0:
        os.setsid()
        if mode == "daemon":  # a classic daemon: detached twice, its output on /dev/null, idle
            if os.fork() != 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            note("grandchild")
            while True:
                time.sleep(1)
        note("grandchild")
        flood()
    while not os.path.exists(os.path.join(folder, "grandchild.pid")):
        time.sleep(0.01)
    if mode == "setsid-orphan":  # the root exits; the grandchild floods the pipes it still holds
        sys.exit(0)
    while True:
        time.sleep(1)
"""

MODES = ("lines", "no-newline", "stderr", "setsid", "setsid-orphan", "daemon")


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The script and the folder its processes write their pids to; whatever is still alive at the end is
    killed, so a failing test leaves no flood behind."""
    script = tmp_path / "hostile.py"
    script.write_text(HOSTILE)
    folder = tmp_path / "pids"
    folder.mkdir()
    yield script, folder
    for pidfile in folder.glob("*.pid"):
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    """Running (a zombie waits only for its new parent to reap it: it runs no more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def _survivors(folder: Path, within_s: float = 3.0) -> list[str]:
    """The roles (root, grandchild) whose process still runs after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    pids = {p.stem: int(p.read_text()) for p in folder.glob("*.pid")}
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.05)
    return sorted(role for role, pid in pids.items() if _alive(pid))


def _expected_roles(mode: str) -> list[str]:
    return ["root"] if mode in ("lines", "no-newline", "stderr") else ["grandchild", "root"]


# --- runner.run: the seam every probe uses ------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_run_keeps_a_bounded_tail_holds_the_deadline_and_ends_the_tree(mode: str,
                                                                        hostile: tuple[Path, Path]) -> None:
    script, folder = hostile
    start = time.monotonic()
    result = runner.run([sys.executable, str(script), mode, str(folder)], timeout_s=1.0)
    wall_s = time.monotonic() - start
    if mode == "setsid-orphan":  # the command itself exited; what it left holding its pipes was ended
        assert (result.rc, result.timed_out) == (0, False)
    else:
        assert (result.rc, result.timed_out) == (None, True)
    assert wall_s < 1.0 + MARGIN_S
    assert abs(wall_s - result.duration_s) < 0.5  # the duration reported is the real one, the kill included
    assert len(result.out) <= runner.KEEP_BYTES and len(result.err) <= runner.KEEP_BYTES
    assert sorted(p.stem for p in folder.glob("*.pid")) == _expected_roles(mode)
    assert _survivors(folder) == []


def test_run_of_yes_itself(tmp_path: Path) -> None:
    result = runner.run(["sh", "-c", 'echo $$ > "$1/root.pid"; exec yes', "sh", str(tmp_path)], timeout_s=1.0)
    assert result.timed_out and result.duration_s < 1.0 + MARGIN_S
    assert len(result.out) == runner.KEEP_BYTES and set(result.out) == {"y", "\n"} and result.dropped_bytes > 0
    assert _survivors(tmp_path) == []


def test_a_burst_that_ends_keeps_its_last_bytes(hostile: tuple[Path, Path]) -> None:
    script, folder = hostile
    result = runner.run([sys.executable, str(script), "burst", str(folder)], timeout_s=30.0)
    assert result.ok
    assert result.out == "z" * runner.KEEP_BYTES and result.dropped_bytes == (20 << 20) - runner.KEEP_BYTES


# --- runner.stream: the smoke child's seam ------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_stream_holds_the_deadline_while_the_child_talks(mode: str, hostile: tuple[Path, Path]) -> None:
    script, folder = hostile
    child = runner.stream([sys.executable, str(script), mode, str(folder)])
    deadline = time.monotonic() + 1.0
    longest = 0
    with pytest.raises(TimeoutError):
        while (line := child.readline(deadline - time.monotonic())) is not None:
            longest = max(longest, len(line))
    assert time.monotonic() - deadline < MARGIN_S
    assert longest <= linereader.MAX_LINE
    rc = child.close()
    assert rc == (0 if mode == "setsid-orphan" else -signal.SIGKILL)
    assert len(child.stderr_tail(limit=1 << 30)) <= 16384
    assert sorted(p.stem for p in folder.glob("*.pid")) == _expected_roles(mode)
    assert _survivors(folder) == []


def test_a_line_without_end_is_cut_and_the_next_line_still_comes() -> None:
    code = "import os; os.write(1, b'x' * (10 << 20) + b'\\nafter\\n')"
    child = runner.stream([sys.executable, "-c", code])
    assert child.readline(30.0) == "x" * linereader.MAX_LINE
    assert child.readline(30.0) == "after"
    assert child.readline(30.0) is None
    assert child.close() == 0


# --- peak memory, measured on a process of its own -----------------------------------------------------------

READ_IN_CHILD = r"""
import sys, time
from envcheck import runner
mode, script, folder = sys.argv[1:4]
argv = [sys.executable, script, mode, folder]
if sys.argv[4] == "run":
    runner.run(argv, timeout_s=2.0)
else:
    child = runner.stream(argv)
    deadline = time.monotonic() + 2.0
    try:
        while child.readline(deadline - time.monotonic()) is not None:
            pass
    except TimeoutError:
        pass
    child.close()
"""


# wait4(2)'s ru_maxrss counts a child from its fork, and before its exec a forked child shares (and is charged
# for) all of its parent's resident pages: measured straight from pytest, whose RSS passes 100 MB once hypothesis
# and the CLI are imported, every child would start "at" that size. So a small interpreter (-S, a few MB) forks
# and execs the command and reports the wait4 figures.
_MEASURE = r"""
import json, os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvpe(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(json.dumps([usage.ru_maxrss / 1024, time.monotonic() - start, os.waitstatus_to_exitcode(status)]))
"""


def _peak_rss_mb(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(peak RSS in MB, wall seconds, exit code) of ``argv``, from wait4(2): the process and the children it
    reaped (the hostile ones, a few MB each)."""
    out = subprocess.run([sys.executable, "-S", "-c", _MEASURE, *argv], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120, check=True)
    rss_mb, wall_s, rc = json.loads(out.stdout.strip().splitlines()[-1])
    return float(rss_mb), float(wall_s), int(rc)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["run", "stream"])
@pytest.mark.parametrize("mode", ["lines", "no-newline", "setsid"])
def test_peak_memory_stays_bounded_while_a_child_floods(how: str, mode: str, hostile: tuple[Path, Path]) -> None:
    script, folder = hostile
    rss_mb, wall_s, rc = _peak_rss_mb([sys.executable, "-c", READ_IN_CHILD, mode, str(script), str(folder), how])
    assert rc == 0
    assert rss_mb < 100, f"{rss_mb:.0f} MB"
    assert wall_s < 2.0 + MARGIN_S
    assert _survivors(folder) == []


# --- the commands, end to end ---------------------------------------------------------------------------------

def _flooder(folder: Path, name: str) -> Path:
    """An executable called ``name`` that is `yes` and writes its pid where the test looks."""
    path = folder / name
    path.write_text(f'#!/bin/sh\necho $$ > "{folder}/root-{name}-$$.pid"\nexec yes\n')
    path.chmod(0o755)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("case", ["conda-exe", "git-on-path", "python-option"])
def test_doctor_with_a_flooding_tool_stays_small_and_on_time(case: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    args = [sys.executable, "-m", "envcheck", "doctor", "--json", "--timeout", "3"]
    if case == "conda-exe":
        env["CONDA_EXE"] = str(_flooder(tmp_path, "conda"))
        args += ["--only", "conda"]
    elif case == "git-on-path":
        _flooder(tmp_path, "git")
        env["PATH"] = f"{tmp_path}:{env.get('PATH', '/usr/bin:/bin')}"
        args += ["--only", "git"]
    else:
        args += ["--python", str(_flooder(tmp_path, "python3")), "--only", "python"]
    start = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = proc.communicate(timeout=60)  # envcheck's own report: a few KB
    wall_s = time.monotonic() - start
    assert proc.returncode in (1, 3)  # a failure or an unknown: the tool did not answer
    assert wall_s < 3.0 + MARGIN_S
    assert list(tmp_path.glob("root-*.pid")), "the flooding tool never ran"
    assert _survivors(tmp_path) == [] and proctree.survivors(proc.pid) == []
    assert len(out) < 100_000


@pytest.mark.slow
def test_doctor_peak_rss_with_a_flooding_conda_exe(tmp_path: Path) -> None:
    env = {**os.environ, "CONDA_EXE": str(_flooder(tmp_path, "conda"))}
    rss_mb, wall_s, rc = _peak_rss_mb([sys.executable, "-m", "envcheck", "doctor", "--json", "--timeout", "3"], env)
    assert rc in (1, 3)
    assert rss_mb < RSS_LIMIT_MB, f"{rss_mb:.0f} MB"
    assert wall_s < 3.0 + MARGIN_S
    assert _survivors(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["lines", "no-newline", "setsid"])
def test_smoke_with_a_flooding_interpreter_ends_at_its_timeout(mode: str, hostile: tuple[Path, Path]) -> None:
    script, folder = hostile
    fake = folder.parent / "python"  # called as `python -u CHILD`: it ignores that and floods
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} {script} {mode} {folder}\n")
    fake.chmod(0o755)
    args = [sys.executable, "-m", "envcheck", "smoke", "--json", "--python", str(fake), "--timeout", "3"]
    rss_mb, wall_s, rc = _peak_rss_mb(args)
    assert rc == 3  # cut at the --timeout the user set: unknown (README's exit codes), not a failure
    assert rss_mb < RSS_LIMIT_MB, f"{rss_mb:.0f} MB"
    assert wall_s < 3.0 + MARGIN_S
    assert _survivors(folder) == []


# --- what the Docker engine streams -----------------------------------------------------------------------------

def test_a_build_stream_that_never_ends_is_cut_at_the_deadline() -> None:
    def engine() -> Iterator[dict[str, str]]:
        yield {"stream": "Step 1/2 : FROM scratch\n"}
        while True:
            yield {"stream": "y" * 100_000 + "\n"}

    start = time.monotonic()
    log = read_build_stream(engine(), deadline=start + 1.0)
    assert not log.ok and log.step == "Step 1/2 : FROM scratch"
    assert time.monotonic() - start < 1.0 + MARGIN_S
    assert len(log.lines) == 40 and {len(line) for line in log.lines} == {linereader.MAX_LINE}


def test_a_closed_feed_lets_its_thread_go_while_the_source_still_talks() -> None:
    feed = linereader.Feed(iter(lambda: "y", None), "test")
    assert feed.get(5.0) == "y"
    feed.close()
    feed.join(5.0)
    assert feed.get(1.0) is None


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("command", ["yes", "yes | tr -d '\\n'"])
def test_a_container_that_floods_its_log_is_cut_at_the_deadline(command: str, base_image: str) -> None:  # noqa: F811
    from envcheck.smoke import container

    spec = container.Launch(base_image, ["sh", "-c", command], try_by_hand="", labels={"envcheck": "test"})
    stream = container.launch(spec, env=os.environ, home=str(Path.home()), timeout_s=30.0, gpus=False,
                              run_timeout_s=10.0)
    try:
        deadline = time.monotonic() + 2.0
        longest = 0
        with pytest.raises(TimeoutError):
            while (line := stream.readline(deadline - time.monotonic())) is not None:
                longest = max(longest, len(line))
        assert time.monotonic() - deadline < MARGIN_S
        assert 0 < longest <= linereader.MAX_LINE
        assert stream.close() == 128 + signal.SIGKILL
    finally:
        stream.remove()
