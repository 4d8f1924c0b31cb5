"""Facts about the Docker engine: where it should be, whether this user can reach it, what it says.

The endpoint is found the way the docker CLI finds it (envcheck/dockerapi.py);
what the daemon says comes from ``GET /version`` and ``GET /info`` within the probe's deadline. Every
other fact (binaries, socket ownership, group membership, TCP listeners, CDI specs, the NVIDIA
toolkit) is read from files, so the probe costs a few milliseconds when the daemon answers.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import time
from typing import Literal

from envcheck import dockerapi
from envcheck.dockerapi import Endpoint, Transport
from envcheck.frozen import frozen
from envcheck.hostfs import HostFS
from envcheck.probes.docker_host import (
    TcpFacts,
    configured_data_root,
    find_cdi_specs,
    find_dockerd,
    find_tcp_exposure,
)
from envcheck.units import ProbeContext, ProbeSpec

# Why the engine could not be reached: one of dockerapi's kinds, or an endpoint that could not even be parsed.
ErrorKind = Literal["", "bad-endpoint", dockerapi.ErrorKind]
# dockerd lives in sbin, which an unprivileged user's PATH often lacks.
_EXTRA_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
TOOLKIT_BINARIES = ("nvidia-ctk", "nvidia-container-cli", "nvidia-container-runtime")


@frozen
class SocketFacts:
    path: str
    exists: bool
    is_socket: bool = False
    mode: str = ""  # "0660"
    owner: str = ""
    group: str = ""
    gid: int | None = None


@frozen
class AccessFacts:
    """Who is asking, and how they stand with group ``docker`` and with the socket's group."""

    user: str
    uid: int
    docker_gid: int | None  # None: no group named docker on this machine
    docker_listed: bool  # /etc/group (or the passwd primary group) puts the user in docker
    docker_effective: bool  # this process carries the group now (os.getgroups / egid)
    socket_group_listed: bool = False
    socket_group_effective: bool = False


@frozen
class EngineInfo:
    """What the daemon said, trimmed to what the checks judge; missing fields stay None."""

    server_version: str | None = None
    api_version: str | None = None
    min_api_version: str | None = None
    operating_system: str | None = None
    kernel: str | None = None
    storage_driver: str | None = None
    backing_fs: str | None = None
    cgroup_version: str | None = None
    cgroup_driver: str | None = None
    root_dir: str | None = None
    runtimes: tuple[tuple[str, str], ...] = ()  # (name, path)
    default_runtime: str | None = None
    rootless: bool = False
    cdi_spec_dirs: tuple[str, ...] = ()  # Info.CDISpecDirs, only from engines that report it
    warnings: tuple[str, ...] = ()


@frozen
class DiskFacts:
    path: str
    free_bytes: int | None = None
    total_bytes: int | None = None
    error: str = ""
    source: str = "the daemon (DockerRootDir)"  # or the file it was read from when the daemon did not answer


@frozen
class DockerFacts:
    endpoint: Endpoint
    transport: Transport
    dockerd: str | None  # path of the dockerd binary, if any
    cli: str | None  # path of the docker CLI, if any
    dockerd_pids: tuple[int, ...]  # running dockerd processes seen in /proc
    snap: tuple[str, ...]  # evidence of a snap-installed Docker
    systemd: bool  # /run/systemd/system exists: the fix says systemctl, otherwise service
    socket: SocketFacts | None  # for unix:// endpoints
    access: AccessFacts
    reachable: bool
    error_kind: ErrorKind = ""  # when not reachable
    error: str = ""
    elapsed_s: float = 0.0
    timeout_s: float = 0.0  # the probe's time limit, which an unanswered request ran out of
    engine: EngineInfo | None = None
    disk: DiskFacts | None = None
    tcp: TcpFacts = TcpFacts()
    cdi_specs: tuple[tuple[str, str], ...] = ()  # (path, kind)
    cdi_errors: tuple[str, ...] = ()
    toolkit: tuple[tuple[str, str | None], ...] = ()  # (binary, path or None)
    nvidia_device: bool = False  # /dev/nvidiactl exists: this host has an NVIDIA driver loaded


def collect(ctx: ProbeContext) -> DockerFacts:
    start = time.monotonic()
    # Leave a margin inside the engine's deadline so the probe reports its own precise reason.
    deadline = start + max(0.1, ctx.timeout_s - 0.15)
    endpoint = dockerapi.resolve_endpoint(ctx.env, ctx.home, ctx.options.docker_host)
    transport = ctx.options.docker_client
    search = os.pathsep.join([ctx.env.get("PATH", ""), *_EXTRA_PATH])
    cli = shutil.which("docker", path=search)
    sock = _socket_facts(endpoint.socket_path) if endpoint.socket_path else None
    access = _access_facts(sock)
    reachable, error, engine = False, "", None
    kind: ErrorKind = ""
    if endpoint.error:
        kind, error = "bad-endpoint", endpoint.error
    else:
        try:
            version, info = dockerapi.fetch_engine(endpoint, deadline, transport)
            reachable, engine = True, _engine_info(version, info)
        except Exception as exc:  # every transport failure is a fact to classify, never a crash
            kind, error = dockerapi.classify(exc)
    elapsed_s = time.monotonic() - start
    dockerd = find_dockerd(ctx.fs)
    cdi_specs, cdi_errors = find_cdi_specs(engine.cdi_spec_dirs if engine else (), ctx.fs)
    return DockerFacts(
        endpoint=endpoint,
        transport=transport,
        dockerd=shutil.which("dockerd", path=search),
        cli=cli,
        dockerd_pids=tuple(pid for pid, _ in dockerd),
        snap=_snap_evidence(ctx.fs, cli, endpoint, engine),
        systemd=ctx.fs.is_dir("/run/systemd/system"),
        socket=sock,
        access=access,
        reachable=reachable,
        error_kind=kind,
        error=error,
        elapsed_s=round(elapsed_s, 4),
        timeout_s=ctx.timeout_s,
        engine=engine,
        disk=_disk(ctx.fs, endpoint, engine),
        tcp=find_tcp_exposure(ctx.env, ctx.home, engine.warnings if engine else (), dockerd, ctx.fs),
        cdi_specs=cdi_specs,
        cdi_errors=cdi_errors,
        toolkit=tuple((name, shutil.which(name, path=search)) for name in TOOLKIT_BINARIES),
        nvidia_device=ctx.fs.exists("/dev/nvidiactl"),
    )


def _socket_facts(path: str) -> SocketFacts:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return SocketFacts(path, exists=False)
    except OSError:  # a folder on the way we may not search: it is there, we cannot say more
        return SocketFacts(path, exists=True)
    except ValueError:  # a NUL in the path: no file can have that name
        return SocketFacts(path, exists=False)
    return SocketFacts(
        path, exists=True, is_socket=stat.S_ISSOCK(st.st_mode), mode=f"{stat.S_IMODE(st.st_mode):04o}",
        owner=_user_name(st.st_uid), group=_group_name(st.st_gid), gid=st.st_gid,
    )


def _access_facts(sock: SocketFacts | None) -> AccessFacts:
    uid = os.geteuid()
    try:
        entry = pwd.getpwuid(uid)
        user, primary = entry.pw_name, entry.pw_gid
    except KeyError:  # no passwd entry (some containers): nothing can list it in a group
        user, primary = str(uid), os.getgid()
    effective = set(os.getgroups()) | {os.getegid()}

    def listed(gid: int | None) -> bool:
        if gid is None:
            return False
        try:
            return gid == primary or user in grp.getgrgid(gid).gr_mem
        except KeyError:
            return gid == primary

    try:
        docker_gid: int | None = grp.getgrnam("docker").gr_gid
    except KeyError:
        docker_gid = None  # the group may not exist at all: the daemon then leaves the socket root:root
    sock_gid = sock.gid if sock is not None else None
    return AccessFacts(
        user=user, uid=uid, docker_gid=docker_gid,
        docker_listed=listed(docker_gid), docker_effective=docker_gid in effective,
        socket_group_listed=listed(sock_gid), socket_group_effective=sock_gid in effective,
    )


def _engine_info(version: dict[str, object], info: dict[str, object]) -> EngineInfo:
    def text(data: dict[str, object], key: str) -> str | None:
        value = data.get(key)
        return str(value) if value not in (None, "") else None

    runtimes = info.get("Runtimes")
    status = info.get("DriverStatus")
    backing = None
    if isinstance(status, list):
        backing = next((str(pair[1]) for pair in status if isinstance(pair, list) and len(pair) == 2
                        and pair[0] == "Backing Filesystem"), None)
    security = info.get("SecurityOptions") or []
    warnings = info.get("Warnings") or []
    cdi_dirs = info.get("CDISpecDirs") or []
    return EngineInfo(
        server_version=text(version, "Version") or text(info, "ServerVersion"),
        api_version=text(version, "ApiVersion"),
        min_api_version=text(version, "MinAPIVersion"),
        operating_system=text(info, "OperatingSystem"),
        kernel=text(info, "KernelVersion"),
        storage_driver=text(info, "Driver"),
        backing_fs=backing,
        cgroup_version=text(info, "CgroupVersion"),
        cgroup_driver=text(info, "CgroupDriver"),
        root_dir=text(info, "DockerRootDir"),
        runtimes=tuple(sorted(
            (str(name), str(spec.get("path", "")) if isinstance(spec, dict) else "")
            for name, spec in (runtimes.items() if isinstance(runtimes, dict) else ())
        )),
        default_runtime=text(info, "DefaultRuntime"),
        rootless=any("rootless" in str(opt) for opt in security) if isinstance(security, list) else False,
        cdi_spec_dirs=tuple(str(d) for d in cdi_dirs) if isinstance(cdi_dirs, list) else (),
        warnings=tuple(str(w) for w in warnings) if isinstance(warnings, list) else (),
    )


def _disk(fs: HostFS, endpoint: Endpoint, engine: EngineInfo | None) -> DiskFacts | None:
    # The one place envcheck measures Docker's data root (host.* leaves it to this subject): the daemon's
    # own answer when it gives one, else what daemon.json or the default path says.
    if engine is None or engine.root_dir is None:
        path, source = configured_data_root(fs)
        return _measure(path, source) if path is not None else None
    host = (endpoint.url.split("://", 1)[-1].split(":", 1)[0]).strip("/[]") if endpoint.scheme == "tcp" else ""
    if endpoint.scheme != "unix" and host not in ("localhost", "127.0.0.1", "::1"):
        return DiskFacts(engine.root_dir, error=f"the daemon runs on another host ({endpoint.url})")
    return _measure(engine.root_dir, DiskFacts.source)


def _measure(path: str, source: str) -> DiskFacts:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return DiskFacts(path, error=f"{type(exc).__name__}: {exc.strerror or exc}", source=source)
    return DiskFacts(path, free_bytes=usage.free, total_bytes=usage.total, source=source)


def _snap_evidence(fs: HostFS, cli: str | None, endpoint: Endpoint, engine: EngineInfo | None) -> tuple[str, ...]:
    # NVIDIA/nvidia-docker#1642: the snap's confinement keeps the NVIDIA runtime hook out.
    found = []
    if fs.exists("/snap/bin/docker"):
        found.append("/snap/bin/docker exists")
    if cli and os.path.realpath(cli).startswith("/snap/"):
        found.append(f"{cli} resolves into /snap")
    if fs.is_dir("/var/snap/docker"):
        found.append("/var/snap/docker exists")
    if (endpoint.socket_path or "").startswith("/var/snap/"):
        found.append(f"the socket {endpoint.socket_path} belongs to the snap")
    if engine is not None and (engine.root_dir or "").startswith("/var/snap/"):
        found.append(f"the daemon's data root is {engine.root_dir}")
    return tuple(found)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def summarize(facts: DockerFacts) -> dict[str, str | None]:
    """The engine's version as the daemon gave it; None when it did not answer."""
    return {"docker": facts.engine.server_version if facts.engine else None}


PROBES = (ProbeSpec("docker", collect, summarize=summarize),)
