"""The one subprocess seam: argv + timeout -> CommandResult.

Every external command envcheck runs goes through :func:`run`: argv lists only (never a shell),
stdin closed, output decoded with ``errors="replace"``, the whole process group killed on timeout.
A missing binary, a non-zero exit and a timeout are three distinct facts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    rc: int | None  # None when the command never ran to an exit (missing or timed out)
    out: str = ""
    err: str = ""
    missing: bool = False  # the executable was not found or could not be executed
    timed_out: bool = False
    duration_s: float = 0.0
    error: str = ""  # why it could not start, when missing

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
    timeout: float,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    input_text: str | None = None,
) -> CommandResult:
    """Run ``argv`` with a hard ``timeout`` in seconds; never raises for the command's own failures."""
    args = tuple(str(a) for a in argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # own process group, so a timeout kills grandchildren too
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError, OSError) as exc:
        return CommandResult(
            argv=args, rc=None, missing=True, error=f"{type(exc).__name__}: {exc.strerror or exc}",
            duration_s=time.monotonic() - start,
        )
    try:
        out_b, err_b = proc.communicate(
            input=input_text.encode() if input_text is not None else None, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out_b, err_b = proc.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipes open; give up on them
            out_b, err_b = b"", b""
        return CommandResult(
            argv=args, rc=None, out=_decode(out_b), err=_decode(err_b), timed_out=True,
            duration_s=time.monotonic() - start,
        )
    return CommandResult(
        argv=args, rc=proc.returncode, out=_decode(out_b), err=_decode(err_b),
        duration_s=time.monotonic() - start,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


class LineStream:
    """A running child whose stdout is read line by line under deadlines (the smoke test's child).

    :func:`run` waits for the whole output; a long-running child that reports as it goes needs each line as
    it comes, with a deadline per wait. Its stdout is a :func:`envcheck.linereader.lines` feed and the last
    ``tail_bytes`` of its stderr a :class:`envcheck.linereader.Tail`; :meth:`close` kills the whole process
    group when the child is still running.
    """

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen[bytes] | None, error: str = "",
                 tail_bytes: int = 16384) -> None:
        from envcheck import linereader

        self.argv, self.proc, self.error = argv, proc, error
        self.missing = proc is None
        self._err = linereader.Tail(tail_bytes)
        self._threads: list[threading.Thread] = []
        if proc is None:
            self._lines: linereader.Feed[str] = linereader.Feed((), "stream-missing")
            return
        assert proc.stdout is not None and proc.stderr is not None
        self._lines = linereader.lines(_chunks(proc.stdout.fileno()), "stream-stdout")
        self._threads.append(self._err.follow(_chunks(proc.stderr.fileno()), "stream-stderr"))

    def readline(self, timeout: float) -> str | None:
        """The next stdout line (without its newline), or None at end of output.
        Raises TimeoutError when no line came within ``timeout`` seconds."""
        return self._lines.get(timeout)

    def stderr_tail(self, limit: int = 4000) -> str:
        return self._err.text(limit)

    def close(self, grace: float = 2.0, wait: float = 0.0) -> int | None:
        """Give the child ``wait`` seconds to exit on its own, then kill its process group if it still runs,
        and reap it; its exit code (negative: the signal that ended it)."""
        if self.proc is None:
            return None
        if wait > 0:
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            _kill_group(self.proc)
        else:  # the child exited; anything it left running in its group goes too
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return None
        for thread in self._threads:  # drain what the pipes still hold, bounded
            thread.join(timeout=grace)
        self._lines.join(timeout=grace)
        return self.proc.returncode


def _chunks(fd: int) -> Iterator[bytes]:
    """What a pipe delivers, as it comes, until its writers close it."""
    return iter(lambda: os.read(fd, 65536), b"")


def stream(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> LineStream:
    """Start ``argv`` (stdin closed, its own process group) and hand back its output line by line.
    Never raises for the command's own failures: a missing binary gives a stream with ``missing`` set."""
    args = tuple(str(a) for a in argv)
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError, OSError) as exc:
        return LineStream(args, None, error=f"{type(exc).__name__}: {exc.strerror or exc}")
    return LineStream(args, proc)
