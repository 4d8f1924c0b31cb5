"""The smoke steps: one written-out registry (each step's facts type and judge), and ``results()``.

The judges live in ``judges.py`` and ``bench.py``. ``results()`` turns a whole :class:`ChildRun` into Results:
a step the child reported is judged; the step that was open when the run stopped gets the hang or the crash;
steps never reached point at it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, replace
from typing import Any, Callable, Generic, Mapping, TypeVar

from envcheck.engine import blocked_by
from envcheck.model import Outcome, Result, Status
from envcheck.smoke import bench, fixes, judges
from envcheck.smoke import facts as f
from envcheck.smoke.events import ChildError, ChildRun, Ended, StepEnd, StepState
from envcheck.smoke.facts import StepFacts
from envcheck.smoke.judging import Judging

F = TypeVar("F", bound=StepFacts)


@dataclass(frozen=True)
class StepSpec(Generic[F]):
    name: str  # the result id is "smoke.<name>"
    title: str
    deadline_s: float
    decode: Callable[[Mapping[str, Any]], F]  # the child's facts for this step, typed: the driver calls it
    judge: Callable[[F, Judging], Outcome]
    gpu: bool = False  # skipped as a whole when no GPU is usable
    bench: bool = False  # only with --bench

    @property
    def id(self) -> str:
        return f"smoke.{self.name}"


STEPS: tuple[StepSpec[Any], ...] = (
    StepSpec("import-torch", "PyTorch imports", 120, f.ImportFacts.decode, judges.import_torch),
    StepSpec("cuda-available", "CUDA is available to torch", 60, f.CudaFacts.decode, judges.cuda_available),
    StepSpec("device-count", "torch sees every GPU, by UUID", 30, f.CountFacts.decode, judges.device_count),
    StepSpec("arch-list", "torch carries kernels for the GPU's architecture", 30, f.ArchFacts.decode,
             judges.arch_list, gpu=True),
    StepSpec("context", "CUDA context and a memory allocation", 60, f.ContextFacts.decode, judges.context,
             gpu=True),
    StepSpec("matmul", "Matrix product on the GPU matches the CPU", 60, f.MatmulFacts.decode, judges.matmul,
             gpu=True),
    StepSpec("train", "A small MLP trains to the target loss and accuracy", 180, f.TrainFacts.decode,
             judges.train),
    StepSpec("amp", "Mixed-precision training (bf16, else fp16)", 90, f.AmpFacts.decode, judges.amp, gpu=True),
    StepSpec("save-load", "The model's state survives a save / load round trip", 30, f.SaveLoadFacts.decode,
             judges.save_load),
    StepSpec("forward-consistency", "The same forward pass on CPU and GPU", 30, f.ForwardFacts.decode,
             judges.forward, gpu=True),
    StepSpec("nccl", "All-reduce over NCCL across the GPUs", 150, f.NcclFacts.decode, judges.nccl, gpu=True),
    StepSpec("bench-libraries", "CUDA, cuDNN and NCCL libraries loaded", 60, f.BenchLibrariesFacts.decode,
             bench.libraries, bench=True),
    StepSpec("bench-matmul", "Matrix-product throughput against the datasheet", 180, f.BenchMatmulFacts.decode,
             bench.matmul, bench=True),
    StepSpec("bench-memory", "Device memory bandwidth against the datasheet", 90, f.BenchMemoryFacts.decode,
             bench.memory, gpu=True, bench=True),
    StepSpec("bench-transfer", "Host <-> device bandwidth against the PCIe link", 90, f.BenchTransferFacts.decode,
             bench.transfer, gpu=True, bench=True),
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


def _error(end: StepEnd, spec: StepSpec[Any], j: Judging) -> Outcome:
    error = end.error or ChildError("Error", "", "")
    observed = f"{error.type}: " + (error.message.strip().splitlines() or [""])[0]
    reason, fix = fixes.for_error(spec.name, error.type, error.message, j)
    return Outcome(status=Status.FAIL, observed=observed[:300], reason=reason, fix=fix,
                   evidence={"traceback": error.traceback[-2000:]})


def _no_usable_gpu(cuda: Result) -> str:
    why = cuda.reason or cuda.observed
    return f"no usable GPU: {why}" if why else "no usable GPU"


def _skipped(end: StepEnd, cuda: Result | None) -> Outcome:
    if end.blocked_by:
        root = f"smoke.{end.blocked_by}"
        where = " on this device" if end.item else ""
        return Outcome(status=Status.UNKNOWN, reason=f"could not check because {root} failed{where}", caused_by=root)
    if end.gpu_skip and cuda is not None:
        # The GPU steps need cuda-available as a check needs the checks it requires: the engine's rule.
        blocked = blocked_by(cuda, skip_reason=_no_usable_gpu)
        if blocked is not None:
            return blocked
    return Outcome(status=Status.SKIP, reason=end.reason or "not applicable")


def _judged(end: StepEnd, spec: StepSpec[Any], j: Judging, cuda: Result | None) -> Outcome:
    if end.state is StepState.ERROR:
        return _error(end, spec, j)
    if end.state is StepState.SKIP:
        return _skipped(end, cuda)
    if end.facts is None:  # facts from another child version: could not check, never a pass
        return Outcome(status=Status.UNKNOWN, reason=f"could not judge the child's facts: {end.facts_error}",
                       evidence=dict(end.raw_facts))
    try:
        return spec.judge(end.facts, j)
    except Exception as exc:  # a judge's bug: could not check, never a pass
        return Outcome(status=Status.UNKNOWN, reason=f"could not judge the child's facts: {type(exc).__name__}: {exc}",
                       evidence=dict(end.raw_facts))


def target_result(run: ChildRun, j: Judging) -> Result:
    """smoke.target: which interpreter ran, and whether it could run the child at all."""
    title = "The target environment runs the smoke child"
    hello = run.hello or {}
    if run.ended is Ended.NOT_STARTED or (not hello and run.target.error):
        outcome = Outcome(status=Status.FAIL, observed=run.target.description, reason=run.error or run.target.error,
                          fix=fixes.for_target(run))
    elif not hello:
        how = describe_exit(run.rc) if run.ended is Ended.EXIT else f"no output within {run.deadline_s:g} s"
        outcome = Outcome(status=Status.FAIL, observed=run.target.description, expected="the child's first line",
                          reason=f"the interpreter did not start the child ({how}): {_tail(run.stderr_tail, 3)}",
                          fix=fixes.for_target(run), evidence={"stderr_tail": run.stderr_tail})
    else:
        observed = f"{run.target.description}: Python {hello.get('version')} at {hello.get('python')}"
        outcome = Outcome(status=Status.PASS, observed=observed, evidence={"kind": run.target.kind, **hello})
    return Result("smoke.target", title, outcome, 0.0)


def _interrupted(run: ChildRun, spec: StepSpec[Any]) -> Outcome:
    evidence = {"stderr_tail": run.stderr_tail, "open_for_s": run.open_for_s, "noise": list(run.noise[-5:])}
    if run.ended is Ended.RUN_DEADLINE:
        return Outcome(status=Status.UNKNOWN, observed=f"still running after {run.open_for_s:.1f} s",
                       reason=f"the whole run's deadline ({run.deadline_s:g} s) ran out during this step",
                       fix="envcheck smoke --timeout 1200  # a longer deadline for the whole run", evidence=evidence)
    if run.ended is Ended.STEP_DEADLINE:
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
    for end in run.ends:
        spec = BY_NAME.get(end.step)
        if spec is None:
            continue  # a step this envcheck does not know (a newer child): nothing to judge it by
        outcome = _judged(end, spec, j, cuda)
        result = Result(spec.id, spec.title, replace(outcome, item=end.item), end.duration_s)
        out.append(result)
        reported.add(spec.name)
        if spec.name == "cuda-available":
            cuda = result
        if spec.name == "import-torch" and result.status is Status.FAIL:
            root = spec.id
    if run.open_step is not None and run.open_step[0] in BY_NAME:
        spec = BY_NAME[run.open_step[0]]
        outcome = replace(_interrupted(run, spec), item=run.open_step[1])
        out.append(Result(spec.id, spec.title, outcome, run.open_for_s))
        reported.add(spec.name)
        root = spec.id
    elif run.ended is not Ended.DONE and root is None:
        root = "smoke.target"  # stopped between steps: the stderr tail is on no step, so say it on the target
        if run.ended.cut_off:  # quiet, then killed by us: not an exit of its own
            why = f"the child went quiet between steps and was cut off after {run.deadline_s:g} s"
            fix = "envcheck smoke --step-timeout 600  # if this machine is only slow"
        else:
            why = f"the child stopped between steps ({describe_exit(run.rc)})"
            fix = fixes.crash("", run.target)
        out[0] = Result("smoke.target", out[0].title, Outcome(
            status=Status.FAIL, observed=out[0].observed, expected="the child runs to the end",
            reason=f"{why}: {_tail(run.stderr_tail, 3)}",
            fix=fix, evidence={"stderr_tail": run.stderr_tail}), 0.0)
    if root is not None:
        for spec in STEPS:
            if spec.name not in reported and (run.bench or not spec.bench):
                out.append(Result(spec.id, spec.title, Outcome(
                    status=Status.UNKNOWN, reason=f"not reached: {root} did not pass", caused_by=root), 0.0))
    return out
