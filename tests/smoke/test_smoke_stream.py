"""runner.stream: a child's stdout line by line under deadlines (the seam the smoke driver reads).
Real subprocesses only."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from helpers.process_helpers import gone_within

from envcheck.runner import stream


def test_lines_arrive_as_they_are_written_and_silence_times_out() -> None:
    child = stream([sys.executable, "-u", "-c", "import time; print('one'); time.sleep(30); print('two')"])
    assert child.readline(10.0) == "one"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        child.readline(0.5)
    assert 0.4 <= time.monotonic() - start < 2.0
    assert child.close() == -9  # still running: killed


def test_close_can_let_a_finishing_child_exit_on_its_own() -> None:
    child = stream([sys.executable, "-c", "import time; print('done', flush=True); time.sleep(0.3)"])
    assert child.readline(10.0) == "done"
    assert child.close(wait_s=5.0) == 0


def test_end_of_output_and_the_exit_code() -> None:
    child = stream([sys.executable, "-c", "import sys; print('a'); sys.stderr.write('boom\\n'); sys.exit(3)"])
    assert child.readline(10.0) == "a"
    assert child.readline(10.0) is None
    assert child.close() == 3
    assert child.stderr_tail() == "boom\n"


def test_a_missing_executable_is_a_fact_not_an_exception(tmp_path: object) -> None:
    child = stream(["/nonexistent/python3"])
    assert child.missing and "FileNotFoundError" in child.error
    assert child.readline(1.0) is None and child.close() is None


def test_close_kills_the_whole_process_group() -> None:
    child = stream(["sh", "-c", "sleep 60 & echo $!; wait"])
    grandchild = int(child.readline(10.0) or "0")
    assert child.proc is not None
    # The shell's `sleep 60`, alive, in the process group the child leads (its pid is the group id). The line can
    # come before the forked shell has exec'd sleep: give it a moment.
    cmdline = Path(f"/proc/{grandchild}/cmdline")
    deadline = time.monotonic() + 5.0
    while cmdline.read_bytes() != b"sleep\x0060\x00" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cmdline.read_bytes() == b"sleep\x0060\x00"
    assert os.getpgid(grandchild) == child.proc.pid
    child.close()
    assert gone_within(grandchild, 5), "the grandchild outlived close()"


def test_the_stderr_tail_is_bounded_and_keeps_the_end() -> None:
    code = "import sys; sys.stderr.write('x' * 100000 + 'THE END'); sys.stderr.flush()"
    child = stream([sys.executable, "-c", code])
    assert child.readline(10.0) is None
    child.close()
    tail = child.stderr_tail(limit=1000)
    assert len(tail) == 1000 and tail.endswith("THE END")
