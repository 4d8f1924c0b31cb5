"""The policy's requirement checks: each passes, fails and is unknown (never a pass) on facts built by hand or
replayed from a recorded machine, appears only where the policy states its requirement, and the engine's
skip and warnings_as_failures."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers.docker_facts import ENGINE
from helpers.docker_facts import facts as docker_facts
from helpers.gpu_helpers import host_files

from envcheck import runner, xid
from envcheck.checks import CHECKS, conda, docker, gpu, gpu_devices, gpu_required, host, host_os, jupyter
from envcheck.engine import Collected, apply_checks, examine, select
from envcheck.model import Outcome, Status
from envcheck.policy import Policy, default_policy
from envcheck.probes.conda import CondaFacts
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts, XidFacts, collect
from envcheck.probes.gpu_device import GpuDevice
from envcheck.probes.gpu_torch import TorchFacts
from envcheck.probes.host import Disk, HostFacts
from envcheck.probes.jupyter import JupyterFacts
from envcheck.units import CheckSpec, ProbeContext, ProbeSpec

NVML = Path(__file__).parents[1] / "data" / "nvml"
OS_RELEASE = Path(__file__).parents[1] / "data" / "os-release"
GIB = 1024**3
A100 = GpuDevice(index=0, uuid="GPU-1", name="NVIDIA A100-SXM4-80GB", pci_bus_id="00000000:07:00.0",
                 compute_capability=(8, 0), ecc_current=True, ecc_pending=True, ecc_volatile_uncorrected=0,
                 ecc_aggregate_uncorrected=0, remapped_correctable=0, remapped_uncorrectable=0, remap_pending=False,
                 remap_failure=False)
T4 = replace(A100, index=1, uuid="GPU-2", name="Tesla T4", pci_bus_id="00000000:08:00.0", compute_capability=(7, 5))


def policy(**values: Any) -> Policy:
    return Policy.from_mapping(values, base=default_policy())


def gpu_facts(*devices: GpuDevice, **changes: Any) -> GpuFacts:
    base = GpuFacts(child="ok", driver_version="550.54.15", cuda_driver_version="12.4", device_count=len(devices),
                    devices=devices, module_version="550.54.15", proc_gpus=tuple(d.pci_bus_id or "" for d in devices),
                    device_nodes={"/dev/nvidiactl": "ok"}, today="2026-11-27")
    return replace(base, **changes)


NO_DRIVER = GpuFacts(child="ok", init_error="LibraryNotFound", device_nodes={"/dev/nvidiactl": "missing"})
NVML_DOWN = gpu_facts(A100, child="timeout", child_error="NVML did not answer", device_count=None)


def status(outcome: Outcome | list[Outcome]) -> list[str]:
    return [o.status.value for o in (outcome if isinstance(outcome, list) else [outcome])]


# --- gpu --------------------------------------------------------------------------------------------------------


def test_gpu_count_exact() -> None:
    eight = policy(gpu_count=8)
    assert status(gpu_required.count(gpu_facts(*[A100] * 8), eight)) == ["pass"]
    fewer = gpu_required.count(gpu_facts(*[A100] * 7), eight)
    assert (fewer.status, fewer.observed, fewer.expected) == (Status.FAIL, "7 GPUs", "exactly 8 GPUs")
    assert "dmesg" in fewer.fix
    assert gpu_required.count(gpu_facts(*[A100] * 9), eight).reason.startswith("more GPUs than the policy states")
    unknown = gpu_required.count(NVML_DOWN, eight)
    assert (unknown.status, unknown.caused_by) == (Status.UNKNOWN, "gpu.nvml")
    assert status(gpu_required.count(NO_DRIVER, eight)) == ["fail"]
    assert status(gpu_required.count(NO_DRIVER, policy(gpu_count=0))) == ["pass"]


def test_gpu_model_glob_is_case_insensitive_and_judges_every_gpu() -> None:
    assert status(gpu_required.model(gpu_facts(A100, A100), policy(gpu_model="*a100*"))) == ["pass"]
    mixed = gpu_required.model(gpu_facts(A100, T4), policy(gpu_model="*A100*"))
    assert (mixed.status, mixed.reason) == (Status.FAIL, "1 of 2 GPUs are another model: Tesla T4")
    unread = gpu_required.model(gpu_facts(A100, replace(T4, name=None)), policy(gpu_model="*A100*"))
    assert (unread.status, unread.caused_by) == (Status.UNKNOWN, "gpu.devices")
    assert status(gpu_required.model(NVML_DOWN, policy(gpu_model="*"))) == ["unknown"]
    assert status(gpu_required.model(NO_DRIVER, policy(gpu_model="*"))) == ["fail"]


def test_driver_floor_and_branches() -> None:
    facts = gpu_facts(A100)
    assert status(gpu_required.driver_min(facts, policy(driver_min="550.54.14"))) == ["pass"]
    old = gpu_required.driver_min(facts, policy(driver_min="570"))
    assert (old.status, old.observed, old.expected) == (Status.FAIL, "driver 550.54.15", "driver >= 570")
    assert old.fix.startswith("sudo apt-get install -y nvidia-driver-570-server && sudo reboot")
    unread = replace(facts, driver_version=None, module_version=None)
    unknown = gpu_required.driver_min(unread, policy(driver_min="550"))
    assert unknown.status is Status.UNKNOWN
    assert status(gpu_required.driver_branches(facts, policy(driver_branches=["550", 570]))) == ["pass"]
    other = gpu_required.driver_branches(facts, policy(driver_branches=["535", "570"]))
    assert (other.status, other.expected) == (Status.FAIL, "branch 535 or 570")
    assert "nvidia-driver-570-server" in other.fix
    assert status(gpu_required.driver_branches(NO_DRIVER, policy(driver_branches=["550"]))) == ["fail"]


def test_cuda_floor_names_the_driver_it_needs() -> None:
    facts = gpu_facts(A100)
    assert status(gpu_required.cuda_min(facts, policy(cuda_min="12.4"))) == ["pass"]
    low = gpu_required.cuda_min(facts, policy(cuda_min="12.8"))
    assert low.status is Status.FAIL and "CUDA 12.8 needs driver >= 570" in low.fix
    assert status(gpu_required.cuda_min(replace(facts, cuda_driver_version=None), policy(cuda_min="12.4"))) == \
        ["unknown"]


def test_compute_capability_floor() -> None:
    assert status(gpu_required.compute_capability(gpu_facts(A100), policy(compute_capability_min="8.0"))) == ["pass"]
    low = gpu_required.compute_capability(gpu_facts(A100, T4), policy(compute_capability_min="8.0"))
    assert (low.status, low.observed) == (Status.FAIL, "GPU 0 (GPU-1): 8.0; GPU 1 (GPU-2): 7.5")
    unread = gpu_required.compute_capability(gpu_facts(replace(A100, compute_capability=None)),
                                             policy(compute_capability_min="8.0"))
    assert unread.status is Status.UNKNOWN


def test_torch_required_and_its_minimum() -> None:
    def build(**changes: Any) -> TorchBuildFacts:
        return TorchBuildFacts(asked=True, torch=TorchFacts(python="/usr/bin/python3", **changes))

    need = policy(torch_min="2.4")
    assert status(gpu_required.torch(build(version="2.5.1+cu124"), need)) == ["pass"]
    old = gpu_required.torch(build(version="2.3.1"), need)
    assert (old.status, old.fix.split("  #")[0]) == (Status.FAIL, "python3 -m pip install 'torch>=2.4'")
    missing = gpu_required.torch(build(missing=True, error="No module named 'torch'"), policy(tools_required=["torch"]))
    assert (missing.status, missing.expected) == (Status.FAIL, "torch installed")
    assert status(gpu_required.torch(build(error="timed out"), need)) == ["unknown"]
    assert status(gpu_required.torch(TorchBuildFacts(asked=False), need)) == ["unknown"]


def test_ecc_and_remapped_row_limits() -> None:
    two = gpu_facts(replace(A100, ecc_volatile_uncorrected=2, ecc_aggregate_uncorrected=2))
    assert status(gpu_devices.ecc(two, default_policy())) == ["fail"]  # the built-in limit: none
    assert status(gpu_devices.ecc(two, policy(ecc_uncorrected_max=2))) == ["warn"]  # lifetime still counts
    assert status(gpu_devices.ecc(two, policy(ecc_uncorrected_max=2, ecc_lifetime_uncorrected_max=5))) == ["pass"]
    worn = gpu_facts(replace(A100, remapped_uncorrectable=9))
    assert status(gpu_devices.remapped_rows(worn, default_policy())) == ["pass"]
    over = gpu_devices.remapped_rows(worn, policy(remapped_rows_uncorrectable_max=8))[0]
    assert (over.status, over.item) == (Status.FAIL, "GPU 0 (GPU-1)")
    unread = gpu_facts(replace(A100, remapped_uncorrectable=None))
    assert status(gpu_devices.remapped_rows(unread, policy(remapped_rows_uncorrectable_max=8))) == ["unknown"]


def test_xid_ignore_leaves_the_codes_a_lab_accepts_unjudged() -> None:
    events = (xid.XidEvent(code=13, pci="0000:07:00", detail="Graphics Exception"),
              xid.XidEvent(code=79, pci="0000:07:00", detail="GPU has fallen off the bus"))
    facts = gpu_facts(A100, xid=XidFacts(source="/dev/kmsg", readable=True, events=events))
    assert gpu.xid_errors(facts, default_policy()).observed.startswith("Xid 13 x1")
    only_13 = replace(facts, xid=XidFacts(source="/dev/kmsg", readable=True, events=events[:1]))
    ignored = gpu.xid_errors(only_13, policy(xid_ignore=[13, 31, 43]))
    assert (ignored.status, ignored.observed) == (
        Status.PASS, "no Xid errors in the kernel log; 1 Xid event(s) of codes the policy ignores (13)")
    assert gpu.xid_errors(facts, policy(xid_ignore=[13])).status is Status.FAIL  # 79 still counts


def _replay(tmp_path: Path, recording: Path) -> GpuFacts:
    env = dict(os.environ, PYTHONPATH=str(NVML / "fake"), ENVCHECK_NVML_RECORDING=str(recording))
    fs = host_files(tmp_path, json.loads(recording.read_text()).get("host", {}))
    return collect(ProbeContext(env=env, home=str(tmp_path), timeout_s=5.0, run=runner.run, fs=fs))


def test_requirements_on_a_recorded_machine(tmp_path: Path) -> None:
    facts = _replay(tmp_path, NVML / "h100x8-healthy.json")
    wanted = policy(gpu_count=8, gpu_model="*H100*", compute_capability_min="9.0")
    found = {r.id: r.status.value for r in apply_checks(CHECKS, {"gpu": Collected("gpu", facts=facts)}, wanted)
             if r.id in ("gpu.count", "gpu.model", "gpu.compute-capability")}
    assert found == {"gpu.count": "pass", "gpu.model": "pass", "gpu.compute-capability": "pass"}
    assert status(gpu_required.count(facts, policy(gpu_count=4))) == ["fail"]


# --- docker, conda, jupyter ------------------------------------------------------------------------------------


def test_container_runtime() -> None:
    nvidia = docker_facts(engine=replace(ENGINE, runtimes=(*ENGINE.runtimes, ("nvidia", "nvidia-container-runtime"))))
    cdi = docker_facts(engine=replace(ENGINE, cdi_spec_dirs=("/etc/cdi",)),
                       cdi_specs=(("/etc/cdi/nvidia.yaml", "nvidia.com/gpu"),))
    cases = {("nvidia", nvidia): "pass", ("nvidia", cdi): "fail", ("cdi", cdi): "pass", ("cdi", nvidia): "fail",
             ("either", nvidia): "pass", ("either", cdi): "pass", ("either", docker_facts()): "fail"}
    for (want, facts), expected in cases.items():
        assert docker.gpu_runtime(facts, policy(container_runtime=want)).status.value == expected, (want, expected)
    spec_only = docker_facts(cdi_specs=(("/etc/cdi/nvidia.yaml", "nvidia.com/gpu"),))  # engine's CDI feature off
    assert '"features": {"cdi": true}' in docker.gpu_runtime(spec_only, policy(container_runtime="cdi")).fix
    down = docker_facts(reachable=False, engine=None, error="connection refused")
    assert docker.gpu_runtime(down, policy(container_runtime="nvidia")).status is Status.UNKNOWN
    none = docker_facts(dockerd=None, cli=None, dockerd_pids=(), reachable=False, engine=None)
    assert docker.gpu_runtime(none, policy(container_runtime="either")).status is Status.FAIL


def test_required_tools_fail_where_they_were_optional() -> None:
    no_conda = CondaFacts(exe=None)
    assert status(conda.installed(no_conda, default_policy())) == ["skip"]
    assert status(conda.installed(no_conda, policy(tools_required=["conda"]))) == ["fail"]
    no_jupyter = JupyterFacts(path=None)
    assert status(jupyter.installed(no_jupyter, default_policy())) == ["skip"]
    assert status(jupyter.installed(no_jupyter, policy(tools_required=["jupyter"]))) == ["fail"]
    no_docker = docker_facts(dockerd=None, cli=None, dockerd_pids=(), reachable=False, socket=None, engine=None)
    assert status(docker.installed(no_docker, default_policy())) == ["skip"]
    assert status(docker.installed(no_docker, policy(tools_required=["docker"]))) == ["fail"]


# --- host -------------------------------------------------------------------------------------------------------


def host_facts(os_release: str = "debian-12", **changes: Any) -> HostFacts:
    osr = {}
    for line in (OS_RELEASE / os_release).read_text().splitlines():
        key, _, value = line.partition("=")
        if key and not key.startswith("#"):
            osr[key] = value.strip('"')
    return replace(HostFacts(today=date(2026, 11, 27), os_release=osr), **changes)


def test_os_allowed_and_the_ubuntu_warning_it_silences() -> None:
    debian = host_facts("debian-12")
    lab = policy(os_allowed=["ubuntu 22.04", "debian 12*"])
    assert (host_os.os_allowed(debian, lab).status, host_os.os_allowed(debian, lab).evidence) == \
        (Status.PASS, {"matched": "debian 12*"})
    assert host_os.ubuntu_support(debian, default_policy()).status is Status.WARN  # no policy: Ubuntu-only advice
    assert host_os.ubuntu_support(debian, lab).status is Status.SKIP
    fedora = host_facts("fedora-40")
    refused = host_os.os_allowed(fedora, lab)
    assert (refused.status, refused.observed.split(" (")[0]) == (Status.FAIL, "fedora 40")
    assert host_os.ubuntu_support(fedora, lab).status is Status.WARN  # not allowed: the advice still applies
    unknown = host_os.os_allowed(HostFacts(today=date(2026, 11, 27), os_release_error="no file"), lab)
    assert (unknown.status, unknown.caused_by) == (Status.UNKNOWN, "host.os-release")


def test_free_space_at_named_paths() -> None:
    need = policy(free_space_gib={"/data": 500, "/scratch": 100})
    facts = host_facts(policy_disks=(Disk("policy", "/data", free_bytes=600 * GIB, total_bytes=900 * GIB),
                                     Disk("policy", "/scratch", free_bytes=50 * GIB, total_bytes=900 * GIB)))
    found = [(o.item, o.status.value, o.expected) for o in host.free_space(facts, need)]
    assert found == [("/data", "pass", ">= 500 GiB free"), ("/scratch", "fail", ">= 100 GiB free")]
    gone = host_facts(policy_disks=(Disk("policy", "/data", error="FileNotFoundError: No such file"),))
    assert [o.status.value for o in host.free_space(gone, need)] == ["unknown", "unknown"]


# --- the engine: applies, skip, warnings_as_failures ------------------------------------------------------------

REQUIREMENT_IDS = {"gpu.count", "gpu.model", "gpu.driver-min", "gpu.driver-branch-allowed", "gpu.cuda-min",
                   "gpu.compute-capability", "gpu.torch-required", "docker.gpu-runtime", "host.os-allowed",
                   "host.free-space"}


def test_requirement_checks_appear_only_where_the_policy_states_them() -> None:
    assert {c.id for c in CHECKS if c.applies is not None} == REQUIREMENT_IDS
    assert REQUIREMENT_IDS.isdisjoint(c.id for c in select(CHECKS, policy=default_policy()))
    chosen = {c.id for c in select(CHECKS, policy=policy(gpu_count=8, os_allowed=["debian 12"]))}
    assert REQUIREMENT_IDS & chosen == {"gpu.count", "host.os-allowed"}
    results = apply_checks(CHECKS, {"gpu": Collected("gpu", facts=gpu_facts(A100))}, default_policy())
    assert REQUIREMENT_IDS.isdisjoint(r.id for r in results)


def test_skip_with_reason_is_reported_and_the_check_not_run() -> None:
    def boom(facts: object, p: Policy) -> Outcome:
        raise AssertionError("a skipped check must not run")

    checks = [CheckSpec("gpu.a", "a", "gpu", boom), CheckSpec("gpu.b", "b", "gpu", lambda f, p: Outcome(Status.PASS),
                                                              requires=("gpu.a",))]
    skipping = policy(skip={"gpu.a": "no GPUs in this rack"})
    a, b = apply_checks(checks, {"gpu": Collected("gpu", facts=None)}, skipping)
    assert (a.status, a.reason) == (Status.SKIP, "skipped by policy: no GPUs in this rack")
    assert (b.status, b.reason, b.caused_by) == (Status.SKIP, "not applicable: skipped by policy: no GPUs in this rack",
                                                 "gpu.a")
    by_subject = apply_checks(checks, {}, policy(skip={"gpu": "CPU nodes"}))
    assert [r.reason for r in by_subject] == ["skipped by policy: CPU nodes"] * 2


def test_a_probe_only_skipped_checks_need_is_not_started() -> None:
    started: list[str] = []
    probe = ProbeSpec("gpu", lambda ctx: started.append("gpu"))
    checks = [CheckSpec("gpu.a", "a", "gpu", lambda f, p: Outcome(Status.PASS))]
    report = examine(checks, {"gpu": probe}, policy(skip={"gpu": "CPU nodes"}))
    assert (started, [r.status for r in report.results]) == ([], [Status.SKIP])


@pytest.mark.parametrize("named", ["gpu.a", "gpu"])
def test_warnings_as_failures_fail_and_say_why(named: str) -> None:
    checks = [CheckSpec("gpu.a", "a", "gpu", lambda f, p: Outcome(Status.WARN, reason="ECC is off")),
              CheckSpec("host.b", "b", "host", lambda f, p: Outcome(Status.WARN, reason="old"))]
    collected = {"gpu": Collected("gpu"), "host": Collected("host")}
    a, b = apply_checks(checks, collected, policy(warnings_as_failures=[named]))
    assert (a.status, a.reason) == (Status.FAIL, "ECC is off (a failure here: the policy counts this check's "
                                                 "warnings as failures)")
    assert b.status is Status.WARN


def test_smoke_steps_are_counted_by_the_policy_too() -> None:
    from envcheck.engine import counted_by_policy
    from envcheck.model import Result

    steps = (Result("smoke.cuda-available", "CUDA", Outcome(Status.FAIL, reason="no GPU")),
             Result("smoke.bench-matmul", "matmul", Outcome(Status.WARN, reason="slow")))
    counted = counted_by_policy(steps, policy(skip={"smoke.cuda-available": "CPU-only login node"},
                                              warnings_as_failures=["smoke"]))
    assert [(r.status, r.reason) for r in counted] == [
        (Status.SKIP, "skipped by policy: CPU-only login node"),
        (Status.FAIL, "slow (a failure here: the policy counts this check's warnings as failures)")]


def test_a_host_without_a_driver_shows_one_root_cause() -> None:
    wanted = policy(gpu_count=8, gpu_model="*A100*", driver_branches=["550"])
    assert wanted.wants_gpu() and not policy(gpu_count=0).wants_gpu()
    results = {r.id: r for r in apply_checks(CHECKS, {"gpu": Collected("gpu", facts=NO_DRIVER)}, wanted)}
    assert (results["gpu.driver"].status, results["gpu.driver"].caused_by) == (Status.FAIL, None)
    assert [(results[i].status, results[i].caused_by) for i in ("gpu.count", "gpu.model", "gpu.driver-branch-allowed")
            ] == [(Status.FAIL, "gpu.driver"), (Status.UNKNOWN, "gpu.driver"), (Status.UNKNOWN, "gpu.driver")]
    cpu_node = {r.id: r for r in apply_checks(CHECKS, {"gpu": Collected("gpu", facts=NO_DRIVER)}, policy(gpu_count=0))}
    assert (cpu_node["gpu.driver"].status, cpu_node["gpu.count"].status) == (Status.SKIP, Status.PASS)
