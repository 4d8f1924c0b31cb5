"""Benchmark: envcheck against tools that flood their output.

Each case points one of envcheck's external tools at a hostile child and runs the real command line:
`envcheck doctor` with ``$CONDA_EXE``, a ``git`` first on PATH, or ``--python`` being the child (doctor's
default deadline: the policy's probe_timeout_s, 5 s), and `envcheck smoke --python CHILD --timeout 8`. The
children: ``yes``; a Python that writes huge lines with no newline; an endless stream of ordinary lines; and
one that starts a grandchild which calls ``setsid()`` (leaving the process group) and floods, then exits.

For each case it prints envcheck's peak RSS and wall time beside their bounds, the duration its report gives
(the wall time less the interpreter's start-up and exit), and how many processes envcheck started are still
running afterwards (found by the mark every child inherits, ``proctree.MARK``). Goal: peak
RSS <= 150 MB and wall <= the deadline + 1 s in every case, no survivors. Peak RSS is ``ru_maxrss`` from
wait4(2) on the envcheck process: its own peak, or that of a child it reaped if larger (the hostile children
are a few MB each, and are not envcheck's memory).

    .venv/bin/python benchmarks/bench_hostile.py [--only doctor|smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from envcheck import proctree

RSS_BOUND_MB = 150.0
DOCTOR_DEADLINE_S = 5.0  # the built-in policy's probe_timeout_s
SMOKE_DEADLINE_S = 8.0

PY = sys.executable
CHILDREN = {
    "yes": "exec yes",
    "huge-lines": f"exec {PY} -c 'import os\nwhile True: os.write(1, b\"x\" * 65536)'",
    "endless-stream": f"exec {PY} -c 'import itertools\nfor i in itertools.count(): print(\"line\", i)'",
    "setsid-grandchild": (
        f"exec {PY} -c 'import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True: os.write(1, b\"g\" * 65536)\n"
        "time.sleep(0.2)'"
    ),
}


def child_script(folder: Path, name: str, kind: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{CHILDREN[kind]}\n")
    path.chmod(0o755)
    return path


def measure(argv: list[str], env: dict[str, str], folder: Path) -> tuple[float, float, float, list[int]]:
    """(peak RSS in MB, wall seconds, the report's duration_s, survivors) of one envcheck run."""
    report = folder / "report.json"
    start = time.monotonic()
    with open(report, "wb") as out, open(os.devnull, "wb") as null:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                                                 (os.POSIX_SPAWN_DUP2, null.fileno(), 2)])
        _, _, usage = os.wait4(pid, 0)
    wall_s = time.monotonic() - start
    try:
        reported_s = float(json.loads(report.read_text())["duration_s"])
    except (OSError, ValueError, KeyError, TypeError):
        reported_s = float("nan")
    time.sleep(0.2)  # a survivor has had time to show itself
    left = proctree.survivors(pid)
    for stray in left:  # the machine stays usable for the next case
        try:
            os.kill(stray, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return usage.ru_maxrss / 1024, wall_s, reported_s, left


def cases(folder: Path, envcheck: str, only: str | None) -> list[tuple[str, list[str], dict[str, str], float]]:
    base = dict(os.environ)
    rows: list[tuple[str, list[str], dict[str, str], float]] = []
    for kind in CHILDREN:
        sub = folder / kind
        sub.mkdir()
        doctor = [envcheck, "doctor", "--json"]
        if only in (None, "doctor"):
            rows.append((f"doctor CONDA_EXE={kind}", doctor,
                         {**base, "CONDA_EXE": str(child_script(sub, "conda", kind))}, DOCTOR_DEADLINE_S))
            child_script(sub, "git", kind)
            rows.append((f"doctor git={kind}", doctor, {**base, "PATH": f"{sub}:{base.get('PATH', '')}"},
                         DOCTOR_DEADLINE_S))
            rows.append((f"doctor --python {kind}", [*doctor, "--python", str(child_script(sub, "python3", kind))],
                         base, DOCTOR_DEADLINE_S))
        if only in (None, "smoke"):
            smoke = [envcheck, "smoke", "--json", "--timeout", f"{SMOKE_DEADLINE_S:g}",
                     "--python", str(child_script(sub, "python", kind))]
            rows.append((f"smoke --python {kind}", smoke, base, SMOKE_DEADLINE_S))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["doctor", "smoke"])
    args = parser.parse_args()
    envcheck = str(Path(sys.executable).parent / "envcheck")
    failed = 0
    print(f"{'case':36} {'peak RSS MB':>11} {'bound':>5} {'wall s':>6} {'bound':>5} {'report s':>8} "
          f"{'survivors':>9}  ok")
    with tempfile.TemporaryDirectory(prefix="envcheck-hostile-") as tmp:
        for name, argv, env, deadline_s in cases(Path(tmp), envcheck, args.only):
            rss_mb, wall_s, reported_s, left = measure(argv, env, Path(tmp))
            bound_s = deadline_s + 1.0
            ok = rss_mb <= RSS_BOUND_MB and wall_s <= bound_s and not left
            failed += not ok
            print(f"{name:36} {rss_mb:11.1f} {RSS_BOUND_MB:5.0f} {wall_s:6.2f} {bound_s:5.1f} {reported_s:8.2f} "
                  f"{len(left):9d}  {'yes' if ok else 'NO'}", flush=True)
    print(f"{failed} case(s) over a bound" if failed else "every case within its bounds")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
