"""Starting a child and ending its whole process tree: the one way envcheck stops what it started.

A process group is not a tree: a descendant that calls ``setsid()`` (a daemonizing tool, a hostile script)
leaves the group, and once its parent exits it is reparented to init, so ``killpg`` and a walk of parent links
both miss it. :func:`end_tree` therefore finds the members of a tree three ways, in ``/proc`` (see proc(5)):

- parent links from the root, read before anything is killed (a killed parent's children lose the link);
- the root's process group and session: every descendant that did not call ``setsid()`` stays in them, even
  once orphaned;
- a mark in the environment (:data:`MARK`), which children inherit: it finds an orphan that called
  ``setsid()``. Only an orphan that both left the session and cleared its environment escapes all three.

Why not ``prctl(PR_SET_CHILD_SUBREAPER)`` (man 2 prctl), which would make orphans envcheck's own children: it
is process-wide (every orphan of a program that embeds envcheck, a test runner say, would reparent to it and
stay a zombie unless reaped), and it cannot tell which of several commands running at once on the probe
threads an orphan came from; the mark can. Why not ``psutil.process_iter``: one pass over ``/proc`` costs it
about 0.2 ms per process, ten times this module's reading of ``/proc/PID/stat`` (a few ms on a busy host).

Members are told from an unrelated process that reused a pid by their start time: a descendant starts no
earlier than the root. The root itself is never reaped before its tree is found, so its pid (the group and
session id) cannot be reused meanwhile: exits are seen with ``waitid(WNOWAIT)``.

Standard library only, like runner.py, which is its one user.
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import signal
import subprocess
import threading
import time
from typing import Mapping, NamedTuple, Sequence

from envcheck.frozen import frozen

MARK = "ENVCHECK_TREE"  # environment variable every started child inherits: "<envcheck pid>.<counter>"
_ROUNDS = 8  # kill passes: each finds what the previous one's victims forked just before dying
_counter = itertools.count(1)
_live: dict[int, Child] = {}  # started and not yet reaped or ended, by root pid
_live_lock = threading.Lock()
_closed = False  # envcheck is exiting on a signal (close): no child may start any more


class _Row(NamedTuple):
    ppid: int
    pgrp: int
    session: int
    start: int  # clock ticks after boot (proc(5) field 22)
    zombie: bool


@frozen
class Child:
    """A started command: its Popen, the mark its descendants inherit, and when it started (in ticks)."""

    proc: subprocess.Popen[bytes]
    mark: str
    start: int


def start(argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: str | None, stdin: int) -> Child:
    """Start ``argv`` in a session of its own (so a terminal's Ctrl-C reaches envcheck, which ends the tree),
    stdout and stderr piped, the environment marked. Raises what Popen raises when it cannot start, and
    OSError(ECANCELED) once envcheck is exiting (:func:`close`)."""
    if _closed:
        raise _exiting()
    mark = f"{os.getpid()}.{next(_counter)}"
    marked = dict(os.environ if env is None else env)
    marked[MARK] = mark
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=marked, cwd=cwd,
                            start_new_session=True)
    row = _row(proc.pid)
    child = Child(proc, mark, row.start if row is not None else 0)
    with _live_lock:
        _live[proc.pid] = child
        closed = _closed
    if closed:  # close() ran while Popen was starting it, too early to see it: it is ended here instead
        end_tree(child, grace_s=0.2)
        raise _exiting()
    return child


def _exiting() -> OSError:
    return OSError(errno.ECANCELED, "not started: envcheck is exiting")


def forget(child: Child) -> None:
    """The root exited by itself and was reaped: nothing of it is left for :func:`end_all` to end."""
    with _live_lock:
        _live.pop(child.proc.pid, None)


def exited(child: Child) -> bool:
    """Whether the root has exited, without reaping it (its pid must stay reserved until its tree is ended)."""
    if child.proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, child.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


def end_tree(child: Child, grace_s: float = 1.0) -> int | None:
    """SIGKILL the root and every process it started, then reap the root: its exit code (negative: the signal
    that ended it), or None when it could not be reaped within ``grace_s`` (stuck in the kernel)."""
    deadline = time.monotonic() + grace_s
    root = child.proc.pid
    killed: dict[int, int] = {}  # pid -> start ticks
    for _ in range(_ROUNDS):
        found = _members(child, killed)
        fresh = {pid: start for pid, start in found.items() if killed.get(pid) != start}
        if child.proc.returncode is None:  # unreaped: the group id is still the root's
            _signal_group(root)
        for pid in fresh:
            _signal(pid)
        killed.update(fresh)
        if not fresh:
            break
    while time.monotonic() < deadline and any(_alive(pid, start) for pid, start in killed.items() if pid != root):
        time.sleep(0.01)
    try:
        return child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None
    finally:
        forget(child)


@atexit.register
def end_all() -> None:
    """End every tree still running: at exit, those of commands on probe threads the engine stopped waiting for.
    They run in sessions of their own, so nothing else would end them.

    A TERM or HUP that arrives meanwhile raises SystemExit here (envcheck/shutdown.py's handlers are still in place
    while Python runs its exit hooks), which Python would print as "Exception ignored in atexit callback" with a
    traceback, leaving the rest running: the process is ending already, so the work goes on and the exit code
    stays the run's."""
    while True:
        try:
            with _live_lock:
                running = list(_live.values())
            for child in running:
                end_tree(child, grace_s=0.2)
            return
        except SystemExit:
            continue


def close() -> None:
    """envcheck is exiting on a signal: end every tree still running, and start no more. A probe's thread goes on
    while the main thread unwinds, and would start its next command; Python waits for some of those threads at
    exit (concurrent.futures workers), so that command would hold the exit until its own deadline."""
    global _closed
    with _live_lock:  # one step: a start() registering its child either is in this list or sees _closed
        _closed = True
        running = list(_live.values())
    for child in running:
        end_tree(child, grace_s=0.2)


def _members(child: Child, known: Mapping[int, int]) -> dict[int, int]:
    """The live (not zombie) processes of ``child``'s tree now: pid -> start ticks."""
    table = _table()
    root = child.proc.pid
    recent = {pid: row for pid, row in table.items() if row.start >= child.start and pid != os.getpid()}
    kids: dict[int, list[int]] = {}
    for pid, row in recent.items():
        kids.setdefault(row.ppid, []).append(pid)
    seeds = {root} if root in recent else set()
    for pid, row in recent.items():
        if row.pgrp == root or row.session == root or known.get(pid) == row.start or _marked(pid, child.mark):
            seeds.add(pid)
    members: set[int] = set()
    stack = list(seeds)
    while stack:
        pid = stack.pop()
        if pid not in members:
            members.add(pid)
            stack.extend(kids.get(pid, ()))
    return {pid: recent[pid].start for pid in members if not recent[pid].zombie}


def _table() -> dict[int, _Row]:
    """Every process's parent, group, session, start time and whether it is a zombie, from /proc/PID/stat."""
    rows: dict[int, _Row] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return rows
    for name in entries:
        if name.isdigit():
            row = _row(int(name))
            if row is not None:
                rows[int(name)] = row
    return rows


def _row(pid: int) -> _Row | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:  # gone meanwhile
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'.
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return _Row(int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), fields[0] in (b"Z", b"X"))
    except (IndexError, ValueError):
        return None


def _environ(pid: int) -> list[bytes]:
    """The ``NAME=value`` entries ``pid`` started with; none when it is gone or another user's."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def _marked(pid: int, mark: str) -> bool:
    return f"{MARK}={mark}".encode() in _environ(pid)


def _alive(pid: int, start: int) -> bool:
    row = _row(pid)
    return row is not None and row.start == start and not row.zombie


def _signal(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # gone, or (setuid) no longer ours to end
        pass


def _signal_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def survivors(envcheck_pid: int) -> list[int]:
    """Processes still running (not zombies) that the envcheck process ``envcheck_pid`` started, found by the
    mark they inherit: what a test or benchmark checks is empty once that envcheck has ended its children."""
    prefix = f"{MARK}={envcheck_pid}.".encode()
    return [pid for pid, row in _table().items()
            if not row.zombie and any(item.startswith(prefix) for item in _environ(pid))]
