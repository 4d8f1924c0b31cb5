"""The smoke steps: one written-out registry, and a pure judge per step from the child's facts to an Outcome.

Judges are tested by building facts by hand (and from recorded child output in tests/data/smoke/).
``results()`` turns a whole :class:`ChildRun` into Results: a step the child reported is judged; the step
that was open when the run stopped gets the hang or the crash; steps never reached point at it (issue #4).
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from envcheck.model import Outcome, Result, Status
from envcheck.policy import Policy
from envcheck.smoke import bench, fixes
from envcheck.smoke.driver import ChildRun
from envcheck.smoke.targets import HostGpu, Target

MATMUL_RTOL = 1e-3  # fp32 1024-cube vs a float64 reference: a healthy GPU lands near 1e-6
FORWARD_ATOL = 1e-4  # the MLP's logits, CPU vs GPU, TF32 off


@dataclass(frozen=True)
class Judging:
    """What judges may read besides the step's facts."""

    policy: Policy
    target: Target
    driver: str | None = None  # the host's NVIDIA driver, from /proc
    host_gpus: tuple[HostGpu, ...] = ()
    python_version: str | None = None  # the target's, from the child's hello
    hello: Mapping[str, Any] = field(default_factory=dict)  # the rest of it: pip, PEP 668 marker, distribution


Judge = Callable[[Mapping[str, Any], Judging], Outcome]


@dataclass(frozen=True)
class StepSpec:
    name: str  # the result id is "smoke.<name>"
    title: str
    deadline_s: float
    judge: Judge
    gpu: bool = False  # skipped as a whole when no GPU is usable
    bench: bool = False  # only with --bench

    @property
    def id(self) -> str:
        return f"smoke.{self.name}"


def _import(facts: Mapping[str, Any], j: Judging) -> Outcome:
    build = f"CUDA {facts['cuda_build']} build" if facts.get("cuda_build") else "CPU-only build"
    observed = f"torch {facts.get('version')} ({build})"
    numpy = [w for w in facts.get("warnings", []) if "NumPy" in w]
    if numpy:
        return Outcome(status=Status.WARN, observed=observed, expected="imports without warnings",
                       reason=f"torch warned: {numpy[0]}",
                       fix=f"{j.target.python} -m pip install numpy", evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


def _cuda(facts: Mapping[str, Any], j: Judging) -> Outcome:
    gpus = len(facts.get("proc_gpus") or []) or len(j.host_gpus)
    if not facts.get("cuda_build"):
        if gpus:
            return Outcome(status=Status.FAIL, observed=f"CPU-only build on a machine with {gpus} NVIDIA GPU(s)",
                           expected="a CUDA build",
                           reason="this torch cannot use the GPUs", fix=fixes.install(j, cuda=True), evidence=facts)
        return Outcome(status=Status.SKIP, observed="no", reason="CPU-only build", evidence=facts)
    if facts.get("available") and facts.get("device_count", 0) > 0:
        return Outcome(status=Status.PASS,
                       observed=f"yes: CUDA {facts['cuda_build']}, {facts['device_count']} device(s)",
                       evidence=facts)
    cvd = facts.get("cuda_visible_devices")
    warned = "; ".join(facts.get("warnings") or [])
    if cvd is not None and (not cvd.strip() or cvd.strip() in ("-1", "NoDevFiles", "none")):
        return Outcome(status=Status.SKIP, observed="no", reason=f"CUDA_VISIBLE_DEVICES={cvd!r} hides every device",
                       fix="unset CUDA_VISIBLE_DEVICES", evidence=facts)
    if not facts.get("proc_driver_version") and facts.get("libcuda_error"):
        if gpus or j.host_gpus:
            return Outcome(status=Status.FAIL, observed="no", expected="the NVIDIA driver reachable",
                           reason="the host has GPUs but this "
                           f"environment has no driver library: {facts['libcuda_error']}",
                           fix=fixes.NO_DRIVER_IN_CONTAINER if j.target.kind == "docker" else fixes.NO_DRIVER,
                           evidence=facts)
        return Outcome(status=Status.SKIP, observed="no", reason=f"no NVIDIA driver ({facts['libcuda_error']})",
                       evidence=facts)
    if facts.get("proc_driver_version") and not facts.get("dev_nvidia_uvm"):
        return Outcome(status=Status.FAIL, observed="no", expected="torch.cuda.is_available()",
                       reason="/dev/nvidia-uvm is missing (the "
                       "nvidia-uvm module is not loaded or its device node was never made; NVIDIA/gpu-operator#2685)",
                       fix="sudo nvidia-modprobe -u -c=0", evidence=facts)
    if cvd is not None:
        return Outcome(status=Status.FAIL, observed="no", expected="torch.cuda.is_available()",
                       reason=f"CUDA_VISIBLE_DEVICES={cvd!r} names no usable device"
                       + (f"; torch: {warned}" if warned else ""),
                       fix="unset CUDA_VISIBLE_DEVICES  # or list indices/UUIDs from `nvidia-smi -L`", evidence=facts)
    reason = warned or "torch.cuda.is_available() is False with a driver present"
    fix = fixes.driver_too_old(j, str(facts["cuda_build"])) if "too old" in warned else fixes.CUDA_INIT
    return Outcome(status=Status.FAIL, observed="no", expected="torch.cuda.is_available()", reason=reason, fix=fix,
                   evidence=facts)


def _count(facts: Mapping[str, Any], j: Judging) -> Outcome:
    torch_uuids = [d.get("uuid") for d in facts.get("torch_devices", [])]
    nvml = facts.get("nvml") or {}
    nvml_uuids = [d.get("uuid") for d in nvml.get("devices", []) if d.get("uuid")]
    cvd = facts.get("cuda_visible_devices")
    host = [g.uuid for g in j.host_gpus if g.uuid]
    where = " inside the container" if j.target.kind == "docker" else ""
    if nvml.get("error"):
        return Outcome(status=Status.WARN, observed=f"torch sees {len(torch_uuids)}; NVML could not be asked{where}",
                       expected="the same GPUs through torch and NVML", reason=str(nvml["error"]),
                       fix="nvidia-smi -L  # NVML's own list; an error here is the driver's, not torch's",
                       evidence=facts)
    observed = f"torch sees {len(torch_uuids)} of the {len(nvml_uuids)} GPU(s) NVML sees{where}"
    missing = [u for u in nvml_uuids if u not in torch_uuids]
    unknown = [u for u in torch_uuids if u not in nvml_uuids]
    if j.target.kind == "docker" and host and len(nvml_uuids) < len(host):
        return Outcome(status=Status.FAIL, observed=observed + f"; the host has {len(host)}",
                       expected="every host GPU in the container",
                       reason="the container was given fewer GPUs than the host has", fix=fixes.CONTAINER_GPUS,
                       evidence={**facts, "host_gpus": host})
    if unknown and nvml_uuids:
        return Outcome(status=Status.WARN, observed=observed, expected="torch's devices among NVML's",
                       reason=f"UUIDs NVML does not list: {unknown}",
                       fix="nvidia-smi -L  # compare the UUIDs; MIG instances list as MIG-..., under their GPU",
                       evidence=facts)
    if missing and cvd is None:
        return Outcome(status=Status.FAIL, observed=observed, expected="every GPU",
                       reason=f"torch does not see {', '.join(map(str, missing))}",
                       fix=fixes.CUDA_INIT, evidence=facts)
    if missing:
        observed += f" (CUDA_VISIBLE_DEVICES={cvd})"
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


def _arch(facts: Mapping[str, Any], j: Judging) -> Outcome:
    from envcheck.compat import arch_list_covers

    major, minor = facts["capability"]
    archs = facts.get("arch_list") or []
    observed = f"{facts.get('name')}: sm_{major}{minor}; torch built for {' '.join(archs) or 'nothing'}"
    if arch_list_covers(archs, (major, minor)):
        return Outcome(status=Status.PASS, observed=observed, evidence=facts)
    return Outcome(status=Status.FAIL, observed=observed,
                   expected=f"sm_{major}{minor} (or its PTX) in torch.cuda.get_arch_list()",
                   reason="no kernel image is available for this GPU: kernels will fail to launch",
                   fix=fixes.install(j, cuda=True, capability=(major, minor)), evidence=facts)


def _context(facts: Mapping[str, Any], j: Judging) -> Outcome:
    observed = (f"context in {facts['init_s']:.2f} s; {facts['allocated_mib']} MiB allocated; "
                f"{facts['free_gib']} of {facts['total_gib']} GiB free")
    if not facts.get("checksum_ok"):
        return Outcome(status=Status.FAIL, observed=observed, expected="the allocation reads back what was written",
                       fix=fixes.CUDA_INIT,
                       evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


def _matmul(facts: Mapping[str, Any], j: Judging) -> Outcome:
    err = facts["max_rel_err"]
    observed = f"1024-cube fp32 product: max relative error {err:.1e} (CPU {facts['cpu_max_rel_err']:.1e})"
    if not math.isfinite(err) or err > MATMUL_RTOL:
        return Outcome(status=Status.FAIL, observed=observed, expected=f"<= {MATMUL_RTOL:g}",
                       reason="the GPU's product differs from the CPU "
                       "reference: a hardware fault or a broken library", fix=fixes.GPU_WRONG, evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


def _train(facts: Mapping[str, Any], j: Judging) -> Outcome:
    loss_max, acc_min = j.policy.smoke_loss_max, j.policy.smoke_accuracy_min
    observed = (f"loss {facts['loss_start']:.3f} -> {facts['loss_end']:.4f} in {facts['steps']} steps "
                f"({facts['time_per_step_ms']:.2f} ms/step); held-out accuracy {facts['accuracy']:.3f}")
    expected = f"loss < {loss_max:g} and held-out accuracy >= {acc_min:g}"
    if not (facts["loss_end"] < loss_max and facts["accuracy"] >= acc_min):
        return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                       reason="the MLP did not learn the spirals", fix=fixes.GPU_WRONG,
                       evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence=facts)


def _amp(facts: Mapping[str, Any], j: Judging) -> Outcome:
    observed = (f"{facts['amp_dtype']} autocast: loss {facts['loss_start']:.3f} -> {facts['loss_end']:.4f} "
                f"in {facts['steps']} steps, logits in {facts['logits_dtype']}")
    ok = (math.isfinite(facts["loss_end"]) and facts["loss_end"] < facts["loss_start"]
          and facts["logits_dtype"] == facts["amp_dtype"])
    if not ok:
        return Outcome(status=Status.FAIL, observed=observed,
                       expected="a finite, falling loss in the low-precision dtype", fix=fixes.GPU_WRONG,
                       evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


def _save_load(facts: Mapping[str, Any], j: Judging) -> Outcome:
    observed = (f"{facts['tensors']} tensors, {facts['bytes']} bytes; "
                f"same output after loading: {facts['identical_output']}")
    status = Status.PASS if facts["identical_output"] else Status.FAIL
    return Outcome(status=status, observed=observed, expected="identical output after the round trip", evidence=facts)


def _forward(facts: Mapping[str, Any], j: Judging) -> Outcome:
    diff = facts["max_abs_diff"]
    observed = f"max |GPU - CPU| over {facts['outputs']} logits: {diff:.1e}"
    if not math.isfinite(diff) or diff > FORWARD_ATOL:
        return Outcome(status=Status.FAIL, observed=observed, expected=f"<= {FORWARD_ATOL:g}", fix=fixes.GPU_WRONG,
                       evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


def _nccl(facts: Mapping[str, Any], j: Judging) -> Outcome:
    ranks = facts.get("ranks") or []
    bad = [r for r in ranks if not r.get("ok")]
    version = f" (NCCL {facts['nccl_version']})" if facts.get("nccl_version") else ""
    times = [r["seconds"] for r in ranks if r.get("seconds") is not None]
    observed = (f"all-reduce of {facts['bytes'] // 2**20} MiB over {facts['world_size']} ranks, {facts['backend']}"
                f"{version}: {len(ranks) - len(bad)} of {facts['world_size']} correct"
                + (f", {max(times) * 1000:.1f} ms" if times else ""))
    if bad or len(ranks) < facts["world_size"]:
        errors = "; ".join(f"rank {r['rank']}: {r.get('error') or 'wrong sum'}" for r in bad) or "ranks did not report"
        return Outcome(status=Status.FAIL, observed=observed, expected="every rank gets the right sum", reason=errors,
                       fix=fixes.NCCL, evidence=facts)
    return Outcome(status=Status.PASS, observed=observed, evidence=facts)


STEPS: tuple[StepSpec, ...] = (
    StepSpec("import-torch", "PyTorch imports", 120, _import),
    StepSpec("cuda-available", "CUDA is available to torch", 60, _cuda),
    StepSpec("device-count", "torch sees every GPU, by UUID", 30, _count),
    StepSpec("arch-list", "torch carries kernels for the GPU's architecture", 30, _arch, gpu=True),
    StepSpec("context", "CUDA context and a memory allocation", 60, _context, gpu=True),
    StepSpec("matmul", "Matrix product on the GPU matches the CPU", 60, _matmul, gpu=True),
    StepSpec("train", "A small MLP trains to the target loss and accuracy", 180, _train),
    StepSpec("amp", "Mixed-precision training (bf16, else fp16)", 90, _amp, gpu=True),
    StepSpec("save-load", "The model's state survives a save / load round trip", 30, _save_load),
    StepSpec("forward-consistency", "The same forward pass on CPU and GPU", 30, _forward, gpu=True),
    StepSpec("nccl", "All-reduce over NCCL across the GPUs", 150, _nccl, gpu=True),
    StepSpec("bench-libraries", "CUDA, cuDNN and NCCL libraries loaded", 60, bench.libraries, bench=True),
    StepSpec("bench-matmul", "Matrix-product throughput against the datasheet", 180, bench.matmul, bench=True),
    StepSpec("bench-memory", "Device memory bandwidth against the datasheet", 90, bench.memory, gpu=True, bench=True),
    StepSpec("bench-transfer", "Host <-> device bandwidth against the PCIe link", 90, bench.transfer, gpu=True,
             bench=True),
)
BY_NAME = {s.name: s for s in STEPS}


def describe_exit(rc: int | None) -> str:
    if rc is None:
        return "exit status unknown"
    if rc < 0 or rc > 128:
        number = -rc if rc < 0 else rc - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"killed by {name}" + (" (out of memory?)" if number == signal.SIGKILL else "")
    return f"exit code {rc}"


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _error(event: Mapping[str, Any], spec: StepSpec, j: Judging) -> Outcome:
    error = event.get("error") or {}
    observed = f"{error.get('type', 'Error')}: " + (str(error.get("message", "")).strip().splitlines() or [""])[0]
    reason, fix = fixes.for_error(spec.name, str(error.get("type")), str(error.get("message", "")), j)
    return Outcome(status=Status.FAIL, observed=observed[:300], reason=reason, fix=fix,
                   evidence={"traceback": str(error.get("traceback", ""))[-2000:]})


def _skipped(event: Mapping[str, Any], spec: StepSpec, cuda: Result | None) -> Outcome:
    if event.get("blocked_by"):
        root = f"smoke.{event['blocked_by']}"
        where = " on this device" if event.get("item") else ""
        return Outcome(status=Status.UNKNOWN, reason=f"could not check because {root} failed{where}", caused_by=root)
    if event.get("gpu_skip") and cuda is not None:
        if cuda.status in (Status.FAIL, Status.UNKNOWN):
            return Outcome(status=Status.UNKNOWN, reason=f"could not check because {cuda.id} is {cuda.status.value}",
                           caused_by=cuda.id)
        why = cuda.reason or cuda.observed
        return Outcome(status=Status.SKIP, reason=f"no usable GPU: {why}" if why else "no usable GPU",
                       caused_by=cuda.id)
    return Outcome(status=Status.SKIP, reason=str(event.get("reason") or "not applicable"))


def _judged(event: Mapping[str, Any], spec: StepSpec, j: Judging, cuda: Result | None) -> Outcome:
    state = event.get("state")
    if state == "error":
        return _error(event, spec, j)
    if state == "skip":
        return _skipped(event, spec, cuda)
    try:
        return spec.judge(event.get("facts") or {}, j)
    except Exception as exc:  # facts from another child version: could not check, never a pass
        return Outcome(status=Status.UNKNOWN, reason=f"could not judge the child's facts: {type(exc).__name__}: {exc}",
                       evidence=dict(event.get("facts") or {}))


def target_result(run: ChildRun, j: Judging) -> Result:
    """smoke.target: which interpreter ran, and whether it could run the child at all."""
    title = "The target environment runs the smoke child"
    hello = run.hello or {}
    if run.ended == "not-started" or (not hello and run.target.error):
        outcome = Outcome(status=Status.FAIL, observed=run.target.description, reason=run.error or run.target.error,
                          fix=fixes.for_target(run))
    elif not hello:
        how = describe_exit(run.rc) if run.ended == "exit" else f"no output within {run.deadline_s:g} s"
        outcome = Outcome(status=Status.FAIL, observed=run.target.description, expected="the child's first line",
                          reason=f"the interpreter did not start the child ({how}): {_tail(run.stderr_tail, 3)}",
                          fix=fixes.for_target(run), evidence={"stderr_tail": run.stderr_tail})
    else:
        observed = f"{run.target.description}: Python {hello.get('version')} at {hello.get('python')}"
        outcome = Outcome(status=Status.PASS, observed=observed, evidence={"kind": run.target.kind, **hello})
    return Result.from_outcome("smoke.target", title, outcome, 0.0)


def _interrupted(run: ChildRun, spec: StepSpec) -> Outcome:
    evidence = {"stderr_tail": run.stderr_tail, "open_for_s": run.open_for_s, "noise": list(run.noise[-5:])}
    if run.ended == "run-deadline":
        return Outcome(status=Status.UNKNOWN, observed=f"still running after {run.open_for_s:.1f} s",
                       reason=f"the whole run's deadline ({run.deadline_s:g} s) ran out during this step",
                       fix="envcheck smoke --timeout 1200  # a longer deadline for the whole run", evidence=evidence)
    if run.ended == "step-deadline":
        return Outcome(status=Status.FAIL, observed=f"no result after {run.open_for_s:.1f} s: hung, cut off",
                       expected=f"done within {run.deadline_s:g} s",
                       reason="the step did not finish within its deadline and was killed. "
                       + fixes.HANGS.get(spec.name, ""),
                       fix=fixes.hang(spec.name, run.target), evidence=evidence)
    return Outcome(status=Status.FAIL, observed=f"the interpreter died during this step ({describe_exit(run.rc)})",
                   expected="the step completes", reason="stderr: " + (_tail(run.stderr_tail) or "(empty)"),
                   fix=fixes.crash(spec.name, run.target), evidence=evidence)


def results(run: ChildRun, j: Judging) -> list[Result]:
    """Every Result of one run, in the order the child walked the steps."""
    out = [target_result(run, j)]
    if out[0].status is not Status.PASS:
        root: str | None = "smoke.target"
    else:
        root = None
    cuda: Result | None = None
    reported: set[str] = set()
    for event in run.ends:
        spec = BY_NAME.get(str(event.get("step")))
        if spec is None:
            continue  # a step this envcheck does not know (a newer child): nothing to judge it by
        outcome = _judged(event, spec, j, cuda)
        item = event.get("item")
        result = Result.from_outcome(spec.id, spec.title, replace(outcome, item=item),
                                     float(event.get("duration_s") or 0.0))
        out.append(result)
        reported.add(spec.name)
        if spec.name == "cuda-available":
            cuda = result
        if spec.name == "import-torch" and result.status is Status.FAIL:
            root = spec.id
    if run.open_step is not None and run.open_step[0] in BY_NAME:
        spec = BY_NAME[run.open_step[0]]
        outcome = replace(_interrupted(run, spec), item=run.open_step[1])
        out.append(Result.from_outcome(spec.id, spec.title, outcome, run.open_for_s))
        reported.add(spec.name)
        root = spec.id
    elif run.ended != "done" and root is None:
        root = "smoke.target"  # stopped between steps: the stderr tail is on no step, so say it on the target
        if run.ended in ("step-deadline", "run-deadline"):  # quiet, then killed by us: not an exit of its own
            why = f"the child went quiet between steps and was cut off after {run.deadline_s:g} s"
            fix = "envcheck smoke --step-timeout 600  # if this machine is only slow"
        else:
            why = f"the child stopped between steps ({describe_exit(run.rc)})"
            fix = fixes.crash("", run.target)
        out[0] = Result.from_outcome("smoke.target", out[0].title, Outcome(
            status=Status.FAIL, observed=out[0].observed, expected="the child runs to the end",
            reason=f"{why}: {_tail(run.stderr_tail, 3)}",
            fix=fix, evidence={"stderr_tail": run.stderr_tail}), 0.0)
    if root is not None:
        for spec in STEPS:
            if spec.name not in reported and (run.bench or not spec.bench):
                out.append(Result.from_outcome(spec.id, spec.title, Outcome(
                    status=Status.UNKNOWN, reason=f"not reached: {root} did not pass", caused_by=root), 0.0))
    return out
