"""Facts about host (filled in by its issue)."""

from __future__ import annotations

from envcheck.model import ProbeSpec

PROBES: tuple[ProbeSpec, ...] = ()
