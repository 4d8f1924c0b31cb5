"""The judge of each smoke step, from the step's typed facts to an Outcome (the --bench ones are in bench.py).

Pure functions: tested by building facts by hand (and from recorded child output in tests/data/smoke/).
"""

from __future__ import annotations

import math

from envcheck.model import Outcome, Status
from envcheck.smoke import fixes
from envcheck.smoke.facts import (
    AmpFacts,
    ArchFacts,
    ContextFacts,
    CountFacts,
    CudaFacts,
    ForwardFacts,
    ImportFacts,
    MatmulFacts,
    NcclFacts,
    SaveLoadFacts,
    TrainFacts,
)
from envcheck.smoke.judging import Judging

MATMUL_RTOL = 1e-3  # fp32 1024-cube vs a float64 reference: a healthy GPU lands near 1e-6
FORWARD_ATOL = 1e-4  # the MLP's logits, CPU vs GPU, TF32 off


def import_torch(facts: ImportFacts, j: Judging) -> Outcome:
    build = f"CUDA {facts.cuda_build} build" if facts.cuda_build else "CPU-only build"
    observed = f"torch {facts.version} ({build})"
    numpy = [w for w in facts.warnings if "NumPy" in w]
    if numpy:
        return Outcome(status=Status.WARN, observed=observed, expected="imports without warnings",
                       reason=f"torch warned: {numpy[0]}",
                       fix=f"{j.target.python} -m pip install numpy", evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def cuda_available(facts: CudaFacts, j: Judging) -> Outcome:
    gpus = len(facts.proc_gpus) or len(j.host_gpus)
    if not facts.cuda_build:
        if gpus:
            return Outcome(status=Status.FAIL, observed=f"CPU-only build on a machine with {gpus} NVIDIA GPU(s)",
                           expected="a CUDA build", reason="this torch cannot use the GPUs",
                           fix=fixes.install(j, cuda=True), evidence=facts.raw)
        return Outcome(status=Status.SKIP, observed="no", reason="CPU-only build", evidence=facts.raw)
    if facts.available and facts.device_count > 0:
        return Outcome(status=Status.PASS, observed=f"yes: CUDA {facts.cuda_build}, {facts.device_count} device(s)",
                       evidence=facts.raw)
    return _cuda_unusable(facts, j, gpus)


def _cuda_unusable(facts: CudaFacts, j: Judging, gpus: int) -> Outcome:
    """A CUDA build that cannot use a GPU: the first reason that applies, most specific first."""
    cvd = facts.cuda_visible_devices
    warned = "; ".join(facts.warnings)
    if cvd is not None and (not cvd.strip() or cvd.strip() in ("-1", "NoDevFiles", "none")):
        return Outcome(status=Status.SKIP, observed="no", reason=f"CUDA_VISIBLE_DEVICES={cvd!r} hides every device",
                       fix="unset CUDA_VISIBLE_DEVICES", evidence=facts.raw)
    if not facts.proc_driver_version and facts.libcuda_error:
        if gpus or j.host_gpus:
            return Outcome(status=Status.FAIL, observed="no", expected="the NVIDIA driver reachable",
                           reason="the host has GPUs but this "
                           f"environment has no driver library: {facts.libcuda_error}",
                           fix=fixes.NO_DRIVER_IN_CONTAINER if j.target.kind == "docker" else fixes.NO_DRIVER,
                           evidence=facts.raw)
        return Outcome(status=Status.SKIP, observed="no", reason=f"no NVIDIA driver ({facts.libcuda_error})",
                       evidence=facts.raw)
    if facts.proc_driver_version and not facts.dev_nvidia_uvm:
        return Outcome(status=Status.FAIL, observed="no", expected="torch.cuda.is_available()",
                       reason="/dev/nvidia-uvm is missing (the "
                       "nvidia-uvm module is not loaded or its device node was never made; NVIDIA/gpu-operator#2685)",
                       fix="sudo nvidia-modprobe -u -c=0", evidence=facts.raw)
    if cvd is not None:
        return Outcome(status=Status.FAIL, observed="no", expected="torch.cuda.is_available()",
                       reason=f"CUDA_VISIBLE_DEVICES={cvd!r} names no usable device"
                       + (f"; torch: {warned}" if warned else ""),
                       fix="unset CUDA_VISIBLE_DEVICES  # or list indices/UUIDs from `nvidia-smi -L`",
                       evidence=facts.raw)
    reason = warned or "torch.cuda.is_available() is False with a driver present"
    fix = fixes.driver_too_old(j, str(facts.cuda_build)) if "too old" in warned else fixes.CUDA_INIT
    return Outcome(status=Status.FAIL, observed="no", expected="torch.cuda.is_available()", reason=reason, fix=fix,
                   evidence=facts.raw)


def device_count(facts: CountFacts, j: Judging) -> Outcome:
    torch_uuids, nvml_uuids, cvd = facts.torch_uuids, facts.nvml_uuids, facts.cuda_visible_devices
    host = [g.uuid for g in j.host_gpus if g.uuid]
    where = " inside the container" if j.target.kind == "docker" else ""
    if facts.nvml_error:
        return Outcome(status=Status.WARN, observed=f"torch sees {len(torch_uuids)}; NVML could not be asked{where}",
                       expected="the same GPUs through torch and NVML", reason=facts.nvml_error,
                       fix="nvidia-smi -L  # NVML's own list; an error here is the driver's, not torch's",
                       evidence=facts.raw)
    observed = f"torch sees {len(torch_uuids)} of the {len(nvml_uuids)} GPU(s) NVML sees{where}"
    missing = [u for u in nvml_uuids if u not in torch_uuids]
    unknown = [u for u in torch_uuids if u not in nvml_uuids]
    if j.target.kind == "docker" and host and len(nvml_uuids) < len(host):
        return Outcome(status=Status.FAIL, observed=observed + f"; the host has {len(host)}",
                       expected="every host GPU in the container",
                       reason="the container was given fewer GPUs than the host has", fix=fixes.CONTAINER_GPUS,
                       evidence={**facts.raw, "host_gpus": host})
    if unknown and nvml_uuids:
        return Outcome(status=Status.WARN, observed=observed, expected="torch's devices among NVML's",
                       reason=f"UUIDs NVML does not list: {unknown}",
                       fix="nvidia-smi -L  # compare the UUIDs; MIG instances list as MIG-..., under their GPU",
                       evidence=facts.raw)
    if missing and cvd is None:
        return Outcome(status=Status.FAIL, observed=observed, expected="every GPU",
                       reason=f"torch does not see {', '.join(map(str, missing))}",
                       fix=fixes.CUDA_INIT, evidence=facts.raw)
    if missing:
        observed += f" (CUDA_VISIBLE_DEVICES={cvd})"
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def arch_list(facts: ArchFacts, j: Judging) -> Outcome:
    from envcheck.compat import arch_list_covers

    major, minor = facts.capability
    observed = f"{facts.name}: sm_{major}{minor}; torch built for {' '.join(facts.arch_list) or 'nothing'}"
    if arch_list_covers(facts.arch_list, (major, minor)):
        return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)
    return Outcome(status=Status.FAIL, observed=observed,
                   expected=f"sm_{major}{minor} (or its PTX) in torch.cuda.get_arch_list()",
                   reason="no kernel image is available for this GPU: kernels will fail to launch",
                   fix=fixes.install(j, cuda=True, capability=(major, minor)), evidence=facts.raw)


def context(facts: ContextFacts, j: Judging) -> Outcome:
    observed = (f"context in {facts.init_s:.2f} s; {facts.allocated_mib} MiB allocated; "
                f"{facts.free_gib} of {facts.total_gib} GiB free")
    if not facts.checksum_ok:
        return Outcome(status=Status.FAIL, observed=observed, expected="the allocation reads back what was written",
                       fix=fixes.CUDA_INIT, evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def matmul(facts: MatmulFacts, j: Judging) -> Outcome:
    err = facts.max_rel_err
    observed = f"1024-cube fp32 product: max relative error {err:.1e} (CPU {facts.cpu_max_rel_err:.1e})"
    if not math.isfinite(err) or err > MATMUL_RTOL:
        return Outcome(status=Status.FAIL, observed=observed, expected=f"<= {MATMUL_RTOL:g}",
                       reason="the GPU's product differs from the CPU "
                       "reference: a hardware fault or a broken library", fix=fixes.GPU_WRONG, evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def train(facts: TrainFacts, j: Judging) -> Outcome:
    loss_max, acc_min = j.policy.smoke_loss_max, j.policy.smoke_accuracy_min
    observed = (f"loss {facts.loss_start:.3f} -> {facts.loss_end:.4f} in {facts.steps} steps "
                f"({facts.time_per_step_ms:.2f} ms/step); held-out accuracy {facts.accuracy:.3f}")
    expected = f"loss < {loss_max:g} and held-out accuracy >= {acc_min:g}"
    missed: list[str] = []
    keys: list[str] = []
    if not facts.loss_end < loss_max:
        missed.append(f"loss {facts.loss_end:.4f} is not below smoke_loss_max {loss_max:g}")
        # A bar just above what this run reached, rounded up to a tenth: the value a user would write.
        keys.append(f"smoke_loss_max: {math.ceil(facts.loss_end * 12) / 10:g}" if math.isfinite(facts.loss_end)
                    else f"smoke_loss_max: {loss_max:g}")
    if not facts.accuracy >= acc_min:
        missed.append(f"held-out accuracy {facts.accuracy:.3f} is below smoke_accuracy_min {acc_min:g}")
        keys.append(f"smoke_accuracy_min: {math.floor(facts.accuracy * 100) / 100:g}")
    if not missed:
        return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence=facts.raw)
    lines = " ".join(f"'{key}'" for key in keys)
    bar = (f"printf '%s\\n' {lines} > envcheck-policy.yaml && envcheck smoke --policy envcheck-policy.yaml"
           "  # or add these lines to the policy file you use")
    if j.on_gpu:  # on a GPU a result under the bar points at the device first: ECC and remapping errors
        return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                       reason=f"the MLP did not learn the spirals on this GPU: {'; '.join(missed)}",
                       fix=f"{fixes.GPU_WRONG}\nor, if the policy's bar is stricter than you need: {bar}",
                       evidence=facts.raw)
    return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                   reason=f"below the policy's bar on the CPU: {'; '.join(missed)}", fix=bar, evidence=facts.raw)


def amp(facts: AmpFacts, j: Judging) -> Outcome:
    observed = (f"{facts.amp_dtype} autocast: loss {facts.loss_start:.3f} -> {facts.loss_end:.4f} "
                f"in {facts.steps} steps, logits in {facts.logits_dtype}")
    ok = (math.isfinite(facts.loss_end) and facts.loss_end < facts.loss_start
          and facts.logits_dtype == facts.amp_dtype)
    if not ok:
        return Outcome(status=Status.FAIL, observed=observed,
                       expected="a finite, falling loss in the low-precision dtype", fix=fixes.GPU_WRONG,
                       evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def save_load(facts: SaveLoadFacts, j: Judging) -> Outcome:
    observed = (f"{facts.tensors} tensors, {facts.bytes} bytes; "
                f"same output after loading: {facts.identical_output}")
    status = Status.PASS if facts.identical_output else Status.FAIL
    return Outcome(status=status, observed=observed, expected="identical output after the round trip",
                   evidence=facts.raw)


def forward(facts: ForwardFacts, j: Judging) -> Outcome:
    diff = facts.max_abs_diff
    observed = f"max |GPU - CPU| over {facts.outputs} logits: {diff:.1e}"
    if not math.isfinite(diff) or diff > FORWARD_ATOL:
        return Outcome(status=Status.FAIL, observed=observed, expected=f"<= {FORWARD_ATOL:g}", fix=fixes.GPU_WRONG,
                       evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)


def nccl(facts: NcclFacts, j: Judging) -> Outcome:
    ranks = facts.ranks
    bad = [r for r in ranks if not r.ok]
    version = f" (NCCL {facts.nccl_version})" if facts.nccl_version else ""
    times = [r.duration_s for r in ranks if r.duration_s is not None]
    observed = (f"all-reduce of {facts.bytes // 2**20} MiB over {facts.world_size} ranks, {facts.backend}"
                f"{version}: {len(ranks) - len(bad)} of {facts.world_size} correct"
                + (f", {max(times) * 1000:.1f} ms" if times else ""))
    if bad or len(ranks) < facts.world_size:
        errors = "; ".join(f"rank {r.rank}: {r.error or 'wrong sum'}" for r in bad) or "ranks did not report"
        return Outcome(status=Status.FAIL, observed=observed, expected="every rank gets the right sum", reason=errors,
                       fix=fixes.NCCL, evidence=facts.raw)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts.raw)
