"""What the terminal a report goes to can show: colour or not, and how wide a line may be.

Every command asks :func:`color_wanted` (the report, the live smoke progress), so ``--color`` means the same
everywhere, through a pipe too (`envcheck doctor --color | less -R`, a CI log that renders ANSI colours).
"""

from __future__ import annotations

import os
import shutil
from typing import IO, Mapping

# Narrower than this, a label and its hanging indent leave no room for the text.
MIN_WIDTH = 40


def color_wanted(flag: bool | None, stream: IO[str] | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour output to ``stream``: --color/--no-color when given; else NO_COLOR set to anything
    non-empty turns colour off (https://no-color.org); else FORCE_COLOR set to anything but "" or "0" turns it
    on (the convention of Node, rich and many CI systems: https://force-color.org); else only a terminal that
    is not TERM=dumb gets colour."""
    if flag is not None:
        return flag
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    try:
        tty = stream is not None and stream.isatty()
    except (OSError, ValueError):  # a closed or detached stream
        tty = False
    return tty and env.get("TERM") != "dumb"


def columns() -> int:
    """The width to lay lines out in: COLUMNS when set, else the terminal's, else 80 (not a terminal)
    (shutil.get_terminal_size: https://docs.python.org/3/library/shutil.html#shutil.get_terminal_size)."""
    return max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns)
