"""The policy's GPU requirements: count, model, driver floor and branches, the CUDA the driver supports, the
compute capability floor, and torch with its minimum version. Each runs only where the policy states its
requirement (CheckSpec.applies); a fact that could not be read is ``unknown``, never a pass.

A stated GPU requirement makes gpu.driver fail on a host without a driver (Policy.wants_gpu), and these checks
require it (gpu.py's registry), so such a host shows one root cause. gpu.count is not blocked: a count of 0
(a CPU node in the lab) passes there, and a count above 0 fails pointing at gpu.driver.
"""

from __future__ import annotations

import fnmatch

from envcheck import compat
from envcheck.compat_data import parse_version
from envcheck.fixes import DRIVER_INSTALL
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts

LIST_GPUS = "nvidia-smi --query-gpu=index,name,pci.bus_id,compute_cap --format=csv"
MOVE_OR_AMEND = "or put this host in the policy group whose requirement it meets"


def _nvml_unusable(facts: GpuFacts) -> Outcome | None:
    """unknown when NVML could not list the GPUs (its own checks say why); None when it could."""
    if facts.child != "ok" or facts.init_error or "device_count" in facts.system_errors:
        return Outcome(status=Status.UNKNOWN, observed="NVML could not list the GPUs",
                       reason=facts.child_error or facts.init_error or facts.system_errors.get("device_count", ""),
                       caused_by="gpu.nvml")
    return None


def _no_driver(expected: str) -> Outcome:
    return Outcome(status=Status.FAIL, observed="no NVIDIA driver found", expected=expected,
                   reason="the policy requires NVIDIA GPUs and a driver; this host has none", fix=DRIVER_INSTALL)


def _per_gpu_stop(facts: GpuFacts, expected: str, kind: str, fix: str) -> Outcome | None:
    """The outcome of a GPU-by-GPU requirement when there is no GPU to judge one by one (no driver, NVML not
    usable, no GPU listed), else None: the caller judges ``facts.devices``."""
    if not facts.driver_present:
        return _no_driver(expected)
    unusable = _nvml_unusable(facts)
    if unusable is not None:
        return unusable
    if not facts.devices:
        return Outcome(status=Status.FAIL, observed="NVML lists no GPU", expected=expected,
                       reason=f"the policy requires GPUs {kind}", fix=fix)
    return None


def _driver(facts: GpuFacts) -> str | None:
    return facts.driver_version or facts.module_version


def _at_least(have: str, floor: str) -> bool:
    return parse_version(have) >= parse_version(floor)


def count(facts: GpuFacts, policy: Policy) -> Outcome:
    want = policy.gpu_count
    expected = f"exactly {want} GPU{'s' if want != 1 else ''}"
    if not facts.driver_present:
        if want == 0:
            return Outcome(status=Status.PASS, observed="no NVIDIA driver: 0 GPUs", expected=expected)
        return Outcome(status=Status.FAIL, observed="no NVIDIA driver: 0 GPUs", expected=expected,
                       reason="no NVIDIA driver found (gpu.driver says what to install)", caused_by="gpu.driver")
    unusable = _nvml_unusable(facts)
    if unusable is not None:
        return unusable
    have = facts.device_count or 0
    evidence = {"nvml": have, "kernel": len(facts.proc_gpus)}
    observed = f"{have} GPU{'s' if have != 1 else ''}" + (
        f" (the kernel module knows {len(facts.proc_gpus)})" if len(facts.proc_gpus) != have else "")
    if have == want:
        return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence=evidence)
    fewer = have < (want or 0)
    return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                   reason="GPUs are missing: one fell off the bus, is disabled in the BIOS or passed to a VM" if fewer
                   else "more GPUs than the policy states: a different server model, or the wrong policy group",
                   fix=(f"{LIST_GPUS}; sudo dmesg | grep -iE 'nvrm|xid'  # a GPU that keeps falling off the bus "
                        "needs reseating or an RMA" if fewer else f"{LIST_GPUS}  # {MOVE_OR_AMEND}"),
                   evidence=evidence)


def model(facts: GpuFacts, policy: Policy) -> Outcome:
    pattern = policy.gpu_model or "*"
    expected = f"every GPU's name matches {pattern!r}"
    stop = _per_gpu_stop(facts, expected, "of this model", f"lspci | grep -i nvidia; {LIST_GPUS}")
    if stop is not None:
        return stop
    names = {d.label: d.name for d in facts.devices}
    wrong = {label: name for label, name in names.items()
             if name is not None and not fnmatch.fnmatchcase(name.lower(), pattern.lower())}
    unread = [label for label, name in names.items() if name is None]
    observed = "; ".join(f"{label}: {name or 'name not read'}" for label, name in names.items())
    if wrong:
        return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                       reason=f"{len(wrong)} of {len(names)} GPUs are another model: "
                              f"{', '.join(sorted({str(name) for name in wrong.values()}))}",
                       fix=f"{LIST_GPUS}  # {MOVE_OR_AMEND}", evidence={"names": names})
    if unread:
        return Outcome(status=Status.UNKNOWN, observed=observed, expected=expected,
                       reason=f"the name of {', '.join(unread)} could not be read", caused_by="gpu.devices")
    return Outcome(status=Status.PASS, observed=observed, expected=expected)


def _driver_or_stop(facts: GpuFacts, expected: str) -> str | Outcome:
    """The driver's version, or the outcome of a driver requirement when there is none to compare."""
    if not facts.driver_present:
        return _no_driver(expected)
    driver = _driver(facts)
    if driver is None:
        return Outcome(status=Status.UNKNOWN, expected=expected, reason="the driver version is not known",
                       caused_by="gpu.nvml")
    return driver


def _install_branch(branch: str) -> str:
    return (f"sudo apt-get install -y nvidia-driver-{branch}-server && sudo reboot  # Ubuntu's server branch; "
            "elsewhere NVIDIA's CUDA repository: sudo apt-get install -y cuda-drivers-" + branch)


def driver_min(facts: GpuFacts, policy: Policy) -> Outcome:
    floor = policy.driver_min or "0"
    expected = f"driver >= {floor}"
    driver = _driver_or_stop(facts, expected)
    if isinstance(driver, Outcome):
        return driver
    if _at_least(driver, floor):
        return Outcome(status=Status.PASS, observed=f"driver {driver}", expected=expected)
    return Outcome(status=Status.FAIL, observed=f"driver {driver}", expected=expected,
                   reason="the driver is older than the policy's floor",
                   fix=_install_branch(str(parse_version(floor)[0])))


def driver_branches(facts: GpuFacts, policy: Policy) -> Outcome:
    allowed = policy.driver_branches
    expected = f"branch {' or '.join(allowed)}"
    driver = _driver_or_stop(facts, expected)
    if isinstance(driver, Outcome):
        return driver
    branch = str(compat.driver_branch(driver))
    observed = f"driver {driver} (branch {branch})"
    if branch in allowed:
        return Outcome(status=Status.PASS, observed=observed, expected=expected)
    return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                   reason="the lab runs only the policy's driver branches (one branch per fleet keeps CUDA and "
                          "container images alike)",
                   fix=_install_branch(max(allowed, key=int)))


def cuda_min(facts: GpuFacts, policy: Policy) -> Outcome:
    floor = policy.cuda_min or "0.0"
    expected = f"the driver supports CUDA >= {floor}"
    if not facts.driver_present:
        return _no_driver(expected)
    reported = facts.cuda_driver_version
    if reported is None:
        return Outcome(status=Status.UNKNOWN, expected=expected, reason="NVML did not report the driver's CUDA version",
                       caused_by="gpu.nvml")
    observed = f"driver {_driver(facts) or '?'} supports CUDA {reported}"
    if _at_least(reported, floor):
        return Outcome(status=Status.PASS, observed=observed, expected=expected)
    needed = compat.cuda_min_driver(floor)
    fix = (_install_branch(str(parse_version(needed)[0])) + f"  # CUDA {floor} needs driver >= {needed}" if needed
           else DRIVER_INSTALL)
    return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                   reason=f"programs built for CUDA {floor} do not start on this driver", fix=fix)


def compute_capability(facts: GpuFacts, policy: Policy) -> Outcome:
    floor = policy.compute_capability_min or "0.0"
    expected = f"every GPU sm_{floor.replace('.', '')} or newer"
    stop = _per_gpu_stop(facts, expected, "of this compute capability", LIST_GPUS)
    if stop is not None:
        return stop
    caps = {d.label: d.compute_capability for d in facts.devices}
    observed = "; ".join(f"{label}: {f'{cap[0]}.{cap[1]}' if cap else 'not read'}" for label, cap in caps.items())
    low = [label for label, cap in caps.items() if cap is not None and cap < parse_version(floor)[:2]]
    if low:
        return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                       reason=f"{len(low)} GPU(s) below the floor: kernels built for newer architectures do not run "
                              "there", fix=f"{LIST_GPUS}  # {MOVE_OR_AMEND}")
    if any(cap is None for cap in caps.values()):
        return Outcome(status=Status.UNKNOWN, observed=observed, expected=expected,
                       reason="a GPU's compute capability could not be read", caused_by="gpu.devices")
    return Outcome(status=Status.PASS, observed=observed, expected=expected)


def torch(facts: TorchBuildFacts, policy: Policy) -> Outcome:
    floor = policy.torch_min
    expected = f"torch >= {floor}" if floor else "torch installed"
    found = facts.torch
    pip = f"python3 -m pip install 'torch>={floor}'" if floor else "python3 -m pip install torch"
    fix = f"{pip}  # in the env the lab's jobs use; `envcheck doctor --torch` shows which wheel fits the driver"
    if found is None:
        return Outcome(status=Status.UNKNOWN, expected=expected, reason="torch was not looked for in this run",
                       fix="envcheck doctor --torch")
    if found.missing:
        return Outcome(status=Status.FAIL, observed=f"no torch in {found.python}", expected=expected,
                       reason="the policy requires torch", fix=fix)
    if found.error or found.version is None:
        return Outcome(status=Status.UNKNOWN, observed=f"torch in {found.python} could not be read", expected=expected,
                       reason=found.error or "torch did not report its version",
                       fix=f"{found.python} -c 'import torch; print(torch.__version__)'")
    observed = f"torch {found.version} in {found.python}"
    if floor and not _at_least(found.version, floor):
        return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                       reason="torch is older than the policy's minimum", fix=fix)
    return Outcome(status=Status.PASS, observed=observed, expected=expected)
