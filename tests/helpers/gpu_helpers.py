"""A recorded GPU machine's host files, laid out for the gpu probe to read.

The NVML recordings under tests/data/nvml/ carry a "host" part (see the README there): what
/proc/driver/nvidia, /dev/nvidia*, /dev/kmsg and /var/run/reboot-required held on that machine. The gpu
probe reads those files through ``HostFS(root)``, so the tests lay them out under a temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envcheck.hostfs import HostFS


def host_files(root: Path, host: dict[str, Any]) -> HostFS:
    """The recorded machine's files at their own absolute paths under ``root``, as a mounted image of that
    machine would be."""
    proc = root / "proc" / "driver" / "nvidia"
    (proc / "gpus").mkdir(parents=True)
    if host.get("proc_version"):
        (proc / "version").write_text(host["proc_version"])
    for gpu in host.get("proc_gpus", []):
        (proc / "gpus" / gpu).mkdir()
    dev = root / "dev"
    dev.mkdir()
    for node in host.get("dev", []):
        (dev / node).write_text("")
    (dev / "kmsg").write_text("".join(line + "\n" for line in host.get("kmsg", [])))
    run = root / "var" / "run"
    run.mkdir(parents=True)
    if host.get("reboot_required"):
        (run / "reboot-required").write_text("*** System restart required ***\n")
        (run / "reboot-required.pkgs").write_text("linux-image-6.8.0-49-generic\nnvidia-dkms-550\n")
    return HostFS(str(root))
