"""The one subprocess seam: argv + timeout_s -> CommandResult.

Every external command envcheck runs goes through :func:`run` (or :func:`stream`, its line-by-line sibling):
argv lists only (never a shell), stdin closed, output decoded with ``errors="replace"``. A missing binary, a
non-zero exit and a timeout are three distinct facts.

What a command says is read as it comes, with ``poll()`` on its pipes and the deadline checked between reads.
Not with ``communicate()``: it keeps all of the output and looks at its timeout only when a read would block,
so a command that talks without pause (``yes`` as ``$CONDA_EXE``, a flooding plugin) held it for as long as it
talked and filled the memory. Only the last :data:`KEEP_BYTES` of each stream are kept. At the deadline, or when
the command has exited but something it started still holds its pipes, ``proctree.end_tree`` ends its whole
process tree (descendants that called ``setsid()`` included), and the duration reported includes that. A command
that closes its output and exits by itself is only reaped: what it detached from its output (``gpg-agent``, a
credential cache daemon) is meant to outlive it.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections import deque
from typing import Callable, Mapping, Sequence

from envcheck import linereader, proctree
from envcheck.frozen import frozen

KEEP_BYTES = 256 * 1024  # of each stream: far above what envcheck's commands print (`conda info --json`: KiBs)
_CHUNK = 65536  # bytes per read: a pipe's whole buffer on Linux (pipe(7))
_POLL_S = 0.1  # longest wait on quiet pipes before looking again whether the command has exited
_LINGER_S = 0.5  # how long pipes may stay open after the command exited (held by something it started)
# Past this much output a child is flooding (envcheck's commands print kilobytes, the smoke child's records are
# under 8 KiB each): its pipes are then read a chunk per pause, about 3 MB/s, so a flood no longer costs a core
# (the flooder is left blocked on a full pipe) nor starves the other probes' threads of the GIL.
_FLOOD_BYTES = 16 << 20
_FLOOD_PAUSE_S = 0.02


@frozen
class CommandResult:
    argv: tuple[str, ...]
    rc: int | None  # None when the command never ran to an exit (missing or timed out)
    out: str = ""
    err: str = ""
    missing: bool = False  # the executable was not found or could not be executed
    timed_out: bool = False
    duration_s: float = 0.0
    error: str = ""  # why it could not start, when missing
    dropped_bytes: int = 0  # output that came before the tail kept of each stream (KEEP_BYTES)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out and not self.missing

    def describe(self) -> str:
        """One line saying what happened, for a result's reason."""
        cmd = " ".join(self.argv)
        if self.missing:
            return f"`{cmd}` could not start: {self.error or 'not found'}"
        if self.timed_out:
            return f"`{cmd}` did not finish within {self.duration_s:.1f} s"
        if self.rc != 0:
            tail = (self.err or self.out).strip().splitlines()[-1:] or [""]
            return f"`{cmd}` exited {self.rc}: {tail[0][:200]}"
        return f"`{cmd}` succeeded"


def run(
    argv: Sequence[str],
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    input_text: str | None = None,
) -> CommandResult:
    """Run ``argv`` with a hard ``timeout_s`` in seconds; never raises for the command's own failures."""
    args = tuple(str(a) for a in argv)
    start = time.monotonic()
    deadline = start + timeout_s
    try:
        child = proctree.start(args, env=env, cwd=cwd,
                               stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL)
    except (FileNotFoundError, PermissionError, NotADirectoryError, OSError) as exc:
        return CommandResult(
            argv=args, rc=None, missing=True, error=f"{type(exc).__name__}: {exc.strerror or exc}",
            duration_s=time.monotonic() - start,
        )
    out, err = linereader.Tail(KEEP_BYTES), linereader.Tail(KEEP_BYTES)
    pipes = _Pipes(child, out.add, err.add, (input_text or "").encode())
    ending = pipes.pump(deadline)
    rc: int | None = None
    if ending == "eof":  # it closed its output; it exits now, or at the deadline
        try:
            rc = child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            proctree.forget(child)
        except subprocess.TimeoutExpired:
            ending = "deadline"
    if ending != "eof":
        rc = proctree.end_tree(child)
    pipes.close()
    timed_out = ending == "deadline"
    return CommandResult(
        argv=args, rc=None if timed_out else rc, out=out.text(), err=err.text(), timed_out=timed_out,
        duration_s=time.monotonic() - start, dropped_bytes=out.dropped + err.dropped,
    )


class _Pipes:
    """A child's stdout and stderr read as they come, without threads: each wait is a ``poll()`` bounded by the
    caller's deadline, and every chunk goes straight to a bounded sink (an empty chunk: that stream ended)."""

    def __init__(self, child: proctree.Child, on_out: Callable[[bytes], None], on_err: Callable[[bytes], None],
                 input_data: bytes = b"") -> None:
        self._child = child
        self._selector = selectors.PollSelector()  # poll, not select: no FD_SETSIZE limit on the fd numbers
        self.reading = 0
        self.taken = 0  # bytes read, both streams
        proc = child.proc
        for pipe, sink in ((proc.stdout, on_out), (proc.stderr, on_err)):
            if pipe is not None:
                os.set_blocking(pipe.fileno(), False)
                self._selector.register(pipe.fileno(), selectors.EVENT_READ, sink)
                self.reading += 1
        self._input, self._sent = input_data, 0
        if proc.stdin is not None:
            if input_data:
                os.set_blocking(proc.stdin.fileno(), False)
                self._selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
            else:
                proc.stdin.close()

    def pump(self, deadline: float) -> str:
        """Read until both streams end ("eof"), the deadline passes ("deadline"), or the command has exited and
        its pipes stayed open for :data:`_LINGER_S` more ("lingering")."""
        exited_at: float | None = None
        while self.reading:
            now = time.monotonic()
            if now >= deadline:
                return "deadline"
            if exited_at is None and proctree.exited(self._child):
                exited_at = now
            if exited_at is not None and now - exited_at >= _LINGER_S:
                return "lingering"
            self.read_once(min(deadline - now, _POLL_S))
        return "eof"

    def read_once(self, wait_s: float) -> None:
        """Wait up to ``wait_s`` seconds for the pipes, and take one chunk from each that is ready."""
        if self.taken > _FLOOD_BYTES and wait_s > 0:
            pause_s = min(wait_s, _FLOOD_PAUSE_S)
            time.sleep(pause_s)
            wait_s -= pause_s
        for key, events in self._selector.select(max(0.0, wait_s)):
            if events & selectors.EVENT_WRITE:
                self._write(key.fd)
                continue
            try:
                data = os.read(key.fd, _CHUNK)
            except BlockingIOError:
                continue
            except OSError:  # the pipe broke: as good as ended
                data = b""
            if not data:
                self._selector.unregister(key.fd)
                self.reading -= 1
            self.taken += len(data)
            key.data(data)

    def _write(self, fd: int) -> None:
        try:
            self._sent += os.write(fd, self._input[self._sent:self._sent + _CHUNK])
        except BlockingIOError:
            return
        except OSError:  # it stopped reading (EPIPE): the rest is not wanted
            self._sent = len(self._input)
        if self._sent >= len(self._input):
            self._selector.unregister(fd)
            assert self._child.proc.stdin is not None
            self._child.proc.stdin.close()

    def close(self) -> None:
        self._selector.close()
        for pipe in (self._child.proc.stdin, self._child.proc.stdout, self._child.proc.stderr):
            if pipe is not None:
                pipe.close()


class LineStream:
    """A running child whose stdout is read line by line under deadlines (the smoke test's child).

    :func:`run` keeps a command's output until it ends; a long-running child that reports as it goes needs each
    line as it comes, with a deadline per wait. Both pipes are read in :meth:`readline`, with ``poll()``: stdout
    is cut into lines by a :class:`envcheck.linereader.Splitter` (only the lines of the last chunk read wait to
    be handed out), and the last ``tail_bytes`` of stderr are kept in a :class:`envcheck.linereader.Tail`.
    :meth:`close` ends the child's whole process tree.
    """

    def __init__(self, argv: tuple[str, ...], child: proctree.Child | None, error: str = "",
                 tail_bytes: int = 16384) -> None:
        self.argv, self.error = argv, error
        self.child = child
        self.proc = child.proc if child is not None else None
        self.missing = child is None
        self._err = linereader.Tail(tail_bytes)
        self._splitter = linereader.Splitter()
        self._lines: deque[str] = deque()
        self._out_ended = child is None
        self._discard = False  # closing: what stdout still says is read and dropped
        self._closed = False
        self._rc: int | None = None
        self._pipes = _Pipes(child, self._take, self._err.add) if child is not None else None

    def _take(self, chunk: bytes) -> None:
        if not chunk:
            self._lines.extend(self._splitter.finish())
            self._out_ended = True
        elif not self._discard:
            self._lines.extend(self._splitter.push(chunk))

    def readline(self, timeout_s: float) -> str | None:
        """The next stdout line (without its newline), or None at end of output.

        Raises TimeoutError when no line came within ``timeout_s`` seconds, and at once when ``timeout_s`` is not
        positive, even with lines waiting: the deadline is over."""
        if timeout_s <= 0:
            raise TimeoutError("no time left for more output")
        deadline = time.monotonic() + timeout_s
        while not self._lines:
            if self._out_ended or self._pipes is None:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no output within {timeout_s:.1f} s")
            self._pipes.read_once(left)
        return self._lines.popleft()

    def stderr_tail(self, limit: int = 4000) -> str:
        return self._err.text(limit)

    def close(self, grace_s: float = 2.0, wait_s: float = 0.0) -> int | None:
        """Give the child ``wait_s`` seconds to exit on its own, then end its whole process tree (what it left
        running too) and reap it: its exit code (negative: the signal that ended it), None when it could not be
        reaped within ``grace_s``. Closing again gives the same code."""
        if self.child is None or self._pipes is None or self._closed:
            return self._rc
        self._closed, self._discard = True, True
        pipes = self._pipes
        wait_deadline = time.monotonic() + wait_s
        while not proctree.exited(self.child) and (left := wait_deadline - time.monotonic()) > 0:
            pipes.read_once(min(left, _POLL_S))  # drained meanwhile: a child blocked on a full pipe never exits
        self._rc = proctree.end_tree(self.child, grace_s)
        drain_deadline = time.monotonic() + grace_s  # the stderr tail's last words: every writer is gone now
        while pipes.reading and (left := drain_deadline - time.monotonic()) > 0:
            pipes.read_once(left)
        pipes.close()
        return self._rc


def stream(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> LineStream:
    """Start ``argv`` (stdin closed, its own session) and hand back its output line by line.
    Never raises for the command's own failures: a missing binary gives a stream with ``missing`` set."""
    args = tuple(str(a) for a in argv)
    try:
        child = proctree.start(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    except (FileNotFoundError, PermissionError, NotADirectoryError, OSError) as exc:
        return LineStream(args, None, error=f"{type(exc).__name__}: {exc.strerror or exc}")
    return LineStream(args, child)
