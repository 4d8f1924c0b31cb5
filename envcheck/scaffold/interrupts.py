"""SIGINT, SIGTERM and SIGHUP while scaffold changes the disk: held until the step under way is finished.

Python's default SIGINT raises KeyboardInterrupt between any two bytecodes, and SIGTERM and SIGHUP end the process
at once; either can fall between a rename and the bookkeeping that would undo it. While :func:`held` is active the
three signals are only recorded; the writer asks :meth:`Held.check` between steps, rolls back, and the run ends
with :class:`Interrupted`, whose exit code is 128 + the signal's number (130, 143, 129), as a shell reports a
process that the signal ended (https://www.gnu.org/software/bash/manual/html_node/Exit-Status.html).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from envcheck.model import EnvcheckError

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(EnvcheckError):
    """A signal ended the run at a consistent point; the message says in which state the disk was left."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or f"interrupted by {signal_name(signum)}")
        self.signum = signum
        self.exit_code = 128 + signum


class Held:
    """The signals that arrived while held, first one first."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    @property
    def pending(self) -> int | None:
        return self.received[0] if self.received else None

    def check(self) -> None:
        """Raise :class:`Interrupted` for the first signal that arrived; a no-op when none did."""
        if self.received:
            raise Interrupted(self.received[0])


_active: Held | None = None


@contextmanager
def held() -> Iterator[Held]:
    """Hold the three signals for the block (nested blocks share the outer one). Signals reach only the main
    thread, so elsewhere nothing is installed and nothing is ever pending. A signal this process ignores (SIGHUP
    under nohup) stays ignored."""
    global _active
    if _active is not None:
        yield _active
        return
    holder = Held()
    previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
    try:
        for signum in HANDLED:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, holder._record)
    except ValueError:  # not the main thread: signal.signal refuses, and the main thread gets the signals
        pass
    _active = holder
    try:
        yield holder
    finally:
        _active = None
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
