"""NVML errors (the NVML_ERROR_* return codes of nvml.h, named as nvidia-ml-py's NVMLError_* classes) ->
status, cause and a fix a person can paste."""

from __future__ import annotations

from envcheck.fixes import DRIVER_INSTALL, REBOOT_OR_RELOAD, TOOLKIT_DEV_SYMLINKS
from envcheck.model import Status

# The NVML errors a probe can meet: (status, cause, fix).
NVML_ERRORS: dict[str, tuple[Status, str, str]] = {
    "LibraryNotFound": (Status.FAIL, "libnvidia-ml.so.1 (the driver's user-space part) is not installed",
                        DRIVER_INSTALL),
    "DriverNotLoaded": (Status.FAIL, "the driver is installed but the nvidia kernel module is not loaded",
                        "sudo modprobe nvidia  # if it fails: sudo dmesg | grep -iE 'nvrm|nvidia'; after a kernel "
                        "upgrade: sudo dkms autoinstall && sudo reboot; with Secure Boot: enroll the module key "
                        "(sudo mokutil --import /var/lib/dkms/mok.pub)"),
    "LibRmVersionMismatch": (Status.FAIL, "the driver was upgraded but the old kernel module is still loaded "
                             "(driver/library version mismatch)", REBOOT_OR_RELOAD),
    "NoPermission": (Status.FAIL, "this user may not open the GPU device nodes (/dev/nvidia*)",
                     "ls -l /dev/nvidia*  # on the host: add yourself to the group owning them; "
                     "in a container: docker run --gpus all ..."),
    "Unknown": (Status.FAIL, "NVML 'Unknown Error' (999): inside a container this is usually the GPU devices "
                "detached after `systemctl daemon-reload` with systemd cgroups (NVIDIA/nvidia-container-toolkit#48)",
                f"restart the container; to prevent it on the host: {TOOLKIT_DEV_SYMLINKS}"),
    "GpuIsLost": (Status.FAIL, "a GPU fell off the bus (hardware or PCIe fault; look for Xid 79 in the kernel log)",
                  "sudo reboot  # if it repeats: check that GPU's power, seating and cooling, then contact the vendor"),
    "ResetRequired": (Status.FAIL, "a GPU needs a reset before it can be used again",
                      "sudo nvidia-smi -r -i <GPU index>  # with no process on it; or: sudo reboot"),
    "NotSupported": (Status.SKIP, "this GPU does not have that feature (n/a)", ""),
    "FunctionNotFound": (Status.FAIL, "nvidia-ml-py calls a function this (older) driver's libnvidia-ml lacks",
                         "<bindings>"),
    "Uninitialized": (Status.UNKNOWN, "NVML was called before nvmlInit succeeded", "report it: it is an envcheck bug"),
    "Timeout": (Status.UNKNOWN, "NVML timed out talking to the driver", "retry; if it repeats: sudo reboot"),
}


def bindings_fix(driver: str | None) -> str:
    """Install nvidia-ml-py no newer than this driver's branch: "550.54.15" -> "pip install 'nvidia-ml-py<12.551'".

    nvidia-ml-py is versioned <major>.<driver branch>.<patch> (10.418.84, 11.450.51 .. 11.525.150, 12.535.77 ..
    12.575.51, 13.580.65 ..: PyPI's release list), so "<major>.<branch + 1>" is the newest binding of that
    branch or older. A bare "<=550.99" would allow every release (13.615 < 550).
    """
    branch = (driver or "").split(".")[0]
    if not branch.isdigit():
        return "pip index versions nvidia-ml-py  # install the newest release whose middle number <= your driver branch"
    number = int(branch)
    major = 13 if number >= 580 else 12 if number >= 535 else 11 if number >= 450 else 10
    return f"pip install 'nvidia-ml-py<{major}.{number + 1}'  # bindings no newer than driver branch {number}"


def nvml_error(name: str, driver: str | None = None) -> tuple[Status, str, str]:
    """(status, cause, fix) for an NVML error name; ``driver`` (a version) makes the FunctionNotFound fix exact."""
    status, cause, fix = NVML_ERRORS.get(name, (Status.FAIL, f"NVML error {name}",
                                                "sudo dmesg | grep -iE 'nvrm|xid'  # then reboot"))
    return status, cause, bindings_fix(driver) if fix == "<bindings>" else fix
