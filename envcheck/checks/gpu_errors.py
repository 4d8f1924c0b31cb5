"""NVML errors (../shared/facts/failure-modes.md) -> status, cause and a fix a person can paste."""

from __future__ import annotations

from envcheck.model import Status

INSTALL_FIX = ("sudo ubuntu-drivers install --gpgpu  # Ubuntu; or NVIDIA's CUDA repository: "
               "sudo apt-get install -y cuda-drivers")
REBOOT_FIX = ("sudo reboot  # or, with no process using a GPU: "
              "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia")

# Every NVML error of ../shared/facts/failure-modes.md: (status, cause, fix).
NVML_ERRORS: dict[str, tuple[Status, str, str]] = {
    "LibraryNotFound": (Status.FAIL, "libnvidia-ml.so.1 (the driver's user-space part) is not installed",
                        INSTALL_FIX),
    "DriverNotLoaded": (Status.FAIL, "the driver is installed but the nvidia kernel module is not loaded",
                        "sudo modprobe nvidia  # if it fails: sudo dmesg | grep -iE 'nvrm|nvidia'; after a kernel "
                        "upgrade: sudo dkms autoinstall && sudo reboot; with Secure Boot: enroll the module key "
                        "(sudo mokutil --import /var/lib/dkms/mok.pub)"),
    "LibRmVersionMismatch": (Status.FAIL, "the driver was upgraded but the old kernel module is still loaded "
                             "(driver/library version mismatch)", REBOOT_FIX),
    "NoPermission": (Status.FAIL, "this user may not open the GPU device nodes (/dev/nvidia*)",
                     "ls -l /dev/nvidia*  # on the host: add yourself to the group owning them; "
                     "in a container: docker run --gpus all ..."),
    "Unknown": (Status.FAIL, "NVML 'Unknown Error' (999): inside a container this is usually the GPU devices "
                "detached after `systemctl daemon-reload` with systemd cgroups (NVIDIA/nvidia-container-toolkit#48)",
                "restart the container; to prevent it on the host: sudo nvidia-ctk system create-dev-char-symlinks "
                "--create-all"),
    "GpuIsLost": (Status.FAIL, "a GPU fell off the bus (hardware or PCIe fault; look for Xid 79 in the kernel log)",
                  "sudo reboot  # if it repeats: check that GPU's power, seating and cooling, then contact the vendor"),
    "ResetRequired": (Status.FAIL, "a GPU needs a reset before it can be used again",
                      "sudo nvidia-smi -r -i <GPU index>  # with no process on it; or: sudo reboot"),
    "NotSupported": (Status.SKIP, "this GPU does not have that feature (n/a)", ""),
    "FunctionNotFound": (Status.FAIL, "nvidia-ml-py calls a function this (older) driver's libnvidia-ml lacks",
                         "pip install 'nvidia-ml-py<=<driver branch>.99'  # bindings no newer than the driver"),
    "Uninitialized": (Status.UNKNOWN, "NVML was called before nvmlInit succeeded", "report it: it is an envcheck bug"),
    "Timeout": (Status.UNKNOWN, "NVML timed out talking to the driver", "retry; if it repeats: sudo reboot"),
}


def nvml_error(name: str) -> tuple[Status, str, str]:
    return NVML_ERRORS.get(name, (Status.FAIL, f"NVML error {name}", "sudo dmesg | grep -iE 'nvrm|xid'  # then reboot"))
