"""The parent side of the child protocol: start the child, read its JSON lines under deadlines, and keep
what happened as facts (a :class:`ChildTranscript`). No verdicts here; ``steps.py`` judges.

Every step announces itself before it starts, so when output stops the parent knows the step that is
running: a hang is cut off at that step's deadline (or the run's) and pinned to it, and a child that dies
is pinned to its last open step with the stderr tail. Each step's facts are decoded here, once, by the
step's own facts type (``steps.STEPS``), so the judges read typed records.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable, Mapping, Protocol

from envcheck import runner
from envcheck.smoke import oom
from envcheck.smoke.events import ChildTranscript, Ended
from envcheck.smoke.oom import OomFinding
from envcheck.smoke.records import Reading
from envcheck.smoke.steps import planned_steps
from envcheck.smoke.targets import Target

# The child: a folder with a __main__.py, run by path (`python .../child`), its modules beside it.
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child")
# The waits that are not a step's, named for ``timeout_s_for``: from launch to the child's hello (interpreter
# start, a container's too), and from one step's end (or the hello) to the next step's start.
STARTUP = "start-up"
BETWEEN = "between steps"


class LineSource(Protocol):
    """What the driver reads: :class:`envcheck.runner.LineStream`, or a container's logs."""

    missing: bool
    error: str

    def readline(self, timeout_s: float) -> str | None: ...

    def stderr_tail(self, limit: int = 4000) -> str: ...

    def close(self, grace_s: float = 2.0, wait_s: float = 0.0) -> int | None: ...


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
    timeout_s_for: Callable[[str], float],
    run_timeout_s: float,
    nonce: str,
    run_deadline: float | None = None,
    on_event: Callable[[Mapping[str, Any]], None] | None = None,
    bench: bool = False,
    find_oom: Callable[[int], OomFinding] = oom.find,
) -> ChildTranscript:
    """Read the child until it is done, dies, or a deadline runs out; then close it.

    Every wait for the child's next line has a limit: ``timeout_s_for(step)`` while a step runs, and
    ``timeout_s_for(STARTUP)`` / ``timeout_s_for(BETWEEN)`` before its hello and between two steps; no
    wait outlives ``run_timeout_s`` (or ``run_deadline``, when the run began before the child: smoke_test finds
    the target first). Only records carrying ``nonce`` count (``records.Reading``)."""
    start = time.monotonic()
    run_deadline = start + run_timeout_s if run_deadline is None else run_deadline
    reading = Reading(nonce, planned_steps(bench))
    opened = start
    step_deadline = start + timeout_s_for(STARTUP)
    ended = Ended.EXIT
    if source.missing:
        return ChildTranscript(target, Ended.NOT_STARTED, error=source.error, bench=bench)
    while True:
        now = time.monotonic()
        deadline = min(step_deadline, run_deadline)
        try:
            line = source.readline(deadline - now)
        except TimeoutError:
            ended = Ended.RUN_DEADLINE if run_deadline <= step_deadline else Ended.STEP_DEADLINE
            break
        if line is None:
            break
        event = reading.take(line)
        if event is None:
            continue
        now = time.monotonic()
        kind = event["event"]
        if kind == "start":
            opened, step_deadline = now, now + timeout_s_for(str(event["step"]))
        elif kind in ("hello", "end"):
            opened, step_deadline = now, now + timeout_s_for(BETWEEN)  # `opened`: since when the deadline runs
        elif kind == "done":
            ended = Ended.DONE
        if on_event is not None:
            on_event(event)
        if ended is Ended.DONE:
            break
    # Output ended without "done": the child usually died, and exits at once. One that closed its stdout and
    # lives on keeps the deadline it ran under, and is killed by envcheck when that runs out.
    wait_s = 5.0 if ended is Ended.DONE else 0.0  # a finished child exits by itself
    if ended is Ended.EXIT:
        wait_s = max(0.2, min(step_deadline, run_deadline) - time.monotonic())
    closing = time.monotonic()
    rc = source.close(wait_s=wait_s)
    now = time.monotonic()
    output_closed = ended is Ended.EXIT and _sigkill(rc) and now - closing >= wait_s
    if output_closed:  # still running when the wait ran out: the kill was ours, at that deadline
        ended = Ended.RUN_DEADLINE if run_deadline <= step_deadline else Ended.STEP_DEADLINE
    timeout_s = (run_timeout_s if ended is Ended.RUN_DEADLINE else step_deadline - opened) if ended.cut_off else 0.0
    pid = (reading.hello or {}).get("pid")
    found = find_oom(pid) if ended is Ended.EXIT and _sigkill(rc) and isinstance(pid, int) \
        and target.kind != "docker" else None  # a container's pids are not the host's, which the log names
    return ChildTranscript(
        target=target, ended=ended, hello=reading.hello, ends=tuple(reading.ends), open_step=reading.open_step,
        open_for_s=round(now - opened, 3) if reading.open_step else 0.0, timeout_s=round(timeout_s, 3), rc=rc,
        stderr_tail=source.stderr_tail(), noise=tuple(reading.noise), duration_s=round(now - start, 3), bench=bench,
        rejected=tuple(reading.rejected), rejected_count=reading.rejected_count, output_closed=output_closed,
        oom=found,
    )


def _sigkill(rc: int | None) -> bool:
    """SIGKILL's exit status: -9 from a process, 137 (128 + 9) from a container."""
    return rc is not None and rc in (-signal.SIGKILL, 128 + signal.SIGKILL)
