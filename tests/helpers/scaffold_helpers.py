"""Shared by tests/scaffold/test_scaffold*.py: run the real CLI edge in-process, and the hadolint ignore list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pytest
from click.testing import CliRunner

from envcheck.cli import main

VENV_BIN = Path(sys.executable).parent
HADOLINT = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")

# The short ignore list for generated Dockerfiles, each with its reason:
HADOLINT_IGNORES = {
    # Ubuntu deletes superseded package versions from its archive, so an apt pin breaks the build within weeks;
    # the base tag (a full-patch nvidia/cuda tag or ubuntu:YY.MM) already pins the release.
    "DL3008": "apt versions are not pinnable for long on Ubuntu; the base tag pins the release",
}


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def envcheck_main(args: Sequence[str], env: Mapping[str, str] | None = None) -> Ran:
    """`envcheck ARGS` through envcheck.cli.main, the one place errors become messages and exit codes."""
    runner = CliRunner()
    with runner.isolation(env=dict(env) if env is not None else None) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return Ran(code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace"))


def files_under(root: Path) -> set[str]:
    """Every file and folder below root, relative, for before/after comparisons."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(str(Path(folder, name).relative_to(root)))
    return found


@contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at ``where`` with mount ``options`` (size=64k, ro, ...), unmounted afterwards: a full
    or read-only disk that the kernel, not a mock, reports."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True,
                          text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], timeout=30, check=False)
