"""`envcheck smoke`: prove that PyTorch trains in the named environment, and name the first broken step.

The parent side lives here (targets, driver, events, facts, steps, judges, bench, fixes, container, progress);
the ``child/`` folder is the one program that runs in the target interpreter, by path, with the standard
library and torch only.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from envcheck import runner
from envcheck.model import Report
from envcheck.policy import Policy, default_policy

QUIET_S = 30.0  # without --step-timeout: the limit from launch to the child's hello, and between two steps


def smoke_test(
    *,
    python: str | None = None,
    conda_env: str | None = None,
    docker: str | None = None,
    bench: bool = False,
    run_timeout_s: float = 600.0,
    step_timeout_s: float | None = None,
    policy: Policy | None = None,
    on_event: Callable[[Mapping[str, Any]], None] | None = None,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
    gpus: bool = True,
) -> Report:
    """The whole smoke run as a Report (command "smoke"); a named target that is not there is a UsageError.

    ``run_timeout_s`` bounds all of it, from here: finding the target (asking conda for the env), starting the
    child and every wait on it share one deadline, so a slow conda leaves the child less time, not more.

    ``gpus=False`` is a CPU-only run by design (`envcheck verify` on a project's Dockerfile.cpu): the container gets
    no GPU, and the host's GPUs are not held against a CPU-only torch."""
    # First: the imports below take a noticeable part of a second, and they belong to the reported duration.
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.monotonic()
    run_deadline = start + run_timeout_s
    from envcheck.probes import nvidia_proc
    from envcheck.smoke import records, steps, targets
    from envcheck.smoke.driver import LineSource, child_args, drive, start_local
    from envcheck.smoke.events import ChildTranscript, Ended
    from envcheck.smoke.judging import Judging

    policy = policy or default_policy()
    env = dict(os.environ) if env is None else dict(env)
    home = os.path.expanduser("~")

    def left_s() -> float:
        """What is left of the run's deadline; a little at least, so that a call that takes a limit still gets one."""
        return max(0.1, run_deadline - time.monotonic())

    target = targets.resolve(python=python, conda_env=conda_env, docker=docker, env=env, home=home, run=runner.run,
                             timeout_s=min(targets.MANAGER_TIMEOUT_S, left_s()))
    host_gpus = nvidia_proc.read_gpus() if gpus else ()
    # Only the child started here knows this run's nonce, so only its records count (smoke/records.py).
    nonce = records.new_nonce()

    def timeout_s_for(wait: str) -> float:
        """The rule for every wait on the child's next line: --step-timeout when given; else a step's own
        limit (StepSpec.timeout_s), and QUIET_S for start-up and between steps. --timeout bounds them all."""
        if step_timeout_s is not None:
            return step_timeout_s
        spec = steps.BY_NAME.get(wait)
        return spec.timeout_s if spec is not None else QUIET_S

    def driven(source: LineSource) -> ChildTranscript:
        return drive(source, target, timeout_s_for=timeout_s_for, run_timeout_s=run_timeout_s,
                     run_deadline=run_deadline, nonce=nonce, on_event=on_event, bench=bench)

    if target.error:
        child = ChildTranscript(target, Ended.NOT_STARTED, error=target.error, bench=bench)
    elif target.kind == "docker":
        from envcheck.smoke import container

        try:
            stream = container.start(target.image or "", target.python, child_args(bench), env=env, home=home,
                                     timeout_s=min(30.0, left_s()), gpus=bool(host_gpus),
                                     run_timeout_s=left_s(), nonce=nonce)
        except container.ContainerError as exc:
            child = ChildTranscript(target, Ended.NOT_STARTED, error=str(exc), error_fix=exc.fix, bench=bench)
        else:
            try:
                child = driven(stream)
            finally:
                stream.remove()
    else:
        local = start_local(target, bench, {**env, records.NONCE_VARIABLE: nonce})
        try:
            child = driven(local)
        except BaseException:  # Ctrl-C (or a bug): the child runs in its own session and would outlive us
            local.close(grace_s=2.0)
            raise
    judging = Judging(policy, target, nvidia_proc.driver_version(), host_gpus,
                      python_version=str((child.hello or {}).get("version") or "") or None, hello=child.hello or {},
                      step_timeout_s=step_timeout_s)
    return Report(
        command="smoke", host=socket.gethostname(), started_at=started_at,
        duration_s=round(time.monotonic() - start, 4), results=tuple(steps.results(child, judging)), strict=strict,
    )


def step_list() -> list[tuple[str, str]]:
    """(id, title) of every result a smoke run can give, for `envcheck smoke --list`."""
    from envcheck.smoke.steps import STEPS

    # Where each step runs: the CPU results come first, then one per GPU; the all-reduce is one result for all.
    scopes = {"train": " (CPU, then per GPU)", "save-load": " (CPU, then per GPU)",
              "bench-matmul": " (CPU, then per GPU)", "nccl": " (once, across two or more GPUs)"}
    rows = [("smoke.target", "The target environment runs the smoke child")]
    for spec in STEPS:
        scope = scopes.get(spec.name, " (per GPU)" if spec.gpu else "")
        rows.append((spec.id, spec.title + scope + (" [--bench]" if spec.bench else "")))
    return rows
