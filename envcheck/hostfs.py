"""The one seam for reading the host's files (/proc, /sys, /dev, /etc, /var/run), as runner.py is for commands.

``HostFS()`` is this machine. ``HostFS(folder)`` reads another machine's files laid out under ``folder`` with
the same absolute paths (``folder/proc/driver/nvidia/version``): a mounted image, or a test that replays a
recorded machine through the very code path a real run takes. Live measurements of this process (uname,
statvfs of $HOME, os.access on a device node's real permissions) stay the caller's; this only says *where* a
host path lies and reads it with a bound, since a /proc or /sys file can be endless or huge.

Standard library only: it sits beside model.py and runner.py at the bottom of the import order.
"""

from __future__ import annotations

import errno
import os
import stat

from envcheck.frozen import frozen

MAX_READ = 1 << 20  # characters: os-release, meminfo and the NVIDIA files are a few KiB


@frozen
class HostFS:
    root: str = "/"

    def path(self, path: str) -> str:
        """Where the host's absolute ``path`` lies under this root ("/proc/x" -> "<root>/proc/x")."""
        return os.path.join(self.root, path.lstrip("/"))

    def read_text(self, path: str, limit: int = MAX_READ) -> str:
        """At most ``limit`` characters of the file, UTF-8 with undecodable bytes replaced; raises OSError."""
        with open(self.path(path), encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)

    def exists(self, path: str) -> bool:
        return os.path.exists(self.path(path))

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(self.path(path))

    def listdir(self, path: str) -> list[str]:
        """The entries' names, in the order the kernel gives them; raises OSError."""
        return os.listdir(self.path(path))

    def access(self, path: str, mode: int) -> bool:
        """os.access on the file under the root: whether this process may open it so."""
        return os.access(self.path(path), mode)


HOST = HostFS()


def read_at_most(fd: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``fd``, read until its end: a caller that must refuse an oversized file (its
    size in fstat can lie: a file still growing, /proc) asks for its cap + 1 and looks at the length."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_small_text(path: str, limit: int = MAX_READ) -> str:
    """The whole text of a small regular file found outside /proc and /sys (a kernel.json, an environments.txt,
    a pyenv ``version`` file: anyone may have put anything there), UTF-8 with undecodable bytes replaced.
    Raises OSError for a file that is no regular file (a FIFO would block the reader forever; it is opened
    without waiting and refused), or that holds more than ``limit`` bytes (EFBIG), as for one that is missing."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        data = read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", path)
    return data.decode("utf-8", errors="replace")
