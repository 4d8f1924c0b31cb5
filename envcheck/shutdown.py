"""How a signal ends envcheck: SIGTERM (a CI job's timeout, `kill`) and SIGHUP (the terminal closed) raise
SystemExit(128 + the signal's number) in the main thread, so the run unwinds like any other exit.

Unwinding is what ends the children: the commands envcheck starts run in sessions of their own
(envcheck/proctree.py), so a signal sent to envcheck alone never reaches them. The ``finally`` blocks on the way
out end the child being read (smoke's), and :func:`ending_on_signals` then ends every tree still running (a
probe's, on a thread the engine was waiting for) with ``proctree.close``. Python's default for SIGTERM and
SIGHUP kills the process on the spot, skipping both. Ctrl-C stays KeyboardInterrupt (click says "Aborted.",
exit 130), and ends the children the same way.

The exit code is the one a shell reports for a process the signal ended (130, 143, 129:
https://www.gnu.org/software/bash/manual/html_node/Exit-Status.html), and SystemExit prints no traceback.
A signal the process ignores (SIGHUP under nohup) stays ignored.

Standard library only: the console script installs these before it imports the CLI (envcheck/__main__.py).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from types import FrameType
from typing import Callable, Iterator

ENDING = (signal.SIGTERM, signal.SIGHUP)  # end any command, its children included

_Handler = Callable[[int, FrameType | None], object] | int | None
_received: list[int] = []  # the signals that reached these handlers in this process, first first


def exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """A signal handler: end the run as that signal would, with its exit code, through the normal unwinding."""
    _received.append(signum)
    raise SystemExit(128 + signum)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: KeyboardInterrupt, as Python's own handler raises it, noted like the other signals."""
    _received.append(signum)
    signal.default_int_handler(signum, frame)


def note_only(signum: int, frame: FrameType | None) -> None:
    """A signal handler for after the run: the signal is noted and nothing more (see :func:`exiting`)."""
    _received.append(signum)


def exiting() -> None:
    """The run is over and the process is exiting: from here a Ctrl-C, TERM or HUP is noted and nothing more. The
    exit goes on with the run's exit code: Python still joins the threads of concurrent.futures (each bounded by
    its command's deadline) and runs the exit hooks, which end the commands still running (proctree.end_all), and
    an exception raised there would only surface as an "Exception ignored in ..." traceback. Only the main thread
    may set handlers: elsewhere this changes nothing."""
    try:
        for signum in (signal.SIGINT, *ENDING):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, note_only)
    except ValueError:  # not the main thread
        pass


def install(signums: tuple[int, ...]) -> dict[int, _Handler]:
    """Make each of ``signums`` end the run (:func:`exit_on_signal`); the handlers it replaced, by signal. Only
    the main thread may set handlers (and only it receives signals): elsewhere this installs nothing."""
    previous: dict[int, _Handler] = {}
    try:
        for signum in signums:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, exit_on_signal)
    except ValueError:  # not the main thread
        pass
    return previous


def restore(previous: dict[int, _Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python


@contextmanager
def ending_on_signals(signums: tuple[int, ...] = ENDING) -> Iterator[None]:
    """Within the block, each of ``signums`` ends the run through SystemExit; the previous handlers after it (so
    a caller that runs a command in its own process, a test say, keeps its own).

    When a signal (Ctrl-C included) ends the block, the children still running are ended right away and no more
    start (``proctree.close``). Left to ``proctree.end_all`` at interpreter exit, they would first be waited for:
    a probe's commands may run on a concurrent.futures worker, and Python joins those workers before it calls
    the atexit hooks (``threading._register_atexit`` in Lib/concurrent/futures/thread.py, Python 3.9+), so a
    hanging one would hold the exit until its own deadline."""
    previous = install(signums)
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
    except ValueError:  # not the main thread
        pass
    before = len(_received)
    try:
        yield
    except BaseException:
        if len(_received) > before:
            from envcheck import proctree  # here: the console script imports this module before anything else

            proctree.close()
        raise
    finally:
        restore(previous)
