"""Lines laid out to a terminal's width: a labelled text wrapped under its label (a hanging indent), and fix
lines wrapped so that what is a command stays one pasteable command.

A fix is mostly shell: ``sudo usermod -aG docker $USER  # then log out``. Breaking it at any space would make a
paste run half a command, then the other half as a second one. So a fix line that fits stays as it is; one that
does not keeps its command part whole on its first line (the terminal soft-wraps it if even that is too long,
and copying a soft-wrapped line gives one line back) and only the ``# comment`` after it, prose, is wrapped at
spaces onto lines of their own that begin with "# ", which a shell ignores when pasted. A line of prose (it
begins with a capital letter, "Install the NVIDIA driver ...") is wrapped at spaces like any other text.
"""

from __future__ import annotations

import textwrap


def hanging(first: str, text: str, width: int) -> list[str]:
    """``first`` + ``text`` wrapped at spaces to ``width``, each further line indented by len(first); a word
    longer than a line (a path, a URL) is kept whole rather than cut."""
    indent = " " * len(first)
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def comment_start(line: str) -> int:
    """Where a shell comment begins in ``line`` (a "#" at the start of a word, outside quotes), or -1."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
    return -1


def fix_lines(fix: str, room: int) -> list[str]:
    """The lines of ``fix`` in at most ``room`` columns where that can be done without breaking a command
    (the module's docstring says how)."""
    lines: list[str] = []
    for line in fix.splitlines():
        if len(line) <= room:
            lines.append(line)
        elif line[:1].isupper():
            lines.extend(textwrap.wrap(line, width=room, break_long_words=False, break_on_hyphens=False))
        else:
            start = comment_start(line)
            command, comment = (line, "") if start < 0 else (line[:start].rstrip(), line[start:].lstrip("# "))
            if command:
                lines.append(command)
            if comment:
                lines.extend(textwrap.wrap(comment, width=room, initial_indent="# ", subsequent_indent="# ",
                                           break_long_words=False, break_on_hyphens=False))
    return lines
