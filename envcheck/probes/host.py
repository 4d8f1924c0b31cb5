"""Facts about the host: distribution, kernel, CPU, memory, disks, reboot flag, container, basic tools.

Everything is read from files (os-release, /proc) or measured with
``os.statvfs``; no subprocess runs, so this probe costs a few milliseconds. Every *file* the probe reads
goes through ``ctx.fs`` (tests hand it a tree of recorded os-release files; it can also inspect a mounted
image); live measurements (uname, statvfs of home and temp, PATH) are always of this machine.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import field
from datetime import date
from typing import Literal, Mapping

from envcheck.frozen import frozen
from envcheck.hostfs import MAX_READ, HostFS
from envcheck.probes.reboot import PendingReboot, read_pending_reboot
from envcheck.units import ProbeContext, ProbeSpec

# Which folder a Disk measures; Docker's data root is measured by the docker subject (docker.disk).
DiskRole = Literal["home", "tmp", "shm", "policy"]  # "policy": a path the policy's free_space_gib names


@frozen
class Disk:
    role: DiskRole
    path: str
    free_bytes: int | None = None
    total_bytes: int | None = None
    device: int | None = None  # st_dev, to tell when two roles share one filesystem
    source: str = ""  # where the path came from ("$HOME", "$TMPDIR", "/etc/docker/daemon.json data-root", ...)
    error: str = ""


@frozen
class HostFacts:
    today: date  # recorded here so that support-date checks stay pure functions of the facts
    os_release: Mapping[str, str] = field(default_factory=dict)
    os_release_path: str | None = None
    os_release_error: str = ""
    kernel: str = ""
    arch: str = ""
    kernel_modules_dir: bool | None = None  # /lib/modules/<running kernel> exists; None: could not tell
    cpu_model: str | None = None
    cpu_logical: int | None = None
    cpu_usable: int | None = None  # CPUs this process may run on (affinity, e.g. `docker run --cpuset-cpus`)
    cpu_physical: int | None = None
    mem_total: int | None = None  # bytes, from /proc/meminfo
    mem_available: int | None = None
    mem_limit: int | None = None  # cgroup memory limit when one is set below the machine's RAM
    swap_total: int | None = None
    swap_free: int | None = None
    mem_error: str = ""
    disks: tuple[Disk, ...] = ()
    policy_disks: tuple[Disk, ...] = ()  # the paths the policy's free_space_gib names, in its (path) order
    shm: Disk | None = None  # /dev/shm: PyTorch DataLoader workers pass tensors through it
    reboot: PendingReboot = PendingReboot()
    container: str | None = None  # "docker", "podman", "kubernetes", "lxc", ... when evidence says so
    container_evidence: tuple[str, ...] = ()
    root_fs_type: str | None = None  # from mountinfo: "overlay" is the usual container root
    wsl: str | None = None  # "WSL1" or "WSL2"
    tools: Mapping[str, str | None] = field(default_factory=dict)  # tool -> path, None when missing


def _read(fs: HostFS, path: str, limit: int = MAX_READ) -> str | None:
    try:
        return fs.read_text(path, limit)
    except OSError:
        return None


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5): KEY=value lines, values shell-quoted; comments and blank lines ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, comments=False, posix=True)
            value = " ".join(parts)
        except ValueError:  # unbalanced quote: keep what is there rather than lose the line
            value = raw.strip().strip("\"'")
        values[key.strip()] = value
    return values


def _os_release(fs: HostFS) -> tuple[dict[str, str], str | None, str]:
    # os-release(5): /etc/os-release takes precedence; /usr/lib/os-release is the fallback.
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        text = _read(fs, candidate)
        if text is not None:
            return parse_os_release(text), candidate, ""
    return {}, None, "neither /etc/os-release nor /usr/lib/os-release could be read"


def _cpu(fs: HostFS) -> tuple[str | None, int | None]:
    text = _read(fs, "/proc/cpuinfo", limit=4 << 20)
    if text is None:
        return None, None
    model = None
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Model", "cpu model") and model is None and value:
            model = value
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
            cores.add((physical, core))
    return model, len(cores) or None


def _meminfo(fs: HostFS) -> dict[str, int]:
    text = _read(fs, "/proc/meminfo")
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key] = int(fields[0]) * (1024 if len(fields) > 1 and fields[1] == "kB" else 1)
    return values


def _cgroup_memory_limit(fs: HostFS) -> int | None:
    # cgroup v2 then v1; "max" or a huge number means no limit.
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = _read(fs, path)
        if text is not None and text.strip().isdigit():
            value = int(text.strip())
            return value if value < 1 << 60 else None
    return None


def _disk(role: DiskRole, path: str, source: str) -> Disk:
    try:
        st = os.statvfs(path)
        dev = os.stat(path).st_dev
    except OSError as exc:
        return Disk(role, path, source=source, error=f"{type(exc).__name__}: {exc.strerror or exc}")
    return Disk(role, path, free_bytes=st.f_bavail * st.f_frsize, total_bytes=st.f_blocks * st.f_frsize,
                device=dev, source=source)


def _container(fs: HostFS, env: Mapping[str, str]) -> tuple[str | None, list[str], str | None]:
    """What says we run in a container, and the root filesystem type (overlay is the usual container root)."""
    evidence: list[str] = []
    kind: str | None = None
    if fs.exists("/run/.containerenv"):
        evidence.append("/run/.containerenv exists")
        kind = "podman"
    if fs.exists("/.dockerenv"):
        evidence.append("/.dockerenv exists")
        kind = kind or "docker"
    cgroup = _read(fs, "/proc/1/cgroup") or ""
    for needle, name in (("kubepods", "kubernetes"), ("docker", "docker"), ("containerd", "containerd"),
                         ("libpod", "podman"), ("lxc", "lxc")):
        if needle in cgroup:
            evidence.append(f"/proc/1/cgroup mentions {needle}")
            kind = kind or name
            break
    root_fs = None
    for line in (_read(fs, "/proc/self/mountinfo", limit=4 << 20) or "").splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/" and " - " in line:
            root_fs = line.split(" - ", 1)[1].split()[0]
        elif len(fields) > 4 and fields[4] in ("/etc/hostname", "/etc/resolv.conf") and (
            "/docker/containers/" in fields[3] or "/containers/" in fields[3]
        ):
            evidence.append(f"{fields[4]} is mounted from {fields[3]}")
            kind = kind or "docker"
    if env.get("container"):  # set by podman, systemd-nspawn and LXC for PID 1 and inherited
        evidence.append(f"$container={env['container']}")
        kind = kind or env["container"]
    return kind, evidence, root_fs


def _wsl(fs: HostFS, env: Mapping[str, str]) -> str | None:
    version = (_read(fs, "/proc/version") or "").lower()
    if "microsoft" not in version and not env.get("WSL_DISTRO_NAME"):
        return None
    # WSL2 kernels are named "...-microsoft-standard-WSL2"; WSL1 reports "Microsoft" with no WSL2 tag.
    return "WSL2" if "wsl2" in version or "microsoft-standard" in version else "WSL1"


def collect(ctx: ProbeContext) -> HostFacts:
    fs = ctx.fs
    os_release, os_release_path, os_release_error = _os_release(fs)
    uname = os.uname()
    cpu_model, cpu_physical = _cpu(fs)
    mem = _meminfo(fs)
    limit = _cgroup_memory_limit(fs)
    mem_total = mem.get("MemTotal")
    tmp = ctx.env.get("TMPDIR") or "/tmp"
    disks = [_disk("home", ctx.home, "$HOME"), _disk("tmp", tmp, "$TMPDIR" if ctx.env.get("TMPDIR") else "/tmp")]
    shm = _disk("shm", fs.path("/dev/shm"), "/dev/shm") if fs.is_dir("/dev/shm") else None
    container, evidence, root_fs = _container(fs, ctx.env)
    path = ctx.env.get("PATH", os.defpath)
    tools = {tool: shutil.which(tool, path=path) for tool in ctx.policy.basic_tools}
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return HostFacts(
        today=date.today(),
        os_release=os_release,
        os_release_path=fs.path(os_release_path) if os_release_path else None,
        os_release_error=os_release_error,
        kernel=uname.release,
        arch=uname.machine,
        kernel_modules_dir=fs.is_dir(f"/lib/modules/{uname.release}") if fs.is_dir("/lib/modules") else None,
        cpu_model=cpu_model,
        cpu_logical=os.cpu_count(),
        cpu_usable=usable,
        cpu_physical=cpu_physical,
        mem_total=mem_total,
        mem_available=mem.get("MemAvailable"),
        mem_limit=limit if limit is not None and (mem_total is None or limit < mem_total) else None,
        swap_total=mem.get("SwapTotal"),
        swap_free=mem.get("SwapFree"),
        mem_error="" if mem_total is not None else "/proc/meminfo could not be read",
        disks=tuple(disks),
        policy_disks=tuple(_disk("policy", path, "the policy's free_space_gib")
                           for path, _ in ctx.policy.free_space_gib),
        shm=shm,
        reboot=read_pending_reboot(fs),
        container=container,
        container_evidence=tuple(evidence),
        root_fs_type=root_fs,
        wsl=_wsl(fs, ctx.env),
        tools=tools,
    )


def summarize(facts: HostFacts) -> dict[str, str | None]:
    """The kernel release and the OS as os-release names it ("Ubuntu 22.04.4 LTS"; ID and VERSION_ID without it)."""
    osr = facts.os_release
    os_name = osr.get("PRETTY_NAME") or " ".join(v for v in (osr.get("ID"), osr.get("VERSION_ID")) if v)
    return {"kernel": facts.kernel or None, "os": os_name or None}


PROBES = (ProbeSpec("host", collect, summarize=summarize),)
