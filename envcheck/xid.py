"""NVIDIA Xid errors: read the kernel log, find ``NVRM: Xid`` lines, classify them by the table in data/xid.json.

Past Xid errors live only in the kernel log: the driver reports them there and nowhere else (NVIDIA's Xid
catalog, https://docs.nvidia.com/deploy/xid-errors/index.html). envcheck reads ``/dev/kmsg`` itself
(non-blocking: it never waits for new messages, and no ``dmesg`` process to start); with
``kernel.dmesg_restrict=1`` an unprivileged user may not open it, which is a fact ("needs root"),
never a pass. Standard library only (its test runs this file alone, as an unprivileged user): hence plain
frozen dataclasses here, not envcheck.frozen.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from envcheck.runner import CommandResult

# "NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s ..." (leptonai/gpud testdata)
XID_LINE = re.compile(r"NVRM: Xid \(PCI:(?P<pci>[0-9A-Fa-f:.]+)\): (?P<code>\d+),?\s*(?P<detail>.*)")
MAX_BYTES = 32 * 1024 * 1024  # the ring buffer is a few MiB at most; a regular file could be anything


@dataclass(frozen=True)
class XidInfo:
    code: int
    name: str
    severity: str  # "warn" or "fail"
    action: str


@dataclass(frozen=True)
class XidEvent:
    code: int
    pci: str  # "0000:9b:00" as the driver prints it (domain:bus:device)
    detail: str


@dataclass(frozen=True)
class KernelLog:
    source: str
    lines: tuple[str, ...] = ()
    error: str = ""  # why it could not be read
    needs_root: bool = False
    wrapped: bool = False  # the ring buffer no longer holds the messages from boot


@functools.lru_cache(maxsize=1)
def table() -> dict[int, XidInfo]:
    from envcheck import packagedata  # here: the kernel-log reader above runs standalone (stdlib only)

    text = packagedata.read_text("xid.json")
    rows = json.loads(text)["codes"]
    return {int(r["code"]): XidInfo(int(r["code"]), r["name"], r["severity"], r["action"]) for r in rows}


def describe(code: int) -> XidInfo:
    known = table().get(code)
    if known is not None:
        return known
    return XidInfo(code, "not in envcheck's table", "warn",
                   "Look the code up in NVIDIA's Xid catalog: https://docs.nvidia.com/deploy/xid-errors/")


def parse(lines: tuple[str, ...] | list[str]) -> list[XidEvent]:
    events = []
    for line in lines:
        match = XID_LINE.search(line)
        if match:
            events.append(XidEvent(int(match["code"]), match["pci"].lower(), match["detail"].strip()[:300]))
    return events


KMSG = "/dev/kmsg"


def read_kernel_log(path: str = KMSG, *, timeout_s: float = 1.0) -> KernelLog:
    """Every record the kernel still holds, without waiting for new ones.

    ``/dev/kmsg`` returns one record per read (``prio,seq,usec,flags;text``) and EAGAIN at the end;
    EPIPE means a record was overwritten while reading (skip it). A regular file (a saved log) ends at EOF.
    """
    deadline = time.monotonic() + timeout_s
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return KernelLog(source=path, error=f"{path} does not exist")
    except PermissionError as exc:
        reason = f"{path}: {exc.strerror} (kernel.dmesg_restrict=1 keeps it from non-root users)"
        return KernelLog(source=path, error=reason, needs_root=True)
    except OSError as exc:
        return KernelLog(source=path, error=f"{path}: {exc.strerror or exc}")
    chunks: list[bytes] = []
    size = 0
    try:
        while size < MAX_BYTES and time.monotonic() < deadline:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    continue
                if exc.errno == errno.EPERM:  # some kernels check dmesg_restrict on read, not open
                    return KernelLog(source=path, error=f"{path}: {exc.strerror}", needs_root=True)
                return KernelLog(source=path, error=f"{path}: {exc.strerror or exc}")
            if not data:
                break
            chunks.append(data)
            size += len(data)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8", "replace")
    lines = tuple(text.splitlines())
    return KernelLog(source=path, lines=lines, wrapped=_wrapped(lines))


def _wrapped(lines: tuple[str, ...]) -> bool:
    """A kmsg record's second field is its sequence number: a first record past 0 means older ones were dropped."""
    if not lines:
        return False
    head, sep, _ = lines[0].partition(";")
    fields = head.split(",")
    return bool(sep) and len(fields) >= 3 and fields[1].isdigit() and int(fields[1]) > 0


def kernel_log(
    run: Callable[..., CommandResult],
    *,
    kmsg: str = KMSG,
    read_timeout_s: float,
    dmesg_timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> KernelLog:
    """The kernel log, the one way every reader gets it: ``kmsg`` (/dev/kmsg, or where a replayed machine
    keeps it) first, with no process to start; only where that file does not exist (many containers) the
    ``dmesg`` command through ``run`` (the subprocess seam), which can still read the ring buffer through
    syslog(2) when kernel.dmesg_restrict is 0. A /dev/kmsg that exists but refuses this user is the fact
    "needs root": dmesg would be refused by the same rule (kernel/printk's check_syslog_permissions)."""
    log = read_kernel_log(kmsg, timeout_s=read_timeout_s)
    if not log.error or log.needs_root or os.path.exists(kmsg):
        return log
    result = run(["dmesg"], timeout_s=dmesg_timeout_s, env=env)
    if result.ok:
        return KernelLog(source="dmesg", lines=tuple(result.out.splitlines()))
    denied = "not permitted" in result.err.lower() or "permission denied" in result.err.lower()
    return KernelLog(source="dmesg", error=f"{log.error}; {result.describe()}", needs_root=denied)
