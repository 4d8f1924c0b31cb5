"""The parent side of the child protocol: start the child, read its JSON lines under deadlines, and keep
what happened as facts (a :class:`ChildRun`). No verdicts here; ``steps.py`` judges.

Every step announces itself before it starts, so when output stops the parent knows the step that is
running: a hang is cut off at that step's deadline (or the run's) and pinned to it, and a child that dies
is pinned to its last open step with the stderr tail. Each step's facts are decoded here, once, by the
step's own facts type (``steps.STEPS``), so the judges read typed records.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Mapping, Protocol

from envcheck import runner
from envcheck.smoke.events import ChildRun, Ended, StepEnd, decode_end
from envcheck.smoke.steps import BY_NAME
from envcheck.smoke.targets import Target

# The child: a folder with a __main__.py, run by path (`python .../child`), its modules beside it.
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child")
STARTUP_S = 30.0  # from launch to the child's hello: interpreter start (a container's too)
GAP_S = 30.0  # between one step's end and the next one's start


class LineSource(Protocol):
    """What the driver reads: :class:`envcheck.runner.LineStream`, or a container's logs."""

    missing: bool
    error: str

    def readline(self, timeout: float) -> str | None: ...

    def stderr_tail(self, limit: int = 4000) -> str: ...

    def close(self, grace: float = 2.0, wait: float = 0.0) -> int | None: ...


def child_args(bench: bool) -> list[str]:
    return ["--bench"] if bench else []


def start_local(target: Target, bench: bool, env: Mapping[str, str] | None = None) -> LineSource:
    """The child in a local interpreter, by path; unbuffered, and no .pyc next to envcheck's files."""
    child_env = dict(os.environ if env is None else env)
    child_env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    return runner.stream([target.python, "-u", CHILD, *child_args(bench)], env=child_env)


def drive(
    source: LineSource,
    target: Target,
    *,
    deadline_for: Callable[[str], float],
    run_timeout: float,
    on_event: Callable[[Mapping[str, Any]], None] | None = None,
    bench: bool = False,
) -> ChildRun:
    """Read the child until it is done, dies, or a deadline runs out; then close it."""
    start = time.monotonic()
    run_deadline = start + run_timeout
    hello: Mapping[str, Any] | None = None
    ends: list[StepEnd] = []
    noise: list[str] = []
    open_step: tuple[str, str | None] | None = None
    opened = start
    step_deadline = start + min(STARTUP_S, run_timeout)
    ended = Ended.EXIT
    if source.missing:
        return ChildRun(target, Ended.NOT_STARTED, error=source.error, bench=bench)
    while True:
        now = time.monotonic()
        limit = min(step_deadline, run_deadline)
        try:
            line = source.readline(limit - now)
        except TimeoutError:
            ended = Ended.RUN_DEADLINE if run_deadline <= step_deadline else Ended.STEP_DEADLINE
            break
        if line is None:
            break
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict) or "event" not in event:
            noise.append(line[:500])
            continue
        now = time.monotonic()
        kind = event["event"]
        if kind == "hello":
            hello = event
            step_deadline, opened = now + GAP_S, now  # `opened`: since when the deadline runs
        elif kind == "start":
            open_step, opened = (str(event.get("step")), event.get("item")), now
            step_deadline = now + deadline_for(str(event.get("step")))
        elif kind == "end":
            spec = BY_NAME.get(str(event.get("step")))
            ends.append(decode_end(event, spec.decode if spec is not None else None))
            open_step = None
            step_deadline, opened = now + GAP_S, now
        elif kind == "done":
            ended = Ended.DONE
            step_deadline = now + GAP_S  # it should exit right away; the close below makes sure
        if on_event is not None:
            on_event(event)
        if ended is Ended.DONE:
            break
    now = time.monotonic()
    deadline = (run_timeout if ended is Ended.RUN_DEADLINE else step_deadline - opened) if ended.cut_off else 0.0
    rc = source.close(wait=5.0 if ended is Ended.DONE else 0.0)  # a finished child exits by itself
    return ChildRun(
        target=target, ended=ended, hello=hello, ends=tuple(ends), open_step=open_step,
        open_for_s=round(now - opened, 3) if open_step else 0.0, deadline_s=round(deadline, 3), rc=rc,
        stderr_tail=source.stderr_tail(), noise=tuple(noise), duration_s=round(now - start, 3), bench=bench,
    )
