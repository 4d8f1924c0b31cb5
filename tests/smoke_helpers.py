"""Shared test helpers for the smoke driver."""

from __future__ import annotations

from pathlib import Path


class Replay:
    """Child output (a recording file, or text) read back line by line through the real driver."""

    missing, error = False, ""

    def __init__(self, source: Path | str) -> None:
        self.lines = (source.read_text() if isinstance(source, Path) else source).splitlines()

    def readline(self, timeout: float) -> str | None:
        return self.lines.pop(0) if self.lines else None

    def stderr_tail(self, limit: int = 4000) -> str:
        return ""

    def close(self, grace: float = 2.0, wait: float = 0.0) -> int | None:
        return 0
