"""Xid errors from the kernel log: parsing recorded lines, and the real unreadable-log case.

The unreadable case is real: this machine has kernel.dmesg_restrict=1, so a user created with useradd
cannot open /dev/kmsg; the test runs envcheck's own reader (xid.py, copied where that user can read it,
run by /usr/bin/python3) as that user through setpriv. Where dmesg_restrict is 0 the test forces the
same path with a real root-owned file of mode 600, and says so in its skip-free assertion message.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from envcheck import runner, xid
from envcheck.checks.gpu import xid_errors
from envcheck.hostfs import HostFS
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.gpu import GpuFacts, XidFacts, kernel_log
from envcheck.probes.gpu_device import GpuDevice
from envcheck.units import ProbeContext

DATA = Path(__file__).parents[1] / "data" / "nvml"
USER = "envcheck-xid"


def test_parse_recorded_xid_119_lines() -> None:
    # leptonai/gpud components/accelerator/nvidia/error/xid/testdata/dmesg-with-xid-119.log (dmesg -T output).
    lines = (DATA / "kernel-log-xid119.txt").read_text().splitlines()
    events = xid.parse(lines)
    assert [e.code for e in events] == [119] * 5
    assert {e.pci for e in events} == {"0000:9b:00"}
    assert events[0].detail.startswith("pid=2024380, name=nvidia-smi, Timeout after 6s")


def test_table_severities() -> None:
    assert xid.describe(79).severity == "fail" and xid.describe(79).name == "GPU has fallen off the bus"
    assert xid.describe(48).severity == "fail" and xid.describe(95).severity == "fail"
    assert {xid.describe(c).severity for c in (13, 31, 43, 94)} == {"warn"}
    # NVIDIA's catalog, "Resolution Bucket (Immediate Action)": RESET_GPU -> fail, IGNORE / RESTART_APP -> warn.
    assert {xid.describe(c).severity for c in (46, 62, 64, 109, 119, 120, 140, 143, 158)} == {"fail"}
    assert {xid.describe(c).severity for c in (8, 32, 38, 63, 68, 69, 92, 121)} == {"warn"}
    codes = [row.code for row in xid.table().values()]
    assert codes == sorted(codes) and len(codes) == len(set(codes))
    unknown = xid.describe(9999)
    assert unknown.severity == "warn" and "docs.nvidia.com/deploy/xid-errors" in unknown.action


def test_xid_check_maps_the_pci_address_to_its_gpu() -> None:
    events = tuple(xid.parse((DATA / "kernel-log-xid119.txt").read_text().splitlines()))
    facts = GpuFacts(child="ok", module_version="550.127.05", xid=XidFacts(source="recorded", readable=True,
                     events=events), devices=(GpuDevice(index=4, uuid="GPU-509665ad", pci_bus_id="00000000:9B:00.0"),))
    verdict = xid_errors(facts, default_policy())
    assert verdict.status is Status.FAIL
    assert verdict.observed == "Xid 119 x5 on GPU 4 (GPU-509665ad) (GSP RPC timeout)"
    assert verdict.fix.splitlines() == ["sudo dmesg -T | grep 'NVRM: Xid'", "# Xid 119: " + xid.describe(119).action]


def _kmsg_lines() -> list[str]:
    """What /dev/kmsg holds now, read here apart from envcheck's reader: one record per read, EAGAIN at the end,
    EPIPE for a record overwritten while reading (skipped), as Documentation/ABI/testing/dev-kmsg says."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    lines: list[str] = []
    try:
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return lines
            except BrokenPipeError:
                continue
            if not data:
                return lines
            lines += data.decode("utf-8", "replace").splitlines()
    finally:
        os.close(fd)


def _read_between(before: list[str], lines: tuple[str, ...], after: list[str]) -> None:
    """``lines`` is the kernel's log at a moment between two reads of it: the kernel only appends, dropping the
    oldest records when its buffer is full, so every line held both times is in it, and no line that neither
    read saw."""
    kept = set(before) & set(after)
    assert kept, "the kernel held no line through both reads: nothing to compare with"
    assert sorted(kept - set(lines)) == [], "lines the reader missed"
    assert sorted(set(lines) - set(before) - set(after)) == [], "lines the kernel never held"


def test_real_kernel_log_is_readable_by_root() -> None:
    if os.geteuid() != 0 or not os.path.exists("/dev/kmsg"):
        pytest.skip("needs root and /dev/kmsg")
    before = _kmsg_lines()
    log = xid.read_kernel_log("/dev/kmsg", timeout_s=2.0)
    assert log.error == ""
    _read_between(before, log.lines, _kmsg_lines())
    assert xid_errors(GpuFacts(child="ok", module_version="1", xid=XidFacts(source=log.source, readable=True,
                      events=tuple(xid.parse(log.lines)))), default_policy()).status is Status.PASS


def _run_as_user(target: str, private_text: str | None = None) -> dict[str, object]:
    """envcheck's reader, run by an unprivileged user in a real child process. With ``private_text`` the
    target is a root-owned mode-600 file in a folder the user may enter (only the file's mode refuses it)."""
    # pytest's tmp_path sits under a root-only folder: the user needs a path it can traverse.
    folder = Path(tempfile.mkdtemp(prefix="envcheck-xid-", dir="/tmp"))
    os.chmod(folder, 0o755)
    if private_text is not None:
        (folder / "kern.log").write_text(private_text)
        os.chmod(folder / "kern.log", 0o600)
        target = str(folder / "kern.log")
    shutil.copy(Path(xid.__file__), folder / "xid.py")
    os.chmod(folder / "xid.py", 0o644)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import xid; "
            "log = xid.read_kernel_log(sys.argv[2]); print(json.dumps({'error': log.error, "
            "'needs_root': log.needs_root, 'lines': len(log.lines)}))")
    uid = pwd.getpwnam(USER).pw_uid
    out = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
                          "/usr/bin/python3", "-I", "-c", code, str(folder), target],
                         capture_output=True, text=True, timeout=30, check=True)
    shutil.rmtree(folder)
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.root
def test_unreadable_log_is_unknown_needs_root_never_pass() -> None:
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root (useradd, setpriv) and /usr/bin/python3")
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   capture_output=True, check=False)  # exists already on a rerun: fine
    restrict = Path("/proc/sys/kernel/dmesg_restrict").read_text().strip()
    if restrict == "1" and os.path.exists("/dev/kmsg"):
        seen = _run_as_user("/dev/kmsg")  # the real kernel log, refused to a non-root user
    else:  # dmesg readable by everyone here: force the same path with a real root-only file
        seen = _run_as_user("", private_text=(DATA / "kernel-log-xid119.txt").read_text())
    assert seen["needs_root"] is True and seen["lines"] == 0, f"dmesg_restrict={restrict}: {seen}"
    facts = GpuFacts(child="ok", module_version="550.127.05",
                     xid=XidFacts(source="/dev/kmsg", readable=False, error=str(seen["error"]), needs_root=True))
    verdict = xid_errors(facts, default_policy())
    assert verdict.status is Status.UNKNOWN and verdict.observed == "kernel log not readable: needs root"
    assert verdict.fix.startswith("sudo dmesg")
    # root's PATH rarely holds the user's venv: the fix names this envcheck by its path.
    assert verdict.fix.endswith('sudo "$(command -v envcheck)" doctor --only gpu')


@pytest.mark.root
def test_root_only_file_is_unreadable_for_the_user() -> None:
    # The mode-600 path too, whatever dmesg_restrict says: a saved log the user may not read.
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root (useradd, setpriv) and /usr/bin/python3")
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   capture_output=True, check=False)
    seen = _run_as_user("", private_text="NVRM: Xid (PCI:0000:18:00): 79, pid=1, GPU has fallen off the bus.\n")
    assert seen["needs_root"] is True and "Permission denied" in str(seen["error"])


@pytest.mark.root
def test_dmesg_fallback_where_there_is_no_kmsg(tmp_path: Path) -> None:
    # Many containers have no /dev/kmsg: the probe runs the real `dmesg` through the runner seam instead,
    # as root (readable) and as the unprivileged user (refused while kernel.dmesg_restrict=1).
    if os.geteuid() != 0 or shutil.which("dmesg") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, dmesg and setpriv")
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   capture_output=True, check=False)
    no_kmsg = HostFS(str(tmp_path))  # nothing at <tmp_path>/dev/kmsg
    as_root = ProbeContext(env=dict(os.environ), home=str(tmp_path), timeout_s=5.0, run=runner.run, fs=no_kmsg)
    before = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout.splitlines()
    log = kernel_log(as_root)
    assert log.source == "dmesg" and log.error == ""
    _read_between(before, log.lines, subprocess.run(["dmesg"], capture_output=True, text=True,
                                                    check=True).stdout.splitlines())
    uid = pwd.getpwnam(USER).pw_uid

    def run_as_user(argv: list[str], timeout_s: float, **kwargs: object) -> runner.CommandResult:
        wrapped = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *argv]
        return runner.run(wrapped, timeout_s, **kwargs)  # type: ignore[arg-type]  # env/cwd pass through

    as_user = ProbeContext(env=dict(os.environ), home=str(tmp_path), timeout_s=5.0, run=run_as_user, fs=no_kmsg)
    log = kernel_log(as_user)
    if Path("/proc/sys/kernel/dmesg_restrict").read_text().strip() == "1":
        assert log.needs_root and "not permitted" in log.error.lower() and log.lines == ()
    else:
        assert log.error == ""
