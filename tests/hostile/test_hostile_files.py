"""Small files that anyone may have put in place (a kernel.json, ~/.conda/environments.txt, a pyenv version
file) are read whole only when they are small regular files: a FIFO would block the probe until its deadline
and a huge file would be read into memory."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from envcheck.hostfs import read_small_text
from envcheck.probes.conda import _read_environments_txt


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "kernel.json"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(OSError) as caught:
        read_small_text(str(fifo))
    assert caught.value.errno == errno.EINVAL and time.monotonic() - start < 1.0


def test_a_file_over_the_cap_is_refused_and_one_at_the_cap_is_read(tmp_path: Path) -> None:
    big = tmp_path / "version"
    big.write_bytes(b"3.11\n" + b"#" * 70_000)
    with pytest.raises(OSError) as caught:
        read_small_text(str(big), 64 * 1024)
    assert caught.value.errno == errno.EFBIG
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * 1024)
    assert read_small_text(str(exact), 1024) == "x" * 1024


def test_a_huge_environments_txt_is_an_error_not_a_memory_spike(tmp_path: Path) -> None:
    conda = tmp_path / ".conda"
    conda.mkdir()
    (conda / "environments.txt").write_bytes(b"/opt/env\n" * 200_000)  # 1.8 MB: over the 1 MiB cap
    path, envs, _others, error = _read_environments_txt(str(tmp_path))
    assert path == str(conda / "environments.txt") and envs == ()
    assert error.startswith(f"cannot read {path}: ") and "larger than" in error
