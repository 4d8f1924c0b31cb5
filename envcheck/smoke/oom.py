"""Was the smoke child killed by the kernel's out-of-memory killer? Only the kernel log says.

A SIGKILL that envcheck did not send has two usual senders: the OOM killer (the machine or the cgroup ran
out of memory) and a person or a supervisor. The OOM killer names its victim by pid in the kernel log
(Linux mm/oom_kill.c, https://github.com/torvalds/linux/blob/master/mm/oom_kill.c):

  __oom_kill_process:  "Out of memory: Killed process 4242 (python) total-vm:..." (the cgroup's own OOM:
                       "Memory cgroup out of memory: Killed process 4242 (python) ...")
  dump_oom_summary:    "oom-kill:constraint=CONSTRAINT_MEMCG,...,task_memcg=/user.slice/...,task=python,
                        pid=4242,uid=1000" (one line in the log)

The log is read through the same bounded readers as the Xid errors (``envcheck.xid.read_kernel_log``:
/dev/kmsg without waiting, at most 32 MiB; then ``dmesg`` through the runner under a timeout), and only a
line naming this pid counts.
"""

from __future__ import annotations

import re
from typing import Callable

from envcheck import runner, xid
from envcheck.frozen import frozen

_KILLED = re.compile(r"out of memory: Killed process (\d+)\b", re.IGNORECASE)
_SUMMARY = re.compile(r"oom-kill:.*[,:]pid=(\d+)\b")


@frozen
class OomFinding:
    """What the kernel log says about one pid."""

    pid: int
    line: str = ""  # the kernel's line naming it as the OOM killer's victim ("" when none does)
    error: str = ""  # why the log could not be read (then nothing is known either way)
    source: str = ""  # /dev/kmsg or dmesg

    @property
    def killed(self) -> bool:
        return bool(self.line)


def victim_line(lines: tuple[str, ...] | list[str], pid: int) -> str:
    """The first line that names ``pid`` as killed for lack of memory, or ""."""
    for line in lines:
        for pattern in (_KILLED, _SUMMARY):
            match = pattern.search(line)
            if match and int(match.group(1)) == pid:
                return line.partition(";")[2] or line  # /dev/kmsg: "prio,seq,usec,flags;text"
    return ""


def read_log(timeout_s: float = 2.0) -> xid.KernelLog:
    """This machine's kernel log, read the one way envcheck reads it (``xid.kernel_log``)."""
    return xid.kernel_log(runner.run, read_timeout_s=timeout_s / 2, dmesg_timeout_s=timeout_s / 2)


def find(pid: int, read: Callable[[], xid.KernelLog] = read_log) -> OomFinding:
    log = read()
    if log.error:
        return OomFinding(pid, error=log.error, source=log.source)
    return OomFinding(pid, line=victim_line(log.lines, pid)[:300], source=log.source)
