"""envcheck.atomicfile: a report file is the old one or the new one, never a part of either."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from envcheck.atomicfile import write_atomic


def test_bytes_or_pieces_make_the_same_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "whole.xml", b"<a>b</a>\n")
    write_atomic(tmp_path / "pieces.xml", iter([b"<a>", b"b", b"</a>\n"]))
    assert (tmp_path / "whole.xml").read_bytes() == (tmp_path / "pieces.xml").read_bytes() == b"<a>b</a>\n"
    assert os.stat(tmp_path / "whole.xml").st_mode & 0o777 == 0o644


def test_a_failure_while_the_pieces_are_made_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "fleet.xml"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)

    def pieces() -> Iterator[bytes]:
        yield b"<testsuites>" + b"x" * 100_000
        raise MemoryError("the renderer gave out half-way")

    with pytest.raises(MemoryError):
        write_atomic(target, pieces())
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["fleet.xml"]
    write_atomic(target, [b"new"])
    assert target.read_bytes() == b"new" and os.stat(target).st_mode & 0o777 == 0o600  # the mode it had
