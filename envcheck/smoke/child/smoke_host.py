"""What the machine shows without torch: the driver and devices (file reads, and NVML through ctypes: the
target may not have nvidia-ml-py), the CUDA libraries mapped into this process, and what pip would need."""

from __future__ import annotations

import ctypes
import os
import sys
import sysconfig
from typing import Any

# nvmlReturn_t codes (nvml.h) by the names the rest of envcheck uses for them: nvidia-ml-py's exception
# classes, NVMLError_<name> (envcheck/nvml_child.py strips the prefix; envcheck/checks/gpu_errors.py keys
# its causes and fixes on the result). This child cannot import either, so the table is repeated here, and
# tests/smoke/test_smoke_child.py checks it against nvidia-ml-py's own mapping and gpu_errors.py's names.
NVML_ERRORS = {
    1: "Uninitialized", 2: "InvalidArgument", 3: "NotSupported", 4: "NoPermission", 5: "AlreadyInitialized",
    6: "NotFound", 7: "InsufficientSize", 8: "InsufficientPower", 9: "DriverNotLoaded", 10: "Timeout",
    11: "IrqIssue", 12: "LibraryNotFound", 13: "FunctionNotFound", 14: "CorruptedInforom", 15: "GpuIsLost",
    16: "ResetRequired", 17: "OperatingSystem", 18: "LibRmVersionMismatch", 19: "InUse", 20: "Memory",
    21: "NoData", 22: "VgpuEccNotSupported", 23: "InsufficientResources", 24: "FreqNotSupported",
    25: "ArgumentVersionMismatch", 26: "Deprecated", 27: "NotReady", 28: "GpuNotFound", 29: "InvalidState",
    30: "ResetTypeNotSupported", 999: "Unknown",
}


def nvml_error(rc: int) -> str:
    """9 -> "NVML error 9 (DriverNotLoaded)": the code, and its name where the table has one."""
    name = NVML_ERRORS.get(rc)
    return f"NVML error {rc}" + (f" ({name})" if name else "")


MAX_READ = 16 * 1024 * 1024  # /proc/self/maps with torch and CUDA loaded is well under 1 MiB: a bound, not a cut


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_READ)
    except OSError:
        return None


def driver_facts() -> dict[str, Any]:
    """The kernel driver and GPUs as /proc shows them, and whether the CUDA driver library loads."""
    version = read_text("/proc/driver/nvidia/version")
    gpus_dir = "/proc/driver/nvidia/gpus"
    try:
        proc_gpus = sorted(os.listdir(gpus_dir))
    except OSError:
        proc_gpus = []
    try:
        ctypes.CDLL("libcuda.so.1")
        libcuda = ""
    except OSError as exc:
        libcuda = str(exc)
    return {
        "proc_driver_version": (version or "").strip().splitlines()[0] if version else None,
        "proc_gpus": proc_gpus,
        "libcuda_error": libcuda or None,
        "dev_nvidia_uvm": os.path.exists("/dev/nvidia-uvm"),
        "dev_nvidiactl": os.path.exists("/dev/nvidiactl"),
    }


def nvml_devices() -> dict[str, Any]:
    """Every GPU NVML sees (it ignores CUDA_VISIBLE_DEVICES), by UUID, through ctypes: no pynvml needed."""
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError as exc:
        return {"error": f"libnvidia-ml.so.1 not loadable: {exc}", "devices": []}
    rc = lib.nvmlInit_v2()
    if rc != 0:
        return {"error": f"nvmlInit_v2 returned {nvml_error(rc)}", "devices": []}
    try:
        buf = ctypes.create_string_buffer(96)
        driver = lib.nvmlSystemGetDriverVersion(buf, 96) == 0 and buf.value.decode() or None
        count = ctypes.c_uint(0)
        rc = lib.nvmlDeviceGetCount_v2(ctypes.byref(count))
        if rc != 0:
            return {"error": f"nvmlDeviceGetCount_v2 returned {nvml_error(rc)}", "devices": [], "driver": driver}
        devices = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            rc = lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle))
            if rc != 0:
                devices.append({"index": index, "error": nvml_error(rc)})
                continue
            uuid = lib.nvmlDeviceGetUUID(handle, buf, 96) == 0 and buf.value.decode() or None
            name = lib.nvmlDeviceGetName(handle, buf, 96) == 0 and buf.value.decode() or None
            devices.append({"index": index, "uuid": uuid, "name": name})
        return {"error": None, "devices": devices, "driver": driver}
    finally:
        lib.nvmlShutdown()


def loaded_libraries() -> list[dict[str, str]]:
    """CUDA, cuDNN, NCCL, cuBLAS libraries actually mapped into this process."""
    maps = read_text("/proc/self/maps") or ""
    wanted = ("libcuda.so", "libcudart", "libcudnn", "libnccl", "libcublas", "libnvrtc", "libcufft", "libcusparse",
              "libnvJitLink", "libtorch_cuda", "libc10_cuda")
    seen: dict[str, None] = {}
    for line in maps.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and any(w in os.path.basename(parts[5]) for w in wanted):
            seen.setdefault(parts[5].strip(), None)
    return [{"path": p, "real": os.path.realpath(p), "name": os.path.basename(os.path.realpath(p))} for p in seen]


def installer_facts() -> dict[str, Any]:
    """What a pasteable `pip install` needs to know: is pip there, and does this Python refuse it (PEP 668:
    an EXTERNALLY-MANAGED marker in the stdlib folder, ignored inside a venv), on which distribution."""
    import importlib.util

    marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
    os_release = read_text("/etc/os-release") or ""
    ids = [line.split("=", 1)[1].strip().strip('"') for line in os_release.splitlines()
           if line.startswith(("ID=", "ID_LIKE="))]
    return {"pip": importlib.util.find_spec("pip") is not None,
            "externally_managed": sys.prefix == sys.base_prefix and os.path.exists(marker),
            "os_like": " ".join(ids)}
