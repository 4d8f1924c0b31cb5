"""envcheck: is this deep-learning machine really ready? Probes, verdicts and fixes."""

from __future__ import annotations

__version__ = "0.1.0"
