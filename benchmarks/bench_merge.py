"""Benchmark: `envcheck report merge` on a big fleet's folder of per-host reports.

Runs `envcheck doctor --json` once on this machine, then writes N copies of that report into a temporary
folder, each one a different host: its own name, group, time and durations, some facts drifting (driver,
kernel, gpu_count), a few hosts failing or warning with their own observed texts, and per-host numbers in the
texts that differ between real machines (free disk, memory). Then it times the real command line on that
folder: the table, ``--json``, and the table with ``--junit FILE``, with each run's peak RSS (``ru_maxrss``
from wait4(2) on the envcheck process). Goal: 1000 hosts in a few seconds, and memory that grows in proportion
to the hosts, modestly.

    .venv/bin/python benchmarks/bench_merge.py [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from envcheck.model import Status, worst

DEFAULT_SIZES = (100, 1000)


def doctor_report(envcheck: str) -> dict[str, Any]:
    """This machine's doctor report, the template every host's copy is made from."""
    with tempfile.TemporaryFile() as out:
        pid = os.posix_spawn(envcheck, [envcheck, "doctor", "--json"], dict(os.environ),
                             file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1)])
        os.waitpid(pid, 0)
        out.seek(0)
        report: dict[str, Any] = json.loads(out.read())
    return report


def _set(result: dict[str, Any], status: str, observed: str) -> None:
    result["status"] = status
    result["observed"] = observed


def host_report(template: dict[str, Any], index: int) -> dict[str, Any]:
    """Host ``index``'s copy of ``template``: what differs between the machines of a real fleet."""
    host = f"gpu-node-{index:05d}.cluster.example"
    report = json.loads(json.dumps(template))
    report["host"] = host
    report["time"] = f"2026-12-02T03:{index // 60 % 60:02d}:{index % 60:02d}+00:00"
    report["duration_s"] = round(0.3 + index % 97 / 100, 3)
    report["groups"] = ["a100" if index % 3 else "h100"]
    report["facts"] = {
        **report.get("facts", {}),
        "driver": "535.104.05" if index % 37 == 0 else "550.54.15",
        "cuda": "12.4",
        "kernel": "6.8.0-45-generic" if index % 50 == 0 else "6.8.0-49-generic",
        "torch": "2.5.1",
        "gpu_model": "NVIDIA A100-SXM4-80GB" if index % 3 else "NVIDIA H100 80GB HBM3",
        "gpu_count": "7" if index % 101 == 0 else "8",
    }
    for number, result in enumerate(report["results"]):
        result["duration_s"] = round((index * 7 + number) % 113 / 1000, 3)
        if result["id"] in ("host.disk-home", "host.disk-tmp"):
            result["observed"] = f"{100 + index % 400} GB free of 1.8 TB"
        elif result["id"] == "host.memory":
            result["observed"] = f"{1000 + index % 24} GiB total, {700 + index % 300} GiB available"
        elif result["id"] == "gpu.driver" and index % 10 == 0:
            _set(result, "fail", f"driver 470.82.01 on {host} is older than the 525 that CUDA 12 needs")
            result["fix"] = "sudo apt install nvidia-driver-550\nsudo reboot"
        elif result["id"] == "gpu.ecc" and index % 25 == 0:
            _set(result, "warn", f"{index % 5 + 1} volatile uncorrectable ECC errors on GPU {index % 8}")
        elif result["id"] == "docker.daemon-reachable" and index % 43 == 0:
            _set(result, "unknown", "docker info timed out after 5 s")
    statuses = [Status(r["status"]) for r in report["results"]]
    if report.get("strict"):
        statuses = [Status.FAIL if s is Status.WARN else s for s in statuses]
    overall = worst(statuses) if statuses else Status.SKIP
    report["overall"] = overall.value
    report["exit_code"] = {Status.FAIL: 1, Status.UNKNOWN: 3}.get(overall, 0)
    report["counts"] = {s.value: sum(r["status"] == s.value for r in report["results"]) for s in Status}
    return report


def write_fleet(folder: Path, template: dict[str, Any], hosts: int) -> None:
    """``hosts`` report files in ``folder``, indented as doctor writes them, and one file that gives no host."""
    folder.mkdir()
    for index in range(hosts):
        report = host_report(template, index)
        (folder / f"{report['host']}.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "zz-truncated.json").write_text('{"schema": "envcheck.report", "results": [')


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one envcheck run, its output thrown away."""
    start = time.monotonic()
    with open(os.devnull, "wb") as null:
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=[
            (os.POSIX_SPAWN_DUP2, null.fileno(), 1), (os.POSIX_SPAWN_DUP2, null.fileno(), 2)])
        _, _, usage = os.wait4(pid, 0)
    return time.monotonic() - start, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="host counts to merge, comma-separated (default %(default)s)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    envcheck = str(Path(sys.executable).parent / "envcheck")
    template = doctor_report(envcheck)
    print(f"template: {len(template['results'])} results, {len(json.dumps(template, indent=2))} bytes")
    print(f"{'hosts':>6} {'output':10} {'wall s':>7} {'ms/host':>7} {'peak RSS MB':>11}")
    with tempfile.TemporaryDirectory(prefix="envcheck-merge-") as tmp:
        for hosts in sizes:
            folder = Path(tmp) / f"fleet-{hosts}"
            write_fleet(folder, template, hosts)
            junit = str(Path(tmp) / f"fleet-{hosts}.xml")
            for label, extra in (("table", []), ("--json", ["--json"]), ("--junit", ["--junit", junit])):
                wall_s, rss_mb = measure([envcheck, "report", "merge", str(folder), *extra])
                print(f"{hosts:6d} {label:10} {wall_s:7.2f} {wall_s / hosts * 1000:7.2f} {rss_mb:11.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
