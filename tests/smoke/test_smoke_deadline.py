"""`--timeout` bounds the whole smoke run, finding the target included: a slow conda leaves the child less time."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from helpers.conda_helpers import write_standin

from envcheck.model import Status
from envcheck.smoke import smoke_test


def test_a_slow_conda_and_a_hanging_child_share_one_run_deadline(tmp_path: Path) -> None:
    # conda takes 2 s to list its envs; the env's python then hangs. With --timeout 3 the run ends 3 s after it
    # began, not 2 s (conda) + 3 s (the child) later.
    prefix = tmp_path / "root" / "envs" / "slow"
    write_standin(prefix / "bin" / "python", "exec sleep 300")
    info = {"root_prefix": str(tmp_path / "root"), "envs": [str(prefix)]}
    conda = write_standin(tmp_path / "root" / "bin" / "conda", f"sleep 2\necho '{json.dumps(info)}'")
    env = {"PATH": os.environ["PATH"], "CONDA_EXE": str(conda), "HOME": str(tmp_path)}
    began = time.monotonic()
    report = smoke_test(conda_env="slow", env=env, run_timeout_s=3.0)
    took_s = time.monotonic() - began
    target = next(result for result in report.results if result.id == "smoke.target")
    assert (target.outcome.status, target.outcome.reason) == (Status.UNKNOWN, (
        "no hello within 3 s: cut at --timeout 3 s (the whole run's limit); starting Python and the child can take "
        "longer than that"))
    assert 3.0 <= report.duration_s <= took_s < 4.5, (report.duration_s, took_s)
