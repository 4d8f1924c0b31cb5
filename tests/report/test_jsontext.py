"""Indented JSON text (envcheck.report.jsontext): the bytes json.dumps(value, indent=2, default=str) gives, at any
depth of a document, for every kind of value, the ones it leaves to json itself included."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from envcheck.model import Status
from envcheck.report.jsontext import indented


class _Level(enum.IntEnum):
    HIGH = 3


class _Opaque:
    def __str__(self) -> str:
        return "opaque <thing>"


VALUES: list[Any] = [
    None, True, False, 0, -7, 10**40, 0.1, -2.5e-300, 1e16, float("nan"), float("inf"), float("-inf"),
    "", "plain", "quote \" backslash \\ slash /", "line\nbreak\ttab\x00\x1b[31m", "é ü 漢字 \U0001f600", "\ud800 lone",
    "\u2028\u2029", [], {}, (), [[]], [{}], {"a": {}}, {"a": []}, (1, "two", None),
    {"id": "gpu.driver", "duration_s": 0.013, "evidence": {"nested": [1, [2, [3, {"deep": "x"}]]], "empty": {}}},
    {1: "int key", "b": 2}, {None: 1, True: 2, 2.5: 3}, {"nan": float("nan")},
    Status.FAIL, _Level.HIGH, {"status": Status.PASS, "level": _Level.HIGH}, _Opaque(), [_Opaque(), {"o": _Opaque()}],
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
@pytest.mark.parametrize("level", [0, 1, 4])
def test_indented_is_what_json_dumps_gives(value: Any, level: int) -> None:
    expected = json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * level)
    assert indented(value, level) == expected
