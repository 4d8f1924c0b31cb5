"""How much the Docker probe costs, and why it does not use the docker SDK.

Run: .venv/bin/python benchmarks/docker_probe.py [--runs N]

Fresh interpreters measure what a user pays (`import docker` pulls in requests and urllib3);
in-process repetitions measure the two requests themselves. Prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

PROBE = (
    "import os\n"
    "from envcheck import runner\n"
    "from envcheck.units import ProbeContext, ProbeOptions\n"
    "from envcheck.probes.docker import collect\n"
    "facts = collect(ProbeContext(env=dict(os.environ), home=os.path.expanduser('~'), timeout_s=5.0,\n"
    "                             run=runner.run, options=ProbeOptions(docker_client={transport!r})))\n"
    "assert facts.reachable, facts.error\n"
)


def fresh(argv: list[str], runs: int) -> float:
    """Median wall time of ``argv`` in a new process, in ms (one warm-up run first)."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def in_process(transport: str, runs: int) -> float:
    from envcheck import runner
    from envcheck.probes.docker import collect
    from envcheck.units import ProbeContext, ProbeOptions

    ctx = ProbeContext(env=dict(os.environ), home=os.path.expanduser("~"), timeout_s=5.0, run=runner.run,
                       options=ProbeOptions(docker_client=transport))
    collect(ctx)  # warm-up: imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        facts = collect(ctx)
        times.append((time.perf_counter() - start) * 1000)
        assert facts.reachable, facts.error
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    py = sys.executable
    rows = [
        ("python -c pass", fresh([py, "-c", "pass"], runs)),
        ("python -c 'import docker'", fresh([py, "-c", "import docker"], runs)),
        ("fresh process: docker probe, own HTTP client", fresh([py, "-c", PROBE.format(transport="http")], runs)),
        ("fresh process: docker probe, docker SDK", fresh([py, "-c", PROBE.format(transport="sdk")], runs)),
        ("in process: docker probe, own HTTP client", in_process("http", runs * 2)),
        ("in process: docker probe, docker SDK (imported)", in_process("sdk", runs * 2)),
        ("envcheck doctor --only docker --json", fresh([py, "-m", "envcheck", "doctor", "--only", "docker", "--json"],
                                                       runs)),
        ("envcheck doctor --json (everything)", fresh([py, "-m", "envcheck", "doctor", "--json"], runs)),
        ("envcheck doctor --json --skip docker", fresh([py, "-m", "envcheck", "doctor", "--json", "--skip", "docker"],
                                                       runs)),
    ]
    print(f"medians of {runs} runs (in-process: {runs * 2}), {os.cpu_count()} CPUs")
    for label, value in rows:
        print(f"{value:8.1f} ms  {label}")


if __name__ == "__main__":
    main()
