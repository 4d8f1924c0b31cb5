"""Probes: one module per subject; each finds facts (frozen dataclasses) and never judges.

The registry is written out here, in one place; nothing is discovered by file name.
"""

from __future__ import annotations

from envcheck.probes import conda, docker, git, gpu, host, jupyter, project, python
from envcheck.units import ProbeSpec

PROBES: dict[str, ProbeSpec] = {
    spec.name: spec
    for spec in (
        *host.PROBES,
        *python.PROBES,
        *git.PROBES,
        *conda.PROBES,
        *jupyter.PROBES,
        *docker.PROBES,
        *gpu.PROBES,
        *project.PROBES,
    )
}
