"""Writing a file whole or not at all: every report file, generated page and policy envcheck writes goes here.

The data goes to a temporary file in the target's folder, is flushed to disk, then renamed over the target
(os.replace is atomic on POSIX, within one file system), so a reader sees the old file or the new one, never a
truncated one: what Prometheus' node_exporter textfile collector asks of its writers
(https://github.com/prometheus/node_exporter#textfile-collector), and what a CI job reading a JUnit file
needs. Standard library only.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterable


def write_atomic(path: str | os.PathLike[str], data: bytes | Iterable[bytes], *, mode: int | None = None) -> None:
    """Write ``data`` (bytes, or pieces of it written in turn: a fleet's file need never be one string) to
    ``path`` through a temporary file renamed over it. The file keeps the mode of the one it replaces, else
    ``mode``, else 0644 (what a usual umask of 022 gives a new file: a report is for whoever reads the job's
    artifacts). Raises OSError; on any failure the temporary file is removed."""
    target = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(target)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in (data,) if isinstance(data, bytes) else data:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        try:
            keep = os.stat(target).st_mode & 0o777
        except FileNotFoundError:
            keep = 0o644 if mode is None else mode
        os.chmod(temporary, keep)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
