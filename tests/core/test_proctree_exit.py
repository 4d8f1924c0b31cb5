"""proctree.end_all, the exit hook that ends the trees of commands still running: a TERM or HUP that arrives
while it works (envcheck/shutdown.py's handlers raise SystemExit, and are still in place at exit) neither stops
it nor reaches Python's "Exception ignored in atexit callback" traceback."""

from __future__ import annotations

import subprocess

import pytest
from helpers.process_helpers import gone_within

from envcheck import proctree


def test_a_signal_during_the_exit_hook_leaves_no_tree_running(monkeypatch: pytest.MonkeyPatch) -> None:
    children = [proctree.start(["sleep", "100"], env=None, cwd=None, stdin=subprocess.DEVNULL) for _ in range(2)]
    real = proctree.end_tree
    signals = [129]  # one HUP, as the handler raises it, on the first tree's turn

    def interrupted(child: proctree.Child, grace_s: float = 1.0) -> int | None:
        if signals:
            raise SystemExit(signals.pop())
        return real(child, grace_s)

    monkeypatch.setattr(proctree, "end_tree", interrupted)
    proctree.end_all()  # returns: no SystemExit out of the hook
    assert signals == []
    assert [gone_within(child.proc.pid, 5) for child in children] == [True, True]
