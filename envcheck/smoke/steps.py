"""The smoke steps: one written-out registry (each step's facts type and judge), and ``results()``.

The judges live in ``judges.py`` and ``bench.py``. ``results()`` turns a whole :class:`ChildTranscript` into Results:
a step the child reported is judged; the step that was open when the run stopped gets the hang or the crash;
steps never reached point at it.
"""

from __future__ import annotations

import signal
from dataclasses import replace
from typing import Any, Callable, Generic, Mapping, TypeVar

from envcheck.engine import blocked_by
from envcheck.frozen import frozen
from envcheck.model import Outcome, Result, Status
from envcheck.smoke import QUIET_S, bench, fixes, judges
from envcheck.smoke import facts as f
from envcheck.smoke.events import ChildError, ChildTranscript, Ended, StepEnd, StepState
from envcheck.smoke.facts import StepFacts
from envcheck.smoke.judging import Judging

F = TypeVar("F", bound=StepFacts)


@frozen
class StepSpec(Generic[F]):
    name: str  # the result id is "smoke.<name>"
    title: str
    timeout_s: float
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


def planned_steps(bench: bool) -> tuple[str, ...]:
    """The steps a run walks, in the order the child walks them (the registry's)."""
    return tuple(spec.name for spec in STEPS if bench or not spec.bench)


def _signal(rc: int | None) -> int | None:
    """The signal that ended the child: a negative rc from a process, 128 + n from a container's shell."""
    if rc is None or 0 <= rc <= 128:
        return None
    return -rc if rc < 0 else rc - 128


def describe_exit(rc: int | None) -> str:
    number = _signal(rc)
    if number is None:
        return "exit status unknown" if rc is None else f"exit code {rc}"
    try:
        return f"killed by {signal.Signals(number).name}"
    except ValueError:
        return f"killed by signal {number}"


def describe_end(child: ChildTranscript) -> str:
    """How a child that envcheck did not stop ended: an exit code, a crash's signal, or a SIGKILL told apart
    by the kernel log (the out-of-memory killer names its victim's pid there; smoke/oom.py)."""
    text = describe_exit(child.rc)
    if _signal(child.rc) != signal.SIGKILL:
        return text
    found = child.oom
    if found is not None and found.killed:
        return f"killed by the kernel's out-of-memory killer: {found.line}"
    if found is not None and found.error:
        return f"{text}, not by envcheck; the kernel log, which names out-of-memory kills, could not be read: " \
               f"{found.error}"
    if found is not None:
        return f"{text}, not by envcheck, and the kernel log names no out-of-memory kill of pid {found.pid}"
    return f"{text}, not by envcheck"


def _limit(child: ChildTranscript, j: Judging) -> str:
    """The limit that cut the child off, named as the user can change it."""
    if child.ended is Ended.RUN_DEADLINE:
        return f"--timeout {child.timeout_s:g} s (the whole run's limit)"
    if j.step_timeout_s is not None:
        return f"--step-timeout {child.timeout_s:g} s, which you set"
    return f"the default limit of {child.timeout_s:g} s (--step-timeout sets another)"


def _cut_by_user(child: ChildTranscript, j: Judging) -> bool:
    """Cut off at a limit the user chose (--timeout always is one): the README counts such a timeout as
    unknown, since it shows only that the machine was slower than the limit asked, not that a step hangs."""
    return child.ended is Ended.RUN_DEADLINE or (child.ended is Ended.STEP_DEADLINE and j.step_timeout_s is not None)


def _longer(child: ChildTranscript, wait_s: float) -> str:
    """The command that reruns with a longer limit than the one that cut the child off."""
    if child.ended is Ended.RUN_DEADLINE:
        return f"envcheck smoke --timeout {max(1200.0, 2 * child.timeout_s):g}  # a longer --timeout"
    return f"envcheck smoke --step-timeout {max(wait_s, 2 * child.timeout_s):g}  # a longer --step-timeout"


def _killed_by_envcheck(child: ChildTranscript, j: Judging) -> str:
    """Which of envcheck's limits cut the child off, and which option sets it."""
    return f"envcheck cut it off at {_limit(child, j)}"


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
        return spec.judge(end.facts, replace(j, item=end.item))
    except Exception as exc:  # a judge's bug: could not check, never a pass
        return Outcome(status=Status.UNKNOWN, reason=f"could not judge the child's facts: {type(exc).__name__}: {exc}",
                       evidence=dict(end.raw_facts))


def target_result(child: ChildTranscript, j: Judging) -> Result:
    """smoke.target: which interpreter ran, and whether it could run the child at all."""
    title = "The target environment runs the smoke child"
    hello = child.hello or {}
    if child.ended is Ended.NOT_STARTED or (not hello and child.target.error):
        outcome = Outcome(status=Status.FAIL, observed=child.target.description,
                          reason=child.error or child.target.error, fix=fixes.for_target(child))
    elif not hello and child.ended.cut_off and _cut_by_user(child, j):
        outcome = Outcome(status=Status.UNKNOWN, observed=child.target.description, expected="the child's first line",
                          reason=f"no hello within {child.timeout_s:g} s: cut at {_limit(child, j)}; starting "
                          "Python and the child can take longer than that", fix=_longer(child, QUIET_S),
                          evidence={"stderr_tail": child.stderr_tail})
    elif not hello:
        how = describe_end(child) if child.ended is Ended.EXIT \
            else f"no hello within {child.timeout_s:g} s; {_killed_by_envcheck(child, j)}"
        outcome = Outcome(status=Status.FAIL, observed=child.target.description, expected="the child's first line",
                          reason=f"the interpreter did not start the child ({how}): {_tail(child.stderr_tail, 3)}",
                          fix=fixes.for_target(child), evidence={"stderr_tail": child.stderr_tail})
    else:
        observed = f"{child.target.description}: Python {hello.get('version')} at {hello.get('python')}"
        outcome = Outcome(status=Status.PASS, observed=observed, evidence={"kind": child.target.kind, **hello})
    return Result("smoke.target", title, outcome, 0.0)


def _interrupted(child: ChildTranscript, spec: StepSpec[Any], j: Judging) -> Outcome:
    evidence = {"stderr_tail": child.stderr_tail, "open_for_s": child.open_for_s, "noise": list(child.noise[-5:])}
    closed = "its output ended but it kept running" if child.output_closed else ""
    if _cut_by_user(child, j):
        # A limit the user chose says nothing about a hang: this step's own default limit is far longer.
        observed = f"{closed}: cut off after {child.open_for_s:.1f} s" if closed \
            else f"still running after {child.open_for_s:.1f} s"
        return Outcome(status=Status.UNKNOWN, observed=observed,
                       expected=f"done within {child.timeout_s:g} s",
                       reason=f"cut at {_limit(child, j)}, before this step finished (its default limit is "
                       f"{spec.timeout_s:g} s)", fix=_longer(child, spec.timeout_s), evidence=evidence)
    if child.ended is Ended.STEP_DEADLINE:
        observed = f"{closed}: cut off after {child.open_for_s:.1f} s" if closed \
            else f"no result after {child.open_for_s:.1f} s: hung, cut off"
        return Outcome(status=Status.FAIL, observed=observed, expected=f"done within {child.timeout_s:g} s",
                       reason=f"the step did not finish within {_limit(child, j)}. " + fixes.HANGS.get(spec.name, ""),
                       fix=fixes.hang(spec.name, child.target), evidence=evidence)
    return Outcome(status=Status.FAIL, observed=f"the interpreter died during this step ({describe_end(child)})",
                   expected="the step completes", reason="stderr: " + (_tail(child.stderr_tail) or "(empty)"),
                   fix=fixes.crash(spec.name, child.target), evidence=evidence)


def results(child: ChildTranscript, j: Judging) -> list[Result]:
    """Every Result of one run, in the order the child walked the steps."""
    out = [target_result(child, j)]
    if out[0].status is not Status.PASS:
        root: str | None = "smoke.target"
    else:
        root = None
    cuda: Result | None = None
    reported: set[str] = set()
    for end in child.ends:
        spec = BY_NAME.get(end.step)
        if spec is None:
            continue  # a step this envcheck does not know: the driver rejects those; a hand-built transcript
        outcome = _judged(end, spec, j, cuda)
        result = Result(spec.id, spec.title, replace(outcome, item=end.item), end.duration_s)
        out.append(result)
        reported.add(spec.name)
        if spec.name == "cuda-available":
            cuda = result
        if spec.name == "import-torch" and result.status is Status.FAIL:
            root = spec.id
    if child.open_step is not None and child.open_step[0] in BY_NAME:
        spec = BY_NAME[child.open_step[0]]
        outcome = replace(_interrupted(child, spec, j), item=child.open_step[1])
        out.append(Result(spec.id, spec.title, outcome, child.open_for_s))
        reported.add(spec.name)
        root = spec.id
    elif child.ended is not Ended.DONE and root is None:
        root = "smoke.target"  # stopped between steps: the stderr tail is on no step, so say it on the target
        ran = _ran(child)
        status = Status.FAIL
        if child.ended.cut_off and _cut_by_user(child, j):
            status = Status.UNKNOWN
            why = f"the child went quiet between steps, {ran}, and was cut at {_limit(child, j)}"
            fix = _longer(child, QUIET_S)
        elif child.ended.cut_off:  # quiet, then killed by us: not an exit of its own
            why = (f"the child went quiet between steps and was cut off after {child.timeout_s:g} s, {ran}: "
                   f"{_killed_by_envcheck(child, j)}")
            fix = "envcheck smoke --step-timeout 600  # if this machine is only slow"
        else:
            why = f"the child stopped between steps, {ran} ({describe_end(child)})"
            fix = fixes.crash("", child.target)
        out[0] = Result("smoke.target", out[0].title, Outcome(
            status=status, observed=out[0].observed, expected="the child runs to the end",
            reason=f"{why}: {_tail(child.stderr_tail, 3)}",
            fix=fix, evidence={"stderr_tail": child.stderr_tail}), 0.0)
    elif root is None and len(reported) < len(planned_steps(child.bench)):
        root = "smoke.target"
        out[0] = _incomplete(child, out[0])
    if child.rejected_count and (out[0].status is Status.PASS or not child.hello):  # the records were not sound
        root = root or "smoke.target"
        out[0] = _incomplete(child, out[0])
    if root is not None:
        for spec in STEPS:
            if spec.name not in reported and (child.bench or not spec.bench):
                out.append(Result(spec.id, spec.title, Outcome(
                    status=Status.UNKNOWN, reason=f"not reached: {root} did not pass", caused_by=root), 0.0))
    return out


def _ran(child: ChildTranscript) -> str:
    planned = planned_steps(child.bench)
    ran = {end.step for end in child.ends} | ({child.open_step[0]} if child.open_step else set())
    return f"after {len([step for step in planned if step in ran])} of {len(planned)} steps"


def _incomplete(child: ChildTranscript, target: Result) -> Result:
    """A run that said "done" without every planned step, or with records that broke the protocol: never a pass.
    (A wrapper printing a hello and "done", or output from something other than the child, ends here.)"""
    evidence: dict[str, Any] = {"stderr_tail": child.stderr_tail, "noise": list(child.noise[-5:])}
    if child.rejected_count:
        evidence["rejected"] = list(child.rejected)
        reason = (f"{child.rejected_count} of the child's records broke the smoke protocol and were rejected; "
                  f"the first: {child.rejected[0] if child.rejected else '?'}")
    else:
        reason = f"the child said it was done {_ran(child)}"
    return Result("smoke.target", target.title, Outcome(
        status=Status.FAIL, observed=target.observed, expected="a record for every step of the run",
        reason=reason, fix=f"{fixes.target_python(child.target)} -V  # is this the interpreter you meant? a wrapper "
        "that does not run the script it is given cannot run the smoke child", evidence=evidence), 0.0)
