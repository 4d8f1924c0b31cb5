"""Verdicts about host (filled in by its issue)."""

from __future__ import annotations

from envcheck.model import CheckSpec

CHECKS: tuple[CheckSpec, ...] = ()
