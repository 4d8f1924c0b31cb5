"""envcheck.linereader: the one reader of child output (lines cut, a fixed tail, the deadline held)."""

from __future__ import annotations

import sys
import time
from typing import Iterator

import pytest

from envcheck import linereader
from envcheck.runner import stream


def test_lines_are_split_across_chunks_and_lose_their_line_endings() -> None:
    chunks = [b"one\r\ntw", b"o\n", b"\n", b"th", b"ree"]
    assert list(linereader.split_lines(chunks)) == ["one", "two", "", "three"]


def test_a_long_line_is_cut_and_the_rest_of_it_dropped() -> None:
    chunks = [b"abcdefgh", b"ijkl\nshort\n", b"x" * 25, b"y" * 3]
    assert list(linereader.split_lines(chunks, max_line=5)) == ["abcde", "short", "xxxxx"]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert list(linereader.split_lines([b"caf\xe9\n"])) == ["caf\ufffd"]


def _then_fail(items: list[bytes]) -> Iterator[bytes]:
    yield from items
    raise ConnectionError("the engine went away")


def test_an_error_ends_the_feed_after_what_came_before_it() -> None:
    feed = linereader.lines(_then_fail([b"a\nb"]), "test")
    assert [feed.get(5.0), feed.get(5.0), feed.get(5.0)] == ["a", "b", None]
    assert isinstance(feed.error, ConnectionError) and str(feed.error) == "the engine went away"
    assert feed.get(5.0) is None  # the end stays the end


def test_a_silent_source_times_out_within_the_wait() -> None:
    def silent() -> Iterator[str]:
        time.sleep(30)
        yield "late"

    feed = linereader.Feed(silent(), "test")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        feed.get(0.3)
    assert 0.25 <= time.monotonic() - start < 2.0


def test_a_passed_deadline_ends_reading_even_with_output_waiting() -> None:
    feed = linereader.Feed(["a", "b"], "test")
    feed.join(5.0)
    with pytest.raises(TimeoutError):
        feed.get(0.0)
    assert feed.get(1.0) == "a"


def test_a_child_that_floods_its_output_is_cut_at_the_deadline() -> None:
    child = stream([sys.executable, "-c", "while True: print('x' * 100, flush=True)"])
    deadline = time.monotonic() + 1.0
    read: list[str] = []
    with pytest.raises(TimeoutError):
        while (line := child.readline(deadline - time.monotonic())) is not None:
            read.append(line)
    # Lines came, each whole (the child's 100 x's): the deadline cut none in half.
    assert set(read) == {"x" * 100} and time.monotonic() - deadline < 1.0
    assert child.close() == -9


def test_the_tail_keeps_the_last_bytes() -> None:
    tail = linereader.Tail(10)
    for chunk in (b"0123456789", b"abc", b"de"):
        tail.add(chunk)
    assert tail.text() == "56789abcde"
    assert tail.text(3) == "cde"
    assert tail.dropped == 5
    tail.add(b"0123456789XYZ")  # a chunk longer than the tail replaces it
    assert tail.text() == "3456789XYZ" and tail.dropped == 18
