"""Per-GPU verdicts: one Outcome per GPU, ``item`` = "GPU 0 (GPU-uuid)".

A lost GPU gives ``unknown`` in every per-field check, pointing at gpu.devices, and never hides the
others (wookayin/gpustat#125). A field the GPU does not have (NotSupported) is ``skip`` with "n/a",
never a failure; any other per-field NVML error is ``unknown`` with its name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from envcheck.checks.gpu_errors import nvml_error
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.gpu import GpuDevice, GpuFacts

GIB = 1024**3
# Clock event reasons (nvml.h): hardware slowdowns mean heat or power delivery trouble; the rest are benign.
HW_REASONS = ("HwSlowdown", "HwThermalSlowdown", "HwPowerBrakeSlowdown")


def _each(facts: GpuFacts, judge_device: Callable[[GpuDevice], Outcome]) -> list[Outcome]:
    outcomes = []
    for device in facts.devices:
        if device.lost:
            outcome = Outcome(status=Status.UNKNOWN, reason=f"this GPU does not answer ({device.lost})",
                              caused_by="gpu.devices")
        else:
            outcome = judge_device(device)
        outcomes.append(replace(outcome, item=device.label))
    return outcomes or [Outcome(status=Status.SKIP, reason="NVML lists no GPU")]


def _missing(device: GpuDevice, *fields: str) -> Outcome | None:
    """n/a (skip) when the GPU lacks the field; unknown with the NVML error's name for any other failure."""
    error = device.why_missing(*fields)
    if error is None:
        return None
    if error == "NotSupported":
        return Outcome(status=Status.SKIP, observed="n/a (NotSupported)", reason="this GPU does not have this feature")
    return Outcome(status=Status.UNKNOWN, observed=f"could not read ({error})", reason=nvml_error(error)[1])


def devices(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    outcomes: list[Outcome] = []
    seen = {d.pci_bus_id.lower()[-12:] for d in facts.devices if d.pci_bus_id}
    unseen = [p for p in facts.proc_gpus if p[-12:] not in seen]
    for device in facts.devices:
        if device.lost:
            status, cause, fix = nvml_error(device.lost, facts.driver_version)
            fix = fix.replace("<GPU index>", str(device.index))
            where = f"; probably {unseen[0]}, the one address NVML did not answer for" if len(unseen) == 1 else ""
            outcomes.append(Outcome(status=status, item=device.label, observed=f"unreachable: {device.lost}{where}",
                                    expected="the GPU answers", reason=cause, fix=fix))
            continue
        memory = f"{device.memory_total / GIB:.1f} GiB" if device.memory_total else "memory n/a"
        cc = device.compute_capability
        cap = f"sm_{cc[0]}{cc[1]}" if cc else "sm n/a"
        broken = {k: v for k, v in device.errors.items() if v != "NotSupported"}
        evidence = {k: v for k, v in vars(device).items() if v is not None and k != "errors"}
        evidence["n/a"] = sorted(k for k, v in device.errors.items() if v == "NotSupported")
        observed = f"{device.name or '?'}, {memory}, {cap}, {device.pci_bus_id or 'PCI n/a'}"
        if broken:
            unread = ", ".join(f"{k} ({v})" for k, v in sorted(broken.items()))
            outcomes.append(Outcome(status=Status.UNKNOWN, item=device.label, observed=observed,
                                    reason=f"could not read: {unread}",
                                    evidence=evidence))
        else:
            outcomes.append(Outcome(status=Status.PASS, item=device.label, observed=observed, evidence=evidence))
    if len(facts.devices) < len(facts.proc_gpus):  # the kernel knows GPUs NVML never listed
        outcomes.append(Outcome(status=Status.FAIL, item="missing GPUs",
                                observed=f"NVML lists {len(facts.devices)} of the "
                                f"{len(facts.proc_gpus)} GPUs the kernel module knows ({', '.join(unseen)} unseen)",
                                reason="a GPU the driver registered does not answer NVML (fallen off the bus?)",
                                fix="sudo dmesg | grep -iE 'nvrm|xid'  # then reboot"))
    return outcomes or [Outcome(status=Status.SKIP, reason="NVML lists no GPU")]


def temperature(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "temperature_c")
        if missing or d.temperature_c is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no temperature reported")
        observed = f"{d.temperature_c} C"
        if d.temperature_c >= policy.gpu_temp_warn_c:
            return Outcome(status=Status.WARN, observed=observed, expected=f"< {policy.gpu_temp_warn_c:g} C",
                           reason="a hot GPU slows its clocks and ages faster",
                           fix="check the fans/airflow and the room; nvidia-smi -q -d TEMPERATURE,PERFORMANCE")
        return Outcome(status=Status.PASS, observed=observed)
    return _each(facts, judge_device)


def power(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "power_draw_w", "power_limit_w")
        if missing or d.power_draw_w is None or d.power_limit_w is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no power reading")
        observed = f"{d.power_draw_w:.0f} W of {d.power_limit_w:.0f} W limit"
        default = d.power_default_limit_w
        if default and d.power_limit_w < default - 1:
            return Outcome(status=Status.WARN, observed=observed + f" (default {default:.0f} W)",
                           expected=f"limit {default:.0f} W",
                           reason="the power limit was lowered: training runs slower",
                           fix=f"sudo nvidia-smi -i {d.index} -pl {default:.0f}")
        return Outcome(status=Status.PASS, observed=observed)
    return _each(facts, judge_device)


def persistence(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "persistence_mode")
        if missing or d.persistence_mode is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no persistence mode reported")
        if not d.persistence_mode:
            return Outcome(status=Status.WARN, observed="off", expected="on",
                           reason="without persistence the driver tears the GPU down between jobs: "
                                  "every start is slower",
                           fix="sudo systemctl enable --now nvidia-persistenced  # or: sudo nvidia-smi -pm 1")
        return Outcome(status=Status.PASS, observed="on")
    return _each(facts, judge_device)


def ecc(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "ecc_current")
        if missing or d.ecc_current is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no ECC mode reported")
        volatile, aggregate = d.ecc_volatile_uncorrected, d.ecc_aggregate_uncorrected
        observed = f"ECC {'on' if d.ecc_current else 'off'}"
        if d.ecc_pending is not None and d.ecc_pending != d.ecc_current:
            observed += f" ({'on' if d.ecc_pending else 'off'} pending)"
        counts = f"; uncorrected: {volatile if volatile is not None else 'n/a'} since driver load, " \
                 f"{aggregate if aggregate is not None else 'n/a'} lifetime"
        # The policy's limits (ecc_uncorrected_max, ecc_lifetime_uncorrected_max) default to 0: any error counts.
        volatile_max, lifetime_max = policy.ecc_uncorrected_max, policy.ecc_lifetime_uncorrected_max
        if volatile and volatile > volatile_max:
            return Outcome(status=Status.FAIL, observed=observed + counts,
                           expected=f"{'at most ' if volatile_max else ''}{volatile_max} uncorrected errors since "
                                    "driver load",
                           reason="uncorrectable memory errors since the driver loaded: results may be corrupt",
                           fix=f"sudo nvidia-smi -r -i {d.index}  # reset the GPU (or reboot); RMA if it repeats")
        if d.ecc_pending is not None and d.ecc_pending != d.ecc_current:
            return Outcome(status=Status.WARN, observed=observed + counts, expected="pending = current",
                           reason="the ECC mode change takes effect at the next GPU reset",
                           fix=f"sudo nvidia-smi -r -i {d.index}  # or: sudo reboot")
        if not d.ecc_current:
            return Outcome(status=Status.WARN, observed=observed + counts, expected="ECC on",
                           reason="memory errors go undetected with ECC off",
                           fix=f"sudo nvidia-smi -i {d.index} -e 1 && sudo nvidia-smi -r -i {d.index}")
        if aggregate and aggregate > lifetime_max:
            return Outcome(status=Status.WARN, observed=observed + counts,
                           expected=f"{'at most ' if lifetime_max else ''}{lifetime_max} lifetime uncorrected errors",
                           reason="this GPU has had uncorrectable memory errors in the past",
                           fix="nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER  # watch it; RMA if they grow")
        return Outcome(status=Status.PASS, observed=observed + counts)
    return _each(facts, judge_device)


def retired_pages(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "retired_pages_pending")
        if missing or d.retired_pages_pending is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no page retirement status")
        if d.retired_pages_pending:
            return Outcome(status=Status.WARN, observed="pages pending retirement", expected="none pending",
                           reason="bad memory pages are retired only at the next GPU reset",
                           fix=f"sudo nvidia-smi -r -i {d.index}  # or: sudo reboot")
        return Outcome(status=Status.PASS, observed="none pending")
    return _each(facts, judge_device)


def remapped_rows(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "remap_pending")
        if missing or d.remap_pending is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no row remapping status")
        observed = f"{d.remapped_correctable} correctable, {d.remapped_uncorrectable} uncorrectable remaps"
        if d.remap_failure:
            return Outcome(status=Status.FAIL, observed=observed + "; remapping FAILED",
                           expected="no remapping failure",
                           reason="the GPU ran out of spare rows or could not remap one: memory is unreliable",
                           fix="drain this GPU and contact the vendor (RMA); nvidia-smi -q -d ROW_REMAPPER")
        limit = policy.remapped_rows_uncorrectable_max
        if limit is not None and (d.remapped_uncorrectable is None or d.remapped_uncorrectable > limit):
            if d.remapped_uncorrectable is None:
                return Outcome(status=Status.UNKNOWN, observed=observed, expected=f"at most {limit} uncorrectable",
                               reason="the count of uncorrectable remaps was not reported")
            return Outcome(status=Status.FAIL, observed=observed, expected=f"at most {limit} uncorrectable remaps "
                           "(the policy's remapped_rows_uncorrectable_max)",
                           reason="more rows were remapped for uncorrectable errors than the lab accepts: the "
                                  "memory is wearing out",
                           fix="drain this GPU and contact the vendor (RMA); nvidia-smi -q -d ROW_REMAPPER")
        if d.remap_pending:
            return Outcome(status=Status.WARN, observed=observed + "; remap pending", expected="nothing pending",
                           reason="a row remap takes effect at the next GPU reset",
                           fix=f"sudo nvidia-smi -r -i {d.index}  # or: sudo reboot")
        return Outcome(status=Status.PASS, observed=observed)
    return _each(facts, judge_device)


def throttle(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "clocks_event_mask")
        if missing or d.clocks_event_reasons is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no clock event reasons")
        reasons = d.clocks_event_reasons
        observed = ", ".join(reasons) if reasons else "none (full clocks)"
        hardware = [r for r in reasons if r in HW_REASONS]
        if hardware:
            return Outcome(status=Status.FAIL, observed=observed, expected="no hardware slowdown",
                           reason="the hardware is cutting clocks: overheating or power delivery trouble",
                           fix="nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER  # check cooling, PSUs and power cables")
        if "SwThermalSlowdown" in reasons:
            return Outcome(status=Status.WARN, observed=observed, expected="no thermal slowdown",
                           reason="the driver is lowering clocks to stay under the temperature target",
                           fix="improve cooling; nvidia-smi -q -d TEMPERATURE")
        note = " (at its power limit: normal under full load)" if "SwPowerCap" in reasons else ""
        return Outcome(status=Status.PASS, observed=observed + note)
    return _each(facts, judge_device)


def pcie_link(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "pcie_gen_current", "pcie_gen_max", "pcie_width_current", "pcie_width_max")
        if missing:
            return missing
        gen, gen_max, width, width_max = d.pcie_gen_current, d.pcie_gen_max, d.pcie_width_current, d.pcie_width_max
        if gen is None or gen_max is None or width is None or width_max is None:
            return Outcome(status=Status.UNKNOWN, reason="no PCIe link information")
        observed = f"Gen{gen} x{width} of Gen{gen_max} x{width_max}"
        idle = "GpuIdle" in (d.clocks_event_reasons or ())
        fix = "reseat the card or move it to a full x16 slot; check risers and BIOS PCIe settings; " \
              f"then: nvidia-smi -q -i {d.index} -d PCIE (under load)"
        if width < width_max:
            return Outcome(status=Status.WARN, observed=observed, expected=f"x{width_max}",
                           reason=f"the link trained at x{width}: "
                                  f"{width_max // max(width, 1)}x less host<->GPU bandwidth",
                           fix=fix)
        if gen < gen_max and not idle:
            return Outcome(status=Status.WARN, observed=observed, expected=f"Gen{gen_max} while busy",
                           reason="the link runs below its generation while the GPU is busy", fix=fix)
        note = " (GPUs lower the link speed while idle: normal)" if gen < gen_max else ""
        return Outcome(status=Status.PASS, observed=observed + note)
    return _each(facts, judge_device)


def mig(facts: GpuFacts, policy: Policy) -> list[Outcome]:
    def judge_device(d: GpuDevice) -> Outcome:
        missing = _missing(d, "mig_current")
        if missing or d.mig_current is None:
            return missing or Outcome(status=Status.UNKNOWN, reason="no MIG mode reported")
        observed = f"MIG {'on' if d.mig_current else 'off'}"
        if d.mig_pending is not None and d.mig_pending != d.mig_current:
            return Outcome(status=Status.WARN, observed=f"{observed}, {'on' if d.mig_pending else 'off'} pending",
                           expected="pending = current", reason="the MIG mode change waits for a GPU reset",
                           fix=f"sudo nvidia-smi -r -i {d.index}  # with no process on it (unload nvidia_drm if "
                               "the reset is refused: NVIDIA/mig-parted#181); or: sudo reboot")
        note = " (CUDA sees MIG instances, not the whole GPU)" if d.mig_current else ""
        return Outcome(status=Status.PASS, observed=observed + note)
    return _each(facts, judge_device)
