"""Verdicts about NVIDIA GPUs. The registry of every ``gpu.*`` check is CHECKS below.

The per-GPU judges live in ``gpu_devices.py`` and the compatibility / torch judges in ``gpu_compat.py``
(kept apart for size only); this module holds the driver-level checks, the NVML error table, the Xid
verdict and the one "waiting for a reboot or reset" line.
"""

from __future__ import annotations

from envcheck import xid
from envcheck.checks import gpu_compat, gpu_devices, gpu_required
from envcheck.checks.gpu_errors import NVML_ERRORS, nvml_error
from envcheck.checks.host import pending_reboot_text
from envcheck.fixes import DRIVER_INSTALL, REBOOT_OR_RELOAD
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.gpu import GpuFacts
from envcheck.units import CheckSpec


def driver(facts: GpuFacts, policy: Policy) -> Outcome:
    evidence = {"module_version": facts.module_version, "nvml_init": facts.init_error or "ok",
                "nvml_child": facts.child, "nvml_child_seconds": facts.child_duration_s}
    if not facts.driver_present:
        # Say what was actually seen of the library: a crashed or missing NVML child proves no LibraryNotFound.
        library = "no libnvidia-ml.so.1 (NVML: LibraryNotFound)" if facts.child == "ok" else \
            f"libnvidia-ml.so.1 not tried (NVML child: {facts.child}{': ' if facts.child_error else ''}" \
            f"{facts.child_error[:160]})"
        wanted = policy.wants_gpu()  # require_gpu, or a GPU requirement (gpu_count, gpu_model, driver_min, ...)
        return Outcome(
            status=Status.FAIL if wanted else Status.SKIP, observed="no NVIDIA driver found",
            expected="an NVIDIA driver (the policy requires a GPU)" if wanted else "",
            reason=f"no NVIDIA driver found: {library}, no /proc/driver/nvidia/version, no /dev/nvidiactl",
            fix=DRIVER_INSTALL if wanted else "", evidence=evidence,
        )
    if facts.init_error == "LibraryNotFound":
        observed = f"kernel module {facts.module_version or '?'} loaded, no libnvidia-ml.so.1"
        return Outcome(status=Status.FAIL, observed=observed,
                       expected="the driver's user-space libraries", reason=NVML_ERRORS["LibraryNotFound"][1],
                       fix=DRIVER_INSTALL + "  # in a container: docker run --gpus all (NVIDIA Container Toolkit)",
                       evidence=evidence)
    if facts.init_error == "DriverNotLoaded" or (facts.module_version is None and facts.device_nodes.get(
            "/dev/nvidiactl") == "missing" and facts.init_error is not None):
        status, cause, fix = NVML_ERRORS["DriverNotLoaded"]
        return Outcome(status=status, observed="installed, kernel module not loaded", expected="nvidia module loaded",
                       reason=cause, fix=fix, evidence=evidence)
    version = facts.driver_version or facts.module_version or facts.library_version or "?"
    cuda = f", CUDA {facts.cuda_driver_version}" if facts.cuda_driver_version else ""
    return Outcome(status=Status.PASS, observed=f"driver {version}{cuda}", evidence=evidence)


def _mismatch(facts: GpuFacts) -> bool:
    module, library = facts.module_version, facts.library_version
    return facts.init_error == "LibRmVersionMismatch" or bool(module and library and module != library)


def kernel_module(facts: GpuFacts, policy: Policy) -> Outcome:
    library = facts.library_version
    evidence = {"module": facts.module_version, "library": library, "nvml_version": facts.nvml_version}
    if _mismatch(facts):
        observed = f"kernel module {facts.module_version or '?'} != NVML library {library or '?'}"
        return Outcome(status=Status.FAIL, observed=observed,
                       expected="the same version", reason=NVML_ERRORS["LibRmVersionMismatch"][1], fix=REBOOT_OR_RELOAD,
                       evidence=evidence)
    if facts.module_version is None:
        if facts.child == "ok" and facts.init_error is None:  # init refuses a mismatch, so a working NVML means a match
            why = facts.module_error or "/proc/driver/nvidia/version is not visible here"
            return Outcome(status=Status.PASS,
                           observed=f"loaded ({why}; NVML initialised, so module and library match)",
                           evidence=evidence)
        return Outcome(status=Status.UNKNOWN,
                       reason=facts.module_error or "no kernel module version and NVML did not start",
                       evidence=evidence)
    if library is None:
        return Outcome(status=Status.PASS,
                       observed=f"kernel module {facts.module_version} (library version not reported)",
                       evidence=evidence)
    observed = f"kernel module {facts.module_version} = NVML library {library}"
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def nvml(facts: GpuFacts, policy: Policy) -> Outcome:
    if facts.child == "timeout":
        return Outcome(status=Status.UNKNOWN, observed="NVML did not answer", reason=facts.child_error,
                       fix="sudo dmesg | grep -iE 'nvrm|xid'  # a hung driver usually needs a reboot "
                           "(NVIDIA/open-gpu-kernel-modules#971)")
    if facts.child == "no-pynvml":
        return Outcome(status=Status.SKIP, observed="nvidia-ml-py not installed", reason=facts.child_error,
                       fix="pip install nvidia-ml-py")
    if facts.child != "ok":
        return Outcome(status=Status.UNKNOWN, reason=facts.child_error,
                       fix="Run with -v for details; report it if it repeats.")
    if facts.init_error:
        status, cause, fix = nvml_error(facts.init_error, facts.module_version or facts.library_version)
        code = f" ({facts.init_error_code})" if facts.init_error_code is not None else ""
        return Outcome(status=status, observed=f"nvmlInit failed: {facts.init_error}{code}",
                       expected="NVML initialises",
                       reason=cause, fix=fix)
    if "device_count" in facts.system_errors:
        status, cause, fix = nvml_error(facts.system_errors["device_count"], facts.driver_version)
        return Outcome(status=Status.UNKNOWN if status is Status.SKIP else status,
                       observed=f"nvmlDeviceGetCount failed: {facts.system_errors['device_count']}",
                       reason=cause, fix=fix)
    count = facts.device_count or 0
    notes = f"; fell back to {', '.join(facts.fallbacks)} (older driver)" if facts.fallbacks else ""
    observed = f"NVML {facts.nvml_version or '?'}: {count} GPU{'s' if count != 1 else ''}{notes}"
    if count == 0:
        return Outcome(status=Status.WARN, observed=observed, expected="at least one GPU",
                       reason="the driver is loaded but NVML lists no GPU (disabled in BIOS? passed through to a VM?)",
                       fix="lspci | grep -i nvidia")
    return Outcome(status=Status.PASS, observed=observed, evidence={"child_seconds": facts.child_duration_s})


def device_nodes(facts: GpuFacts, policy: Policy) -> Outcome:
    nodes = dict(facts.device_nodes)
    missing = [p for p, s in nodes.items() if s == "missing"]
    denied = [p for p, s in nodes.items() if s == "no access"]
    observed = ", ".join(f"{p} {s}" for p, s in nodes.items())
    if "/dev/nvidiactl" in missing or any(p != "/dev/nvidia-uvm" for p in missing):
        return Outcome(status=Status.FAIL, observed=observed,
                       expected="/dev/nvidiactl, /dev/nvidia-uvm, one /dev/nvidiaN per GPU",
                       reason=f"missing: {', '.join(missing)}",
                       fix="sudo nvidia-modprobe -c 0 -u  # creates the nodes; in a container: docker run --gpus all",
                       evidence=nodes)
    if denied:
        return Outcome(status=Status.FAIL, observed=observed, reason=f"this user may not open {', '.join(denied)}",
                       fix=NVML_ERRORS["NoPermission"][2], evidence=nodes)
    if missing:  # only nvidia-uvm: CUDA needs it
        if facts.nvidia_modprobe:
            return Outcome(status=Status.WARN, observed=observed, reason="/dev/nvidia-uvm appears on first CUDA use "
                           "(nvidia-modprobe creates it), but CUDA fails where nvidia-modprobe cannot run",
                           fix="sudo nvidia-modprobe -u -c 0", evidence=nodes)
        return Outcome(status=Status.FAIL, observed=observed, reason="CUDA needs /dev/nvidia-uvm (module nvidia_uvm)",
                       fix="sudo modprobe nvidia-uvm && sudo nvidia-modprobe -u -c 0", evidence=nodes)
    return Outcome(status=Status.PASS, observed=observed, evidence=nodes)


def xid_errors(facts: GpuFacts, policy: Policy) -> Outcome:
    log = facts.xid
    if log is None:
        return Outcome(status=Status.SKIP, reason="kernel log not read (no NVIDIA driver)")
    if log.needs_root:
        return Outcome(status=Status.UNKNOWN, observed="kernel log not readable: needs root", reason=log.error,
                       fix="sudo dmesg | grep -i 'NVRM: Xid'  # or: sudo \"$(command -v envcheck)\" doctor --only gpu")
    if not log.readable:
        return Outcome(status=Status.UNKNOWN, observed="kernel log not readable", reason=log.error,
                       fix="sudo dmesg | grep -i 'NVRM: Xid'")
    scope = " (the kernel ring buffer has wrapped: older messages are gone)" if log.wrapped else ""
    # The policy's xid_ignore: codes a lab accepts (13, 31, 43 are errors of the application, not of the GPU, in
    # NVIDIA's Xid catalog https://docs.nvidia.com/deploy/xid-errors/), counted and named but not judged.
    events = [e for e in log.events if e.code not in policy.xid_ignore]
    ignored = len(log.events) - len(events)
    if ignored:
        codes = ", ".join(str(c) for c in sorted({e.code for e in log.events} & set(policy.xid_ignore)))
        scope += f"; {ignored} Xid event(s) of codes the policy ignores ({codes})"
    if not events:
        return Outcome(status=Status.PASS, observed=f"no Xid errors in the kernel log{scope}",
                       evidence={"source": log.source})
    labels = {d.pci_short: d.label for d in facts.devices if d.pci_short}
    counts: dict[tuple[int, str], int] = {}
    for event in events:
        key = (event.code, labels.get(event.pci, f"PCI {event.pci}"))
        counts[key] = counts.get(key, 0) + 1
    infos = {code: xid.describe(code) for code, _ in counts}
    worst = Status.FAIL if any(i.severity == "fail" for i in infos.values()) else Status.WARN
    observed = "; ".join(f"Xid {code} x{n} on {where} ({infos[code].name})" for (code, where), n in counts.items())
    actions = dict.fromkeys(f"# Xid {code}: {infos[code].action}" for code, _ in counts)
    return Outcome(status=worst, observed=observed + scope, expected="no Xid errors since boot",
                   reason="Xid errors are the driver's reports of GPU faults (NVIDIA Xid catalog)",
                   fix="\n".join(["sudo dmesg -T | grep 'NVRM: Xid'", *actions]),
                   evidence={"events": [f"{e.code} {e.pci} {e.detail}" for e in events[:20]]})


def reboot_pending(facts: GpuFacts, policy: Policy) -> Outcome:
    failing: list[str] = []
    waiting: list[str] = []
    library = facts.library_version
    if _mismatch(facts):
        failing.append(f"kernel module {facts.module_version or '?'} != library {library or '?'} (reboot)")
    for d in facts.devices:
        if d.retired_pages_pending:
            waiting.append(f"{d.label}: retired pages pending (reset)")
        if d.remap_pending:
            waiting.append(f"{d.label}: remapped rows pending (reset)")
        if d.ecc_current is not None and d.ecc_pending is not None and d.ecc_current != d.ecc_pending:
            waiting.append(f"{d.label}: ECC mode {'on' if d.ecc_pending else 'off'} pending (reset)")
        if d.mig_current is not None and d.mig_pending is not None and d.mig_current != d.mig_pending:
            waiting.append(f"{d.label}: MIG mode {'on' if d.mig_pending else 'off'} pending (reset)")
    items = failing + waiting
    # /var/run/reboot-required is host.reboot-required's verdict: judged there once, pointed at here.
    host_flag = "; the host waits for a reboot as well (host.reboot-required)" if facts.reboot.required else ""
    if not items and facts.reboot.required:
        return Outcome(status=Status.SKIP, observed=pending_reboot_text(facts.reboot),
                       reason="nothing GPU-specific waits; the pending reboot is host.reboot-required's",
                       caused_by="host.reboot-required", evidence={"pending": [pending_reboot_text(facts.reboot)]})
    if not items:
        return Outcome(status=Status.PASS, observed="nothing waits for a reboot or a GPU reset")
    resets = [w for w in waiting if w.endswith("(reset)")]
    indices = dict.fromkeys(d.index for d in facts.devices for w in resets if w.startswith(d.label + ":"))
    fix = REBOOT_OR_RELOAD if failing or facts.reboot.required else \
        " && ".join(f"sudo nvidia-smi -r -i {i}" for i in indices) + "  # with no process on them; or: sudo reboot"
    return Outcome(status=Status.FAIL if failing else Status.WARN, observed="; ".join(items),
                   expected="nothing pending", reason=f"{len(items)} change(s) take effect only after a reboot"
                   + (f" or a reset of {len(indices)} GPU(s)" if resets else "") + host_flag, fix=fix,
                   evidence={"pending": items})


_NVML = ("gpu.nvml",)
CHECKS = (
    CheckSpec("gpu.driver", "NVIDIA driver installed and loaded", "gpu", driver),
    CheckSpec("gpu.kernel-module", "Kernel module matches the NVML library", "gpu", kernel_module,
              requires=("gpu.driver",)),
    CheckSpec("gpu.nvml", "NVML answers", "gpu", nvml, requires=("gpu.driver", "gpu.kernel-module")),
    CheckSpec("gpu.device-nodes", "GPU device nodes present and usable", "gpu", device_nodes, requires=("gpu.driver",)),
    CheckSpec("gpu.devices", "Every GPU answers", "gpu", gpu_devices.devices, requires=_NVML),
    CheckSpec("gpu.temperature", "GPU temperature", "gpu", gpu_devices.temperature, requires=_NVML),
    CheckSpec("gpu.power", "GPU power draw and limit", "gpu", gpu_devices.power, requires=_NVML),
    CheckSpec("gpu.persistence", "GPU persistence mode", "gpu", gpu_devices.persistence, requires=_NVML),
    CheckSpec("gpu.ecc", "GPU ECC mode and uncorrected errors", "gpu", gpu_devices.ecc, requires=_NVML),
    CheckSpec("gpu.retired-pages", "GPU retired pages", "gpu", gpu_devices.retired_pages, requires=_NVML),
    CheckSpec("gpu.remapped-rows", "GPU remapped rows", "gpu", gpu_devices.remapped_rows, requires=_NVML),
    CheckSpec("gpu.throttle", "GPU clock throttling", "gpu", gpu_devices.throttle, requires=_NVML),
    CheckSpec("gpu.pcie-link", "GPU PCIe link at full generation and width", "gpu", gpu_devices.pcie_link,
              requires=_NVML),
    CheckSpec("gpu.mig", "GPU MIG mode", "gpu", gpu_devices.mig, requires=_NVML),
    CheckSpec("gpu.xid", "No Xid errors since boot", "gpu", xid_errors, requires=("gpu.driver",)),
    CheckSpec("gpu.cuda-compat", "Highest CUDA this driver fully supports", "gpu", gpu_compat.cuda_compat,
              requires=_NVML),
    CheckSpec("gpu.driver-branch", "Driver branch still supported", "gpu", gpu_compat.driver_branch,
              requires=("gpu.driver",)),
    CheckSpec("gpu.torch-wheels", "PyTorch wheels that fit this driver and GPU", "gpu", gpu_compat.torch_wheels,
              requires=_NVML),
    # Not blocked by gpu.driver: without a driver it still says which torch is installed and what it would need.
    CheckSpec("gpu.torch-build", "Installed torch runs on this driver and GPU", "gpu-torch", gpu_compat.torch_build,
              requires=("python.version",)),
    CheckSpec("gpu.reboot-pending", "Nothing waits for a reboot or GPU reset", "gpu", reboot_pending,
              requires=("gpu.driver",)),
    # The policy's requirements: each only where the policy states it. A stated GPU requirement makes gpu.driver
    # fail on a host without a driver, and these point at it (gpu.count judges a count of 0 itself).
    CheckSpec("gpu.count", "GPU count the policy requires", "gpu", gpu_required.count,
              applies=lambda p: p.gpu_count is not None),
    CheckSpec("gpu.model", "GPU model the policy requires", "gpu", gpu_required.model, requires=_NVML,
              applies=lambda p: p.gpu_model is not None),
    CheckSpec("gpu.driver-min", "Driver at least the policy's minimum", "gpu", gpu_required.driver_min,
              requires=("gpu.driver",), applies=lambda p: p.driver_min is not None),
    CheckSpec("gpu.driver-branch-allowed", "Driver branch one the policy allows", "gpu", gpu_required.driver_branches,
              requires=("gpu.driver",), applies=lambda p: bool(p.driver_branches)),
    CheckSpec("gpu.cuda-min", "Driver supports the policy's minimum CUDA", "gpu", gpu_required.cuda_min,
              requires=_NVML, applies=lambda p: p.cuda_min is not None),
    CheckSpec("gpu.compute-capability", "GPU compute capability at least the policy's floor", "gpu",
              gpu_required.compute_capability, requires=_NVML, applies=lambda p: p.compute_capability_min is not None),
    CheckSpec("gpu.torch-required", "torch installed as the policy requires", "gpu-torch", gpu_required.torch,
              applies=lambda p: p.torch_min is not None or "torch" in p.tools_required),
)
