"""Running a command in a real terminal (a pseudo-terminal), as a person at a shell would."""

from __future__ import annotations

import os
import pty
import subprocess


def in_terminal(argv: list[str], env: dict[str, str], columns: int | None = None,
                timeout_s: float = 300.0) -> tuple[int, str]:
    """The exit code of ``argv`` run with a pty as its stdout and stderr, and everything it wrote there (escape
    sequences kept, the terminal's CR LF line ends turned back into LF). ``columns``: the terminal's width
    (None: the pty's default, so COLUMNS in ``env`` decides)."""
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO (Linux): the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=timeout_s)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
