"""GPU checks judged on facts built by hand (a check is a pure function of its probe's facts, so any GPU's
state can be written down here), plus the real torch child on this machine."""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import replace
from pathlib import Path

from envcheck import runner
from envcheck.checks import gpu, gpu_compat, gpu_devices
from envcheck.model import Status
from envcheck.policy import Policy, default_policy
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts
from envcheck.probes.gpu_device import GpuDevice, throttle_names
from envcheck.probes.gpu_torch import TorchFacts, collect_torch
from envcheck.probes.reboot import PendingReboot
from envcheck.units import ProbeContext

POLICY = default_policy()
H100 = GpuDevice(index=0, uuid="GPU-b42dd28e", name="NVIDIA H100 80GB HBM3", pci_bus_id="00000000:18:00.0",
                 compute_capability=(9, 0), temperature_c=30, power_draw_w=100.0, power_limit_w=700.0,
                 power_default_limit_w=700.0, persistence_mode=True, ecc_current=True, ecc_pending=True,
                 ecc_volatile_uncorrected=0, ecc_aggregate_uncorrected=0, remapped_correctable=0,
                 remapped_uncorrectable=0, remap_pending=False, remap_failure=False, clocks_event_mask=1,
                 clocks_event_reasons=("GpuIdle",), pcie_gen_current=5, pcie_gen_max=5, pcie_width_current=16,
                 pcie_width_max=16, mig_current=False, mig_pending=False,
                 errors={"retired_pages_pending": "NotSupported"})


def facts(*devices: GpuDevice, **changes: object) -> GpuFacts:
    base = GpuFacts(child="ok", driver_version="580.95.05", cuda_driver_version="13.0", nvml_version="13.580.95.05",
                    device_count=len(devices), devices=devices, module_version="580.95.05", today="2026-11-27",
                    device_nodes={"/dev/nvidiactl": "ok", "/dev/nvidia-uvm": "ok", "/dev/nvidia0": "ok"})
    return replace(base, **changes)  # type: ignore[arg-type]  # test helper: fields by name


def test_pynvml_is_imported_only_by_the_child_script() -> None:
    package = Path(__file__).resolve().parents[2] / "envcheck"
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "pynvml" for n in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"probes/gpu_nvml_child.py"}


def test_throttle_bits_decode() -> None:
    assert throttle_names(0x1) == ("GpuIdle",)
    assert throttle_names(0x4 | 0x40 | 0x800) == ("SwPowerCap", "HwThermalSlowdown", "0x800")


def test_temperature_reads_the_policy_threshold() -> None:
    hot = replace(H100, temperature_c=86)
    assert gpu_devices.temperature(facts(hot), POLICY)[0].status is Status.WARN
    lenient = Policy.from_mapping({"gpu_temp_warn_c": 90}, base=POLICY)
    assert gpu_devices.temperature(facts(hot), lenient)[0].status is Status.PASS


def test_lowered_power_limit_warns_with_the_command_to_restore_it() -> None:
    verdict = gpu_devices.power(facts(replace(H100, power_limit_w=450.0)), POLICY)[0]
    assert verdict.status is Status.WARN and verdict.fix == "sudo nvidia-smi -i 0 -pl 700"


def test_ecc_volatile_uncorrected_fails_and_lifetime_warns() -> None:
    assert gpu_devices.ecc(facts(replace(H100, ecc_volatile_uncorrected=3)), POLICY)[0].status is Status.FAIL
    assert gpu_devices.ecc(facts(replace(H100, ecc_aggregate_uncorrected=3)), POLICY)[0].status is Status.WARN
    assert gpu_devices.ecc(facts(replace(H100, ecc_current=False, ecc_pending=False)), POLICY)[0].status is Status.WARN


def test_remapping_failure_fails_pending_warns() -> None:
    assert gpu_devices.remapped_rows(facts(replace(H100, remap_failure=True)), POLICY)[0].status is Status.FAIL
    assert gpu_devices.remapped_rows(facts(replace(H100, remap_pending=True)), POLICY)[0].status is Status.WARN


def test_persistence_off_warns() -> None:
    verdict = gpu_devices.persistence(facts(replace(H100, persistence_mode=False)), POLICY)[0]
    assert verdict.status is Status.WARN and "nvidia-persistenced" in verdict.fix


def test_a_gpu_lost_after_its_handle_was_given_fails_instead_of_could_not_read() -> None:
    # NVML can return a handle and then answer GpuIsLost for every field: that GPU is gone (a failure in
    # gpu.devices, the per-field checks blocked by it), never a row of "could not read" unknowns.
    fields = ("name", "temperature_c", "power_draw_w", "ecc_current", "pcie_gen_current", "mig_current")
    gone = GpuDevice(index=1, uuid="GPU-lost", errors=dict.fromkeys(fields, "GpuIsLost"))
    assert gone.lost == "GpuIsLost" and H100.lost is None
    rows = gpu_devices.devices(facts(H100, gone), POLICY)
    assert [r.status for r in rows] == [Status.PASS, Status.FAIL]
    assert rows[1].observed.startswith("unreachable: GpuIsLost") and rows[1].fix.startswith("sudo reboot")
    temperature = gpu_devices.temperature(facts(H100, gone), POLICY)[1]
    assert temperature.status is Status.UNKNOWN and temperature.caused_by == "gpu.devices"
    reset = replace(gone, errors={"name": "ResetRequired"})
    assert gpu_devices.devices(facts(reset), POLICY)[0].fix.startswith("sudo nvidia-smi -r -i 1 ")


def test_other_field_errors_are_unknown_not_na() -> None:
    broken = replace(H100, temperature_c=None, errors={"temperature_c": "Unknown"})
    verdict = gpu_devices.temperature(facts(broken), POLICY)[0]
    assert verdict.status is Status.UNKNOWN and "Unknown" in verdict.observed


def test_device_nodes() -> None:
    no_uvm = {"/dev/nvidiactl": "ok", "/dev/nvidia-uvm": "missing", "/dev/nvidia0": "ok"}
    assert gpu.device_nodes(facts(H100, device_nodes=no_uvm), POLICY).status is Status.FAIL
    assert gpu.device_nodes(facts(H100, device_nodes=no_uvm, nvidia_modprobe=True), POLICY).status is Status.WARN
    denied = {"/dev/nvidiactl": "no access", "/dev/nvidia-uvm": "ok", "/dev/nvidia0": "no access"}
    assert gpu.device_nodes(facts(H100, device_nodes=denied), POLICY).status is Status.FAIL
    assert gpu.device_nodes(facts(H100), POLICY).status is Status.PASS


def test_no_driver_reason_says_what_was_seen_of_the_library() -> None:
    nothing = {"/dev/nvidiactl": "missing"}
    seen = gpu.driver(facts(module_version=None, device_nodes=nothing, init_error="LibraryNotFound"), POLICY)
    assert seen.status is Status.SKIP and "no libnvidia-ml.so.1 (NVML: LibraryNotFound)" in seen.reason
    crashed = gpu.driver(facts(child="crashed", child_error="exited 1: AttributeError", module_version=None,
                               device_nodes=nothing), POLICY)
    assert crashed.status is Status.SKIP and crashed.reason.startswith("no NVIDIA driver found: ")
    assert "LibraryNotFound" not in crashed.reason and "NVML child: crashed: exited 1" in crashed.reason


def test_kernel_module_unreadable_but_nvml_up_is_a_match() -> None:
    verdict = gpu.kernel_module(facts(H100, module_version=None), POLICY)
    assert verdict.status is Status.PASS and "NVML initialised" in verdict.observed


def test_reboot_pending_gathers_everything() -> None:
    pending = replace(H100, remap_pending=True, mig_pending=True)
    verdict = gpu.reboot_pending(facts(pending, reboot=PendingReboot(True, ("linux-image-6.8",))), POLICY)
    assert verdict.status is Status.WARN
    # /var/run/reboot-required is host.reboot-required's to judge: named here, not counted again.
    assert verdict.evidence["pending"] == ["GPU 0 (GPU-b42dd28e): remapped rows pending (reset)",
                                           "GPU 0 (GPU-b42dd28e): MIG mode on pending (reset)"]
    assert verdict.reason == ("2 change(s) take effect only after a reboot or a reset of 1 GPU(s); the host waits "
                              "for a reboot as well (host.reboot-required)")
    assert gpu.reboot_pending(facts(H100), POLICY).status is Status.PASS
    only_host = gpu.reboot_pending(facts(H100, reboot=PendingReboot(True, ("linux-image-6.8",))), POLICY)
    assert (only_host.status, only_host.caused_by) == (Status.SKIP, "host.reboot-required")
    # Only GPU resets pending: the fix names the GPUs to reset, ready to paste.
    second = replace(H100, index=3, uuid="GPU-3", retired_pages_pending=True)
    verdict = gpu.reboot_pending(facts(pending, H100, second), POLICY)
    assert verdict.fix.startswith("sudo nvidia-smi -r -i 0 && sudo nvidia-smi -r -i 3  #")
    assert verdict.reason == "3 change(s) take effect only after a reboot or a reset of 2 GPU(s)"


def test_fixes_for_nvml_errors_can_be_pasted() -> None:
    # nvidia-ml-py is versioned <major>.<branch>.<patch>: "<=550.99" would allow 13.615; "<12.551" picks 12.550.x.
    init = gpu.nvml(facts(init_error="FunctionNotFound", init_error_code=13, module_version="550.54.15"), POLICY)
    assert init.fix.startswith("pip install 'nvidia-ml-py<12.551'")
    count = gpu.nvml(facts(H100, driver_version="450.80.02", device_count=None,
                           system_errors={"device_count": "FunctionNotFound"}), POLICY)
    assert count.fix.startswith("pip install 'nvidia-ml-py<11.451'")
    assert gpu.nvml_error("FunctionNotFound", "525.105.17")[2].startswith("pip install 'nvidia-ml-py<11.526'")
    assert gpu.nvml_error("FunctionNotFound", "580.95.05")[2].startswith("pip install 'nvidia-ml-py<13.581'")
    assert gpu.nvml_error("FunctionNotFound")[2].startswith("pip index versions nvidia-ml-py")  # no made-up bound
    lost = replace(H100, index=2, uuid=None, errors={"handle": "ResetRequired"})
    verdict = gpu_devices.devices(facts(H100, lost), POLICY)[1]
    assert verdict.status is Status.FAIL and verdict.fix.startswith("sudo nvidia-smi -r -i 2 ")
    every_fix = [gpu.nvml_error(name, "550.54.15")[2] for name in gpu.NVML_ERRORS]
    assert not [f for f in every_fix if "<driver" in f or "<bindings>" in f]


def test_nvml_error_table_covers_the_errors_a_broken_machine_raises() -> None:
    # The NVML returns seen on broken machines (no library, driver not loaded, a driver/library mismatch after an
    # upgrade without reboot, no permission on /dev/nvidia*, a GPU fallen off the bus or needing a reset, old
    # bindings against a new call): each must have its own explanation and fix. The names are nvidia-ml-py's own
    # (its pynvml module defines NVMLError_<Name> for each nvmlReturn_t), so the table cannot drift from them.
    import pynvml

    names = ["LibraryNotFound", "DriverNotLoaded", "LibRmVersionMismatch", "NoPermission", "Unknown", "GpuIsLost",
             "ResetRequired", "NotSupported", "FunctionNotFound", "Uninitialized"]
    assert [n for n in names if not hasattr(pynvml, f"NVMLError_{n}")] == []
    assert [n for n in names if n not in gpu.NVML_ERRORS] == []


def test_compat_verdicts_for_a_current_driver() -> None:
    observed = gpu_compat.cuda_compat(facts(H100), POLICY).observed
    assert observed.startswith("driver 580.95.05 fully supports CUDA <= 13.0")
    branch = gpu_compat.driver_branch(facts(H100), POLICY)
    assert branch.status is Status.PASS and "LTS" in branch.observed
    wheels = gpu_compat.torch_wheels(facts(H100), POLICY)
    assert wheels.status is Status.PASS and "cu130" in wheels.observed


def test_torch_wheels_offer_minor_version_compatibility_as_an_explained_alternative() -> None:
    # A V100 on R535 (full support: CUDA 12.2): the newest fully supported wheel is torch 2.7.1 cu118; the
    # newest release's cu126 wheel (sm_70 covered) runs through the CUDA 12 family rule, said as such.
    v100 = replace(H100, compute_capability=(7, 0))
    verdict = gpu_compat.torch_wheels(facts(v100, driver_version="535.183.01", module_version="535.183.01"), POLICY)
    assert verdict.status is Status.WARN and verdict.observed.startswith("torch 2.7.1 cu118")
    first, second = verdict.fix.split("\n")
    assert first == "pip install torch==2.7.1 --index-url https://download.pytorch.org/whl/cu118"
    assert second == "# or, with a limited feature set: pip install torch==2.14.1 " \
                     "--index-url https://download.pytorch.org/whl/cu126"
    assert "minor-version compatibility" in verdict.reason and "CUDA 12.x needs >= 525.60.13" in verdict.reason


def test_torch_build_verdicts() -> None:
    def build(torch: TorchFacts, gpu_facts: GpuFacts | None = None) -> TorchBuildFacts:
        return TorchBuildFacts(asked=True, gpu=gpu_facts or facts(H100), torch=torch)

    assert gpu_compat.torch_build(TorchBuildFacts(asked=False), POLICY).status is Status.SKIP  # stays fast
    cpu = TorchFacts(python="py", version="2.13.0+cpu", cuda=None, available=False)
    assert gpu_compat.torch_build(build(cpu), POLICY).status is Status.WARN
    too_new = TorchFacts(python="py", version="2.13.0+cu130", cuda="13.0", arch_list=("sm_90",), available=False)
    old = facts(H100, driver_version="565.57.01", module_version="565.57.01")
    verdict = gpu_compat.torch_build(build(too_new, old), POLICY)
    assert verdict.status is Status.FAIL and verdict.expected.startswith("driver >= 580")
    blackwell = facts(replace(H100, compute_capability=(12, 0)))
    no_sm120 = TorchFacts(python="py", version="2.6.0+cu126", cuda="12.6", arch_list=("sm_80", "sm_90"), available=True)
    verdict = gpu_compat.torch_build(build(no_sm120, blackwell), POLICY)
    assert verdict.status is Status.FAIL and "no kernel image" in verdict.reason
    good = TorchFacts(python="py", version="2.13.0+cu130", cuda="13.0", arch_list=("sm_90", "compute_90"),
                      available=True)
    assert gpu_compat.torch_build(build(good), POLICY).status is Status.PASS
    # cu124 on an R535 LTS driver (full support: CUDA 12.2): same family, CUDA initialised -> it runs through
    # minor-version compatibility: a warning with the wheel that fits, not a failure; not initialised -> fail.
    r535 = facts(H100, driver_version="535.183.01", module_version="535.183.01", cuda_driver_version="12.2")
    cu124 = TorchFacts(python="py", version="2.5.1+cu124", cuda="12.4", arch_list=("sm_80", "sm_90"), available=True)
    verdict = gpu_compat.torch_build(build(cu124, r535), POLICY)
    assert verdict.status is Status.WARN and "minor-version compatibility" in verdict.observed
    assert verdict.expected == "driver >= 550.54.14" and "CUDA 12.2" in verdict.reason
    assert "--index-url https://download.pytorch.org/whl/cu" in verdict.fix
    verdict = gpu_compat.torch_build(build(replace(cu124, available=False), r535), POLICY)
    assert verdict.status is Status.FAIL and verdict.expected == "driver >= 550.54.14"
    # Another family (cu130 needs >= 580) never passes through the family rule.
    verdict = gpu_compat.torch_build(build(replace(too_new, available=True), r535), POLICY)
    assert verdict.status is Status.FAIL
    # The driver's version unread (NVML failed, the kernel module's file unreadable): CUDA having initialised
    # shows the build runs; without that, whether it runs was not checked, which is never a pass.
    unread = facts(H100, driver_version=None, module_version=None)
    verdict = gpu_compat.torch_build(build(good, unread), POLICY)
    assert verdict.status is Status.PASS and verdict.observed.endswith("initialised CUDA (the driver's version "
                                                                       "was not read)")
    verdict = gpu_compat.torch_build(build(replace(good, available=None), unread), POLICY)
    assert verdict.status is Status.UNKNOWN and verdict.caused_by == "gpu.nvml"
    assert verdict.expected == "driver >= 580.65.06"


def test_real_torch_child_reports_this_cpu_build() -> None:
    # The real child in this interpreter: torch 2.13.0 CPU build is installed here (scripts/test).
    ctx = ProbeContext(env=dict(os.environ), home=str(Path.home()), timeout_s=60, run=runner.run)
    seen = collect_torch(ctx, sys.executable, 60)
    assert seen.error == "" and seen.version is not None and seen.version.startswith("2.")
    assert seen.cuda is None and seen.available is False
    verdict = gpu_compat.torch_build(TorchBuildFacts(asked=True, gpu=facts(H100), torch=seen), POLICY)
    assert verdict.status is Status.WARN and "CPU-only build" in verdict.observed
    assert "--index-url https://download.pytorch.org/whl/cu130" in verdict.fix


def test_a_failed_device_count_is_not_zero_gpus() -> None:
    verdict = gpu.nvml(facts(device_count=None, system_errors={"device_count": "Unknown"}), POLICY)
    assert verdict.status is Status.FAIL and verdict.observed == "nvmlDeviceGetCount failed: Unknown"
    assert gpu.nvml(facts(device_count=0), POLICY).status is Status.WARN


def test_doctor_torch_without_a_driver_still_names_the_build_and_what_it_needs(tmp_path: Path) -> None:
    from envcheck.hostfs import HostFS
    from envcheck.probes.gpu import collect_torch_build
    from envcheck.units import ProbeOptions

    # The whole gpu-torch probe on a machine with no driver (an empty root): the real torch child still runs.
    ctx = ProbeContext(env=dict(os.environ), home=str(tmp_path), timeout_s=60, run=runner.run, fs=HostFS(str(tmp_path)),
                       options=ProbeOptions(python=sys.executable, torch_check=True))
    build = collect_torch_build(ctx)
    assert build.gpu is not None and not build.gpu.driver_present
    assert build.torch is not None and build.torch.version == "2.13.0+cpu" and build.torch.cuda is None
    verdict = gpu_compat.torch_build(build, POLICY)
    assert (verdict.status, verdict.observed) == (Status.SKIP, "torch 2.13.0+cpu: a CPU-only build")
    assert verdict.reason.startswith("no NVIDIA driver (gpu.driver), so nothing to run on a GPU; a CPU-only build")
    # A CUDA build on the same machine: the driver it will need, from the compatibility data.
    cu130 = TorchFacts(python="py", version="2.13.0+cu130", cuda="13.0", available=False)
    verdict = gpu_compat.torch_build(replace(build, torch=cu130), POLICY)
    assert (verdict.status, verdict.observed) == (Status.SKIP, "torch 2.13.0+cu130: a CUDA 13.0 build")
    assert verdict.reason == ("no NVIDIA driver (gpu.driver), so nothing to run it on; it runs once a driver >= "
                              "580.65.06 is installed (CUDA Toolkit release notes, Table 3)")
