"""The srun recipe under a real single-node Slurm (Debian's slurm-wlm and munge, installed by scripts/test):
munged, slurmctld and slurmd started here with a configuration of their own in a temporary folder, on free
ports; `srun --output=DIR/%N.json envcheck doctor --json` writes one report named after the node, and
`envcheck report merge DIR` reads it back as that host.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
NEEDED = ("munged", "slurmctld", "slurmd", "srun", "sinfo")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(pid_file: Path) -> None:
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


@pytest.fixture(scope="module")
def slurm() -> Iterator[dict[str, str]]:
    missing = [tool for tool in NEEDED if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if os.geteuid() != 0 or missing:
        pytest.skip(f"a single-node Slurm needs root and {', '.join(missing) or 'nothing more'} "
                    "(scripts/test installs slurm-wlm and munge as root)")
    # munged runs as its own user and refuses a socket folder others can write; pytest's tmp_path is 0700 root.
    top = Path(tempfile.mkdtemp(prefix="envcheck-slurm-"))
    top.chmod(0o755)
    for sub in ("state", "spool", "run", "log", "munge"):
        (top / sub).mkdir()
    munge = pwd.getpwnam("munge")
    key = top / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chown(top / "munge", munge.pw_uid, munge.pw_gid)
    os.chown(key, munge.pw_uid, munge.pw_gid)
    key.chmod(0o400)
    socket_path = top / "munge" / "munge.socket"
    sbin = "/usr/sbin"
    subprocess.run(["runuser", "-u", "munge", "--", f"{sbin}/munged", f"--key-file={key}",
                    f"--socket={socket_path}", f"--pid-file={top}/munge/munged.pid",
                    f"--log-file={top}/munge/munged.log", f"--seed-file={top}/munge/seed"],
                   check=True, timeout=30, capture_output=True)
    node = socket.gethostname().split(".")[0]
    conf = top / "slurm.conf"
    conf.write_text(f"""ClusterName=envchecktest
SlurmctldHost={node}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={socket_path}
CredType=cred/munge
StateSaveLocation={top}/state
SlurmdSpoolDir={top}/spool
SlurmctldPidFile={top}/run/slurmctld.pid
SlurmdPidFile={top}/run/slurmd.pid
SlurmctldLogFile={top}/log/slurmctld.log
SlurmdLogFile={top}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
ReturnToService=2
MpiDefault=none
NodeName={node} CPUs={os.cpu_count() or 1} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    try:
        subprocess.run([f"{sbin}/slurmctld"], env=env, check=True, timeout=30, capture_output=True)
        subprocess.run([f"{sbin}/slurmd"], env=env, check=True, timeout=30, capture_output=True)
        deadline = time.monotonic() + 30
        while True:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=10)
            if state.stdout.strip() == "idle":
                break
            if time.monotonic() > deadline:
                logs = "".join(p.read_text(errors="replace")[-2000:] for p in (top / "log").iterdir())
                pytest.fail(f"Slurm did not come up in 30 s: sinfo said {state.stdout!r} {state.stderr!r}\n{logs}")
            time.sleep(0.2)
        yield {"SLURM_CONF": str(conf), "node": node, "top": str(top)}
    finally:
        for pid_file in (top / "run" / "slurmd.pid", top / "run" / "slurmctld.pid", top / "munge" / "munged.pid"):
            _stop(pid_file)
        time.sleep(0.5)
        shutil.rmtree(top, ignore_errors=True)


def test_srun_into_a_shared_folder_then_merge(slurm: dict[str, str], tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    env = {**os.environ, "SLURM_CONF": slurm["SLURM_CONF"]}
    ran = subprocess.run(["srun", "-N1", "--ntasks-per-node=1", f"--output={shared}/%N.json",
                          ENVCHECK, "doctor", "--json", "--group", "debug"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode in (0, 1, 3), ran.stderr  # srun returns the task's own exit code: doctor's verdict
    files = sorted(path.name for path in shared.iterdir())
    assert files == [f"{slurm['node']}.json"]  # %N: the node's name
    report = json.loads((shared / files[0]).read_text())
    assert report["schema"] == "envcheck.report" and report["exit_code"] == ran.returncode
    expected = tmp_path / "nodes.txt"
    expected.write_text(f"{report['host']}\nnode-that-never-ran\n")
    merged = subprocess.run([ENVCHECK, "report", "merge", str(shared), "--expect-hosts", str(expected), "--json"],
                            capture_output=True, text=True, timeout=120)
    view = json.loads(merged.stdout)
    hosts = {host["host"]: host for host in view["hosts"]}
    assert set(hosts) == {report["host"], "node-that-never-ran"}
    assert hosts["node-that-never-ran"]["outcome"] == "unreachable"
    # Worst wins: a failed node (1) over one that could not be judged (3) over one without a report (5).
    assert merged.returncode == {1: 1, 3: 3}.get(report["exit_code"], 5)
