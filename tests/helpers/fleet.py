"""A real fleet of ssh hosts for the fleet tests and benchmarks/bench_fleet.py: Docker containers from the local
images scripts/fleet-image builds (Debian with python3 and sshd; no registry is reachable here).

One ``Fleet`` per session: an ssh key pair made in a temporary folder, containers labelled ``envcheck-test=fleet``
and always removed at the end (and the leftovers of an earlier, killed run removed at the start). Each host
publishes its sshd on a loopback port only (``-p 127.0.0.1::22``), so all traffic stays on 127.0.0.0/8.

Host kinds (``KINDS``), each a way a real server can be:

    ok            passes the test policy
    violates      a 16 MiB tmpfs at /scratch, where the test policy wants more free space
    other-group   the same small /scratch, in another inventory group whose requirement it meets
    stopped       started, then stopped: its port has no listener (unreachable; Docker may hand that port to a
                  container started later, so start a session's hosts together)
    hung          `docker pause`d once sshd answered: docker-proxy still accepts, nothing ever answers
    no-python     python3 removed before sshd starts
    flood         python3 answers questions (`-V`) truthfully; the artifact's program, once started, writes to
                  stdout and stderr without end
    stalls        python3 answers questions truthfully; the artifact's program, once started, never ends (a host
                  that connects and then hangs: only the run's own deadline cuts it)
    other-python  the trixie image (python3.13), when scripts/fleet-image could build it

Tests skip with a reason only when no Docker engine answers; a missing image is built (scripts/fleet-image).
The session fixture ``ssh_fleet`` (tests/fleet/conftest.py) is ``fleet_session()``; benchmarks use ``Fleet`` directly.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = "envcheck-fleet-host:bookworm"
OTHER_PYTHON_IMAGE = "envcheck-fleet-host:trixie"
LABEL = "envcheck-test=fleet"
KINDS = ("ok", "violates", "other-group", "stopped", "hung", "no-python", "flood", "stalls", "other-python")
BANNER_WAIT_S = 30.0
SMALL_SCRATCH = "/scratch:size=16m"
START = "/usr/local/sbin/fleet-sshd"  # the images' start command (scripts/fleet-image writes it)


REAL_PYTHON = "/usr/local/lib/fleet-test-real-python3"  # names without "envcheck": the leftover search looks for it
PROGRAM = "/usr/local/lib/fleet-test-program"


def _python3_that(then: str) -> str:
    """Setup that replaces python3 by a script: every question (``-V``: which Python is this?) goes to the real one,
    and where the artifact's prologue starts its program (``python3 -I -S -B -c LEAD ARTIFACT TMP ...``) the program
    starts as the real one does (a process group of its own, SIGPIPE and SIGXFSZ back to their defaults) and then
    runs the sh lines ``then`` instead of envcheck."""
    start = ("import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
             "signal.signal(signal.SIGXFSZ, signal.SIG_DFL); os.setpgid(0, 0); "
             f"os.execv('/bin/sh', ['/bin/sh', '{PROGRAM}'] + sys.argv[1:])")
    fake = f'#!/bin/sh\ncase "$1" in\n    -I) exec {REAL_PYTHON} -c "{start}" "$@" ;;\nesac\nexec {REAL_PYTHON} "$@"\n'
    encoded = base64.b64encode(fake.encode()).decode()
    program = base64.b64encode(f"#!/bin/sh\n{then}\n".encode()).decode()
    return (f"ln -s \"$(readlink -f /usr/bin/python3)\" {REAL_PYTHON} && rm -f /usr/bin/python3"
            f" && echo {encoded} | base64 -d > /usr/bin/python3 && chmod 755 /usr/bin/python3"
            f" && echo {program} | base64 -d > {PROGRAM}")


# Kinds whose start command changes the image before sshd starts.
_SETUP = {
    "no-python": "rm -f /usr/bin/python3 /usr/bin/python3.*",
    # A host that "answers with gigabytes".
    "flood": _python3_that("yes envcheck-fleet-flood-line >&2 &\nexec yes envcheck-fleet-flood-line"),
    # Not exec: the script's own command line (with the artifact's path) stays visible while it sleeps.
    "stalls": _python3_that("sleep 100000"),
}


@dataclass(frozen=True)
class HostSpec:
    """A host to start: its inventory name, kind and inventory group."""

    name: str
    kind: str
    group: str = "lab"


@dataclass(frozen=True)
class Host:
    name: str
    kind: str
    group: str
    port: int  # on 127.0.0.1
    container: str  # the container id


def docker(*args: str, timeout_s: float = 60.0, check: bool = False) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} ... failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return docker("info", timeout_s=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def have_image(image: str) -> bool:
    return docker("image", "inspect", image, timeout_s=30).returncode == 0


def ensure_images(*, other_python: bool = True) -> None:
    """Build the images when missing (scripts/fleet-image: about a minute each); fail with its message."""
    wanted = [IMAGE] + ([OTHER_PYTHON_IMAGE] if other_python else [])
    if all(have_image(i) for i in wanted):
        return
    built = subprocess.run([str(REPO / "scripts" / "fleet-image")], capture_output=True, text=True, timeout=1500)
    if built.returncode != 0 or not have_image(IMAGE):
        raise RuntimeError(f"scripts/fleet-image failed ({built.returncode}):\n"
                           f"{built.stdout[-1500:]}{built.stderr[-1500:]}")


def remove_leftovers() -> None:
    """Remove every container this helper labelled (a killed run leaves them), paused ones included."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if not ids:
        return
    paused = docker("ps", "-q", "--filter", f"label={LABEL}", "--filter", "status=paused").stdout.split()
    if paused:
        docker("unpause", *paused)
    docker("rm", "-f", *ids, timeout_s=120)


def wait_banner(port: int, deadline: float) -> None:
    """Until ``deadline``: connect to 127.0.0.1:port and read the "SSH-" banner. docker-proxy accepts before
    sshd listens (and then closes), so a connection alone proves nothing."""
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
                conn.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                if conn.recv(64).startswith(b"SSH-"):
                    return
                last = "connection closed without a banner"
        except OSError as error:
            last = str(error)
        time.sleep(0.05)
    raise TimeoutError(f"no ssh banner on 127.0.0.1:{port} before the deadline ({last})")


class Fleet:
    """The session's hosts and key pair. ``close()`` removes every container and the key folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="envcheck-test-fleet-keys-"))
        self.private_key = self.folder / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "envcheck-fleet-test",
                        "-f", str(self.private_key)], check=True, capture_output=True, timeout=30)
        self.public_key = (self.folder / "id_ed25519.pub").read_text().strip()
        self.hosts: list[Host] = []

    def start(self, specs: Sequence[HostSpec]) -> list[Host]:
        """Start every host (in parallel) and return them once each is in its kind's state."""
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(specs)))) as pool:
            hosts = list(pool.map(self._start_one, specs))
        self.hosts.extend(hosts)
        return hosts

    def _start_one(self, spec: HostSpec) -> Host:
        if spec.kind not in KINDS:
            raise ValueError(f"unknown host kind {spec.kind!r}; one of {', '.join(KINDS)}")
        image = OTHER_PYTHON_IMAGE if spec.kind == "other-python" else IMAGE
        args = ["run", "-d", "--label", LABEL, "--label", f"envcheck-test.host={spec.name}",
                "-p", "127.0.0.1::22", "-e", f"AUTHORIZED_KEY={self.public_key}", "--hostname", _hostname(spec.name),
                # A server's /dev/shm, not Docker's 64 MiB default (envcheck warns about that one).
                "--shm-size", "1g"]
        if spec.kind in ("violates", "other-group"):
            args += ["--tmpfs", SMALL_SCRATCH]
        args.append(image)
        if spec.kind in _SETUP:
            args += ["sh", "-c", f"{_SETUP[spec.kind]} && exec {START}"]
        container = docker(*args, check=True).stdout.strip()
        port = int(docker("port", container, "22/tcp", check=True).stdout.split(":")[-1].split()[0])
        wait_banner(port, time.monotonic() + BANNER_WAIT_S)
        if spec.kind == "stopped":
            docker("stop", "-t", "1", container, check=True)
        elif spec.kind == "hung":
            docker("pause", container, check=True)
        return Host(spec.name, spec.kind, spec.group, port, container)

    def inventory(self, path: Path, hosts: Sequence[Host] | None = None) -> Path:
        """Write an INI inventory of ``hosts`` (default: all), one section per group; return ``path``."""
        groups: dict[str, list[Host]] = {}
        for host in self.hosts if hosts is None else hosts:
            groups.setdefault(host.group, []).append(host)
        lines: list[str] = []
        for group, members in groups.items():
            lines.append(f"[{group}]")
            lines += [f"{h.name} ansible_host=127.0.0.1 ansible_port={h.port}" for h in members]
            lines.append("")
        lines += [
            "[all:vars]",
            "ansible_user=root",
            f"ansible_ssh_private_key_file={self.private_key}",
            # Fresh host keys every session, on loopback: nothing to verify and nothing to remember.
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
            "",
        ]
        path.write_text("\n".join(lines))
        return path

    def exec(self, host: Host, command: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a shell command in a host's container (not over ssh: works for any running kind)."""
        return docker("exec", host.container, "sh", "-c", command, timeout_s=timeout_s)

    def close(self) -> None:
        paused = [h.container for h in self.hosts if h.kind == "hung"]
        if paused:
            docker("unpause", *paused)
        if self.hosts:
            docker("rm", "-f", *[h.container for h in self.hosts], timeout_s=120)
        self.hosts.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def _hostname(name: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:63].strip("-") or "host"


def fleet_session(*, other_python: bool = True) -> Iterator[Fleet]:
    """The body of a session fixture: skip without Docker, build missing images, clear leftovers, clean up."""
    if not engine_answers():
        pytest.skip("no Docker engine answers (scripts/start-docker starts one; scripts/test runs it in CI)")
    ensure_images(other_python=other_python)
    remove_leftovers()
    fleet = Fleet()
    try:
        yield fleet
    finally:
        fleet.close()
        remove_leftovers()


def env_without_ssh_agent() -> dict[str, str]:
    """The environment for a controller run: no ssh agent, so that only the session's key is offered (an agent's
    keys come first, and sshd's MaxAuthTries may end the login before the right one)."""
    return {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}
