"""Shared test helpers for the smoke driver."""

from __future__ import annotations

import json
from pathlib import Path

NONCE = "0123456789abcdef"  # the nonce the tests' replays run under


def stamped(line: str, nonce: str = NONCE) -> str:
    """A record line as this run's child writes it: with the nonce (recordings were made before records had one)."""
    return json.dumps({**json.loads(line), "nonce": nonce})


class Replay:
    """Child output (a recording file, or text) read back line by line through the real driver. ``nonce``: stamp
    every line with the run's nonce, as the child started for the run does (None: replay the lines as they are).
    ``bench``: whether the recorded run was started with --bench, so the driver expects the steps it planned."""

    missing, error = False, ""

    def __init__(self, source: Path | str, nonce: str | None = NONCE) -> None:
        lines = (source.read_text() if isinstance(source, Path) else source).splitlines()
        self.lines = [stamped(line, nonce) for line in lines] if nonce is not None else lines
        hello = json.loads(self.lines[0]) if nonce is not None and self.lines else {}
        self.bench = "--bench" in hello.get("argv", [])

    def readline(self, timeout_s: float) -> str | None:
        return self.lines.pop(0) if self.lines else None

    def stderr_tail(self, limit: int = 4000) -> str:
        return ""

    def close(self, grace_s: float = 2.0, wait_s: float = 0.0) -> int | None:
        return 0
