"""Indented JSON text, the same bytes as ``json.dumps(value, indent=2, default=str)``, several times faster.

With an ``indent``, the standard library encodes in Python (its C encoder serves ``indent=None`` only before
Python 3.14: https://github.com/python/cpython/blob/3.11/Lib/json/encoder.py, JSONEncoder.iterencode) through a
generator per nesting level, which made the fleet JSON of 1000 hosts (65,000 results) take seconds. Here each
value is one call returning its text, and strings are escaped by the same C function the standard library uses
(``encode_basestring_ascii``, as ``ensure_ascii=True``).

Every line break of indented JSON is structural (a string's are escaped as ``\\n``), so a value's text at depth
``level`` is its text at depth 0 with ``"  " * level`` after every line break: the fleet JSON encodes one host at a
time into its place, and never holds the whole document as objects. Anything this module does not expect (a key
that is not a string, a type json has no rule for) is left to json.dumps itself, so the bytes stay the same.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii
from typing import Any

INDENT = "  "
__all__ = ["INDENT", "encode_basestring_ascii", "indented"]


def indented(value: Any, level: int = 0) -> str:
    """``json.dumps(value, indent=2, default=str)``, as it reads nested ``level`` deep in a document."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        members: list[str] = []
        for key, item in value.items():
            if not isinstance(key, str):
                return _by_the_library(value, level)
            # Most values are texts: escaped here, without another call.
            members.append(encode_basestring_ascii(key) + ": " + (
                encode_basestring_ascii(item) if type(item) is str else indented(item, level + 1)))
        return _joined("{", members, "}", level)
    if isinstance(value, (list, tuple)):
        return _joined("[", [encode_basestring_ascii(item) if type(item) is str else indented(item, level + 1)
                             for item in value], "]", level)
    return _by_the_library(value, level)


def _joined(opening: str, members: list[str], closing: str, level: int) -> str:
    if not members:
        return opening + closing
    inner = "\n" + INDENT * (level + 1)
    return opening + inner + ("," + inner).join(members) + "\n" + INDENT * level + closing


def _by_the_library(value: Any, level: int) -> str:
    # NaN and the infinities, keys that are numbers, objects default=str prints: rare, and exactly as json does.
    return json.dumps(value, indent=2, default=str).replace("\n", "\n" + INDENT * level)
