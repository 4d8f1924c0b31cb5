"""Benchmark: `envcheck doctor --json` against `python -m torch.utils.collect_env`.

Runs the two alternately in one process (so both see the same machine load), prints each median and
the ratio, and how much each reports: envcheck's results (each with a verdict) against collect_env's
"key: value" fact lines (no verdicts). Goal: doctor median <= 0.5 s and >= 5x faster than
collect_env: cheap enough to run before every job.

    .venv/bin/python benchmarks/bench_doctor.py [--runs 9] [--python PATH-with-torch]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(argv: list[str]) -> tuple[float, str, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, done.stdout, done.returncode


def facts_in_collect_env(text: str) -> list[str]:
    """collect_env's facts that it actually found: "key: value" lines and "[pip3] pkg==x" lines, leaving
    out values it could not collect ("Could not collect", "N/A") and the raw lscpu dump under "CPU:",
    which is one fact (the CPU) spread over dozens of lines."""
    facts: list[str] = []
    in_cpu = False
    for line in text.splitlines():
        if line.startswith("CPU:"):
            in_cpu = True
            facts.append("CPU")
            continue
        if in_cpu:
            if line.strip():
                continue
            in_cpu = False
        if line.startswith("[pip") or line.startswith("[conda]"):
            facts.append(line)
            continue
        key, sep, value = line.partition(":")
        if sep and value.strip() and value.strip() not in ("Could not collect", "N/A"):
            facts.append(key)
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--python", default=sys.executable, help="interpreter with torch, for collect_env")
    args = parser.parse_args()

    venv_bin = Path(sys.executable).parent
    envcheck = shutil.which("envcheck", path=str(venv_bin)) or shutil.which("envcheck")
    doctor_argv = [envcheck, "doctor", "--json"] if envcheck else [sys.executable, "-m", "envcheck", "doctor", "--json"]
    collect_argv = [args.python, "-m", "torch.utils.collect_env"]

    # One warm-up each: the first run pays for cold page caches, which is not what a user repeats.
    timed(doctor_argv)
    timed(collect_argv)
    doctor_times: list[float] = []
    collect_times: list[float] = []
    doctor_out = collect_out = ""
    for _ in range(args.runs):
        elapsed_s, doctor_out, _rc = timed(doctor_argv)
        doctor_times.append(elapsed_s)
        elapsed_s, collect_out, collect_rc = timed(collect_argv)
        collect_times.append(elapsed_s)
        if collect_rc != 0:
            print(f"collect_env failed (exit {collect_rc}); is torch installed in {args.python}?", file=sys.stderr)
            return 1

    report = json.loads(doctor_out)
    results = report["results"]
    with_fix = sum(1 for r in results if r["fix"] or r["status"] in ("pass", "skip"))
    facts = facts_in_collect_env(collect_out)
    d_med, c_med = statistics.median(doctor_times), statistics.median(collect_times)

    print(f"runs: {args.runs} each, alternating; machine: {subprocess.getoutput('nproc')} cores")
    print(f"envcheck doctor --json         median {d_med:.3f} s  (min {min(doctor_times):.3f}, "
          f"max {max(doctor_times):.3f})  {len(results)} results with verdicts, "
          f"{with_fix} with a fix or nothing to fix"
          )
    print(f"torch.utils.collect_env        median {c_med:.3f} s  (min {min(collect_times):.3f}, "
          f"max {max(collect_times):.3f})  {len(facts)} facts found, no verdicts")
    print(f"ratio collect_env / doctor:    {c_med / d_med:.1f}x")
    print(f"goal: doctor <= 0.5 s: {'met' if d_med <= 0.5 else 'NOT met'}; "
          f">= 5x faster: {'met' if c_med / d_med >= 5 else 'NOT met'}; "
          f"reports more: {'met' if len(results) > len(facts) else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
