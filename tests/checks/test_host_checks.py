"""Host checks: thresholds judged on hand-built facts; the real probe over a temp root tree holding real
files copied from this machine (/proc/meminfo, /proc/cpuinfo) and the markers a reboot, a container or
WSL leave behind."""

from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from envcheck.checks import gpu as gpu_checks
from envcheck.checks import host as checks
from envcheck.engine import make_context
from envcheck.hostfs import HostFS
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.gpu import GpuFacts
from envcheck.probes.host import Disk, HostFacts, collect
from envcheck.probes.reboot import PendingReboot
from envcheck.units import ProbeContext

GIB = 1024**3
POLICY = default_policy()
DEBIAN = {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}
ALL_TOOLS = {t: f"/usr/bin/{t}" for t in POLICY.basic_tools}


def facts(**kw: object) -> HostFacts:
    base = HostFacts(today=date(2026, 11, 27), os_release=DEBIAN, kernel="6.1.0-26-amd64", arch="x86_64",
                     kernel_modules_dir=True, cpu_logical=8, cpu_usable=8, mem_total=64 * GIB,
                     mem_available=60 * GIB, swap_total=0, swap_free=0, tools=ALL_TOOLS)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def disk(role: str, free_gib: float, total_gib: float = 500, device: int = 1) -> Disk:
    return Disk(role, f"/{role}", free_bytes=int(free_gib * GIB), total_bytes=int(total_gib * GIB), device=device)


# --- memory and swap ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total_gib", "status"),
    [(4, Status.FAIL), (7.6, Status.WARN), (12, Status.WARN), (15.5, Status.PASS), (64, Status.PASS)],
)
def test_memory_thresholds(total_gib: float, status: Status) -> None:
    # 15.5 GiB is what a 16 GiB machine reports as MemTotal: it meets a 16 GiB policy; 7.6 GiB meets 8.
    verdict = checks.memory(facts(mem_total=int(total_gib * GIB), mem_available=GIB), POLICY)
    assert verdict.status is status
    assert f"{total_gib:.1f} GiB total" in verdict.observed


def test_cgroup_limit_counts_as_the_ram() -> None:
    verdict = checks.memory(facts(mem_limit=6 * GIB), POLICY)
    assert verdict.status is Status.FAIL
    assert "limited to 6.0 GiB by this cgroup" in verdict.observed


def test_memory_unreadable_is_unknown() -> None:
    verdict = checks.memory(facts(mem_total=None, mem_error="/proc/meminfo could not be read"), POLICY)
    assert verdict.status is Status.UNKNOWN and "meminfo" in verdict.reason


def test_no_swap_with_little_ram_warns_with_swapfile_fix() -> None:
    verdict = checks.swap(facts(mem_total=8 * GIB), POLICY)
    assert verdict.status is Status.WARN
    assert "mkswap /swapfile" in verdict.fix
    assert checks.swap(facts(), POLICY).status is Status.PASS  # 64 GiB, no swap: fine


def test_swap_mostly_used_warns() -> None:
    verdict = checks.swap(facts(swap_total=8 * GIB, swap_free=1 * GIB), POLICY)
    assert verdict.status is Status.WARN and "7.0 GiB in use" in verdict.observed
    assert verdict.fix.startswith("ps -eo pid,user,rss,comm --sort=-rss")  # what to look at, pasteable


# --- disks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("free", "status"), [(1, Status.FAIL), (10, Status.WARN), (100, Status.PASS)])
def test_home_disk_thresholds(free: float, status: Status) -> None:
    verdict = checks.disk_home(facts(disks=(disk("home", free),)), POLICY)
    assert verdict.status is status
    assert verdict.observed.startswith(f"{free:.1f} GiB free of 500.0 GiB at /home")
    if status is not Status.PASS:
        assert "~/.cache" in verdict.fix


def test_tmp_uses_its_own_warn_line_and_notes_shared_filesystem() -> None:
    verdict = checks.disk_tmp(facts(disks=(disk("home", 100), disk("tmp", 4))), POLICY)
    assert verdict.status is Status.WARN and "TMPDIR" in verdict.fix
    assert verdict.evidence["same_filesystem_as_home"] is True
    assert checks.disk_tmp(facts(disks=(disk("tmp", 6, device=2),)), POLICY).status is Status.PASS


def test_unreadable_disk_is_unknown_never_pass() -> None:
    broken = Disk("home", "/nope", error="FileNotFoundError: No such file or directory")
    verdict = checks.disk_home(facts(disks=(broken,)), POLICY)
    assert verdict.status is Status.UNKNOWN and "No such file" in verdict.reason


def test_docker_default_shm_warns() -> None:
    verdict = checks.shm(facts(shm=Disk("shm", "/dev/shm", free_bytes=64 << 20, total_bytes=64 << 20)), POLICY)
    assert verdict.status is Status.WARN and "--shm-size" in verdict.fix


# --- kernel, reboot, container, tools --------------------------------------------------------------------


def test_kernel_checks() -> None:
    assert checks.kernel(facts(), POLICY).status is Status.PASS
    assert checks.kernel(facts(arch="ppc64le"), POLICY).status is Status.WARN
    assert checks.kernel(facts(kernel="2.6.32-754.el6.x86_64"), POLICY).status is Status.FAIL
    removed = checks.kernel(facts(kernel_modules_dir=False), POLICY)
    assert removed.status is Status.WARN and removed.fix == "sudo reboot"
    # Containers have no /lib/modules of the host kernel: not a problem there.
    assert checks.kernel(facts(kernel_modules_dir=False, container="docker"), POLICY).status is Status.PASS


def test_reboot_required_lists_packages_and_flags_kernel_and_driver() -> None:
    assert checks.reboot_required(facts(), POLICY).status is Status.PASS
    verdict = checks.reboot_required(
        facts(reboot=PendingReboot(True, ("linux-image-6.8.0-45-generic", "nvidia-dkms-550"))), POLICY)
    assert verdict.status is Status.WARN and verdict.fix == "sudo reboot"
    assert verdict.observed == "/var/run/reboot-required (linux-image-6.8.0-45-generic, nvidia-dkms-550)"
    assert "NVIDIA driver" in verdict.reason


def test_host_and_gpu_say_a_pending_reboot_the_same_way() -> None:
    many = PendingReboot(True, tuple(f"pkg{i}" for i in range(10)))
    text = "/var/run/reboot-required (pkg0, pkg1, pkg2, pkg3, pkg4, pkg5, pkg6, pkg7 and 2 more)"
    assert checks.reboot_required(facts(reboot=many), POLICY).observed == text
    gpu_facts = GpuFacts(child="ok", reboot=many)
    assert gpu_checks.reboot_pending(gpu_facts, POLICY).evidence["pending"] == [text]
    assert checks.pending_reboot_text(PendingReboot(True)) == "/var/run/reboot-required"


def test_container_and_wsl() -> None:
    assert checks.container(facts(), POLICY).observed == "not in a container"
    inside = checks.container(facts(container="docker", container_evidence=("/.dockerenv exists",),
                                    root_fs_type="overlay"), POLICY)
    assert inside.observed == "inside a docker container" and "host may differ" in inside.reason
    stray = checks.container(facts(container="docker", container_evidence=("/.dockerenv exists",),
                                   root_fs_type="ext4"), POLICY)
    assert "stray /.dockerenv" in stray.observed
    wsl1 = checks.container(facts(wsl="WSL1"), POLICY)
    assert wsl1.status is Status.WARN and "--set-version" in wsl1.fix
    assert checks.container(facts(wsl="WSL2"), POLICY).status is Status.PASS


def test_missing_tools_get_one_apt_fix_with_debian_package_names() -> None:
    tools = {**ALL_TOOLS, "unzip": None, "curl": None, "gcc": None, "make": None}
    verdict = checks.tools(facts(tools=tools), POLICY)
    assert verdict.status is Status.WARN
    assert verdict.observed == "missing: unzip, curl, gcc, make"
    assert verdict.fix == "sudo apt-get update && sudo apt-get install -y unzip curl build-essential"
    assert "torch.compile" in verdict.reason


def test_missing_core_tool_fails() -> None:
    verdict = checks.tools(facts(tools={**ALL_TOOLS, "ps": None, "kill": None}), POLICY)
    assert verdict.status is Status.FAIL and verdict.fix.endswith("install -y procps")


def test_apt_get_missing_off_debian_is_not_a_problem_and_fix_uses_dnf() -> None:
    fedora = {"ID": "fedora", "VERSION_ID": "40"}
    ok = checks.tools(facts(os_release=fedora, tools={**ALL_TOOLS, "apt-get": None}), POLICY)
    assert ok.status is Status.PASS and ok.evidence["not_applicable"] == ["apt-get"]
    verdict = checks.tools(facts(os_release=fedora, tools={**ALL_TOOLS, "apt-get": None, "gcc": None}), POLICY)
    assert verdict.fix == "sudo dnf install -y gcc"
    ubuntu = checks.tools(facts(os_release={"ID": "ubuntu"}, tools={**ALL_TOOLS, "apt-get": None}), POLICY)
    assert ubuntu.status is Status.WARN  # on Ubuntu a missing apt-get is a real problem


# --- the real probe over a root tree --------------------------------------------------------------------


def _ctx(root: Path, **env: str) -> ProbeContext:
    ctx: ProbeContext = make_context(POLICY)(5.0)
    return dataclasses.replace(ctx, fs=HostFS(str(root)), env={**ctx.env, **env})


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_probe_reads_real_proc_files_copied_into_a_tree(tmp_path: Path) -> None:
    for name in ("meminfo", "cpuinfo"):
        (tmp_path / "proc").mkdir(exist_ok=True)
        shutil.copyfile(f"/proc/{name}", tmp_path / "proc" / name)
    got = collect(_ctx(tmp_path))
    with open("/proc/meminfo", encoding="utf-8") as fh:
        total_kib = int(next(line for line in fh if line.startswith("MemTotal:")).split()[1])
    assert got.mem_total == total_kib * 1024
    assert got.cpu_model  # the real cpuinfo names a model on x86_64 and aarch64 alike
    assert got.cpu_logical == os.cpu_count()


def test_probe_sees_reboot_required_and_its_packages(tmp_path: Path) -> None:
    _write(tmp_path, "/var/run/reboot-required", "*** System restart required ***\n")
    _write(tmp_path, "/var/run/reboot-required.pkgs", "linux-base\nlinux-image-6.8.0-45-generic\nlinux-base\n")
    got = collect(_ctx(tmp_path))
    assert got.reboot == PendingReboot(True, ("linux-base", "linux-image-6.8.0-45-generic"))
    assert checks.reboot_required(got, POLICY).status is Status.WARN


def test_probe_leaves_docker_data_root_to_the_docker_subject(tmp_path: Path) -> None:
    _write(tmp_path, "/etc/docker/daemon.json", '{"data-root": "/data/docker"}')
    got = collect(_ctx(tmp_path))
    assert [d.role for d in got.disks] == ["home", "tmp"]


def test_probe_container_markers(tmp_path: Path) -> None:
    _write(tmp_path, "/run/.containerenv", "engine=\"podman-4.9.3\"\n")
    _write(tmp_path, "/proc/self/mountinfo", "1035 980 0:95 / / rw,relatime - overlay overlay rw,lowerdir=/x\n")
    got = collect(_ctx(tmp_path))
    assert got.container == "podman" and got.root_fs_type == "overlay"
    assert checks.container(got, POLICY).observed == "inside a podman container"


def test_probe_docker_container_by_mountinfo(tmp_path: Path) -> None:
    # The lines Docker writes for a container's root and its /etc/hostname bind mount.
    _write(tmp_path, "/proc/self/mountinfo",
           "580 470 0:53 / / rw,relatime master:196 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A\n"
           "601 580 254:0 /var/lib/docker/containers/3f2a/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw\n")
    got = collect(_ctx(tmp_path))
    assert got.container == "docker"
    assert "/etc/hostname is mounted from /var/lib/docker/containers/3f2a/hostname" in got.container_evidence


def test_probe_wsl2_kernel(tmp_path: Path) -> None:
    # No WSL here: these are /proc/version lines in the documented form of WSL2's and WSL1's kernels
    # ("-microsoft-standard-WSL2" suffix; WSL1 reports "-Microsoft"), written out for this test.
    _write(tmp_path, "/proc/version", "Linux version 5.15.167.4-microsoft-standard-WSL2 (root@f9c826d3017f) "
                                      "(gcc (GCC) 11.2.0, GNU ld (GNU Binutils) 2.37) #1 SMP Tue Nov 5 2024\n")
    assert collect(_ctx(tmp_path)).wsl == "WSL2"
    _write(tmp_path, "/proc/version", "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version "
                                      "5.4.0 (GCC) ) #1237-Microsoft Sat Sep 11 14:32:00 PST 2021\n")
    assert collect(_ctx(tmp_path)).wsl == "WSL1"


def test_probe_finds_missing_tools_on_a_real_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in POLICY.basic_tools:
        if tool not in ("unzip", "gcc") and shutil.which(tool):
            os.symlink(shutil.which(tool), bin_dir / tool)  # type: ignore[arg-type]
    got = collect(_ctx(tmp_path, PATH=str(bin_dir)))
    assert got.tools["unzip"] is None and got.tools["gcc"] is None
    assert got.tools["ls"] == str(bin_dir / "ls")
    verdict = checks.tools(dataclasses.replace(got, os_release=DEBIAN), POLICY)
    assert "unzip" in verdict.observed and "build-essential" in verdict.fix


def test_probe_on_this_machine_is_complete() -> None:
    got = collect(make_context(POLICY)(5.0))
    assert got.kernel == os.uname().release and got.arch == os.uname().machine
    assert got.mem_total and got.cpu_logical
    assert {d.role for d in got.disks} >= {"home", "tmp"}
    assert all(d.free_bytes is not None for d in got.disks)


def test_too_little_ram_fixes_fit_the_case() -> None:
    # No swap yet: a swap file is the stopgap; inside a cgroup limit: raise the limit; swap present: none.
    no_swap = checks.memory(facts(mem_total=4 * GIB, swap_total=0), POLICY)
    assert no_swap.status is Status.FAIL and no_swap.fix.startswith("sudo fallocate -l 16G /swapfile")
    limited = checks.memory(facts(mem_limit=6 * GIB), POLICY)
    assert limited.fix.startswith("docker run --memory=")
    with_swap = checks.memory(facts(mem_total=4 * GIB, swap_total=8 * GIB), POLICY)
    assert with_swap.status is Status.FAIL and with_swap.fix == ""


def test_every_unknown_in_the_host_checks_has_a_command_to_paste() -> None:
    unreadable = facts(mem_total=None, swap_total=None, cpu_logical=None, os_release={},
                       mem_error="/proc/meminfo could not be read")
    for judge in (checks.memory, checks.swap, checks.cpu, checks.os_release):
        verdict = judge(unreadable, POLICY)
        assert verdict.status is Status.UNKNOWN and verdict.fix, (judge.__name__, verdict)


@pytest.mark.parametrize(("version", "status", "observed", "reason"), [
    # Older than every LTS in the data: support only ever ends, so it ended before the oldest one's.
    ("12.04", Status.FAIL, "Ubuntu 12.04: out of standard support since before 2019-04-25",
     "Ubuntu 12.04 LTS is older than 14.04 LTS, the oldest in envcheck's data, whose standard support ended "
     "2019-04-25; support only ever ends, so 12.04's ended earlier"),
    # The phases as Canonical sells them: standard, ESM (Ubuntu Pro), then the paid Legacy add-on.
    ("16.04", Status.FAIL, "Ubuntu 16.04 LTS (xenial): standard support ended 2021-04-30, ESM ended 2026-04-23",
     "no free security updates, nor Ubuntu Pro's ESM; only the paid Legacy add-on of Ubuntu Pro still covers it, "
     "until April 2031"),
    ("18.04", Status.WARN, "Ubuntu 18.04 LTS (bionic): standard support ended 2023-05-31",
     "only Ubuntu Pro (ESM) security updates remain, until 2028-04-30; then the paid Legacy add-on, until April 2033"),
    # An interim release older than the data's rows: nine months of support, long over.
    ("13.10", Status.FAIL, "Ubuntu 13.10: interim release, support ended about 2014-07",
     "interim releases get 9 months of updates; CUDA images and most guides target LTS releases"),
])
def test_every_ubuntu_is_judged_and_its_support_phases_named(version: str, status: Status, observed: str,
                                                              reason: str) -> None:
    release = {"ID": "ubuntu", "VERSION_ID": version, "PRETTY_NAME": f"Ubuntu {version}"}
    verdict = checks.ubuntu_support(facts(today=date(2026, 12, 1), os_release=release), POLICY)
    assert (verdict.status, verdict.observed, verdict.reason) == (status, observed, reason)
