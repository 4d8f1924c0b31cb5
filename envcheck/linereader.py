"""The one reader of what a child says: a process's pipes, a container's log stream, an image build's stream.

Three pieces, used together by every reader of child output (``runner.run`` and ``runner.LineStream``, the smoke
container's ``ContainerStream``, ``envcheck verify``'s build and smoke streams):

- :class:`Splitter` (and :func:`split_lines` over an iterable) turns byte chunks into lines and cuts a line at
  :data:`MAX_LINE` bytes (the rest of that line is dropped), so a child that never writes a newline cannot fill
  the parent's memory.
- :class:`Tail` keeps the last bytes of a stream in a fixed-size buffer (a command's output, a child's stderr).
- :class:`Feed` reads a source that cannot be waited on with ``select()`` (the Docker SDK's log and build
  iterators) on a daemon thread, so every wait for the next item is bounded even while the source is silent (a
  quiet ``RUN pip install -q``, a hung CUDA call), and a passed deadline ends the reading even while the source
  is still talking. At most :data:`FEED_ITEMS` items wait in it: a source faster than its reader is held back
  instead of queued in memory. A local process's pipes need no thread: ``runner`` waits on them with ``select``.

Standard library only: everything else in envcheck may import it.
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, Iterable, Iterator, TypeVar, cast

# bytes: the smoke child's longest line (a step's facts as JSON) is under 8 KiB; a cut line costs nothing worse
# than an unparsed line, and FEED_ITEMS of them stay far below the memory a CI runner gives envcheck.
MAX_LINE = 64 * 1024
FEED_ITEMS = 256
_PUT_WAIT_S = 0.1  # how often a held-back feed thread looks whether its reader has closed the feed
_T = TypeVar("_T")
_END = object()


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class Feed(Generic[_T]):
    """The items of ``source`` as they come, handed out under a deadline.

    An error raised by ``source`` ends the feed; it is kept in :attr:`error` (after the items before it), for the
    caller to raise, report or ignore. :meth:`close` ends it early: the reader is done with it.
    """

    def __init__(self, source: Iterable[_T], name: str) -> None:
        self.error: Exception | None = None
        self._box: queue.Queue[object] = queue.Queue(FEED_ITEMS)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _pump(self, source: Iterable[_T]) -> None:
        items = iter(source)
        try:
            for item in items:
                if not self._offer(item):  # closed: stop reading, and let the source go if it can
                    close = getattr(items, "close", None)
                    if callable(close):
                        close()
                    return
        except Exception as exc:  # kept for the reader's thread, which knows what it means
            self.error = exc
        self._offer(_END)

    def _offer(self, item: object) -> bool:
        """Queue ``item`` once there is room, unless the feed is closed first."""
        while not self._closed.is_set():
            try:
                self._box.put(item, timeout=_PUT_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout_s: float) -> _T | None:
        """The next item, or None at the end of the source or once closed (and on every call after it).

        Raises TimeoutError when none came within ``timeout_s`` seconds, and at once when ``timeout_s`` is not
        positive, even with items waiting: the deadline is over."""
        if timeout_s <= 0:
            raise TimeoutError("no time left for more output")
        if self._closed.is_set():
            return None
        try:
            item = self._box.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError(f"no output within {timeout_s:.1f} s") from None
        if item is _END:
            self._closed.set()  # the end stays the end
            return None
        return cast(_T, item)  # everything but _END came from source

    def close(self) -> None:
        """Hand out nothing more; the thread stops at the source's next item (or once the source ends)."""
        self._closed.set()

    def join(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` seconds for the source to end (after its process was killed, say)."""
        self._thread.join(timeout=timeout_s)


class Splitter:
    """Byte chunks in, decoded lines out (without their line ending), a line longer than ``max_line`` bytes cut
    at that length and the rest of it, up to the next newline, dropped. Never holds more than ``max_line``
    bytes of an unfinished line."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._pending = bytearray()
        self._dropping = False  # inside a line that was already cut

    def push(self, chunk: bytes) -> list[str]:
        """The lines ``chunk`` completes (a cut line counts as complete at its cut)."""
        done: list[str] = []
        pending = self._pending
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            if not self._dropping:
                done.append(decode(bytes(pending[start:start + min(end - start, self.max_line)])).rstrip("\r"))
            self._dropping = False
            start = end + 1
        del pending[:start]
        if len(pending) > self.max_line:
            if not self._dropping:
                done.append(decode(bytes(pending[:self.max_line])).rstrip("\r"))
            self._dropping = True
            pending.clear()
        return done

    def finish(self) -> list[str]:
        """The unfinished last line, if any (at the end of the stream)."""
        last = [] if self._dropping or not self._pending else [decode(bytes(self._pending)).rstrip("\r")]
        self._pending.clear()
        self._dropping = False
        return last


def split_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE) -> Iterator[str]:
    """:class:`Splitter` over an iterable. An error from ``chunks`` is raised after the unfinished last line is
    handed out."""
    splitter = Splitter(max_line)
    try:
        for chunk in chunks:
            yield from splitter.push(chunk)
    except Exception:
        yield from splitter.finish()
        raise
    yield from splitter.finish()


def lines(chunks: Iterable[bytes], name: str, max_line: int = MAX_LINE) -> Feed[str]:
    """A :class:`Feed` of the lines in ``chunks``."""
    return Feed(split_lines(chunks, max_line), name)


class Tail:
    """The last ``size`` bytes added, whatever came before; safe to add to from one thread and read from another."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.dropped = 0  # bytes that came before the kept ones
        self._data = bytearray()
        self._lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self._lock:
            if len(data) >= self.size:  # a chunk the size of the whole tail replaces it
                self.dropped += len(self._data) + len(data) - self.size
                self._data[:] = data[len(data) - self.size:]
                return
            self._data += data
            if len(self._data) > self.size:
                self.dropped += len(self._data) - self.size
                del self._data[:len(self._data) - self.size]

    def text(self, limit: int | None = None) -> str:
        """The last ``limit`` bytes (all that is kept when None), decoded."""
        with self._lock:
            data = bytes(self._data if limit is None else self._data[-limit:])
        return decode(data)
