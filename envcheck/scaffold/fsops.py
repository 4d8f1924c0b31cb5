"""The one seam for every disk change the scaffold writer makes, so a test can fail any single one of them.

Creating, renaming and removing files and folders, writing a file, syncing a folder and taking the run's lock all
go through one :class:`FileOps`. Before each operation it calls its fault hook with the operation's number, its
name and its path; the hook may raise what the disk would raise at that point (ENOSPC for a full disk, EACCES for
a permission taken away) or deliver a signal. Tests set :data:`FAULT_HOOK` and try every number from the first
operation of a run to the last. Reading (stat, listing, reading a file back) is not a change and is not counted.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import Callable

Fault = Callable[[int, str, Path], None]  # (operation number from 1, operation name, path) -> None, or raise
FAULT_HOOK: Fault | None = None  # tests only: the hook a FileOps made without one uses


class LockedError(OSError):
    """Another process holds the lock: another envcheck is writing into the same folder now."""


class FileOps:
    """Counts and performs the writer's disk changes; see the module docstring."""

    def __init__(self, fault: Fault | None = None) -> None:
        self.fault = fault if fault is not None else FAULT_HOOK
        self.count = 0

    def _before(self, op: str, path: Path) -> None:
        self.count += 1
        if self.fault is not None:
            self.fault(self.count, op, path)

    def mkdir(self, path: Path) -> None:
        self._before("mkdir", path)
        os.mkdir(path)  # 0o777 less the umask, as `mkdir` makes it

    def rename(self, src: Path, dst: Path) -> None:
        self._before("rename", src)
        os.rename(src, dst)

    def unlink(self, path: Path) -> None:
        self._before("unlink", path)
        os.unlink(path)

    def rmdir(self, path: Path) -> None:
        self._before("rmdir", path)
        os.rmdir(path)

    def write_file(self, path: Path, data: bytes) -> None:
        """A new file (never an existing one) with ``data``, synced, so a crash after a later rename of it
        cannot leave an empty file in its place (the ext4 delayed-allocation case)."""
        self._before("write", path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def sync_dir(self, path: Path) -> None:
        """Make the folder's entries (renames, removals) durable before a later step depends on them."""
        self._before("fsync", path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # a file system that cannot sync folders (some FUSE ones) says EINVAL
                raise
        finally:
            os.close(fd)

    def lock(self, path: Path) -> int:
        """Create ``path`` and hold an exclusive lock on it until the returned descriptor is closed (the kernel
        drops it when the process dies, SIGKILL included); LockedError when another process holds it."""
        self._before("lock", path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if not try_lock(fd):
            os.close(fd)
            raise LockedError(errno.EWOULDBLOCK, "locked by another envcheck", str(path))
        return fd

    def remove_tree(self, path: Path) -> None:
        """Remove a folder the writer made and everything in it, deepest first; links are removed, never
        followed (shutil.rmtree's rule, each step counted here)."""
        for root, dirs, files in os.walk(path, topdown=False):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                self.unlink(Path(root, name))
            for name in dirs:
                if not os.path.islink(os.path.join(root, name)):
                    self.rmdir(Path(root, name))
        self.rmdir(path)


def try_lock(fd: int) -> bool:
    """Take an exclusive lock without waiting; False when another process holds it. A file system without locks
    (ENOLCK: some NFS mounts) counts as taken: there is nothing better to do there."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN)
    return True


def is_real_dir(path: Path) -> bool:
    """A folder that is not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
