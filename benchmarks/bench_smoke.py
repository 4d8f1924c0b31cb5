"""Benchmark: `envcheck smoke --json` end to end.

Runs the whole command N times as a user would (envcheck start-up, the child's interpreter start, `import
torch`, every step, the report) and prints each wall time, the median, and the slowest steps of the median
run. Goals: on the 2-core build machine (CPU only) median <= 10 s; on an H100/H200, without --bench,
<= 15 s including the torch import and CUDA start. With --bench it prints the measured figures too.

    .venv/bin/python benchmarks/bench_smoke.py [--runs 5] [--python PATH] [--bench] [--goal 10]
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
from typing import Any


def time_once(argv: list[str]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    elapsed_s = time.perf_counter() - start
    try:
        return elapsed_s, json.loads(done.stdout)
    except ValueError as exc:
        tail = f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        raise SystemExit(f"not a JSON report (exit {done.returncode}):\n{tail}") from exc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the target interpreter (default: this one)")
    parser.add_argument("--bench", action="store_true", help="pass --bench (GPU throughput figures)")
    parser.add_argument("--goal", type=float, default=10.0, help="median goal in seconds (10 on the CPU box)")
    args = parser.parse_args()

    envcheck = shutil.which("envcheck", path=str(Path(sys.executable).parent)) or shutil.which("envcheck")
    base = [envcheck] if envcheck else [sys.executable, "-m", "envcheck"]
    argv = [*base, "smoke", "--json", "--python", args.python] + (["--bench"] if args.bench else [])
    print("command:", " ".join(argv))
    times: list[float] = []
    reports: list[dict[str, Any]] = []
    for index in range(args.runs):
        elapsed_s, report = time_once(argv)
        times.append(elapsed_s)
        reports.append(report)
        print(f"run {index + 1}: {elapsed_s:.2f} s  overall={report['overall']}  counts={report['counts']}")
    median = statistics.median(times)
    middle = reports[times.index(sorted(times)[len(times) // 2])]
    slowest = sorted(middle["results"], key=lambda r: r["duration_s"], reverse=True)[:5]
    print("slowest steps of the median run: " + ", ".join(
        f"{r['id']}{'[' + r['item'] + ']' if r['item'] else ''} {r['duration_s']:.2f} s" for r in slowest))
    if args.bench:
        for r in middle["results"]:
            if r["id"].startswith("smoke.bench-"):
                print(f"  {r['id']} [{r['item']}] {r['status']}: {r['observed'] or r['reason']}")
    verdict = "meets" if median <= args.goal else "MISSES"
    print(f"median {median:.2f} s over {len(times)} runs (min {min(times):.2f}, max {max(times):.2f}); "
          f"goal <= {args.goal:g} s: {verdict}")
    return 0 if median <= args.goal else 1


if __name__ == "__main__":
    sys.exit(main())
