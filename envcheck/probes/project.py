"""Facts for `project.drift`: the scaffolded project around the working folder, and this machine's GPU now.

A project made by `envcheck scaffold` records the host facts it was planned for in ``.envcheck/project.json``
(issue #5, item 2). This probe finds that file by walking up from the working folder and reads the current
driver and GPU names from ``/proc/driver/nvidia`` (plain file reads: fast, no NVML, nothing that can hang).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from envcheck.model import ProbeContext, ProbeSpec

RECORD = Path(".envcheck") / "project.json"
PROC_NVIDIA = "/proc/driver/nvidia"
# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..." (proprietary module) or
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build ..." (open module).
_NVRM = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class GpuNow:
    """What /proc/driver/nvidia says about this machine right now."""

    driver: str | None = None  # None: no NVIDIA kernel module loaded
    gpu_names: tuple[str, ...] = ()  # "NVIDIA H100 80GB HBM3", one per GPU, in PCI order
    error: str = ""


@dataclass(frozen=True)
class ProjectFacts:
    record_path: str | None = None  # None: the working folder is not inside a scaffolded project
    record: Mapping[str, Any] = field(default_factory=dict)
    record_error: str = ""  # the record exists but could not be read or parsed
    now: GpuNow = field(default_factory=GpuNow)


def find_record(start: Path) -> Path | None:
    """The nearest ``.envcheck/project.json`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / RECORD
        if candidate.is_file():
            return candidate
    return None


def parse_driver_version(text: str) -> str | None:
    match = _NVRM.search(text)
    return match.group(1) if match else None


def parse_gpu_model(text: str) -> str | None:
    """The ``Model:`` line of ``/proc/driver/nvidia/gpus/<bus id>/information``."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model" and value.strip():
            return value.strip()
    return None


def read_gpu_now(root: str = PROC_NVIDIA) -> GpuNow:
    version = Path(root, "version")
    try:
        text = version.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return GpuNow()
    except OSError as exc:
        return GpuNow(error=f"could not read {version}: {exc.strerror or exc}")
    names: list[str] = []
    gpus = Path(root, "gpus")
    try:
        bus_ids = sorted(os.listdir(gpus))
    except OSError:
        bus_ids = []
    for bus_id in bus_ids:
        try:
            model = parse_gpu_model((gpus / bus_id / "information").read_text("utf-8", errors="replace"))
        except OSError:
            model = None
        names.append(model or f"unknown GPU at {bus_id}")
    return GpuNow(driver=parse_driver_version(text), gpu_names=tuple(names))


def read_record(path: Path) -> tuple[Mapping[str, Any], str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"could not read {path}: {exc}"
    if not isinstance(data, dict) or data.get("schema") != "envcheck.project":
        return {}, f"{path} is not an envcheck project record"
    return data, ""


def collect(ctx: ProbeContext) -> ProjectFacts:
    try:
        cwd = Path(ctx.options.get("cwd") or os.getcwd())
    except OSError:  # the working folder was deleted: then it is inside no project
        return ProjectFacts()
    path = find_record(cwd)
    if path is None:
        return ProjectFacts()
    record, error = read_record(path)
    root = str(ctx.options.get("proc_nvidia") or PROC_NVIDIA)
    return ProjectFacts(record_path=str(path), record=record, record_error=error, now=read_gpu_now(root))


PROBES = (ProbeSpec("project", collect),)
