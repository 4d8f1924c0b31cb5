"""Benchmark: `envcheck fleet` on 1, 5 and 20 real ssh hosts, and where its time goes.

The hosts are containers from scripts/fleet-image's Debian image (tests/helpers/fleet.py, kind ``ok``: sshd and
python3, nothing else), reached over loopback. For each size it runs the real command line,
``envcheck fleet -i INV --out DIR --forks N --json``, and prints its wall time; then the ratio of 20 hosts to one
against the goal: 20 hosts in at most 3 times one host's wall time, on this machine.

Where the time goes, per size, measured apart on the same hosts:

    artifact     building the one-file artifact (envcheck.fleet.artifact.build_artifact), once per run
    ansible      a no-op play: one `ansible.builtin.raw: "true"` task (Ansible's start, ssh connect, its workers)
    task         a play of the one task `fleet` runs (envcheck's action plugin, envcheck_run) sending a
                 two-line sh script instead of the artifact: its ssh command without envcheck's payload
    on-host      envcheck's own duration on a host, from the reports' duration_s (mean and max)
    rest         fleet's wall less task and the slowest host's envcheck: reading the inventory (the artifact
                 is built meanwhile), the artifact's transfer and unpacking, Python's start there, the merge
    fleet's own  the line `envcheck fleet` prints on a terminal (its stderr is a pty here): inventory, artifact,
                 Ansible, the slowest envcheck
    cpu          CPU seconds of one fleet run: on the hosts (their containers' cgroup usage) and on the controller
                 (envcheck fleet with Ansible, its workers and ssh: getrusage of the waited children). Here the
                 hosts share the controller's CPUs, so (hosts + controller) / CPUs is a floor under the wall time

    .venv/bin/python benchmarks/bench_fleet.py [--sizes 1,5,20] [--repeat 2]

Needs Docker and the image (scripts/fleet-image builds it; the benchmark builds it when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.fleet import (  # noqa: E402
    Fleet,
    Host,
    HostSpec,
    engine_answers,
    ensure_images,
    env_without_ssh_agent,
    remove_leftovers,
)

from envcheck.fleet.artifact import build_artifact  # noqa: E402
from envcheck.fleet.playbook import action_plugin  # noqa: E402

GOAL_RATIO = 3.0
BIN = Path(sys.executable).parent
ENVCHECK = str(BIN / "envcheck")
NOOP_PLAY = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.raw: 'true'\n"
TASK_PLAY = ("- hosts: all\n  gather_facts: false\n  tasks:\n"
             "    - envcheck_run:\n        artifact: {script}\n        host: '{{{{ inventory_hostname }}}}'\n"
             "        groups: []\n        timeout_s: 60\n")
# What the task's one-liner runs in place of the artifact: it removes the folder it was received into (--in), as
# the artifact does.
TINY = "#!/bin/sh\n[ \"$1\" = --in ] && rm -rf \"$2\"\necho done\n"


def play(folder: Path, inventory: Path, forks: int, text: str, env: dict[str, str]) -> float:
    book = folder / "play.yml"
    book.write_text(text)
    plugin, source = action_plugin(folder)
    plugin.parent.mkdir(exist_ok=True)
    plugin.write_bytes(source)
    started = time.monotonic()
    done = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(forks), str(book)],
                          capture_output=True, text=True, timeout=600, env=env)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"bench_fleet: the play failed ({done.returncode}):\n"
                         f"{done.stdout[-2000:]}{done.stderr[-1000:]}")
    return took


# The container's own CPU time: cgroup v1 cpuacct (nanoseconds), else cgroup v2 cpu.stat (microseconds).
CPU_USAGE = ("cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null | sed 's/^/ns /' "
             "|| sed -n 's/^usage_usec /us /p' /sys/fs/cgroup/cpu.stat")


def hosts_cpu_s(fleet: Fleet, hosts: list[Host]) -> float:
    """The CPU seconds all ``hosts`` have used since they started."""
    total = 0.0
    for host in hosts:
        unit, value = fleet.exec(host, CPU_USAGE).stdout.split()
        total += int(value) / (1e9 if unit == "ns" else 1e6)
    return total


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fleet_run(folder: Path, inventory: Path, forks: int, env: dict[str, str]) -> tuple[float, list[float], str]:
    """(wall seconds, every host's envcheck duration_s, fleet's own timing line) of one `envcheck fleet` run.
    Its stderr is a terminal (a pty), so that fleet prints the line saying where its time went."""
    out = folder / f"out-{time.monotonic_ns()}"
    main_fd, child_fd = pty.openpty()
    said = bytearray()

    def drain() -> None:  # a pty holds a few kB: read while fleet writes its progress
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: the child side is closed
                return
            if not chunk:
                return
            said.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        done = subprocess.run([ENVCHECK, "fleet", "-i", str(inventory), "--out", str(out), "--forks", str(forks),
                               "--json"], stdout=subprocess.PIPE, stderr=child_fd, text=True, timeout=600, env=env)
    finally:
        took = time.monotonic() - started
        os.close(child_fd)
        reader.join(10)
        os.close(main_fd)
    lines = said.decode(errors="replace").replace("\x1b[K", "").replace("\r", "\n").splitlines()
    timing = next((line.strip().split("; reports in ")[0] for line in reversed(lines) if " hosts in " in line),
                  "(no timing line)")
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"bench_fleet: envcheck fleet exited {done.returncode}:\n{lines[-20:]}")
    durations = []
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("schema") != "envcheck.report":
            raise SystemExit(f"bench_fleet: {path.name} is not a report: {data.get('message')}")
        durations.append(float(data["duration_s"]))
    return took, durations, timing


def alone(fleet: Fleet, host: Host, artifact: Path) -> None:
    """The artifact on one idle host without Ansible or ssh (docker exec): its wall time against the duration its
    report gives, the difference being Python's start, unpacking and imports there."""
    subprocess.run(["docker", "cp", str(artifact), f"{host.container}:/tmp/bench-artifact.sh"], check=True,
                   capture_output=True, timeout=60)
    walls, durations = [], []
    for _ in range(3):
        started = time.monotonic()
        done = fleet.exec(host, "sh /tmp/bench-artifact.sh --host bench")
        walls.append(time.monotonic() - started)
        durations.append(float(json.loads(done.stdout)["duration_s"]))
    fleet.exec(host, "rm -f /tmp/bench-artifact.sh")
    wall, duration = min(walls), min(durations)
    print(f"the artifact alone on one idle host (docker exec, best of 3): {wall:.2f} s wall, envcheck's report "
          f"{duration:.2f} s, the rest {wall - duration:.2f} s (docker exec, Python's start, unpacking, imports)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,5,20", help="host counts, comma-separated (default 1,5,20)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per size; the fastest counts (default 2)")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if not engine_answers():
        print("bench_fleet: no Docker engine answers (scripts/start-docker starts one)", file=sys.stderr)
        return 2
    ensure_images(other_python=False)
    remove_leftovers()
    env = env_without_ssh_agent()
    fleet = Fleet()
    try:
        started = time.monotonic()
        hosts = fleet.start([HostSpec(f"bench-{i:02d}", "ok") for i in range(max(sizes))])
        print(f"started {len(hosts)} hosts in {time.monotonic() - started:.1f} s; {os.cpu_count()} CPUs here")
        with tempfile.TemporaryDirectory(prefix="envcheck-bench-fleet-") as tmp:
            folder = Path(tmp)
            script = folder / "tiny.sh"
            script.write_text(TINY)
            artifact = build_artifact(folder)
            print(f"artifact: {artifact.size / 1e6:.1f} MB, {artifact.files} files, built in {artifact.build_s:.2f} s")
            alone(fleet, hosts[0], artifact.path)
            print(f"{'hosts':>5} {'fleet s':>8} {'ansible s':>9} {'task s':>8} {'artifact s':>10} "
                  f"{'on-host s (mean/max)':>20} {'rest s':>7}")
            walls: dict[int, float] = {}
            for size in sizes:
                inventory = fleet.inventory(folder / f"inventory-{size}.ini", hosts[:size])
                runs = [fleet_run(folder, inventory, size, env) for _ in range(args.repeat - 1)]
                on_hosts, on_controller = hosts_cpu_s(fleet, hosts[:size]), children_cpu_s()
                runs.append(fleet_run(folder, inventory, size, env))
                on_hosts = hosts_cpu_s(fleet, hosts[:size]) - on_hosts
                on_controller = children_cpu_s() - on_controller
                wall, durations, timing = min(runs, key=lambda r: r[0])
                walls[size] = wall
                noop = min(play(folder, inventory, size, NOOP_PLAY, env) for _ in range(args.repeat))
                tiny = min(play(folder, inventory, size, TASK_PLAY.format(script=script), env)
                           for _ in range(args.repeat))
                rest = wall - tiny - max(durations)
                print(f"{size:>5} {wall:>8.2f} {noop:>9.2f} {tiny:>8.2f} {artifact.build_s:>10.2f} "
                      f"{statistics.mean(durations):>10.2f}/{max(durations):<9.2f} {rest:>7.2f}"
                      f"   (runs: {', '.join(f'{r[0]:.2f}' for r in runs)})")
                print(f"{'':>5} fleet's own account of its fastest run: {timing}")
                print(f"{'':>5} cpu of the last run: hosts {on_hosts:.1f} s ({on_hosts / size:.2f} s a host), "
                      f"controller {on_controller:.1f} s; floor on {os.cpu_count()} CPUs: "
                      f"{(on_hosts + on_controller) / (os.cpu_count() or 1):.1f} s")
        low, high = min(sizes), max(sizes)
        if low != high:
            ratio = walls[high] / walls[low]
            verdict = "meets" if ratio <= GOAL_RATIO else "misses"
            print(f"{high}/{low} hosts: {ratio:.2f}x the wall time ({verdict} the goal of <= {GOAL_RATIO:.0f}x)")
    finally:
        fleet.close()
        remove_leftovers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
