"""Verdicts about the host: kernel, CPU, memory, disks, reboot, container, tools.

The distribution and its Ubuntu support phases are judged in host_os.py; thresholds come from the policy.
"""

from __future__ import annotations

import shlex
from dataclasses import replace

from envcheck.checks.host_os import os_allowed, os_release, ubuntu_support
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.host import Disk, HostFacts
from envcheck.probes.reboot import FLAG, PendingReboot
from envcheck.units import CheckSpec

GIB = 1024**3
# MemTotal leaves out what firmware and the kernel reserve: a 16 GiB machine reports about 15.5 GiB.
# Judge RAM against the installed size the user thinks in, not against that shortfall.
_RAM_SLACK = 0.94
# PyTorch publishes Linux wheels for these machine types only (download.pytorch.org/whl index).
_WHEEL_ARCHES = ("x86_64", "aarch64")
# Docker and the NVIDIA driver both need at least this kernel (docs.docker.com install requirements).
_KERNEL_MIN = (3, 10)
# Docker gives a container a 64 MiB /dev/shm; DataLoader workers then die with "bus error" or
# "unable to write to file </torch_...>" (PyTorch README, "Docker image" section).
_SHM_WARN_BYTES = 1 * GIB


def gib(n: int | float | None) -> str:
    return "n/a" if n is None else f"{n / GIB:.1f} GiB"


def kernel(facts: HostFacts, policy: Policy) -> Outcome:
    observed = f"Linux {facts.kernel} {facts.arch}"
    evidence = {"kernel": facts.kernel, "arch": facts.arch, "modules_dir_present": facts.kernel_modules_dir}
    if facts.arch not in _WHEEL_ARCHES:
        return Outcome(status=Status.WARN, observed=observed, expected=" or ".join(_WHEEL_ARCHES), evidence=evidence,
                       reason=f"PyTorch publishes Linux wheels only for {' and '.join(_WHEEL_ARCHES)}")
    try:
        parts = tuple(int(p) for p in facts.kernel.split("-")[0].split(".")[:2])
    except ValueError:
        parts = _KERNEL_MIN
    if parts < _KERNEL_MIN:
        return Outcome(status=Status.FAIL, observed=observed, expected="Linux >= 3.10", evidence=evidence,
                       reason="Docker and the NVIDIA driver need Linux 3.10 or newer", fix="sudo do-release-upgrade")
    if facts.kernel_modules_dir is False and facts.container is None:
        return Outcome(
            status=Status.WARN, observed=f"{observed}; /lib/modules/{facts.kernel} is missing", evidence=evidence,
            expected="the running kernel's modules installed",
            reason="the running kernel was removed by an upgrade: no new module (such as the NVIDIA driver) "
                   "can load until you reboot into the installed kernel",
            fix="sudo reboot",
        )
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def cpu(facts: HostFacts, policy: Policy) -> Outcome:
    evidence = {"model": facts.cpu_model, "logical": facts.cpu_logical, "usable": facts.cpu_usable,
                "physical_cores": facts.cpu_physical}
    if facts.cpu_logical is None:
        return Outcome(status=Status.UNKNOWN, reason="the CPU count could not be read", evidence=evidence,
                       fix="nproc && grep -m1 'model name' /proc/cpuinfo")
    cores = f"{facts.cpu_logical} logical CPUs"
    if facts.cpu_physical:
        cores += f" ({facts.cpu_physical} cores)"
    if facts.cpu_usable is not None and facts.cpu_usable < facts.cpu_logical:
        cores += f", {facts.cpu_usable} usable by this process"
    return Outcome(status=Status.PASS, observed=f"{facts.cpu_model or 'unknown model'}, {cores}", evidence=evidence)


def memory(facts: HostFacts, policy: Policy) -> Outcome:
    if facts.mem_total is None:
        return Outcome(status=Status.UNKNOWN, reason=facts.mem_error or "total memory could not be read",
                       fix="free -h  # reads /proc/meminfo, as envcheck does")
    usable = min(facts.mem_total, facts.mem_limit) if facts.mem_limit else facts.mem_total
    observed = f"{gib(facts.mem_total)} total, {gib(facts.mem_available)} available"
    if facts.mem_limit:
        observed += f", limited to {gib(facts.mem_limit)} by this cgroup"
    evidence = {"total_bytes": facts.mem_total, "available_bytes": facts.mem_available,
                "cgroup_limit_bytes": facts.mem_limit}
    # No command adds RAM: a cgroup limit can be raised; otherwise swap is the stopgap that turns an OOM kill
    # into a slow run.
    if facts.mem_limit and facts.mem_limit < facts.mem_total:
        fix = f"docker run --memory={policy.ram_warn_gib:g}g ...  # the limit is this container's (or cgroup's)"
    elif facts.swap_total == 0:
        fix = ("sudo fallocate -l 16G /swapfile && sudo chmod 600 /swapfile && sudo mkswap /swapfile "
               "&& sudo swapon /swapfile  # a stopgap; the fix is more RAM")
    else:
        fix = ""  # swap is there already: only more RAM helps
    if usable < policy.ram_min_gib * GIB * _RAM_SLACK:
        return Outcome(status=Status.FAIL, observed=observed, expected=f">= {policy.ram_min_gib:g} GiB",
                       evidence=evidence,
                       reason="too little memory to load datasets and models; expect the OOM killer", fix=fix)
    if usable < policy.ram_warn_gib * GIB * _RAM_SLACK:
        return Outcome(status=Status.WARN, observed=observed, expected=f">= {policy.ram_warn_gib:g} GiB",
                       evidence=evidence,
                       reason="enough for small models only; DataLoader workers each hold a copy of the dataset",
                       fix=fix)
    return Outcome(status=Status.PASS, observed=observed, expected=f">= {policy.ram_warn_gib:g} GiB", evidence=evidence)


def swap(facts: HostFacts, policy: Policy) -> Outcome:
    if facts.swap_total is None:
        return Outcome(status=Status.UNKNOWN, reason=facts.mem_error or "swap could not be read",
                       fix="free -h  # reads /proc/meminfo, as envcheck does")
    evidence = {"swap_total_bytes": facts.swap_total, "swap_free_bytes": facts.swap_free}
    if facts.swap_total == 0:
        if facts.mem_total is not None and facts.mem_total < policy.ram_warn_gib * GIB * _RAM_SLACK:
            return Outcome(
                status=Status.WARN, observed="no swap", expected="swap on a machine with little RAM", evidence=evidence,
                reason="with little RAM and no swap the OOM killer ends a run without warning",
                fix="sudo fallocate -l 8G /swapfile && sudo chmod 600 /swapfile && sudo mkswap /swapfile "
                    "&& sudo swapon /swapfile",
            )
        return Outcome(status=Status.PASS, observed="no swap (enough RAM)", evidence=evidence)
    used = facts.swap_total - (facts.swap_free or 0)
    observed = f"{gib(facts.swap_total)} swap, {gib(used)} in use"
    if used > facts.swap_total / 2:
        return Outcome(status=Status.WARN, observed=observed, expected="swap mostly free", evidence=evidence,
                       reason="more than half the swap is in use: the machine is short of memory and slows down",
                       fix="ps -eo pid,user,rss,comm --sort=-rss | head -n 6  # what holds the memory; stop or move it")
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence)


def _disk(facts: HostFacts, role: str) -> Disk | None:
    return next((d for d in facts.disks if d.role == role), None)


def _judge_disk(disk: Disk | None, fail_gib: float, warn_gib: float, why: str, fix: str) -> Outcome:
    if disk is None:
        return Outcome(status=Status.SKIP, reason="not present")
    evidence = {"path": disk.path, "source": disk.source, "free_bytes": disk.free_bytes,
                "total_bytes": disk.total_bytes}
    if disk.free_bytes is None or disk.total_bytes is None:
        return Outcome(status=Status.UNKNOWN, observed=disk.path, reason=disk.error or "free space could not be read",
                       fix=f"df -h {shlex.quote(disk.path)}  # {disk.source} names a folder that must exist",
                       evidence=evidence)
    observed = f"{gib(disk.free_bytes)} free of {gib(disk.total_bytes)} at {disk.path}"
    if disk.free_bytes < fail_gib * GIB:
        return Outcome(status=Status.FAIL, observed=observed, expected=f">= {fail_gib:g} GiB free", evidence=evidence,
                       reason=why, fix=fix)
    if disk.free_bytes < warn_gib * GIB:
        return Outcome(status=Status.WARN, observed=observed, expected=f">= {warn_gib:g} GiB free", evidence=evidence,
                       reason=why, fix=fix)
    return Outcome(status=Status.PASS, observed=observed, expected=f">= {warn_gib:g} GiB free", evidence=evidence)


def disk_home(facts: HostFacts, policy: Policy) -> Outcome:
    return _judge_disk(
        _disk(facts, "home"), policy.disk_free_fail_gib, policy.disk_free_warn_gib,
        "a CUDA PyTorch install takes about 5 GiB, and pip and Hugging Face caches live under ~/.cache",
        "du -sh ~/.cache/* | sort -h | tail  # then: pip cache purge; rm -rf ~/.cache/huggingface/hub/<old models>",
    )


def disk_tmp(facts: HostFacts, policy: Policy) -> Outcome:
    tmp = _disk(facts, "tmp")
    outcome = _judge_disk(
        tmp, policy.disk_free_fail_gib, policy.tmp_free_warn_gib,
        "pip downloads and unpacks wheels in the temp dir (a CUDA torch is several GiB)",
        "mkdir -p ~/tmp && export TMPDIR=~/tmp",
    )
    home = _disk(facts, "home")
    if tmp is not None and home is not None and tmp.device is not None and tmp.device == home.device:
        return Outcome(**{**outcome.__dict__, "evidence": {**outcome.evidence, "same_filesystem_as_home": True}})
    return outcome


def free_space(facts: HostFacts, policy: Policy) -> list[Outcome]:
    """The policy's free_space_gib: one result per path, failing below its GiB (no warning band: a stated need)."""
    measured = {d.path: d for d in facts.policy_disks}
    outcomes = []
    for path, need_gib in policy.free_space_gib:
        disk = measured.get(path)
        if disk is None:
            outcome = Outcome(status=Status.UNKNOWN, reason="this path was not measured in this run",
                              fix=f"df -h {shlex.quote(path)}")
        else:
            outcome = _judge_disk(disk, need_gib, need_gib, "the policy requires this much free space here",
                                  f"du -xsh {shlex.quote(path)}/* 2>/dev/null | sort -h | tail  # what fills it; "
                                  "move or delete old data, or grow the volume")
        outcomes.append(replace(outcome, item=path))
    return outcomes


def shm(facts: HostFacts, policy: Policy) -> Outcome:
    if facts.shm is None:
        return Outcome(status=Status.SKIP, reason="no /dev/shm")
    if facts.shm.total_bytes is None:
        return Outcome(status=Status.UNKNOWN, reason=facts.shm.error or "size could not be read", fix="df -h /dev/shm")
    observed = f"{gib(facts.shm.total_bytes)} ({gib(facts.shm.free_bytes)} free)"
    if facts.shm.total_bytes < _SHM_WARN_BYTES:
        return Outcome(
            status=Status.WARN, observed=observed, expected=">= 1 GiB", evidence={"total_bytes": facts.shm.total_bytes},
            reason="DataLoader workers pass batches through /dev/shm; Docker's 64 MiB default makes them "
                   "die with 'bus error'",
            fix="docker run --shm-size=8g ...  # or --ipc=host; outside Docker: sudo mount -o remount,size=8G /dev/shm",
        )
    return Outcome(status=Status.PASS, observed=observed, evidence={"total_bytes": facts.shm.total_bytes})


def pending_reboot_text(pending: PendingReboot) -> str:
    """"/var/run/reboot-required (linux-image-..., nvidia-dkms-550)": how host.reboot-required and
    gpu.reboot-pending both show a pending reboot (eight packages at most, then a count)."""
    pkgs = pending.packages
    shown = ", ".join(pkgs[:8]) + (f" and {len(pkgs) - 8} more" if len(pkgs) > 8 else "")
    return FLAG + (f" ({shown})" if pkgs else "")


def reboot_required(facts: HostFacts, policy: Policy) -> Outcome:
    if not facts.reboot.required:
        return Outcome(status=Status.PASS, observed="no reboot pending")
    pkgs = list(facts.reboot.packages)
    why = "updates wait for a reboot"
    if any(p.startswith(("linux-image", "linux-base", "nvidia", "libnvidia")) for p in pkgs):
        why = "a new kernel or NVIDIA driver waits for a reboot: until then the driver and its library can disagree"
    return Outcome(status=Status.WARN, observed=pending_reboot_text(facts.reboot),
                   expected="no reboot pending", reason=why, fix="sudo reboot", evidence={"packages": pkgs})


def container(facts: HostFacts, policy: Policy) -> Outcome:
    evidence = {"markers": list(facts.container_evidence), "root_fs": facts.root_fs_type, "wsl": facts.wsl}
    if facts.wsl == "WSL1":
        return Outcome(status=Status.WARN, observed="WSL1", expected="WSL2", evidence=evidence,
                       reason="WSL1 has no GPU support and no Docker engine; WSL2 has both",
                       fix="wsl.exe --set-version <distro> 2  # in Windows PowerShell")
    if facts.wsl == "WSL2":
        return Outcome(status=Status.PASS, observed="WSL2", evidence=evidence,
                       reason="the GPU driver is the Windows one: never install a Linux NVIDIA driver inside WSL")
    if facts.container is None:
        return Outcome(status=Status.PASS, observed="not in a container", evidence=evidence)
    only_marker = facts.container_evidence == ("/.dockerenv exists",)
    if only_marker and facts.root_fs_type not in (None, "overlay"):
        # A /.dockerenv left in a VM image built from a container: the root is a real block device.
        return Outcome(status=Status.PASS,
                       observed=f"not in a container (stray /.dockerenv; root is {facts.root_fs_type})",
                       evidence=evidence)
    return Outcome(status=Status.PASS, observed=f"inside a {facts.container} container", evidence=evidence,
                   reason="reboot, driver and disk results describe the container; the host may differ")


# Debian package for each tool (packages.debian.org file search); build-essential brings gcc and make.
_DEBIAN_PACKAGES = {
    "ls": "coreutils", "cp": "coreutils", "mv": "coreutils", "cat": "coreutils", "grep": "grep",
    "ps": "procps", "kill": "procps", "tar": "tar", "unzip": "unzip", "curl": "curl", "gcc": "build-essential",
    "make": "build-essential", "g++": "build-essential", "git": "git", "wget": "wget", "zip": "zip",
    "xz": "xz-utils", "bzip2": "bzip2", "ssh": "openssh-client", "rsync": "rsync", "less": "less",
}
# The same tools on Fedora/RHEL (dnf); gcc and make are separate packages there.
_DNF_PACKAGES = {**_DEBIAN_PACKAGES, "ps": "procps-ng", "kill": "procps-ng", "gcc": "gcc", "make": "make",
                 "g++": "gcc-c++", "xz": "xz", "ssh": "openssh-clients"}
_CORE = {"ls", "cp", "mv", "cat", "grep", "ps", "kill", "tar"}


def tools(facts: HostFacts, policy: Policy) -> Outcome:
    family = {facts.os_release.get("ID", ""), *facts.os_release.get("ID_LIKE", "").split()}
    debian = bool(family & {"debian", "ubuntu"})
    judged = {t: p for t, p in facts.tools.items() if t != "apt-get" or debian or not facts.os_release}
    missing = [t for t, path in judged.items() if path is None]
    evidence = {"found": {t: p for t, p in facts.tools.items() if p}, "missing": missing}
    if "apt-get" in facts.tools and "apt-get" not in judged:
        evidence["not_applicable"] = ["apt-get"]
    if not missing:
        return Outcome(status=Status.PASS, observed=f"all {len(judged)} found", evidence=evidence)
    if debian or not family - {""}:
        pkgs = dict.fromkeys(_DEBIAN_PACKAGES.get(t, t) for t in missing if t != "apt-get")
        fix = f"sudo apt-get update && sudo apt-get install -y {' '.join(pkgs)}" if pkgs else ""
    elif family & {"fedora", "rhel", "centos"}:
        pkgs = dict.fromkeys(_DNF_PACKAGES.get(t, t) for t in missing)
        fix = f"sudo dnf install -y {' '.join(pkgs)}"
    else:
        fix = f"# install with your distribution's package manager: {' '.join(missing)}"
    reason = "scripts, installers and builds call these"
    if "gcc" in missing:
        reason += "; torch.compile (Triton) and pip builds of C extensions need a C compiler"
    status = Status.FAIL if set(missing) & _CORE else Status.WARN
    return Outcome(status=status, observed=f"missing: {', '.join(missing)}", expected="all found on PATH",
                   reason=reason, fix=fix, evidence=evidence)


CHECKS = (
    CheckSpec("host.os-release", "distribution identified", "host", os_release),
    CheckSpec("host.ubuntu-support", "Ubuntu LTS in standard support", "host", ubuntu_support,
              requires=("host.os-release",)),
    CheckSpec("host.kernel", "kernel and architecture", "host", kernel),
    CheckSpec("host.cpu", "CPU model and cores", "host", cpu),
    CheckSpec("host.memory", "enough RAM", "host", memory),
    CheckSpec("host.swap", "swap", "host", swap),
    CheckSpec("host.disk-home", "free disk in home", "host", disk_home),
    CheckSpec("host.disk-tmp", "free disk in the temp dir", "host", disk_tmp),
    CheckSpec("host.shm", "shared memory (/dev/shm) for DataLoader workers", "host", shm),
    CheckSpec("host.reboot-required", "no reboot pending", "host", reboot_required),
    CheckSpec("host.container", "container or WSL", "host", container),
    CheckSpec("host.tools", "basic tools on PATH", "host", tools),
    # The policy's requirements: only where it states them.
    CheckSpec("host.os-allowed", "OS release one the policy allows", "host", os_allowed,
              applies=lambda p: bool(p.os_allowed)),
    CheckSpec("host.free-space", "free space the policy requires", "host", free_space,
              applies=lambda p: bool(p.free_space_gib)),
)
