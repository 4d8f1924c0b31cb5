"""The child's side of the protocol: one JSON object per line on a private copy of stdout, and the frame
around every step (announce it, run it, report how it ended). Standard library only."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any, Callable

PROTOCOL = 1


class Skip(Exception):
    """The step does not apply here; the message says why."""


NONCE_VARIABLE = "ENVCHECK_SMOKE_NONCE"  # envcheck/smoke/records.py reads only records that carry it


class Emitter:
    """Writes one record per line; each carries the nonce the parent gave this run, which is how the parent
    tells the child's records from anything else that reaches stdout."""

    def __init__(self, stream: Any, nonce: str = "") -> None:
        self.stream, self.nonce = stream, nonce

    def __call__(self, event: str, **fields: Any) -> None:
        fields = {"event": event, **fields, **({"nonce": self.nonce} if self.nonce else {})}
        self.stream.write(json.dumps(fields, default=str) + "\n")
        self.stream.flush()


def perform_step(emit: Emitter, step: str, item: str | None, fn: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """Announce, run and report one step; return its facts, or None when it failed or was skipped."""
    emit("start", step=step, item=item)
    start = time.perf_counter()
    try:
        facts = fn()
    except Skip as exc:
        emit("end", step=step, item=item, state="skip", reason=str(exc), duration_s=since(start))
        return None
    except BaseException as exc:  # every failure, including SystemExit from a library, is this step's result
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        emit(
            "end", step=step, item=item, state="error", duration_s=since(start),
            error={"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": tb[-4000:]},
        )
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None
    emit("end", step=step, item=item, state="ok", facts=facts, duration_s=since(start))
    return facts


def since(start: float) -> float:
    return round(time.perf_counter() - start, 4)


def protocol_stream() -> Any:
    """A private duplicate of stdout for the JSON lines; fd 1 then points at stderr, so whatever a library
    prints to stdout (NCCL_DEBUG, a C++ printf) lands in the stderr tail instead of corrupting the protocol."""
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)
    return stream
