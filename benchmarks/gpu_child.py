"""Benchmark: how long the NVML child (envcheck/probes/gpu_nvml_child.py) and the whole gpu probe take.

The NVML child runs on every `envcheck doctor` (in parallel with the other probes), so its start-up is
doctor's floor for the gpu subject. Three cases: this machine as it is (real pynvml; with no driver it
stops at LibraryNotFound), and two recorded states replayed through the pynvml stand-in of
tests/data/nvml (8x H100 healthy; one lost GPU), which run the same child with every NVML call answered.

    .venv/bin/python benchmarks/gpu_child.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envcheck import runner  # noqa: E402  (after the path line: runs from a checkout)
from envcheck.probes.gpu import CHILD, _pynvml_dir, collect  # noqa: E402
from envcheck.units import ProbeContext  # noqa: E402

DATA = ROOT / "tests" / "data" / "nvml"


def time_child(env: dict[str, str], runs: int, no_site: bool) -> list[float]:
    """As the probe runs it (`-S`, pynvml's folder in ENVCHECK_PYNVML_DIR) or plainly (`python gpu_nvml_child.py`)."""
    argv = [sys.executable, "-S", str(CHILD)] if no_site else [sys.executable, str(CHILD)]
    if no_site:
        env = dict(env, ENVCHECK_PYNVML_DIR=_pynvml_dir() or "")
    times = []
    for _ in range(runs):
        result = runner.run(argv, timeout_s=30, env=env)
        assert result.ok and '"schema": 1' in result.out, result.describe()
        times.append(result.duration_s)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    cases = {"this machine (real pynvml)": dict(os.environ)}
    for name in ("h100x8-healthy", "h100x8-one-lost"):
        cases[f"replay {name}"] = dict(os.environ, PYTHONPATH=str(DATA / "fake"),
                                       ENVCHECK_NVML_RECORDING=str(DATA / f"{name}.json"))
    for label, env in cases.items():
        for no_site in (True, False):
            times = time_child(env, args.runs, no_site)
            how = "python -S (as the probe runs it)" if no_site else "plain python"
            print(f"nvml child, {label}, {how}: median {statistics.median(times) * 1000:.0f} ms "
                  f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {args.runs} runs)")
    ctx = ProbeContext(env=dict(os.environ), home=str(Path.home()), timeout_s=5.0, run=runner.run)
    probe = []
    for _ in range(args.runs):
        start = time.perf_counter()
        collect(ctx)
        probe.append(time.perf_counter() - start)
    print(f"whole gpu probe on this machine: median {statistics.median(probe) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
