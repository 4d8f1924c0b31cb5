"""One root cause, one red line: for every pair of checks that can share a cause, only the root fails and the
others point at it (caused_by), as the engine's ``requires`` makes them.

The pairs, found by reading the checks: docker's GPU checks (toolkit, runtime, CDI) and the GPU driver; the
GPU's reboot line and host.reboot-required (both read /var/run/reboot-required); the checked Python and its
torch build; conda's checks and conda found; git's identity and git found; jupyter's packages and jupyter
found. Each case applies the real registry's checks (in its order: docker comes before gpu) to facts built
by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from envcheck.checks import CHECKS
from envcheck.dockerapi import Endpoint
from envcheck.engine import Collected, apply_checks
from envcheck.model import Result, Status
from envcheck.policy import Policy, default_policy
from envcheck.probes.conda import CondaFacts
from envcheck.probes.docker import AccessFacts, DiskFacts, DockerFacts, EngineInfo, SocketFacts
from envcheck.probes.git import GitFacts
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts
from envcheck.probes.gpu_torch import TorchFacts
from envcheck.probes.host import HostFacts
from envcheck.probes.jupyter import JupyterFacts
from envcheck.probes.python import PythonFacts
from envcheck.probes.reboot import PendingReboot

TODAY = date(2026, 12, 1)
REBOOT = PendingReboot(True, ("linux-image-6.8.0-49-generic", "nvidia-dkms-550"))
NO_DRIVER = GpuFacts(child="ok", init_error="LibraryNotFound", today=TODAY.isoformat())
DRIVER = GpuFacts(child="ok", driver_version="580.95.05", cuda_driver_version="13.0", module_version="580.95.05",
                  device_count=0, today=TODAY.isoformat(), device_nodes={"/dev/nvidiactl": "ok"})
# A Docker engine that answers, without the NVIDIA Container Toolkit.
NO_TOOLKIT = DockerFacts(
    endpoint=Endpoint("unix:///var/run/docker.sock", "default socket", "the default socket"), transport="http",
    dockerd="/usr/bin/dockerd", cli="/usr/bin/docker", dockerd_pids=(812,), snap=(), systemd=True,
    socket=SocketFacts("/var/run/docker.sock", True, True, "0660", "root", "docker", 999),
    access=AccessFacts("alice", 1000, 999, docker_listed=True, docker_effective=True, socket_group_listed=True,
                       socket_group_effective=True),
    reachable=True, elapsed_s=0.01, timeout_s=5.0,
    engine=EngineInfo(server_version="27.3.1", api_version="1.47", min_api_version="1.24",
                      storage_driver="overlay2", backing_fs="extfs", cgroup_version="2", cgroup_driver="systemd",
                      root_dir="/var/lib/docker", runtimes=(("runc", "runc"),), default_runtime="runc"),
    disk=DiskFacts("/var/lib/docker", free_bytes=200 * 1024**3, total_bytes=500 * 1024**3),
    toolkit=(("nvidia-ctk", None), ("nvidia-container-cli", None)),
)


def policy(**values: Any) -> Policy:
    return Policy.from_mapping(values, base=default_policy())


def applied(facts: dict[str, Any], rules: Policy, ids: tuple[str, ...]) -> list[Result]:
    """The registry's checks named (and the checks they require), applied as `envcheck doctor` applies them."""
    by_id = {c.id: c for c in CHECKS}
    wanted: set[str] = set()
    todo = list(ids)
    while todo:
        check = by_id[todo.pop()]
        if check.id not in wanted:
            wanted.add(check.id)
            todo.extend(check.requires)
    collected = {name: Collected(name, facts=value) for name, value in facts.items()}
    return apply_checks([c for c in CHECKS if c.id in wanted], collected, rules)


CASES: dict[str, tuple[dict[str, Any], Policy, str, tuple[str, ...]]] = {
    # (the facts of each probe, the policy, the root's id, the checks that must point at it)
    "docker GPU checks vs no driver (require_gpu)": (
        {"docker": NO_TOOLKIT, "gpu": NO_DRIVER}, policy(require_gpu=True), "gpu.driver",
        ("docker.runtime-nvidia", "docker.cdi-specs", "docker.nvidia-toolkit", "gpu.nvml", "gpu.reboot-pending")),
    "docker GPU checks vs no driver (a GPU expected: /dev/nvidiactl)": (
        {"docker": replace(NO_TOOLKIT, nvidia_device=True), "gpu": replace(NO_DRIVER, init_error="DriverNotLoaded")},
        default_policy(), "gpu.driver", ("docker.runtime-nvidia", "docker.cdi-specs", "docker.nvidia-toolkit")),
    "gpu reboot line vs host reboot-required": (
        {"host": HostFacts(today=TODAY, reboot=REBOOT), "gpu": replace(DRIVER, reboot=REBOOT)},
        default_policy(), "host.reboot-required", ("gpu.reboot-pending",)),
    "torch build vs a Python that is not there": (
        {"python": PythonFacts(requested="--python /opt/gone/bin/python", interpreter=None), "gpu": DRIVER,
         "gpu-torch": TorchBuildFacts(asked=True, gpu=DRIVER, torch=TorchFacts(
             python="/opt/gone/bin/python", error="[Errno 2] No such file or directory"))},
        default_policy(), "python.version", ("gpu.torch-build",)),
    "conda checks vs no conda (require_conda)": (
        {"conda": CondaFacts(exe=None)}, policy(require_conda=True), "conda.installed",
        ("conda.version", "conda.active-env", "conda.envs", "conda.environments-txt", "conda.channels",
         "conda.pytorch-channel", "conda.cuda-virtual-package")),
    "git identity vs no git": ({"git": GitFacts(path=None)}, default_policy(), "git.installed", ("git.identity",)),
    "jupyter packages vs no jupyter": (
        {"jupyter": JupyterFacts(path=None)}, default_policy(), "jupyter.installed", ("jupyter.packages",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_only_the_root_is_red_and_the_rest_point_at_it(case: str) -> None:
    facts, rules, root, dependents = CASES[case]
    results = applied(facts, rules, (root, *dependents))
    by_id = {r.id: r for r in results}
    # The root is the only line a person has to act on (a skip when the policy does not ask for the thing).
    problems = sorted({r.id for r in results if r.status in (Status.FAIL, Status.WARN)})
    assert problems == ([root] if by_id[root].status in (Status.FAIL, Status.WARN) else [])
    for dependent in dependents:
        got = by_id[dependent]
        assert (got.status in (Status.SKIP, Status.UNKNOWN), got.caused_by) == (True, root), (dependent, got)
    # Results keep the registry's order although a required check can be listed later (gpu after docker).
    order = [c.id for c in CHECKS]
    assert [r.id for r in results] == sorted((r.id for r in results), key=order.index)
