"""The one reader of what a child says: a process's pipes, a container's log stream, an image build's stream.

Three pieces, used together by every reader of child output (``runner.LineStream``, the smoke container's
``ContainerStream``, ``envcheck verify``'s build and smoke streams):

- :class:`Feed` reads any source on a daemon thread, so every wait for the next item is bounded even while the
  source is silent (a quiet ``RUN pip install -q``, a hung CUDA call), and a passed deadline ends the reading even
  while the source is still talking: a child that floods its output cannot hold the reader past its deadline.
- :func:`split_lines` turns byte chunks into lines and cuts a line at :data:`MAX_LINE` bytes (the rest of that
  line is dropped), so a child that never writes a newline cannot fill the parent's memory.
- :class:`Tail` keeps the last bytes of a stream in a fixed-size buffer (a child's stderr).

Standard library only: everything else in envcheck may import it.
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, Iterable, Iterator, TypeVar, cast

MAX_LINE = 1 << 20  # bytes: far above any line the smoke child or the engine writes, far below trouble
_T = TypeVar("_T")
_END = object()


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class Feed(Generic[_T]):
    """The items of ``source`` as they come, handed out under a deadline.

    An error raised by ``source`` ends the feed; it is kept in :attr:`error` (after the items before it), for the
    caller to raise, report or ignore.
    """

    def __init__(self, source: Iterable[_T], name: str) -> None:
        self.error: Exception | None = None
        self._box: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _pump(self, source: Iterable[_T]) -> None:
        try:
            for item in source:
                self._box.put(item)
        except Exception as exc:  # kept for the reader's thread, which knows what it means
            self.error = exc
        self._box.put(_END)

    def get(self, timeout: float) -> _T | None:
        """The next item, or None at the end of the source (and on every call after it).

        Raises TimeoutError when none came within ``timeout`` seconds, and at once when ``timeout`` is not
        positive, even with items waiting: the deadline is over."""
        if timeout <= 0:
            raise TimeoutError("no time left for more output")
        try:
            item = self._box.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no output within {timeout:.1f} s") from None
        if item is _END:
            self._box.put(_END)
            return None
        return cast(_T, item)  # everything but _END came from source

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the source to end (after its process was killed, say)."""
        self._thread.join(timeout=timeout)


def split_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE) -> Iterator[str]:
    """Decoded lines without their line ending. A line longer than ``max_line`` bytes is handed out cut at that
    length, and the rest of it up to the next newline is dropped. An error from ``chunks`` is raised after the
    unfinished last line is handed out."""
    pending = bytearray()
    dropping = False  # inside a line that was already cut
    try:
        for chunk in chunks:
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                if not dropping:
                    yield decode(bytes(pending[:min(end, max_line)])).rstrip("\r")
                dropping = False
                del pending[:end + 1]
            if len(pending) > max_line:
                if not dropping:
                    yield decode(bytes(pending[:max_line])).rstrip("\r")
                dropping = True
                pending.clear()
    except Exception:
        if pending and not dropping:
            yield decode(bytes(pending)).rstrip("\r")
        raise
    if pending and not dropping:
        yield decode(bytes(pending)).rstrip("\r")


def lines(chunks: Iterable[bytes], name: str, max_line: int = MAX_LINE) -> Feed[str]:
    """A :class:`Feed` of the lines in ``chunks``."""
    return Feed(split_lines(chunks, max_line), name)


class Tail:
    """The last ``size`` bytes added, whatever came before; safe to add to from one thread and read from another."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data = bytearray()
        self._lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self._lock:
            self._data += data
            if len(self._data) > self.size:
                del self._data[:len(self._data) - self.size]

    def follow(self, chunks: Iterable[bytes], name: str) -> threading.Thread:
        """Add every chunk of ``chunks`` on a daemon thread, until it ends (or fails: the tail is what came)."""

        def pump() -> None:
            try:
                for chunk in chunks:
                    self.add(chunk)
            except Exception:  # noqa: S110 - a broken pipe ends the tail; what it kept stands
                pass

        thread = threading.Thread(target=pump, name=name, daemon=True)
        thread.start()
        return thread

    def text(self, limit: int | None = None) -> str:
        """The last ``limit`` bytes (all that is kept when None), decoded."""
        with self._lock:
            data = bytes(self._data if limit is None else self._data[-limit:])
        return decode(data)
