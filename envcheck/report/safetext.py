"""Outside strings made safe for the medium they go to: a terminal or markdown (control characters and escape
sequences stripped), XML (only the characters XML 1.0 allows) and JSON (valid Unicode).

A report shows what probes read from the machine and from files a cloned repository brings
(``.envcheck/project.json``): an ESC sequence there can set the terminal's title, move the cursor or recolour
text, a carriage return can print a fake "all good" line over a real failure, and in a JUnit file one control
character makes the whole XML unreadable. Renderers pass the report through :func:`printable_report` (terminal,
markdown, JUnit) before they lay it out; their own colour codes are added after.

JSON keeps the data as it is: json.dumps escapes every control character (``\\u001b``), so the document stays
valid and a consumer gets the exact bytes a probe saw (a path with odd characters is still that path); showing
it safely is the consumer's job. Only lone surrogates (undecodable bytes that os.fsdecode and
errors="surrogateescape" carry) become U+FFFD there, since strict JSON parsers reject them (RFC 8259, 8.2).
"""

from __future__ import annotations

import re

from envcheck.model import Report
from envcheck.redact import map_strings

# ECMA-48 sequences: CSI (ESC [ or the 8-bit 0x9B, parameters, intermediates, a final byte), OSC, DCS, SOS, PM and
# APC strings (ESC ] P X ^ _ or their 8-bit forms, up to BEL or ST), and any other ESC with one following byte.
# https://invisible-island.net/xterm/ctlseqs/ctlseqs.html. Each part's class ends where the next part's begins,
# and a string stops at the line's end, so a failed try gives nothing back to retry: linear in the text.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# C0 controls but tab and newline, DEL, C1 controls; and the bidirectional overrides and isolates that reorder
# how a line reads without changing its characters (CVE-2021-42574, https://trojansource.codes).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# What XML 1.0 forbids even as a character reference (https://www.w3.org/TR/xml/#charsets): the complement of its
# Char production (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]), spelled as the ranges
# it forbids: the negated class took about 11 ms to compile, at every envcheck start.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Fields whose line breaks are part of the text (a fix is a command per line); every other field is one line.
MULTI_LINE = frozenset({"fix", "evidence"})


def printable(text: str, *, multi_line: bool = False) -> str:
    """``text`` without escape sequences and control characters, lone surrogates as U+FFFD; line breaks become
    a space unless ``multi_line`` (then "\\n", with "\\r\\n" and a lone "\\r" folded into it)."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAK.sub("\n" if multi_line else " ", text)
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def printable_report(report: Report) -> Report:
    """Every outside string of ``report`` through :func:`printable`, keeping line breaks only in MULTI_LINE."""
    return map_strings(report, lambda field, text: printable(text, multi_line=field in MULTI_LINE))


def xml_text(text: str) -> str:
    """``text`` with only characters XML 1.0 allows: lone surrogates as U+FFFD, the rest of the forbidden ones
    (C0 controls, U+FFFE, U+FFFF) dropped."""
    return _NOT_XML.sub("", _SURROGATE.sub("\ufffd", text))


def json_text(text: str) -> str:
    """``text`` as valid Unicode for JSON: lone surrogates as U+FFFD, everything else kept for json.dumps to escape."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def json_safe_report(report: Report) -> Report:
    return map_strings(report, lambda _field, text: json_text(text))
