"""envcheck installs and runs on the Pythons README.md promises (3.10-3.12): Ubuntu 22.04's 3.10,
this machine's 3.11 (the rest of the suite) and Ubuntu 24.04's 3.12. Uses whichever of those
interpreters this machine has (pyenv's here), each in a fresh venv outside the checkout."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from envcheck.checks import CHECKS

ROOT = Path(__file__).resolve().parents[2]


def _interpreter(version: str) -> str | None:
    """A python of that version that really runs (a pyenv shim for an unselected version exits 127)."""
    candidates = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"))
    found = shutil.which(f"python{version}")
    for candidate in [*reversed(candidates), *([found] if found else [])]:
        if subprocess.run([candidate, "-c", "pass"], capture_output=True, timeout=30).returncode == 0:
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.10", "3.12"])
def test_install_and_doctor_on(version: str, tmp_path: Path) -> None:
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                              str(ROOT)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    done = subprocess.run([str(venv / "bin" / "envcheck"), "doctor", "--json"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    report = json.loads(done.stdout)
    statuses = {r["status"] for r in report["results"]}
    # README's exit-code table, applied to what this machine gave: 1 if anything failed, else 3 if anything could
    # not be checked, else 0.
    assert done.returncode == report["exit_code"] == (1 if "fail" in statuses else 3 if "unknown" in statuses else 0)
    # Every check of the registry judged this machine on that Python: none went missing (the requirement checks,
    # gpu.count and its kind, run only where a policy states them).
    applies = [check.id for check in CHECKS if check.applies is None]
    assert sorted({r["id"] for r in report["results"]}) == sorted(applies)
    assert not [r for r in report["results"] if "crashed" in r["reason"]], "a probe or check crashed"
