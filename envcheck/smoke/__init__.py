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


def run_smoke(
    *,
    python: str | None = None,
    conda_env: str | None = None,
    docker: str | None = None,
    bench: bool = False,
    run_timeout: float = 600.0,
    step_timeout: float | None = None,
    policy: Policy | None = None,
    on_event: Callable[[Mapping[str, Any]], None] | None = None,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
) -> Report:
    """The whole smoke run as a Report (command "smoke"); a named target that is not there is a UsageError."""
    from envcheck.probes import nvidia_proc
    from envcheck.smoke import steps, targets
    from envcheck.smoke.driver import LineSource, child_args, drive, start_local
    from envcheck.smoke.events import ChildRun, Ended
    from envcheck.smoke.judging import Judging

    policy = policy or default_policy()
    env = dict(os.environ) if env is None else dict(env)
    home = os.path.expanduser("~")
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.monotonic()
    target = targets.resolve(python=python, conda_env=conda_env, docker=docker, env=env, home=home, run=runner.run)
    host_gpus = nvidia_proc.read_gpus()

    def deadline_for(step: str) -> float:
        spec = steps.BY_NAME.get(step)
        return step_timeout if step_timeout is not None else (spec.deadline_s if spec else 60.0)

    def driven(source: LineSource) -> ChildRun:
        return drive(source, target, deadline_for=deadline_for, run_timeout=run_timeout, on_event=on_event, bench=bench)

    if target.error:
        run = ChildRun(target, Ended.NOT_STARTED, error=target.error, bench=bench)
    elif target.kind == "docker":
        from envcheck.smoke import container

        try:
            stream = container.start(target.image or "", target.python, child_args(bench), env=env, home=home,
                                     timeout=min(30.0, run_timeout), gpus=bool(host_gpus), run_timeout=run_timeout)
        except container.ContainerError as exc:
            run = ChildRun(target, Ended.NOT_STARTED, error=str(exc), error_fix=exc.fix, bench=bench)
        else:
            try:
                run = driven(stream)
            finally:
                stream.remove()
    else:
        local = start_local(target, bench, env)
        try:
            run = driven(local)
        except BaseException:  # Ctrl-C (or a bug): the child runs in its own session and would outlive us
            local.close(grace=2.0)
            raise
    judging = Judging(policy, target, nvidia_proc.driver_version(), host_gpus,
                      python_version=str((run.hello or {}).get("version") or "") or None, hello=run.hello or {})
    return Report(
        command="smoke", host=socket.gethostname(), started_at=started_at,
        duration_s=round(time.monotonic() - start, 4), results=tuple(steps.results(run, judging)), strict=strict,
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
