"""On a GPU machine: the real thing, every GPU, with --bench.

Skips with the reason where the host has no NVIDIA GPU (the build machine and CI). Where it runs, it also
leaves the JSON report in $ENVCHECK_SMOKE_RECORD when that is set, to be committed under tests/data/smoke/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck.probes import nvidia_proc

# Installed: the console script beside this interpreter; on a GPU machine running from a checkout with
# PYTHONPATH=. (scripts/device-capture) there is none, so the module.
_SCRIPT = Path(sys.executable).with_name("envcheck")
ENVCHECK = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "envcheck"]
pytestmark = [pytest.mark.gpu, pytest.mark.slow]


def test_every_gpu_trains_and_the_bench_reaches_the_datasheet_goals() -> None:
    gpus = nvidia_proc.read_gpus()
    if not gpus:
        pytest.skip("no NVIDIA GPU on this machine (/proc/driver/nvidia/gpus is empty or absent)")
    proc = subprocess.run([*ENVCHECK, "smoke", "--bench", "--json", "--python", sys.executable],
                          capture_output=True, text=True, timeout=900)
    report = json.loads(proc.stdout)
    if os.environ.get("ENVCHECK_SMOKE_RECORD"):
        Path(os.environ["ENVCHECK_SMOKE_RECORD"]).write_text(proc.stdout)
    results = report["results"]
    items = {r["item"] for r in results if r["id"] == "smoke.train"}
    assert len(items) == len(gpus) + 1  # the CPU and every GPU
    for r in results:
        if r["id"] in ("smoke.bench-matmul", "smoke.bench-memory") and r["item"] != "cpu":
            assert r["status"] == "pass", (r["id"], r["item"], r["observed"], r["reason"])
    failed = [(r["id"], r["item"], r["reason"]) for r in results if r["status"] in ("fail", "unknown")]
    assert failed == [] and proc.returncode == 0, proc.stderr[-2000:]
