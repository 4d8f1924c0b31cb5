"""The machine facts a scaffold plan is made from (PlanFacts), and how the CLI fills them from the probes.

Tests build :class:`PlanFacts` by hand (the decisions are pure functions of it); the CLI fills it from the
same probes `envcheck doctor` runs (the engine's ``collect_all``, with their deadlines and crash isolation):
the gpu probe for driver, CUDA, capability and name; the host probe for Ubuntu. Where the gpu probe itself
failed, ``/proc/driver/nvidia`` still gives the driver and the GPU name.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any, Mapping

from envcheck import compat
from envcheck.frozen import frozen
from envcheck.probes.gpu import GpuFacts
from envcheck.probes.host import HostFacts
from envcheck.probes.project import read_gpu_now


@frozen
class PlanFacts:
    driver: str | None = None  # "535.104.05"; None: no NVIDIA driver here
    cuda: str | None = None  # the highest CUDA the driver reports ("12.2"), when known
    capability: tuple[int, int] | None = None  # (8, 0) for an A100; None: unknown or no GPU
    gpu_name: str | None = None
    ubuntu: str | None = None  # "22.04"; None: not Ubuntu (or not known)
    python: str = f"{sys.version_info[0]}.{sys.version_info[1]}"
    notes: tuple[str, ...] = ()  # what could not be seen, and why

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["capability"] = f"{self.capability[0]}.{self.capability[1]}" if self.capability else None
        data["notes"] = list(self.notes)
        return data


def from_probe_facts(gpu: GpuFacts | None, host: HostFacts | None, gpu_error: str = "",
                     host_error: str = "") -> PlanFacts:
    """Map the gpu and host probes' facts (either may be None when the probe failed) to PlanFacts.

    With several GPUs the oldest architecture decides: the torch build must have kernels for every one.
    """
    notes: list[str] = []
    driver = cuda = name = None
    capability = None
    if gpu is not None:
        driver = gpu.driver_version or gpu.module_version
        if gpu.cuda_driver_version:
            cuda = compat.normalize_driver_cuda(gpu.cuda_driver_version)
        known = [d for d in gpu.devices if d.compute_capability is not None]
        if known:
            oldest = min(known, key=lambda d: d.compute_capability or (0, 0))
            capability, name = oldest.compute_capability, oldest.name
            if len({d.compute_capability for d in known}) > 1:
                notes.append(f"GPUs of several architectures: planned for the oldest, sm_{capability[0]}{capability[1]}"
                             if capability else "GPUs of several architectures")
        elif gpu.devices:
            name = gpu.devices[0].name
        if driver and capability is None:
            why = gpu.init_error or gpu.child_error or "NVML gave no compute capability"
            notes.append(f"compute capability unknown ({why}): the GPU architecture is not checked")
        elif not driver and gpu.child not in ("ok", "no-pynvml"):
            # NVML could not be asked and the kernel module's files name no driver: say so rather than let
            # "no NVIDIA driver found" stand unexplained (a CPU plan then rests on what could not be checked).
            notes.append(f"the NVML child {gpu.child}: {gpu.child_error or 'no detail'}; no driver seen in "
                         "/proc/driver/nvidia either, so planned as a machine without a GPU (--driver overrides)")
    elif gpu_error:
        notes.append(f"gpu probe: {gpu_error}")
    if driver is None and gpu is None:
        now = read_gpu_now()  # the probe failed: the kernel module's own files still say which driver is loaded
        driver = now.driver
        name = now.gpu_names[0] if now.gpu_names else None
    ubuntu = None
    if host is not None:
        release: Mapping[str, str] = host.os_release or {}
        if release.get("ID") == "ubuntu":
            ubuntu = release.get("VERSION_ID")
    elif host_error:
        notes.append(f"host probe: {host_error}")
    return PlanFacts(driver=_clean(driver), cuda=_clean(cuda), capability=capability, gpu_name=_clean(name),
                     ubuntu=_clean(ubuntu), notes=tuple(notes))


def _clean(value: Any) -> str | None:
    """Machine strings end up in generated comments and YAML: printable, one line, bounded."""
    if value is None:
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return text[:120] or None


def collect_plan_facts(timeout_s: float = 5.0) -> PlanFacts:
    """Run the gpu and host probes (in parallel, under their deadlines) and map their facts."""
    from envcheck.engine import collect_all, make_context
    from envcheck.policy import default_policy
    from envcheck.probes import PROBES

    policy = default_policy()
    wanted = [PROBES[name] for name in ("gpu", "host") if name in PROBES]
    collected = collect_all(wanted, make_context(policy), timeout_s)
    gpu, host = collected.get("gpu"), collected.get("host")
    gpu_facts = gpu.facts if gpu is not None and isinstance(gpu.facts, GpuFacts) else None
    host_facts = host.facts if host is not None and isinstance(host.facts, HostFacts) else None
    return from_probe_facts(gpu_facts, host_facts, gpu.error if gpu else "probe 'gpu' not registered",
                            host.error if host else "probe 'host' not registered")
