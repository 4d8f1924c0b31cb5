"""Who decides on colour, in which order, and the width lines are laid out in."""

from __future__ import annotations

import io
import os
import pty

import pytest

from envcheck.report.console import color_wanted, columns


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("flag", "env", "tty", "wanted"), [
    (True, {"NO_COLOR": "1"}, False, True),  # an explicit --color wins over everything
    (False, {"FORCE_COLOR": "1"}, True, False),  # and --no-color too
    (None, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),  # NO_COLOR before FORCE_COLOR
    (None, {"NO_COLOR": ""}, True, True),  # an empty NO_COLOR is unset (no-color.org)
    (None, {"FORCE_COLOR": "1"}, False, True),  # a pipe, a CI log
    (None, {"FORCE_COLOR": "0"}, False, False),
    (None, {"FORCE_COLOR": ""}, False, False),
    (None, {}, True, True),
    (None, {"TERM": "dumb"}, True, False),
    (None, {"TERM": "dumb", "FORCE_COLOR": "true"}, False, True),
    (None, {}, False, False),
])
def test_color_wanted_in_order(flag: bool | None, env: dict[str, str], tty: bool, wanted: bool) -> None:
    stream = _Tty() if tty else io.StringIO()
    assert color_wanted(flag, stream, env) is wanted


def test_a_real_terminal_and_a_closed_stream() -> None:
    leader, follower = pty.openpty()
    try:
        with os.fdopen(os.dup(follower), "w") as terminal:
            assert color_wanted(None, terminal, {"TERM": "xterm"}) is True
        closed = io.StringIO()
        closed.close()
        assert color_wanted(None, closed, {}) is False
        assert color_wanted(None, None, {}) is False
    finally:
        os.close(leader)
        os.close(follower)


def test_columns_from_columns_and_never_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert columns() == 120
    monkeypatch.setenv("COLUMNS", "10")
    assert columns() == 40
