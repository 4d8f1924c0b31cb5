"""Facts for `project.drift`: the scaffolded project around the working folder, and this machine's GPU now.

A project made by `envcheck scaffold` records the host facts it was planned for in ``.envcheck/project.json``
(envcheck.project_record). This probe finds that file by walking up from the working folder and reads the current
driver and GPU names from ``/proc/driver/nvidia`` (plain file reads: fast, no NVML, nothing that can hang).
"""

from __future__ import annotations

import os
from dataclasses import field
from pathlib import Path

from envcheck.frozen import frozen
from envcheck.hostfs import HOST, HostFS
from envcheck.probes import nvidia_proc
from envcheck.project_record import RECORD_PATH, ProjectRecord, UnreadableRecord, read_record
from envcheck.units import ProbeContext, ProbeSpec


@frozen
class GpuNow:
    """What /proc/driver/nvidia says about this machine right now."""

    driver: str | None = None  # None: no NVIDIA kernel module loaded
    gpu_names: tuple[str, ...] = ()  # "NVIDIA H100 80GB HBM3", one per GPU, in PCI order
    error: str = ""


@frozen
class ProjectFacts:
    record_path: str | None = None  # None: the working folder is not inside a scaffolded project
    record: ProjectRecord | None = None
    record_error: str = ""  # the record exists but could not be read or parsed
    now: GpuNow = field(default_factory=GpuNow)


def find_record(start: Path) -> Path | None:
    """The nearest ``.envcheck/project.json`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / RECORD_PATH
        if candidate.is_file():
            return candidate
    return None


def read_gpu_now(fs: HostFS = HOST) -> GpuNow:
    """The loaded driver and the GPUs' names; with no module loaded, nothing (the GPU list is not read)."""
    module = nvidia_proc.read_module(fs)
    if module.read_error:
        return GpuNow(error=f"could not read {module.path}: {module.read_error}")
    if not module.loaded:
        return GpuNow()
    names = tuple(gpu.model or f"unknown GPU at {gpu.bus}" for gpu in nvidia_proc.read_gpus(fs))
    return GpuNow(driver=module.version, gpu_names=names)


def collect(ctx: ProbeContext) -> ProjectFacts:
    try:
        cwd = Path(ctx.options.cwd or os.getcwd())
    except OSError:  # the working folder was deleted: then it is inside no project
        return ProjectFacts()
    path = find_record(cwd)
    if path is None:
        return ProjectFacts()
    record = read_record(path)
    if isinstance(record, UnreadableRecord):
        return ProjectFacts(record_path=str(path), record_error=record.reason, now=read_gpu_now(ctx.fs))
    return ProjectFacts(record_path=str(path), record=record, now=read_gpu_now(ctx.fs))


PROBES = (ProbeSpec("project", collect),)
