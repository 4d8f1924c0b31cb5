"""--bench judges: measured throughput beside the datasheet peak, as a percentage.

Peaks come from envcheck.compat.gpu_peak (data/compat.json, every row with its source). Dense tensor figures
are compared (the Hopper and L4 datasheets print with-sparsity numbers; the data holds dense ones). The
host <-> device figures are compared with the PCIe link the GPU trained at, read from sysfs by the child.
A GPU not in the data is measured and shown with "peak n/a", never failed.
"""

from __future__ import annotations

import re
from typing import Any

from envcheck.model import Outcome, Status
from envcheck.smoke.facts import (
    MATMUL_DTYPES,
    BenchLibrariesFacts,
    BenchMatmulFacts,
    BenchMemoryFacts,
    BenchTransferFacts,
)
from envcheck.smoke.judging import Judging

# PCIe generation by transfer rate (GT/s) -> payload efficiency of its line code (8b/10b, then 128b/130b).
_PCIE = {2.5: (1, 0.8), 5.0: (2, 0.8), 8.0: (3, 128 / 130), 16.0: (4, 128 / 130), 32.0: (5, 128 / 130),
         64.0: (6, 1.0)}


def _pct(value: float | None, peak: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" + (f" ({100 * value / peak:.0f}% of {peak:g})" if peak else " (peak n/a)")


def _peak(name: str | None) -> Any:
    from envcheck.compat import gpu_peak

    return gpu_peak(name) if name else None


def libraries(facts: BenchLibrariesFacts, j: Judging) -> Outcome:
    names = sorted(set(facts.library_names))
    versions = [f"CUDA {facts.torch_cuda}"]
    if facts.cudnn:
        # torch.backends.cudnn.version() is CUDNN_VERSION: major*10000 + minor*100 + patch from cuDNN 9
        # (92000 = 9.20.0), major*1000 + minor*100 + patch before (8902 = 8.9.2) (cudnn_version.h).
        cudnn = facts.cudnn
        major = cudnn // 10000 if cudnn >= 90000 else cudnn // 1000
        rest = cudnn - major * (10000 if cudnn >= 90000 else 1000)
        versions.append(f"cuDNN {major}.{rest // 100}.{rest % 100}")
    if facts.nccl:
        versions.append(f"NCCL {facts.nccl}")
    if facts.driver:
        versions.append(f"driver {facts.driver}")
    observed = ", ".join(versions) + "; loaded: " + (", ".join(names) if names else "none")
    if not any(n.startswith("libcudart") or n.startswith("libcuda.so") for n in names):
        return Outcome(status=Status.WARN, observed=observed, expected="libcudart and libcuda mapped into the process",
                       reason="no CUDA library is loaded: torch did not reach the GPU", evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def matmul(facts: BenchMatmulFacts, j: Judging) -> Outcome:
    if facts.on_cpu:  # no datasheet figure to compare with
        observed = (f"CPU fp32 {(facts.tflops['fp32'] or 0.0) * 1000:.1f} GFLOP/s ({facts.n}-cube, "
                    f"{facts.threads} threads; peak n/a)")
        return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)
    peak = _peak(facts.name)
    parts = [f"{label} {_pct(facts.tflops.get(label), getattr(peak, f'{label}_tflops', None))}"
             for label in MATMUL_DTYPES]
    observed = "TFLOP/s: " + ", ".join(parts) + (f" [{peak.name}]" if peak else f" [{facts.name}: not in the data]")
    evidence = {**facts.raw, "peak": peak.__dict__ if peak else None}
    if peak is None:
        return Outcome(status=Status.PASS, observed=observed, evidence=evidence)
    label = "bf16" if facts.tflops.get("bf16") and peak.bf16_tflops else "fp16"
    value, top = facts.tflops.get(label), getattr(peak, f"{label}_tflops", None)
    floor = j.policy.smoke_matmul_peak_min_pct
    expected = f"{label} >= {floor:g}% of the dense datasheet peak"
    if value and top and 100 * value / top < floor:
        return Outcome(status=Status.WARN, observed=observed, expected=expected,
                       reason=f"{label} reaches {100 * value / top:.0f}% of {top:g}, under the policy's "
                       f"smoke_matmul_peak_min_pct {floor:g}: clocks held down (power or thermal limits), another "
                       "process on the GPU, or a slow link",
                       fix="nvidia-smi -q -d PERFORMANCE,CLOCK,POWER  # throttle reasons; or a lower "
                       "smoke_matmul_peak_min_pct in a file passed with --policy FILE", evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence=evidence)


def memory(facts: BenchMemoryFacts, j: Judging) -> Outcome:
    peak = _peak(facts.name)
    top = peak.mem_bw_gbs if peak else None
    observed = f"device copy {_pct(facts.gbs, top)} GB/s"
    floor = j.policy.smoke_memory_peak_min_pct
    evidence = {**facts.raw, "peak_gbs": top}
    if top and 100 * facts.gbs / top < floor:
        return Outcome(status=Status.WARN, observed=observed, expected=f">= {floor:g}% of {top:g} GB/s",
                       reason=f"memory bandwidth under the policy's smoke_memory_peak_min_pct {floor:g} of the "
                       "datasheet's: clocks held down or the GPU is shared",
                       fix="nvidia-smi -q -d PERFORMANCE,CLOCK  # throttle reasons; or a lower "
                       "smoke_memory_peak_min_pct in a file passed with --policy FILE", evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, expected=f">= {floor:g}% of the datasheet" if top else "",
                   evidence=evidence)


def link_gbs(speed: str | None, width: str | None) -> tuple[float, str] | None:
    """("32.0 GT/s PCIe", "16") -> (63.0, "PCIe 5.0 x16"): one direction's payload bandwidth in GB/s."""
    match = re.match(r"\s*([\d.]+)\s*GT/s", speed or "")
    if not match or not (width or "").strip().isdigit():
        return None
    rate = float(match.group(1))
    gen, efficiency = _PCIE.get(rate, (0, 128 / 130))
    lanes = int((width or "0").strip())
    label = f"PCIe {gen}.0 x{lanes}" if gen else f"PCIe {rate:g} GT/s x{lanes}"
    return round(rate * lanes * efficiency / 8, 1), label


def transfer(facts: BenchTransferFacts, j: Judging) -> Outcome:
    link = link_gbs(facts.current_link_speed, facts.current_link_width)
    best = link_gbs(facts.max_link_speed, facts.max_link_width)
    top = link[0] if link else None
    observed = f"pinned H2D {_pct(facts.h2d_gbs, top)} GB/s, D2H {_pct(facts.d2h_gbs, top)} GB/s"
    observed += f" [{link[1]}]" if link else " [PCIe link n/a]"
    evidence = {**facts.raw, "link_gbs": top, "link": link[1] if link else None}
    # An idle GPU may drop its link speed to save power; the width does not change that way.
    if link and best and best[0] > link[0] and facts.current_link_width != facts.max_link_width:
        return Outcome(status=Status.WARN, observed=observed, expected=f"the link at its maximum, {best[1]}",
                       reason=f"the link trained at {link[1]}: a riser, slot or BIOS setting halves the bandwidth",
                       fix="sudo lspci -vv | grep -E 'LnkCap|LnkSta'  # then reseat the card or check the slot",
                       evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)
