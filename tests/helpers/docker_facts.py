"""Hand-built Docker facts: a healthy machine, and the changes that break it one way at a time.

The Docker verdicts are pure functions of these facts, so the failure modes no test machine can produce (snap,
GPUs, a rootless daemon, old engines) are built here by hand rather than probed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from envcheck.dockerapi import Endpoint
from envcheck.probes.docker import AccessFacts, DiskFacts, DockerFacts, EngineInfo, SocketFacts

GIB = 1024**3
DEFAULT = Endpoint("unix:///var/run/docker.sock", "default socket", "the default socket")
ENGINE = EngineInfo(
    server_version="27.3.1", api_version="1.47", min_api_version="1.24", storage_driver="overlay2",
    backing_fs="extfs", cgroup_version="2", cgroup_driver="systemd", root_dir="/var/lib/docker",
    runtimes=(("io.containerd.runc.v2", "runc"), ("runc", "runc")), default_runtime="runc",
)
HEALTHY = DockerFacts(
    endpoint=DEFAULT, transport="http", dockerd="/usr/bin/dockerd", cli="/usr/bin/docker", dockerd_pids=(812,),
    snap=(), systemd=True,
    socket=SocketFacts("/var/run/docker.sock", True, True, "0660", "root", "docker", 999),
    access=AccessFacts("alice", 1000, 999, docker_listed=True, docker_effective=True, socket_group_listed=True,
                       socket_group_effective=True),
    reachable=True, elapsed_s=0.01, timeout_s=5.0, engine=ENGINE,
    disk=DiskFacts("/var/lib/docker", free_bytes=200 * GIB, total_bytes=500 * GIB),
)


def facts(**changes: Any) -> DockerFacts:
    """A healthy machine (engine answers, user alice in group docker); ``changes`` break it."""
    return replace(HEALTHY, **changes)


def down(kind: str, **changes: Any) -> DockerFacts:
    """A machine whose engine did not answer, for the reason ``kind`` (one of dockerapi's error kinds)."""
    return facts(**{"reachable": False, "engine": None, "disk": None, "error_kind": kind, "error": f"{kind} detail",
                    **changes})
