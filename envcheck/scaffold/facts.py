"""The host facts a scaffold plan is made from, and how the CLI fills them from the probes.

Tests build :class:`HostFacts` by hand (the decisions are pure functions of it); the CLI fills it from the
same probes `envcheck doctor` runs (the engine's ``run_probes``, with their deadlines and crash isolation):
the gpu probe for driver, CUDA, capability and name; the host probe for Ubuntu. Where the gpu probe cannot
say (no gpu probe yet, NVML missing), ``/proc/driver/nvidia`` still gives the driver and the GPU name.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from envcheck.probes.project import read_gpu_now


@dataclass(frozen=True)
class HostFacts:
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


def _first(facts: Any, *names: str) -> Any:
    """A field of a probe's facts under the first name it has (the probes are written in parallel)."""
    for name in names:
        value = getattr(facts, name, None)
        if value not in (None, "", ()):
            return value
    return None


def _capability(value: Any) -> tuple[int, int] | None:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    if isinstance(value, str) and "." in value:
        major, _, minor = value.partition(".")
        if major.isdigit() and minor.isdigit():
            return int(major), int(minor)
    return None


def from_probe_facts(gpu: Any, host: Any, gpu_error: str = "", host_error: str = "") -> HostFacts:
    """Map the gpu and host probes' facts (either may be None when the probe failed) to HostFacts."""
    notes: list[str] = []
    driver = cuda = name = None
    capability = None
    if gpu is not None:
        driver = _first(gpu, "driver", "driver_version")
        cuda = _first(gpu, "cuda", "cuda_driver", "cuda_version")
        devices = _first(gpu, "gpus", "devices") or ()
        if devices:
            first = devices[0]
            name = _first(first, "name")
            capability = _capability(_first(first, "capability", "compute_capability"))
    elif gpu_error:
        notes.append(f"gpu probe: {gpu_error}")
    if driver is None:
        now = read_gpu_now()
        driver = now.driver
        name = name or (now.gpu_names[0] if now.gpu_names else None)
        if now.error:
            notes.append(now.error)
        if driver is not None and capability is None:
            notes.append("compute capability unknown (NVML not read): the GPU architecture is not checked")
    ubuntu = None
    if host is not None:
        release: Mapping[str, str] = getattr(host, "os_release", None) or {}
        if release.get("ID") == "ubuntu":
            ubuntu = release.get("VERSION_ID")
    elif host_error:
        notes.append(f"host probe: {host_error}")
    return HostFacts(driver=_clean(driver), cuda=_clean(cuda), capability=capability, gpu_name=_clean(name),
                     ubuntu=_clean(ubuntu), notes=tuple(notes))


def _clean(value: Any) -> str | None:
    """Machine strings end up in generated comments and YAML: printable, one line, bounded."""
    if value is None:
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return text[:120] or None


def probe_host(timeout_s: float = 5.0) -> HostFacts:
    """Run the gpu and host probes (in parallel, under their deadlines) and map their facts."""
    from envcheck.engine import make_context, run_probes
    from envcheck.policy import default_policy
    from envcheck.probes import PROBES

    policy = default_policy()
    wanted = [PROBES[name] for name in ("gpu", "host") if name in PROBES]
    runs = run_probes(wanted, make_context(policy), timeout_s)
    gpu, host = runs.get("gpu"), runs.get("host")
    return from_probe_facts(
        gpu.facts if gpu else None, host.facts if host else None,
        gpu.error if gpu else "", host.error if host else "",
    )
