"""Waiting on real processes in tests."""

from __future__ import annotations

import os
import signal
import time


def gone_within(pid: int, seconds: float) -> bool:
    """True once ``pid`` no longer exists; False if it is still there after ``seconds`` (then it is
    killed, so a failing test leaves no stray process behind)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return False
