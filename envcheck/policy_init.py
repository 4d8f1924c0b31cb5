"""`envcheck policy init`: a starting policy from this host. What the host has becomes the requirement (its GPU
count and model, driver, CUDA, OS release, tools, torch), written as YAML with a comment above each key and
the JSON Schema named on the first line, so editors with the YAML language server validate it as it is edited.

The facts come from the probes (this module judges nothing): a fact a probe could not read gives no requirement,
and the comment says so, rather than a guess that would fail every server later.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from envcheck.compat_data import parse_version
from envcheck.engine import Collected

# (key, value, comment): one entry of the written file; value None writes the key commented out.
Entry = tuple[str, Any, str]
# Free space required at / : half of what is free now, so the next dataset does not fail the host at once.
FREE_SHARE = 0.5
GIB = 1024**3


def schema_path() -> Path:
    """The shipped JSON Schema's absolute path (a real file: envcheck is installed as files, never zipped)."""
    return Path(str(resources.files("envcheck").joinpath("data/policy.schema.json"))).resolve()


def collect_this_host(timeout_s: float | None = None) -> Mapping[str, Collected]:
    """The probes a starting policy reads, in parallel under their deadlines (each probe's own, else ``timeout_s``,
    else the built-in probe_timeout_s, as doctor's; torch is imported in a child under its longer one)."""
    from dataclasses import replace

    from envcheck.engine import collect_all, make_context
    from envcheck.policy import default_policy
    from envcheck.probes import PROBES
    from envcheck.units import ProbeOptions

    # free_space_gib names "/" so that the host probe measures it (the probe measures what a policy names).
    policy = replace(default_policy(), free_space_gib=(("/", 0),))
    if timeout_s is not None:
        policy = replace(policy, probe_timeout_s=timeout_s)
    probes = [PROBES[name] for name in ("host", "gpu", "gpu-torch", "docker", "conda", "jupyter")]
    return collect_all(probes, make_context(policy, ProbeOptions(torch_check=True)), policy.probe_timeout_s)


def _facts(collected: Mapping[str, Collected], name: str) -> Any:
    got = collected.get(name)
    return None if got is None or got.error else got.facts


def starting_entries(collected: Mapping[str, Collected]) -> list[Entry]:
    """The requirements this host meets, each with why it is there (or why it is left out)."""
    return [*_gpu_entries(_facts(collected, "gpu"), _facts(collected, "gpu-torch")),
            *_host_entries(_facts(collected, "host")),
            *_tool_entries(collected),
            ("ecc_uncorrected_max", 0, "uncorrected ECC errors since the driver loaded above which a GPU fails"),
            ("ecc_lifetime_uncorrected_max", 0, "lifetime uncorrected ECC errors above which a GPU warns"),
            ("remapped_rows_uncorrectable_max", None, "rows remapped for uncorrectable errors above which a GPU "
                                                      "fails; e.g. 8"),
            ("xid_ignore", [], "Xid codes not judged (13, 31, 43 are the application's errors, not the GPU's)"),
            ("skip", {}, "checks that do not apply here, each with the reason every report shows, e.g. "
                         "{\"gpu.pcie-link\": \"risers train at x8 on these boards\"}"),
            ("warnings_as_failures", [], "check ids or subjects whose warnings count as failures, e.g. [gpu.ecc]")]


_GPU_KEYS = (("gpu_model", "glob every GPU's name must match, case-insensitive, e.g. '*A100*'"),
             ("driver_min", "lowest NVIDIA driver version, e.g. '550.54.15'"),
             ("driver_branches", "driver branches allowed, e.g. ['550', '570']"),
             ("cuda_min", "lowest CUDA version the driver must support, e.g. '12.4'"),
             ("compute_capability_min", "lowest compute capability of every GPU, e.g. '8.0'"))


def _gpu_entries(gpu: Any, torch_build: Any) -> list[Entry]:
    torch = torch_build.torch if torch_build is not None else None
    version = torch.version if torch is not None and torch.version else None
    floor = ".".join(str(p) for p in parse_version(version)[:3]) if version else None
    torch_entry = ("torch_min", floor, "lowest torch version (in the interpreter envcheck runs)")
    if gpu is None or not gpu.driver_present:
        why = "the gpu probe gave no answer" if gpu is None else "no NVIDIA driver on this host"
        return [("gpu_count", 0 if gpu is not None else None, f"exact number of GPUs ({why})"),
                *((key, None, f"{what} (no GPU here to read it from)") for key, what in _GPU_KEYS), torch_entry]
    usable = gpu.child == "ok" and not gpu.init_error and gpu.device_count is not None
    names = sorted({d.name for d in gpu.devices if d.name})
    caps = [d.compute_capability for d in gpu.devices if d.compute_capability]
    driver = gpu.driver_version or gpu.module_version
    entries: list[Entry] = [
        ("gpu_count", gpu.device_count if usable else None, "exact number of GPUs NVML lists"),
        ("gpu_model", names[0] if len(names) == 1 else None,
         "glob every GPU's name must match, case-insensitive (e.g. '*A100*')"
         + ("" if len(names) == 1 else f"; this host has {', '.join(names) or 'no readable name'}")),
        ("driver_min", driver, "lowest NVIDIA driver version allowed"),
        ("driver_branches", [str(parse_version(driver)[0])] if driver else None, "driver branches allowed"),
        ("cuda_min", gpu.cuda_driver_version, "lowest CUDA version the driver must support"),
        ("compute_capability_min", f"{min(caps)[0]}.{min(caps)[1]}" if caps else None,
         "lowest compute capability of every GPU"),
    ]
    return [*entries, torch_entry]


def _host_entries(host: Any) -> list[Entry]:
    if host is None:
        return [("os_allowed", None, "globs over \"ID VERSION_ID\" (the host probe gave no answer)")]
    osr = host.os_release
    release = f"{osr['ID']} {osr.get('VERSION_ID', '')}".strip().lower() if osr.get("ID") else None
    root = next((d for d in host.policy_disks if d.path == "/" and d.free_bytes is not None), None)
    free = int(root.free_bytes * FREE_SHARE / GIB) if root is not None else None
    return [("os_allowed", [release] if release else None,
             "globs over \"ID VERSION_ID\" from /etc/os-release, e.g. 'ubuntu 22.04', 'debian 12', 'rocky 9*'"),
            ("free_space_gib", {"/": free} if free else None,
             "GiB that must be free at each path (half of what / has free now)")]


def _tool_entries(collected: Mapping[str, Collected]) -> list[Entry]:
    conda, docker, jupyter = (_facts(collected, n) for n in ("conda", "docker", "jupyter"))
    torch_build = _facts(collected, "gpu-torch")
    torch = torch_build.torch if torch_build is not None else None
    have = {"conda": conda is not None and conda.exe is not None,
            "docker": docker is not None and bool(docker.dockerd or docker.reachable),
            "jupyter": jupyter is not None and jupyter.path is not None,
            "torch": torch is not None and bool(torch.version)}
    engine = docker.engine if docker is not None else None
    runtime = engine is not None and "nvidia" in dict(engine.runtimes)
    cdi = docker is not None and any(kind.startswith("nvidia.com/") for _, kind in docker.cdi_specs)
    how = "either" if runtime and cdi else "nvidia" if runtime else "cdi" if cdi else None
    return [("tools_required", [tool for tool, found in have.items() if found],
             "tools every host must have: conda (or mamba / micromamba), docker, jupyter, torch"),
            ("container_runtime", how, "how containers reach the GPUs: nvidia (the runtime), cdi, or either")]


def render_yaml(entries: list[Entry], source: str) -> str:
    """The policy file: the schema line, a header, then each key under its comment. Values are written as JSON,
    which YAML reads as the same values (JSON is YAML 1.2's flow style), so versions stay quoted text."""
    lines = [f"# yaml-language-server: $schema={schema_path()}",
             f"# envcheck policy: a starting point written by `envcheck policy init` from {source}.",
             "# What this host has became the requirement; edit what should differ. A key left out (or commented",
             "# out) states no requirement. `envcheck policy check FILE` validates it; `envcheck policy show`",
             "# prints the effective policy of a host. Groups override keys for some hosts:",
             "# groups: {a100: {hosts: ['gpu-a*'], inventory_groups: [a100], overrides: {gpu_model: '*A100*'}}}",
             ""]
    for key, value, comment in entries:
        lines.append(f"# {comment}")
        text = json.dumps(value, ensure_ascii=False)
        lines.append(f"# {key}:" if value is None else f"{key}: {text}")
    return "\n".join(lines) + "\n"
