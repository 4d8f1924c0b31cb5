"""What the smoke child said, decoded: how each step ended (:class:`StepEnd`) and how the run ended
(:class:`ChildTranscript`). The driver builds them; the judges in ``steps.py`` and ``fixes.py`` only read them.
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any, Callable, Mapping

from envcheck.frozen import frozen
from envcheck.smoke.facts import FactsError, StepFacts
from envcheck.smoke.oom import OomFinding
from envcheck.smoke.targets import Target


class Ended(enum.Enum):
    """How the child's run ended."""

    DONE = "done"  # it walked every step and said so
    EXIT = "exit"  # its output ended without "done": it died or exited
    STEP_DEADLINE = "step-deadline"  # a step (or the quiet between two) overran its deadline: cut off
    RUN_DEADLINE = "run-deadline"  # the whole run's deadline ran out: cut off
    NOT_STARTED = "not-started"  # there was no interpreter or container to start it in

    @property
    def cut_off(self) -> bool:
        """Killed by envcheck at a deadline, not an exit of the child's own."""
        return self in (Ended.STEP_DEADLINE, Ended.RUN_DEADLINE)


class StepState(enum.Enum):
    """How the child ended one step."""

    OK = "ok"  # facts to judge
    ERROR = "error"  # the step raised
    SKIP = "skip"  # the step does not apply, or an earlier failure blocks it


@frozen
class ChildError:
    """What a step raised: the exception's type name, its message, and the traceback's tail."""

    type: str
    message: str
    traceback: str


@frozen
class StepEnd:
    """One step's end, for one item (a GPU, "cpu") or for the whole run (item None)."""

    step: str
    item: str | None
    state: StepState
    duration_s: float = 0.0
    facts: StepFacts | None = None  # OK: decoded by the step's own facts type
    facts_error: str = ""  # OK, but the facts could not be decoded: why
    raw_facts: Mapping[str, Any] = field(default_factory=dict)  # as the child sent them: the evidence
    error: ChildError | None = None  # ERROR
    reason: str = ""  # SKIP: the child's reason
    blocked_by: str | None = None  # SKIP: the earlier step that failed for this item
    gpu_skip: bool = False  # SKIP: no usable GPU (cuda-available says why)


FactsDecoder = Callable[[Mapping[str, Any]], StepFacts]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def decode_end(event: Mapping[str, Any], decoder: FactsDecoder) -> StepEnd:
    """An "end" line as a StepEnd; ``decoder`` is the step's facts type (the reader drops a step this envcheck
    does not know). Never raises: a malformed field is kept as the reason it cannot be judged."""
    state = {"error": StepState.ERROR, "skip": StepState.SKIP}.get(str(event.get("state")), StepState.OK)
    duration = event.get("duration_s")
    common: dict[str, Any] = {
        "step": str(event.get("step")), "item": _text(event.get("item")), "state": state,
        "duration_s": float(duration) if isinstance(duration, (int, float)) and duration else 0.0,
    }
    if state is StepState.ERROR:
        error = event.get("error")
        error = error if isinstance(error, dict) else {}
        return StepEnd(**common, error=ChildError(str(error.get("type", "Error")), str(error.get("message", "")),
                                                  str(error.get("traceback", ""))))
    if state is StepState.SKIP:
        return StepEnd(**common, reason=str(event.get("reason") or ""), blocked_by=_text(event.get("blocked_by")),
                       gpu_skip=bool(event.get("gpu_skip")))
    raw = event.get("facts") or {}
    if not isinstance(raw, dict):
        return StepEnd(**common, facts_error=f"FactsError: not an object: {raw!r:.80}")
    try:
        return StepEnd(**common, facts=decoder(raw), raw_facts=raw)
    except FactsError as exc:
        return StepEnd(**common, facts_error=f"{type(exc).__name__}: {exc}", raw_facts=raw)


@frozen
class ChildTranscript:
    """Everything the child said, and how its run ended.

    ``open_step`` is the (step, item) that had started and not ended when the run stopped. ``ended`` says
    who stopped it: the child (DONE, EXIT: ``rc`` says how) or envcheck at a deadline (``cut_off``).
    """

    target: Target
    ended: Ended
    hello: Mapping[str, Any] | None = None
    ends: tuple[StepEnd, ...] = ()
    open_step: tuple[str, str | None] | None = None
    open_for_s: float = 0.0
    timeout_s: float = 0.0  # the time limit that ran out, when it was cut off
    rc: int | None = None
    stderr_tail: str = ""
    noise: tuple[str, ...] = ()  # stdout lines that were not records of this child (no JSON, no nonce)
    rejected: tuple[str, ...] = ()  # why the first of the child's records that broke the protocol were dropped
    rejected_count: int = 0  # how many were
    output_closed: bool = False  # its stdout ended while it kept running, until envcheck cut it off
    oom: OomFinding | None = None  # for a SIGKILL envcheck did not send: what the kernel log says of its pid
    error: str = ""  # why the child could not start
    error_fix: str = ""  # and what to do about it, when the starter knew
    duration_s: float = 0.0
    bench: bool = False
