"""Record this machine's NVML answers in the format tests/data/nvml/fake/pynvml.py replays.

On a GPU machine:   python tests/data/nvml/capture.py > tests/data/nvml/<machine>-<date>.json
then add a line to README.md saying where and when it was taken. Every call the NVML child makes is
recorded with its real value or its real NVML error name; a function the library lacks is left out
(the stand-in answers FunctionNotFound for it, as the library did). The "host" part copies the files
the probe reads: /proc/driver/nvidia/version, /proc/driver/nvidia/gpus, the /dev/nvidia* names, the
kernel log's NVRM lines (when readable) and whether /var/run/reboot-required exists.
"""

import json
import os
import sys
import time

import pynvml as nv

SYSTEM = ("nvmlSystemGetNVMLVersion", "nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion_v2",
          "nvmlSystemGetCudaDriverVersion", "nvmlDeviceGetCount")
DEVICE = ("nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo", "nvmlDeviceGetMemoryInfo",
          "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
          "nvmlDeviceGetPowerManagementDefaultLimit", "nvmlDeviceGetPersistenceMode",
          "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetEccMode", "nvmlDeviceGetTotalEccErrors",
          "nvmlDeviceGetRetiredPagesPendingStatus", "nvmlDeviceGetRemappedRows",
          "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons",
          "nvmlDeviceGetCurrPcieLinkGeneration", "nvmlDeviceGetMaxPcieLinkGeneration",
          "nvmlDeviceGetCurrPcieLinkWidth", "nvmlDeviceGetMaxPcieLinkWidth", "nvmlDeviceGetMigMode")
ARGS = {"nvmlDeviceGetTemperature": [(0,)], "nvmlDeviceGetTotalEccErrors": [(1, 0), (1, 1)]}


def plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "total") and hasattr(value, "free"):  # memory info
        return {"total": int(value.total), "used": int(value.used), "free": int(value.free)}
    if hasattr(value, "busId"):  # PCI info
        return {"busId": plain(value.busId)}
    return value


def answer(call, *args):
    """The value, {"error": name}, or None when the library lacks the function (left out of the recording)."""
    try:
        return plain(call(*args))
    except nv.NVMLError as exc:
        name = type(exc).__name__.replace("NVMLError_", "")
        return None if name == "FunctionNotFound" else {"error": name}
    except nv.NVMLLibraryMismatchError:
        return None


def device(index):
    try:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
    except nv.NVMLError as exc:
        return {"nvmlDeviceGetHandleByIndex": {"error": type(exc).__name__.replace("NVMLError_", "")}}
    out = {}
    for name in DEVICE:
        fn = getattr(nv, name, None)
        if fn is None:  # a newer nvidia-ml-py may drop a deprecated wrapper: the child then cannot call it either
            continue
        if name in ARGS:
            by_args = {",".join(str(a) for a in args): answer(fn, handle, *args) for args in ARGS[name]}
            errors = [v for v in by_args.values() if isinstance(v, dict)]
            value = errors[0] if errors else {"by_args": by_args}
        else:
            value = answer(fn, handle)
        if value is not None:
            out[name] = value
    return out


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def kernel_lines():
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    lines = []
    try:
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                continue
            if not data:
                break
            text = data.decode("utf-8", "replace")
            if "NVRM" in text:
                lines.extend(line for line in text.splitlines() if "NVRM" in line)
    finally:
        os.close(fd)
    return lines


def main():
    record = {"_state": f"captured on {os.uname().nodename} at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"}
    try:
        nv.nvmlInit()
    except nv.NVMLError as exc:
        record["nvmlInit"] = {"error": type(exc).__name__.replace("NVMLError_", "")}
    system = {}
    for name in SYSTEM:
        if name == "nvmlDeviceGetCount" and "nvmlInit" in record:
            continue
        if not hasattr(nv, name):
            continue
        value = answer(getattr(nv, name))
        if value is not None:
            system[name] = value
    record["system"] = system
    count = system.get("nvmlDeviceGetCount")
    record["devices"] = [device(i) for i in range(count)] if isinstance(count, int) else []
    gpus = "/proc/driver/nvidia/gpus"
    record["host"] = {
        "proc_version": read("/proc/driver/nvidia/version"),
        "proc_gpus": sorted(os.listdir(gpus)) if os.path.isdir(gpus) else [],
        "dev": sorted(n for n in os.listdir("/dev") if n.startswith("nvidia")),
        "kmsg": kernel_lines(),
        "reboot_required": os.path.exists("/var/run/reboot-required"),
    }
    json.dump(record, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
