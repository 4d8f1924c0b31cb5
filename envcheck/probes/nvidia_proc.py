"""The one reader of /proc/driver/nvidia: which NVIDIA kernel module is loaded, and which GPUs it lists.

Plain file reads (through HostFS), so they are fast, need no NVML and cannot hang: the gpu probe reads them
beside its NVML child, the project probe and scaffold read the driver from them, and smoke reads them to
say which GPUs a container should see.
"""

from __future__ import annotations

import re

from envcheck.frozen import frozen
from envcheck.hostfs import HOST, HostFS

VERSION = "/proc/driver/nvidia/version"
GPUS = "/proc/driver/nvidia/gpus"
# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..." (proprietary module) or
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build ..." (open module),
# the first line the driver writes (kernel-open/nvidia/nv-procfs.c in NVIDIA/open-gpu-kernel-modules).
_NVRM = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")


@frozen
class KernelModule:
    """What /proc/driver/nvidia/version says. No file: no NVIDIA kernel module is loaded (not an error)."""

    path: str  # where it was read (under the HostFS root)
    loaded: bool = False  # the file exists
    version: str | None = None  # "550.54.15"
    read_error: str = ""  # the file exists but could not be read: the OS's reason
    head: str = ""  # the file's start, kept when it holds no version to parse

    @property
    def error(self) -> str:
        """Why a loaded module has no version here, naming the file; "" when there is none or no module."""
        if self.read_error:
            return f"{self.path}: {self.read_error}"
        if self.loaded and self.version is None:
            return f"no version in {self.path}: {self.head!r}"
        return ""


@frozen
class HostGpu:
    """One GPU the kernel module lists in /proc/driver/nvidia/gpus/<bus id>/information."""

    bus: str  # "0000:3b:00.0", as the folder is named
    model: str | None  # "NVIDIA H100 80GB HBM3"
    uuid: str | None  # "GPU-b42dd28e-..."


def parse_driver_version(text: str) -> str | None:
    match = _NVRM.search(text)
    return match.group(1) if match else None


def read_module(fs: HostFS = HOST) -> KernelModule:
    path = fs.path(VERSION)
    try:
        text = fs.read_text(VERSION)
    except FileNotFoundError:
        return KernelModule(path)
    except OSError as exc:
        return KernelModule(path, loaded=True, read_error=str(exc.strerror or exc))
    version = parse_driver_version(text)
    return KernelModule(path, loaded=True, version=version, head="" if version else text[:120])


def driver_version(fs: HostFS = HOST) -> str | None:
    """"535.104.05", or None without the kernel module (or with a file that holds no version)."""
    return read_module(fs).version


def bus_ids(fs: HostFS = HOST) -> tuple[str, ...]:
    """The PCI addresses of the GPUs the kernel module knows, sorted; () without the module."""
    try:
        return tuple(sorted(fs.listdir(GPUS)))
    except OSError:
        return ()


def parse_information(text: str) -> dict[str, str]:
    """The ``Key: value`` lines of a GPU's ``information`` file; the first non-empty value of a key wins."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def read_gpus(fs: HostFS = HOST) -> tuple[HostGpu, ...]:
    """Every GPU the kernel module lists, in PCI order; a GPU whose file cannot be read keeps its bus id."""
    gpus = []
    for bus in bus_ids(fs):
        try:
            fields = parse_information(fs.read_text(f"{GPUS}/{bus}/information"))
        except OSError:
            fields = {}
        gpus.append(HostGpu(bus, fields.get("Model"), fields.get("GPU UUID")))
    return tuple(gpus)
