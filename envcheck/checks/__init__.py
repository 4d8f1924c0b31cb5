"""Checks: one module per subject; each is a pure function (facts, policy) -> Outcome(s).

The registry is one ordered tuple, written out: the order of the report and of `doctor --list`.
A check with id ``SUBJECT.name`` lives in ``envcheck/checks/SUBJECT.py``.
"""

from __future__ import annotations

from envcheck.checks import conda, docker, git, gpu, host, jupyter, project, python
from envcheck.units import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    *host.CHECKS,
    *python.CHECKS,
    *git.CHECKS,
    *conda.CHECKS,
    *jupyter.CHECKS,
    *docker.CHECKS,
    *gpu.CHECKS,
    *project.CHECKS,
)
