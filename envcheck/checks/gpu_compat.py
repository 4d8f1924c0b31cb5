"""Compatibility verdicts, from the data in envcheck/compat.py (envcheck/data/compat.json, each row with its source):
the highest CUDA this driver fully supports, the driver branch's end of life, the PyTorch wheels that fit
this driver and GPU architecture, and (opt-in, ``doctor --torch``) whether the installed torch runs here.
"""

from __future__ import annotations

from datetime import date
from typing import Mapping

from envcheck import compat
from envcheck.fixes import UBUNTU_DRIVERS_GPGPU
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts, TorchFacts


def _driver(facts: GpuFacts) -> str | None:
    return facts.driver_version or facts.module_version


def _capabilities(facts: GpuFacts) -> list[tuple[int, int]]:
    return sorted({d.compute_capability for d in facts.devices if d.compute_capability})


def cuda_compat(facts: GpuFacts, policy: Policy) -> Outcome:
    driver = _driver(facts)
    if driver is None:
        return Outcome(status=Status.UNKNOWN, reason="the driver version is not known")
    full = compat.cuda_full_support(driver)
    reported = facts.cuda_driver_version
    said = f"; NVML reports CUDA {reported}" + (
        f" (no {reported} toolkit exists: {compat.normalize_driver_cuda(reported)})"
        if reported and compat.normalize_driver_cuda(reported) != reported else "") if reported else ""
    evidence = {"driver": driver, "cuda_full_support": full, "nvml_cuda": reported}
    if full is None:
        return Outcome(status=Status.FAIL, observed=f"driver {driver}: too old for every CUDA 11+ toolkit{said}",
                       expected="a driver for CUDA 12 (>= 525.60.13)", reason="no CUDA toolkit envcheck knows runs "
                       "fully on this driver", fix=f"{UBUNTU_DRIVERS_GPGPU}  # a current driver branch",
                       evidence=evidence)
    observed = f"driver {driver} fully supports CUDA <= {full}{said}"
    family = compat.cuda_family_minimum(12)
    if int(full.split(".")[0]) < 12:
        return Outcome(status=Status.WARN, observed=observed, expected=f"CUDA 12 (driver >= {family})",
                       reason="current PyTorch wheels are built for CUDA 12.6 and later",
                       fix=f"{UBUNTU_DRIVERS_GPGPU}  # a driver branch >= 560", evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def driver_branch(facts: GpuFacts, policy: Policy) -> Outcome:
    driver = _driver(facts)
    if driver is None:
        return Outcome(status=Status.UNKNOWN, reason="the driver version is not known")
    today = date.fromisoformat(facts.today) if facts.today else date.today()
    status = compat.branch_status(driver, today)
    evidence = {"branch": status.branch, "kind": status.kind, "eol": str(status.eol) if status.eol else None,
                "source": status.source}
    if status.ended:
        when = f" on {status.eol}" if status.eol else ""
        to = compat.recommended_branch(today)
        fix = (f"sudo apt-get install -y nvidia-driver-{to.branch}-server  # R{to.branch} LTS, supported until "
               f"{to.eol:%B %Y}; then reboot" if to else f"{UBUNTU_DRIVERS_GPGPU}  # then reboot")
        observed = (f"R{status.branch} ({status.kind}) reached end of life{when}" if status.kind
                    else f"R{status.branch} is no longer supported")
        return Outcome(status=Status.WARN, observed=observed, expected="a supported branch",
                       reason=f"an ended branch gets no security or bug fixes ({status.source.split(';')[0]})",
                       fix=fix, evidence=evidence)
    if status.kind is None:
        return Outcome(status=Status.SKIP, observed=f"R{status.branch}: no lifecycle data", reason=status.source,
                       evidence=evidence)
    return Outcome(status=Status.PASS, observed=f"R{status.branch} {status.kind}, supported until {status.eol}",
                   evidence=evidence)


def torch_wheels(facts: GpuFacts, policy: Policy) -> Outcome:
    driver = _driver(facts)
    caps = _capabilities(facts)
    if driver is None or not caps:
        return Outcome(status=Status.UNKNOWN, reason="the driver version or the GPUs' compute capability is not known")
    per_cap = {cap: compat.torch_choices(driver, cap) for cap in caps}
    names = ", ".join(f"sm_{a}{b}" for a, b in caps)
    evidence: dict[str, object] = {f"sm_{a}{b}": [c.reason for c in choices[:3]] for (a, b), choices in per_cap.items()}
    common = [c for c in per_cap[caps[0]]
              if all(any(o.release.version == c.release.version and o.variant.name == c.variant.name for o in others)
                     for others in per_cap.values())]
    if not common:
        return Outcome(status=Status.FAIL, observed=f"no PyTorch CUDA wheel fits driver {driver} and {names}",
                       expected="at least one official wheel", reason="the driver is too old for every wheel's CUDA, "
                       "or the GPU's architecture is in none of them", fix=f"{UBUNTU_DRIVERS_GPGPU}  "
                       "# a current driver; then: pip install torch", evidence=evidence)
    best = common[0]
    newest = compat.torch_releases()[-1]
    # Every CUDA variant of that release this driver fully runs and whose kernels cover every GPU here.
    fitting = [v.name for v in best.release.variants if v.cuda is not None and compat.cuda_runs_on(driver, v.cuda)
               and all(compat.arch_supported(v, cap) for cap in caps)]
    evidence["variants_that_fit"] = fitting
    observed = (f"torch {best.release.latest_patch} {best.variant.name} (newest that fits {names}; "
                f"its variants that fit: {', '.join(fitting)})")
    fix = f"pip install torch=={best.release.latest_patch} --index-url {compat.pip_index_url(best.variant.name)}"
    if best.release.version != newest.version:
        reason = f"torch {newest.version} has no wheel this driver fully supports for this GPU: {best.reason}"
        # The explicit, explained alternative: a newer wheel of the same CUDA family through minor-version
        # compatibility (https://docs.nvidia.com/deploy/cuda-compatibility/, "Minor Version Compatibility":
        # a limited feature set; pytorch/pytorch#130684).
        relaxed = [compat.torch_choices(driver, cap, minor_compat=True) for cap in caps]
        alternative = next((c for c in relaxed[0] if all(any(
            o.release.version == c.release.version and o.variant.name == c.variant.name for o in others)
            for others in relaxed)), None)
        if alternative is not None and alternative.release.version != best.release.version:
            evidence["minor_compat"] = alternative.reason
            reason += f". Alternative: {alternative.reason}"
            fix += (f"\n# or, with a limited feature set: pip install torch=={alternative.release.latest_patch} "
                    f"--index-url {compat.pip_index_url(alternative.variant.name)}")
        return Outcome(status=Status.WARN, observed=observed, expected=f"torch {newest.version}", reason=reason,
                       fix=fix,
                       evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, reason=best.reason, fix=fix, evidence=evidence)


def torch_build(build: TorchBuildFacts, policy: Policy) -> Outcome:
    if not build.asked:
        return Outcome(status=Status.SKIP,
                       reason="not asked: importing torch takes seconds; run `envcheck doctor --torch`")
    torch, facts = build.torch, build.gpu
    if torch is None or facts is None:
        return Outcome(status=Status.UNKNOWN, reason="the torch child did not run")
    if facts.driver_present:
        # A driver that is there but does not work (not loaded, no library) is gpu.driver's red line: point at it
        # in the words of the engine's `requires`. Without any driver this check still names the build (below),
        # so it cannot simply require gpu.driver.
        from envcheck.checks.gpu import driver as judge_driver

        root = judge_driver(facts, policy).status
        if root not in (Status.PASS, Status.WARN):
            return Outcome(status=Status.UNKNOWN, reason=f"could not check because gpu.driver is {root.value}",
                           caused_by="gpu.driver")
    evidence = {"python": torch.python, "torch": torch.version, "cuda": torch.cuda, "arch_list": list(torch.arch_list),
                "seconds": torch.duration_s}
    if torch.missing:
        return Outcome(status=Status.SKIP, observed=f"torch not installed in {torch.python}", reason=torch.error,
                       evidence=evidence)
    if torch.error:
        return Outcome(status=Status.UNKNOWN, reason=torch.error, evidence=evidence)
    if not facts.driver_present:
        return _without_driver(torch, evidence)
    if torch.cuda is None:
        wheels = torch_wheels(facts, policy)
        return Outcome(status=Status.WARN, observed=f"torch {torch.version}: a CPU-only build", expected="a CUDA build",
                       reason="this build cannot use the GPUs", fix=wheels.fix or "pip install torch",
                       evidence=evidence)
    driver = _driver(facts)
    # Below full support but within the CUDA family (same major, driver >= the family minimum), the wheel
    # runs through minor-version compatibility when CUDA initialises: a limited feature set, not a failure
    # (https://docs.nvidia.com/deploy/cuda-compatibility/, "Minor Version Compatibility"; e.g. cu124 wheels on
    # an R535 LTS driver).
    minor_only = bool(driver) and torch.available is True and not compat.cuda_runs_on(driver or "", torch.cuda) \
        and compat.cuda_runs_on(driver or "", torch.cuda, minor_compat=True)
    if driver and not minor_only and not compat.cuda_runs_on(driver, torch.cuda):
        return Outcome(status=Status.FAIL, observed=f"torch {torch.version} is built for CUDA {torch.cuda}",
                       expected=f"driver >= {compat.cuda_min_driver(torch.cuda)}",
                       reason=f"driver {driver} fully supports only CUDA {compat.cuda_full_support(driver)}",
                       fix=torch_wheels(facts, policy).fix or UBUNTU_DRIVERS_GPGPU, evidence=evidence)
    uncovered = [c for c in _capabilities(facts) if not compat.arch_list_covers(torch.arch_list, c)]
    if uncovered and torch.arch_list:
        names = ", ".join(f"sm_{a}{b}" for a, b in uncovered)
        return Outcome(status=Status.FAIL, observed=f"{names} not in torch's arch list {' '.join(torch.arch_list)}",
                       expected="the GPU's architecture in torch.cuda.get_arch_list()",
                       reason="CUDA error: no kernel image is available for execution on the device",
                       fix=torch_wheels(facts, policy).fix or "pip install torch", evidence=evidence)
    if torch.available is False:
        return Outcome(status=Status.FAIL,
                       observed=f"torch {torch.version} (CUDA {torch.cuda}): torch.cuda.is_available() "
                       "is False", reason=torch.cuda_error or "CUDA did not initialise (CUDA_VISIBLE_DEVICES? "
                       "device nodes?)", fix="python -c 'import torch; torch.cuda.init()'  # shows the error",
                       evidence=evidence)
    if minor_only:
        return Outcome(status=Status.WARN,
                       observed=f"torch {torch.version} (CUDA {torch.cuda}) runs on driver {driver} "
                       "through minor-version compatibility",
                       expected=f"driver >= {compat.cuda_min_driver(torch.cuda)}",
                       reason=f"driver {driver} fully supports only CUDA {compat.cuda_full_support(driver or '')}: "
                       "JIT of newer PTX and Triton kernels can fail "
                       "(CUDA Compatibility guide; pytorch/pytorch#130684)",
                       fix=torch_wheels(facts, policy).fix or UBUNTU_DRIVERS_GPGPU, evidence=evidence)
    # The driver's version can be unread (NVML failed, /proc/driver/nvidia/version unreadable): only CUDA having
    # initialised then shows that this build runs; without that, whether it does was not checked.
    built = f"torch {torch.version} (CUDA {torch.cuda})"
    if driver:
        return Outcome(status=Status.PASS, observed=f"{built} runs on driver {driver}", evidence=evidence)
    if torch.available:
        return Outcome(status=Status.PASS, observed=f"{built} initialised CUDA (the driver's version was not read)",
                       evidence=evidence)
    return Outcome(status=Status.UNKNOWN, observed=built, expected=f"driver >= {compat.cuda_min_driver(torch.cuda)}",
                   reason="the driver's version was not read and CUDA was not initialised: whether this build runs "
                          "here is not known", caused_by="gpu.nvml", evidence=evidence)


def _without_driver(torch: TorchFacts, evidence: Mapping[str, object]) -> Outcome:
    """No NVIDIA driver (gpu.driver says so): which build is installed, and whether it would run once one is."""
    if torch.cuda is None:
        return Outcome(status=Status.SKIP, observed=f"torch {torch.version}: a CPU-only build",
                       reason="no NVIDIA driver (gpu.driver), so nothing to run on a GPU; a CPU-only build never "
                       "uses one: after installing a driver, install a CUDA build (gpu.torch-wheels then names it)",
                       evidence=evidence)
    need = compat.cuda_min_driver(torch.cuda)
    later = f"it runs once a driver >= {need} is installed" if need else \
        f"envcheck's data has no minimum driver for CUDA {torch.cuda}"
    return Outcome(status=Status.SKIP, observed=f"torch {torch.version}: a CUDA {torch.cuda} build",
                   reason=f"no NVIDIA driver (gpu.driver), so nothing to run it on; {later} "
                   "(CUDA Toolkit release notes, Table 3)", evidence={**evidence, "min_driver": need})
