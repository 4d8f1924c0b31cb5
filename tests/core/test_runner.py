"""The one subprocess seam, exercised with real processes."""

from __future__ import annotations

import sys
import time

from helpers.process_helpers import gone_within

from envcheck.runner import run


def test_success_captures_output_and_exit_code() -> None:
    result = run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"], timeout_s=10)
    assert result.ok
    assert result.rc == 0
    assert result.out.strip() == "out"
    assert result.err.strip() == "err"
    assert not result.missing and not result.timed_out


def test_missing_binary_is_its_own_fact() -> None:
    result = run(["/nonexistent/definitely-not-here", "--version"], timeout_s=5)
    assert result.missing
    assert result.rc is None
    assert not result.ok
    assert "could not start" in result.describe()


def test_nonzero_exit_is_not_missing_and_not_timeout() -> None:
    result = run([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"], timeout_s=10)
    assert result.rc == 3
    assert not result.missing and not result.timed_out
    assert "exited 3: boom" in result.describe()


def test_timeout_kills_the_whole_process_group(tmp_path) -> None:
    # The child starts a grandchild that would outlive a plain kill of the child.
    pidfile = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    result = run([sys.executable, "-c", script], timeout_s=1.0)
    elapsed = time.monotonic() - start
    assert result.timed_out
    assert result.rc is None
    assert elapsed < 4.0
    grandchild = int(pidfile.read_text())
    assert gone_within(grandchild, 3), "the grandchild survived the timeout"


def test_stdin_is_closed_so_prompts_do_not_hang() -> None:
    result = run([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"], timeout_s=5)
    assert result.ok
    assert result.out.strip() == "''"


def test_undecodable_output_is_replaced_not_raised() -> None:
    result = run([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'\\xff\\xfeok')"], timeout_s=5)
    assert result.ok
    assert result.out.endswith("ok")
    assert "\ufffd" in result.out
