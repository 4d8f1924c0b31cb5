"""Verdicts about the Docker engine: every way of not reaching it has its own cause and fix; when it answers,
what it runs on and whether GPUs can get into its containers.

Failure kinds are ``dockerapi.classify``'s; the commands shared with other verdicts come from ``envcheck.fixes``.
"""

from __future__ import annotations

from typing import Any

from envcheck import dockerapi, dockerendpoint, fixes
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.docker import DockerFacts
from envcheck.units import CheckSpec

_GIB = 1024**3
_GPUS_MIN_API = (1, 40)  # `docker run --gpus` arrived with Docker 19.03, API 1.40
_GOOD_STORAGE = ("overlay2", "overlayfs", "fuse-overlayfs", "btrfs", "zfs")


def _service(facts: DockerFacts, action: str) -> str:
    rootless = facts.endpoint.source == "rootless socket" or (facts.engine is not None and facts.engine.rootless)
    return fixes.docker_service(action, rootless=rootless, systemd=facts.systemd)


def _back_to_default(facts: DockerFacts) -> str | None:
    """The command that points the docker CLI (and envcheck) back at the default endpoint, when a setting moved it."""
    ep = facts.endpoint
    if ep.source == "DOCKER_HOST":
        return "unset DOCKER_HOST  # back to the default socket, or set it to the socket dockerd was started with " \
               "(ps -o args= -C dockerd)"
    if ep.source == "context" and ep.why.startswith("DOCKER_CONTEXT"):
        return "unset DOCKER_CONTEXT  # back to the current context (docker context ls)"
    if ep.source == "context":
        return "docker context use default"
    return None


def _gpu_wanted(facts: DockerFacts, policy: Policy) -> bool:
    return facts.nvidia_device or policy.require_gpu


def installed(facts: DockerFacts, policy: Policy) -> Outcome:
    evidence = {"dockerd": facts.dockerd, "cli": facts.cli, "dockerd_pids": list(facts.dockerd_pids),
                "snap": list(facts.snap)}
    if facts.snap:
        # NVIDIA/nvidia-docker#1642: the snap's confinement keeps the NVIDIA runtime out of its containers.
        return Outcome(
            status=Status.FAIL if _gpu_wanted(facts, policy) else Status.WARN,
            observed="Docker installed as a snap: " + "; ".join(facts.snap), expected="Docker Engine from apt",
            reason="the NVIDIA Container Toolkit cannot work with the snap-confined Docker: no GPU reaches a container",
            fix="sudo snap remove docker\n"
                "sudo apt-get install -y docker.io  # or docker-ce from https://docs.docker.com/engine/install/",
            evidence=evidence,
        )
    socket_there = facts.socket is not None and facts.socket.exists
    local = facts.endpoint.scheme in ("unix", "")
    required = policy.requires_tool("docker")  # require_docker, or docker in tools_required
    if local and not (facts.dockerd or socket_there or facts.dockerd_pids or facts.reachable):
        outcome = Status.FAIL if required else Status.SKIP
        cli = f"only the docker CLI ({facts.cli})" if facts.cli else "no docker CLI"
        return Outcome(
            status=outcome, observed=f"no dockerd, {cli}, no socket at {facts.endpoint.socket_path}",
            expected="Docker Engine installed" if required else "Docker only where the policy asks",
            reason="no Docker engine on this machine"
            + ("" if required else " (the policy does not require one: require_docker is false)"),
            fix="sudo apt-get install -y docker.io" if required else "", evidence=evidence,
        )
    parts = [f"dockerd at {facts.dockerd}" if facts.dockerd else "",
             f"docker CLI at {facts.cli}" if facts.cli else "",
             f"engine at {facts.endpoint.url}" if not local else ""]
    observed = ", ".join(p for p in parts if p)
    if facts.cli is None:
        return Outcome(status=Status.WARN, observed=observed or "engine socket only", expected="the docker CLI too",
                       reason="the engine is there but the docker command is not on PATH",
                       fix="sudo apt-get install -y docker.io", evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def endpoint(facts: DockerFacts, policy: Policy) -> Outcome:
    ep = facts.endpoint
    evidence = {"url": ep.url, "source": ep.source, "context": ep.context, "tls_verify": ep.tls_verify}
    if ep.error:
        if ep.source == "config":  # `docker context use` would rewrite the broken file: find the break first
            fix = 'python3 -m json.tool "${DOCKER_CONFIG:-$HOME/.docker}/config.json"  # shows where the JSON breaks'
        elif ep.source == "option":
            fix = f"leave the endpoint out, or give one such as {dockerendpoint.EXAMPLES}"
        else:
            fix = f"docker context ls\n{_back_to_default(facts) or 'docker context use default'}"
        return Outcome(status=Status.FAIL, observed=ep.error, expected="an endpoint the docker CLI can use",
                       reason=ep.why, fix=fix, evidence=evidence)
    if ep.source == "rootless socket":
        return Outcome(status=Status.WARN, observed=ep.url, expected="DOCKER_HOST set for a rootless daemon",
                       reason=f"{ep.why}; the docker CLI only finds it with DOCKER_HOST or a context",
                       fix=f"export DOCKER_HOST={ep.url}  # add it to ~/.bashrc", evidence=evidence)
    return Outcome(status=Status.PASS, observed=f"{ep.url} ({ep.source})", reason=ep.why, evidence=evidence)


def daemon_reachable(facts: DockerFacts, policy: Policy) -> Outcome:
    evidence: dict[str, Any] = {
        "url": facts.endpoint.url, "transport": facts.transport, "elapsed_s": facts.elapsed_s,
        "error_kind": facts.error_kind, "error": facts.error, "dockerd_pids": list(facts.dockerd_pids),
    }
    if facts.socket is not None:
        evidence["socket"] = {"path": facts.socket.path, "exists": facts.socket.exists, "mode": facts.socket.mode,
                              "owner": facts.socket.owner, "group": facts.socket.group}
    a = facts.access
    evidence["user"] = {"name": a.user, "uid": a.uid, "docker_gid": a.docker_gid, "docker_listed": a.docker_listed,
                        "docker_effective": a.docker_effective}
    url = facts.endpoint.url
    if facts.reachable and facts.engine is not None:
        return Outcome(status=Status.PASS, observed=f"Docker {facts.engine.server_version} answered at {url}",
                       reason=f"in {facts.elapsed_s:.3f} s", evidence=evidence)
    kind = facts.error_kind
    if kind == dockerapi.PERMISSION:
        return _permission(facts, evidence)
    if kind == dockerapi.NO_SOCKET:
        path, source = facts.endpoint.socket_path, facts.endpoint.source
        if facts.dockerd_pids:
            # A daemon runs, so "start it" would be wrong: this endpoint names a socket that daemon does not have.
            pids = ", ".join(map(str, facts.dockerd_pids))
            fix = _back_to_default(facts) or f"{_service(facts, 'restart')}  # recreates {path}"
            return Outcome(status=Status.FAIL, observed=f"no socket at {path}",
                           expected=f"a daemon listening at {path}",
                           reason=f"dockerd runs (pid {pids}) but not on this socket ({source}: {facts.endpoint.url})",
                           fix=fix, evidence=evidence)
        fix = _service(facts, "start")
        if source == "DOCKER_HOST":
            fix += "  # or: unset DOCKER_HOST, if it points at the wrong socket"
        return Outcome(status=Status.FAIL, observed=f"no socket at {path}",
                       expected="a running daemon", reason="the Docker daemon is not running", fix=fix,
                       evidence=evidence)
    if kind == dockerapi.REFUSED:
        stale = facts.endpoint.scheme == "unix"
        elsewhere = _back_to_default(facts) if facts.dockerd_pids else None
        if stale and elsewhere:  # a left-over socket file named by a setting, while dockerd serves another one
            pids = ", ".join(map(str, facts.dockerd_pids))
            return Outcome(status=Status.FAIL, observed=f"connection refused at {url}", expected="a running daemon",
                           reason=f"a stale socket: no daemon listens there; dockerd runs (pid {pids}) on another "
                                  f"socket ({facts.endpoint.source})", fix=elsewhere, evidence=evidence)
        return Outcome(status=Status.FAIL, observed=f"connection refused at {url}", expected="a running daemon",
                       reason="a stale socket: the file is there but no daemon listens (it died or was killed)"
                       if stale else "nothing listens on that port", fix=_service(facts, "restart"),
                       evidence=evidence)
    if kind == dockerapi.TIMEOUT:
        log = "journalctl -u docker -n 50" if facts.systemd else "tail -n 50 /var/log/docker.log"
        return Outcome(status=Status.UNKNOWN, observed=f"no answer from {url} within {facts.timeout_s:g} s",
                       expected="an answer within the deadline",
                       reason="the daemon accepted the connection but did not answer: it is wedged or overloaded",
                       fix=f"{log}\n{_service(facts, 'restart')}", evidence=evidence)
    if kind == "bad-endpoint":
        return Outcome(status=Status.FAIL, observed=facts.error, reason="no endpoint to connect to",
                       caused_by="docker.endpoint", evidence=evidence)
    if kind in (dockerapi.UNSUPPORTED, dockerapi.OTHER):
        return Outcome(status=Status.UNKNOWN, observed=facts.error, reason="could not check this endpoint",
                       fix="docker info  # ask the CLI directly", evidence=evidence)
    reasons = {dockerapi.TLS: "the TLS handshake failed: check DOCKER_CERT_PATH and the daemon's certificates",
               dockerapi.UNREACHABLE: "the host cannot be reached",
               dockerapi.HTTP: "something answered, but not like a Docker daemon"}
    return Outcome(status=Status.FAIL, observed=f"{url}: {facts.error}", expected="a Docker daemon answering",
                   reason=reasons.get(kind, kind), fix="docker info  # shows the CLI's view of the same error",
                   evidence=evidence)


def _permission(facts: DockerFacts, evidence: dict[str, Any]) -> Outcome:
    a, sock = facts.access, facts.socket
    group = sock.group if sock is not None and sock.group else "docker"
    observed = f"permission denied on {facts.endpoint.socket_path}" + (
        f" (mode {sock.mode}, {sock.owner}:{sock.group})" if sock is not None and sock.mode else "")
    if a.socket_group_listed and not a.socket_group_effective:
        return Outcome(status=Status.FAIL, observed=observed, expected=f"this session in group {group}",
                       reason=f"/etc/group lists {a.user} in {group}, but this session started before that: "
                              "group changes apply to new logins only",
                       fix=f"newgrp {group}  # in this shell; or log out and back in", evidence=evidence)
    if a.socket_group_effective:
        return Outcome(status=Status.FAIL, observed=observed, expected="access through the socket's group",
                       reason=f"this process is in {group} and still may not open the socket: a folder on the "
                              "way is closed, or a security module (AppArmor, SELinux) denies it",
                       fix=f"ls -ld {facts.endpoint.socket_path} $(dirname {facts.endpoint.socket_path})",
                       evidence=evidence)
    if a.docker_gid is None:
        return Outcome(status=Status.FAIL, observed=observed, expected="a docker group that owns the socket",
                       reason="there is no group docker, so the daemon left its socket to root only",
                       fix=f"sudo groupadd docker && {fixes.join_group('docker')} && {_service(facts, 'restart')}\n"
                           "newgrp docker  # group docker is root-equivalent; rootless Docker is the safe alternative",
                       evidence=evidence)
    if sock is not None and sock.gid == 0:
        join = "" if a.docker_listed else f"{fixes.join_group('docker')} && "
        return Outcome(status=Status.FAIL, observed=observed, expected="the socket owned by group docker",
                       reason="the socket belongs to group root: the daemon started before group docker existed",
                       fix=f"{join}{_service(facts, 'restart')}  # dockerd gives its socket to group docker at start\n"
                           "newgrp docker", evidence=evidence)
    return Outcome(status=Status.FAIL, observed=observed, expected=f"{a.user} in group {group}",
                   reason=f"{a.user} is not in group {group}, which owns the socket",
                   fix=f"{fixes.join_group(group)} && newgrp {group}  # root-equivalent: or use rootless Docker",
                   evidence=evidence)


def version(facts: DockerFacts, policy: Policy) -> Outcome:
    engine = facts.engine
    if engine is None or engine.api_version is None:
        return Outcome(status=Status.UNKNOWN, reason="the daemon did not report its API version")
    observed = f"Docker {engine.server_version}, API {engine.api_version} (min {engine.min_api_version or 'n/a'})"
    evidence = {"server_version": engine.server_version, "api_version": engine.api_version,
                "min_api_version": engine.min_api_version, "os": engine.operating_system, "kernel": engine.kernel}
    try:
        api = tuple(int(p) for p in engine.api_version.split(".")[:2])
    except ValueError:
        return Outcome(status=Status.UNKNOWN, observed=observed, reason="unreadable API version", evidence=evidence)
    if api < _GPUS_MIN_API:
        return Outcome(status=Status.FAIL, observed=observed, expected="API >= 1.40 (Docker 19.03)",
                       reason="`docker run --gpus` needs Docker 19.03 or newer",
                       fix="sudo apt-get install -y docker.io  # or docker-ce from Docker's repository",
                       evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def storage(facts: DockerFacts, policy: Policy) -> Outcome:
    engine = facts.engine
    driver = engine.storage_driver if engine else None
    if engine is None or driver is None:
        return Outcome(status=Status.UNKNOWN, reason="the daemon did not report its storage driver")
    observed = f"{driver}" + (f" on {engine.backing_fs}" if engine.backing_fs else "")
    evidence = {"driver": driver, "backing_fs": engine.backing_fs}
    if driver in _GOOD_STORAGE:
        return Outcome(status=Status.PASS, observed=observed, evidence=evidence)
    why = ("vfs copies every layer in full: slow builds and a disk filled by multi-GB CUDA images" if driver == "vfs"
           else f"{driver} is deprecated and gone from current Docker releases")
    return Outcome(status=Status.WARN, observed=observed, expected="overlay2", reason=why,
                   fix='# in /etc/docker/daemon.json: {"storage-driver": "overlay2"}; images must be pulled again\n'
                       + _service(facts, "restart"), evidence=evidence)


def cgroup(facts: DockerFacts, policy: Policy) -> Outcome:
    engine = facts.engine
    if engine is None or engine.cgroup_version is None:
        return Outcome(status=Status.UNKNOWN, observed="n/a", reason="the daemon does not report its cgroup version")
    observed = f"cgroup v{engine.cgroup_version}, driver {engine.cgroup_driver or 'n/a'}"
    evidence = {"version": engine.cgroup_version, "driver": engine.cgroup_driver}
    if engine.cgroup_version == "1":
        return Outcome(status=Status.WARN, observed=observed, expected="cgroup v2",
                       reason="cgroup v1 is deprecated by Docker Engine (v28 release notes) and by systemd",
                       fix="sudo sed -i 's/^GRUB_CMDLINE_LINUX=\"/&systemd.unified_cgroup_hierarchy=1 /' "
                           "/etc/default/grub && sudo update-grub && sudo reboot", evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def disk(facts: DockerFacts, policy: Policy) -> Outcome:
    d = facts.disk
    if d is None:
        if facts.engine is None:
            return Outcome(status=Status.SKIP, reason="no Docker data root on this machine")
        return Outcome(status=Status.UNKNOWN, reason="the daemon did not report its data root")
    if d.free_bytes is None:
        return Outcome(status=Status.UNKNOWN, observed=d.path, reason=f"cannot measure free space: {d.error}")
    free = d.free_bytes / _GIB
    observed = f"{free:.1f} GiB free at {d.path}"
    evidence = {"path": d.path, "free_bytes": d.free_bytes, "total_bytes": d.total_bytes, "source": d.source}
    fix = "docker system df\ndocker system prune  # removes stopped containers, unused networks, dangling images"
    if free < policy.disk_free_fail_gib:
        return Outcome(status=Status.FAIL, observed=observed, expected=f">= {policy.disk_free_fail_gib:g} GiB",
                       reason="pulls and builds will fail", fix=fix, evidence=evidence)
    if free < policy.docker_free_warn_gib:
        return Outcome(status=Status.WARN, observed=observed, expected=f">= {policy.docker_free_warn_gib:g} GiB",
                       reason="CUDA images take 5-20 GB each", fix=fix, evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def runtime_nvidia(facts: DockerFacts, policy: Policy) -> Outcome:
    engine = facts.engine
    if engine is None:
        return Outcome(status=Status.UNKNOWN, reason="the daemon did not report its runtimes")
    names = [name for name, _ in engine.runtimes]
    evidence = {"runtimes": dict(engine.runtimes), "default_runtime": engine.default_runtime,
                "nvidia_registered": "nvidia" in names}
    if "nvidia" in names:
        return Outcome(status=Status.PASS, observed=f"nvidia registered ({dict(engine.runtimes)['nvidia']}); "
                                             f"default runtime {engine.default_runtime}", evidence=evidence)
    observed = f"nvidia not registered (runtimes: {', '.join(names) or 'none'}; default {engine.default_runtime})"
    if not _gpu_wanted(facts, policy):
        return Outcome(status=Status.SKIP, observed=observed,
                       reason="no NVIDIA driver on this host (/dev/nvidiactl absent)",
                       evidence=evidence)
    return Outcome(status=Status.WARN, observed=observed, expected="runtime nvidia registered",
                   reason="`docker run --runtime=nvidia` fails with \"unknown or invalid runtime name: nvidia\"",
                   fix=fixes.toolkit_configure(_service(facts, "restart")),
                   evidence=evidence)


def cdi_specs(facts: DockerFacts, policy: Policy) -> Outcome:
    nvidia = [f"{path} ({kind})" for path, kind in facts.cdi_specs if kind.startswith("nvidia.com/")]
    evidence = {"specs": [list(s) for s in facts.cdi_specs], "errors": list(facts.cdi_errors)}
    if nvidia:
        return Outcome(status=Status.PASS, observed=", ".join(nvidia), evidence=evidence)
    if facts.cdi_errors:
        return Outcome(status=Status.UNKNOWN, observed="; ".join(facts.cdi_errors),
                       reason="cannot read the CDI folders",
                       evidence=evidence)
    observed = "no NVIDIA CDI spec in /etc/cdi or /var/run/cdi"
    if not _gpu_wanted(facts, policy):
        return Outcome(status=Status.SKIP, observed=observed, reason="no NVIDIA driver on this host", evidence=evidence)
    return Outcome(status=Status.WARN, observed=observed, expected="an nvidia.com/gpu CDI spec",
                   reason="`--device nvidia.com/gpu=all` (CDI) needs a generated spec",
                   fix=fixes.TOOLKIT_CDI, evidence=evidence)


def nvidia_toolkit(facts: DockerFacts, policy: Policy) -> Outcome:
    found = {name: path for name, path in facts.toolkit if path}
    evidence = {"found": found}
    if "nvidia-ctk" in found or "nvidia-container-cli" in found:
        return Outcome(status=Status.PASS, observed=", ".join(found.values()), evidence=evidence)
    observed = "neither nvidia-ctk nor nvidia-container-cli on PATH"
    if not _gpu_wanted(facts, policy):
        return Outcome(status=Status.SKIP, observed=observed, reason="no NVIDIA driver on this host", evidence=evidence)
    return Outcome(status=Status.FAIL, observed=observed, expected="NVIDIA Container Toolkit installed",
                   reason="without it no container sees a GPU (`could not select device driver \"\" with "
                          "capabilities: [[gpu]]`)", fix=fixes.TOOLKIT_INSTALL, evidence=evidence)


def gpu_runtime(facts: DockerFacts, policy: Policy) -> Outcome:
    """The policy's container_runtime: how containers must reach the GPUs (the nvidia runtime, CDI, or either)."""
    want = policy.container_runtime or "either"
    expected = {"nvidia": "runtime nvidia registered", "cdi": "CDI enabled with an nvidia.com/gpu spec",
                "either": "runtime nvidia registered, or CDI with an nvidia.com/gpu spec"}[want]
    if not (facts.dockerd or facts.cli or facts.dockerd_pids or facts.reachable):
        return Outcome(status=Status.FAIL, observed="no Docker engine on this machine", expected=expected,
                       reason="the policy requires containers with GPUs", fix="sudo apt-get install -y docker.io")
    engine = facts.engine
    runtime = None if engine is None else "nvidia" in dict(engine.runtimes)
    spec = any(kind.startswith("nvidia.com/") for _, kind in facts.cdi_specs)
    # The engine lists CDISpecDirs in /info only while its CDI feature is on (Engine API 1.45 version history,
    # https://docs.docker.com/reference/api/engine/version-history/): a spec on disk alone does not prove the
    # engine reads it. Without engine info the daemon was not reached: unknown, not "not ready".
    cdi = None if engine is None or facts.cdi_errors else spec and bool(engine.cdi_spec_dirs)
    evidence = {"nvidia_runtime": runtime, "cdi_spec": spec, "cdi_spec_dirs": list(engine.cdi_spec_dirs) if engine
                else None}
    observed = (f"nvidia runtime {'registered' if runtime else 'not registered' if runtime is False else 'unknown'}"
                f"; CDI {'ready' if cdi else 'not ready' if cdi is False else 'unknown'}"
                f" ({'an nvidia.com spec' if spec else 'no nvidia.com spec'})")
    met = {"nvidia": runtime, "cdi": cdi, "either": True if runtime or cdi else None if None in (runtime, cdi)
           else False}[want]
    if met:
        return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence=evidence)
    if met is None:
        return Outcome(status=Status.UNKNOWN, observed=observed, expected=expected,
                       reason=facts.error or "; ".join(facts.cdi_errors) or "the daemon did not report its runtimes",
                       caused_by="docker.daemon-reachable" if engine is None else None, evidence=evidence)
    fix = fixes.TOOLKIT_CDI if want == "cdi" else fixes.toolkit_configure(_service(facts, "restart"))
    if want == "cdi" and spec:
        fix = ('add "features": {"cdi": true} to /etc/docker/daemon.json, then '
               f"{_service(facts, 'restart')}  # the engine reads CDI specs only with its cdi feature on")
    return Outcome(status=Status.FAIL, observed=observed, expected=expected,
                   reason=f"the policy requires containers to reach the GPUs through {expected}", fix=fix,
                   evidence=evidence)


def tcp_exposure(facts: DockerFacts, policy: Policy) -> Outcome:
    tcp = facts.tcp
    evidence = {"env": list(tcp.env), "daemon_json": list(tcp.daemon_json), "cmdline": list(tcp.cmdline),
                "listening": list(tcp.listening), "daemon_warnings": list(tcp.daemon_warnings),
                "errors": list(tcp.errors)}
    if tcp.exposed:
        return Outcome(status=Status.FAIL, observed="; ".join(tcp.exposed), expected="no API on TCP without TLS",
                       reason="anyone who reaches the port is root on this host",
                       fix="# remove tcp:// from \"hosts\" in /etc/docker/daemon.json and -H tcp://... from dockerd's "
                           "flags, or add --tlsverify with certificates; for remote use: export DOCKER_HOST=ssh://"
                           f"THE-HOST\n{_service(facts, 'restart')}", evidence=evidence)
    if tcp.errors:
        return Outcome(status=Status.UNKNOWN, observed="; ".join(tcp.errors), reason="could not read every source",
                       evidence=evidence)
    return Outcome(status=Status.PASS, observed="no Docker API on TCP without TLS", evidence=evidence)


def group_membership(facts: DockerFacts, policy: Policy) -> Outcome:
    a = facts.access
    member = a.docker_listed or a.docker_effective
    evidence = {"user": a.user, "docker_gid": a.docker_gid, "listed": a.docker_listed, "effective": a.docker_effective,
                "shared_server": policy.shared_server}
    if a.uid == 0:
        return Outcome(status=Status.PASS, observed="running as root", evidence=evidence)
    if not member:
        return Outcome(status=Status.PASS, observed=f"{a.user} is not in group docker", evidence=evidence)
    observed = f"{a.user} is in group docker" + ("" if a.docker_effective else " (from the next login)")
    if policy.shared_server:
        return Outcome(status=Status.WARN, observed=observed, expected="no docker group members on a shared server",
                       reason="group docker is root-equivalent: `docker run -v /:/host` gives root on the host",
                       fix="sudo gpasswd -d $USER docker  # then use rootless Docker: dockerd-rootless-setuptool.sh "
                           "install", evidence=evidence)
    return Outcome(status=Status.PASS, observed=observed, reason="root-equivalent; fine on a single-user machine",
                   evidence=evidence)


# GPUs reach a container only through the host's driver: with none (and a policy that wants one) gpu.driver
# is the one red line, and the toolkit, runtime and CDI results point at it (they are moot when the whole
# report is run without the gpu checks, and then judge on their own).
_GPU_DRIVER = ("gpu.driver",)
_REACHABLE = ("docker.daemon-reachable",)
CHECKS = (
    CheckSpec("docker.installed", "Docker engine installed", "docker", installed),
    CheckSpec("docker.endpoint", "Docker endpoint", "docker", endpoint, requires=("docker.installed",)),
    CheckSpec("docker.daemon-reachable", "Docker daemon reachable", "docker", daemon_reachable,
              requires=("docker.installed", "docker.endpoint")),
    CheckSpec("docker.version", "Docker version", "docker", version, requires=_REACHABLE),
    CheckSpec("docker.storage", "Docker storage driver", "docker", storage, requires=_REACHABLE),
    CheckSpec("docker.cgroup", "Docker cgroup version and driver", "docker", cgroup, requires=_REACHABLE),
    CheckSpec("docker.disk", "free space at Docker's data root", "docker", disk, requires=("docker.installed",)),
    CheckSpec("docker.runtime-nvidia", "nvidia runtime registered", "docker", runtime_nvidia,
              requires=(*_REACHABLE, *_GPU_DRIVER)),
    CheckSpec("docker.cdi-specs", "CDI specs for NVIDIA GPUs", "docker", cdi_specs,
              requires=("docker.installed", *_GPU_DRIVER)),
    CheckSpec("docker.nvidia-toolkit", "NVIDIA Container Toolkit", "docker", nvidia_toolkit,
              requires=("docker.installed", *_GPU_DRIVER)),
    CheckSpec("docker.tcp-exposure", "Docker API not on TCP without TLS", "docker", tcp_exposure,
              requires=("docker.installed",)),
    CheckSpec("docker.group-membership", "membership of group docker", "docker", group_membership,
              requires=("docker.installed",)),
    # The policy's requirement: only where it states one (not blocked: a host without Docker fails it).
    CheckSpec("docker.gpu-runtime", "containers reach the GPUs as the policy requires", "docker", gpu_runtime,
              applies=lambda p: p.container_runtime is not None),
)
