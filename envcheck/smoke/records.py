"""The parent's reading of the child's stdout: which lines are records of the child envcheck started, and
whether each record keeps the protocol (``child/smoke_protocol.py`` writes them).

A line is a record only when it is a JSON object carrying this run's nonce: a random value the parent
hands to the child it starts (in the environment, :data:`NONCE_VARIABLE`) and the child echoes in every
record. Anything else on stdout (a wrapper script's greeting, a library's print, a record from another
run) is noise: kept as evidence, never judged. A record with the nonce is the child's own, so a record
that breaks the protocol (an unknown event or step, a field of the wrong type, a step out of order or
reported twice, a step record while another is open) is rejected and counted: a run with a rejected
record cannot pass. Each step's facts are decoded later by the step's own type (``facts.py``).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

from envcheck.smoke.events import StepEnd, decode_end
from envcheck.smoke.steps import BY_NAME

NONCE_VARIABLE = "ENVCHECK_SMOKE_NONCE"
PROTOCOL = 1  # child/smoke_protocol.py PROTOCOL: the version of the records this reader understands
EVENTS = ("hello", "start", "progress", "end", "done")
STATES = ("ok", "error", "skip")
MAX_NOISE = 50  # lines kept; the evidence shows the last few
MAX_REJECTED = 5  # reasons kept; all are counted
MAX_ITEM = 200  # an item names a GPU ("GPU 0 (GPU-<uuid>)") or "cpu"


def new_nonce() -> str:
    return secrets.token_hex(16)


class Rejected(ValueError):
    """A record of the child's (it carries the nonce) that breaks the protocol."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(record: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = record.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Rejected(f"{key!r} should be a string, not {value!r:.60}")
    return value


def _duration(record: Mapping[str, Any], *, optional: bool = False) -> None:
    value: Any = record.get("duration_s")
    if value is None and optional:
        return
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        raise Rejected(f"'duration_s' should be a finite number of seconds, not {value!r:.60}")


def _flag(record: Mapping[str, Any], key: str) -> None:
    if record.get(key) is not None and not isinstance(record.get(key), bool):
        raise Rejected(f"{key!r} should be true or false, not {record.get(key)!r:.60}")


def _label(step: str, item: str | None) -> str:
    return f"smoke.{step}" + (f" [{item}]" if item else "")


@dataclass
class Reading:
    """What the child has said so far: fed one stdout line at a time by the driver."""

    nonce: str
    planned: tuple[str, ...]
    hello: dict[str, Any] | None = None
    ends: list[StepEnd] = field(default_factory=list)
    open_step: tuple[str, str | None] | None = None
    noise: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    rejected_count: int = 0
    _done: set[tuple[str, str | None]] = field(default_factory=set)
    _last: int = -1  # the index in ``planned`` of the latest step a record named
    _line: int = 0

    def take(self, line: str) -> dict[str, Any] | None:
        """The record ``line`` holds, checked and without its nonce; None for noise or a rejected record."""
        import json

        self._line += 1
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or record.get("nonce") != self.nonce or not self.nonce:
            self.noise.append(line[:500])
            del self.noise[:-MAX_NOISE]
            return None
        record.pop("nonce")
        try:
            self._check(record)
        except Rejected as exc:
            self.rejected_count += 1
            if len(self.rejected) < MAX_REJECTED:
                kind = str(record.get("event"))[:20]
                self.rejected.append(f"line {self._line} ({kind!r}): {exc}")
            return None
        return record

    def _check(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind not in EVENTS:
            raise Rejected(f"unknown event {kind!r:.40}")
        if kind == "hello":
            self._hello(record)
            return
        if self.hello is None:
            raise Rejected("before the child's hello")
        if kind == "done":
            _duration(record, optional=True)
            if self.open_step is not None:
                raise Rejected(f"while {_label(*self.open_step)} is still running")
            return
        step, item = self._step(record)
        if kind == "progress":
            if self.open_step != (step, item):
                raise Rejected(f"progress of {_label(step, item)}, which is not running")
            for key in ("done", "total"):
                if not isinstance(record.get(key), int) or isinstance(record.get(key), bool):
                    raise Rejected(f"{key!r} should be an integer, not {record.get(key)!r:.60}")
            if not _is_number(record.get("loss")):  # NaN too: a diverging run's loss, judged at the step's end
                raise Rejected(f"'loss' should be a number, not {record.get('loss')!r:.60}")
            return
        if kind == "start":
            if self.open_step is not None:
                raise Rejected(f"{_label(step, item)} started while {_label(*self.open_step)} is still running")
            self._in_order(step, item)
            self.open_step = (step, item)
            return
        if self.open_step is not None and self.open_step != (step, item):
            raise Rejected(f"the end of {_label(step, item)} while {_label(*self.open_step)} is running")
        self._in_order(step, item)
        self.ends.append(self._end(record, step))
        self._done.add((step, item))
        self.open_step = None

    def _hello(self, record: dict[str, Any]) -> None:
        if self.hello is not None:
            raise Rejected("a second hello")
        if record.get("protocol") != PROTOCOL:
            raise Rejected(f"protocol {record.get('protocol')!r:.20}; this envcheck reads protocol {PROTOCOL}")
        _string(record, "python")
        _string(record, "version")
        pid = record.get("pid")
        if not (isinstance(pid, int) and not isinstance(pid, bool) and pid > 0):
            raise Rejected(f"'pid' should be a process id, not {pid!r:.60}")
        for key in ("pip", "externally_managed"):
            _flag(record, key)
        _string(record, "os_like", optional=True)
        self.hello = record

    def _step(self, record: Mapping[str, Any]) -> tuple[str, str | None]:
        step = record.get("step")
        if not isinstance(step, str) or step not in BY_NAME:
            raise Rejected(f"unknown step {step!r:.60}")
        if step not in self.planned:
            raise Rejected(f"smoke.{step} is not part of this run")
        item = _string(record, "item", optional=True)
        if item is not None and not (0 < len(item) <= MAX_ITEM and item.isprintable()):
            raise Rejected(f"'item' should be a short printable name, not {item!r:.60}")
        return step, item

    def _in_order(self, step: str, item: str | None) -> None:
        if (step, item) in self._done:
            raise Rejected(f"{_label(step, item)} reported a second time")
        index = self.planned.index(step)
        if index < self._last:
            raise Rejected(f"smoke.{step} after smoke.{self.planned[self._last]}: out of order")
        self._last = index

    def _end(self, record: Mapping[str, Any], step: str) -> StepEnd:
        state = record.get("state")
        if state not in STATES:
            raise Rejected(f"'state' should be one of {', '.join(STATES)}, not {state!r:.60}")
        _duration(record)
        if state == "ok" and not isinstance(record.get("facts"), dict):
            raise Rejected(f"'facts' should be an object, not {record.get('facts')!r:.60}")
        if state == "error":
            error = record.get("error")
            if not isinstance(error, dict):
                raise Rejected(f"'error' should be an object, not {error!r:.60}")
            for key in ("type", "message", "traceback"):
                _string(error, key, optional=key != "type")
        if state == "skip":
            _string(record, "reason", optional=True)
            _flag(record, "gpu_skip")
            blocker = _string(record, "blocked_by", optional=True)
            if blocker is not None and (blocker not in self.planned
                                        or self.planned.index(blocker) > self.planned.index(step)):
                raise Rejected(f"'blocked_by' should name an earlier step, not {blocker!r:.60}")
        return decode_end(record, BY_NAME[step].decode)
