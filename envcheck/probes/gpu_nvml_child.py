"""The NVML child: the one place that imports ``pynvml`` (nvidia-ml-py). It prints one JSON document.

Run by path in a child process (``python -S .../envcheck/probes/gpu_nvml_child.py``) under a hard deadline: in-process
NVML calls cannot be interrupted and can hang for good on a wedged driver (NVIDIA/open-gpu-kernel-modules#971),
so the parent (envcheck/probes/gpu.py) only ever reads this script's stdout. It imports nothing from
envcheck, so it starts in a few tens of milliseconds.

Every field is queried on its own in try/except: one unsupported field (ECC on a GeForce) or one lost
GPU never hides the others (wookayin/gpustat#125). A failed query is recorded as
``{"error": "NotSupported", "code": 3}`` under ``errors``, never guessed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

SCHEMA = 1


def _error(exc: BaseException) -> dict[str, Any]:
    """NVMLError_GpuIsLost(15) -> {"error": "GpuIsLost", "code": 15}; other exceptions keep their type name."""
    name = type(exc).__name__
    if name.startswith("NVMLError_"):
        name = name[len("NVMLError_"):]
    elif name == "NVMLLibraryMismatchError":  # pynvml's wrapper for an unversioned symbol the library lacks
        name = "FunctionNotFound"
    try:
        message = str(exc)
    except Exception:  # NVMLError.__str__ may call into a library that is not there
        message = ""
    return {"error": name, "code": getattr(exc, "value", None), "message": message[:200]}


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class _Collector:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors: dict[str, Any] = {}

    def get(self, field: str, call: Callable[[], Any]) -> Any:
        try:
            value = _text(call())
        except Exception as exc:  # every NVML error is a fact about this field, not a crash
            self.errors[field] = _error(exc)
            return None
        self.values[field] = value
        return value

    def split(self, fields: tuple[str, ...], call: Callable[[], Any]) -> None:
        """One NVML call that answers several fields (memory total/used, a mode's current/pending):
        each field gets its part, or each gets the call's error."""
        try:
            parts = [_text(part) for part in call()]
        except Exception as exc:  # as in get(): a fact about these fields
            error = _error(exc)
            for field in fields:
                self.errors[field] = error
            return
        self.values.update(zip(fields, parts, strict=True))


def _device(nv: Any, index: int, fallbacks: list[str]) -> dict[str, Any]:
    out = _Collector()
    handle = out.get("handle", lambda: nv.nvmlDeviceGetHandleByIndex(index))
    if "handle" in out.errors:
        return {"index": index, "values": {}, "errors": out.errors}
    out.values.pop("handle", None)
    out.get("name", lambda: nv.nvmlDeviceGetName(handle))
    out.get("uuid", lambda: nv.nvmlDeviceGetUUID(handle))
    out.get("pci_bus_id", lambda: _text(nv.nvmlDeviceGetPciInfo(handle).busId))
    def memory() -> tuple[int, int]:
        info = nv.nvmlDeviceGetMemoryInfo(handle)
        return int(info.total), int(info.used)

    out.split(("memory_total", "memory_used"), memory)
    out.get("temperature_c", lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU))
    out.get("power_draw_mw", lambda: nv.nvmlDeviceGetPowerUsage(handle))
    out.get("power_limit_mw", lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle))
    out.get("power_default_limit_mw", lambda: nv.nvmlDeviceGetPowerManagementDefaultLimit(handle))
    out.get("persistence_mode", lambda: nv.nvmlDeviceGetPersistenceMode(handle))
    out.get("compute_capability", lambda: list(nv.nvmlDeviceGetCudaComputeCapability(handle)))
    out.split(("ecc_mode_current", "ecc_mode_pending"), lambda: nv.nvmlDeviceGetEccMode(handle))
    uncorrected = nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
    out.get("ecc_volatile_uncorrected",
            lambda: nv.nvmlDeviceGetTotalEccErrors(handle, uncorrected, nv.NVML_VOLATILE_ECC))
    out.get("ecc_aggregate_uncorrected",
            lambda: nv.nvmlDeviceGetTotalEccErrors(handle, uncorrected, nv.NVML_AGGREGATE_ECC))
    out.get("retired_pages_pending", lambda: nv.nvmlDeviceGetRetiredPagesPendingStatus(handle))
    out.get("remapped_rows", lambda: list(nv.nvmlDeviceGetRemappedRows(handle)))
    # nvmlDeviceGetCurrentClocksEventReasons exists from R535; older drivers lack the symbol
    # (leptonai/gpud#48): fall back to the ...ThrottleReasons name, same bits.
    out.get("clocks_event_reasons", lambda: nv.nvmlDeviceGetCurrentClocksEventReasons(handle))
    if out.errors.get("clocks_event_reasons", {}).get("error") == "FunctionNotFound":
        del out.errors["clocks_event_reasons"]
        out.get("clocks_event_reasons", lambda: nv.nvmlDeviceGetCurrentClocksThrottleReasons(handle))
        fallbacks.append(f"GPU {index}: nvmlDeviceGetCurrentClocksThrottleReasons")
    out.get("pcie_gen_current", lambda: nv.nvmlDeviceGetCurrPcieLinkGeneration(handle))
    out.get("pcie_gen_max", lambda: nv.nvmlDeviceGetMaxPcieLinkGeneration(handle))
    out.get("pcie_width_current", lambda: nv.nvmlDeviceGetCurrPcieLinkWidth(handle))
    out.get("pcie_width_max", lambda: nv.nvmlDeviceGetMaxPcieLinkWidth(handle))
    out.split(("mig_mode_current", "mig_mode_pending"), lambda: nv.nvmlDeviceGetMigMode(handle))
    return {"index": index, "values": out.values, "errors": out.errors}


def collect() -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": SCHEMA, "pid": os.getpid()}
    try:
        import pynvml as nv
    except ImportError as exc:
        doc["import_error"] = f"{type(exc).__name__}: {exc}"
        return doc
    doc["pynvml_file"] = getattr(nv, "__file__", None)
    system = _Collector()
    fallbacks: list[str] = []
    start = time.monotonic()
    try:
        nv.nvmlInit()
        doc["init"] = {"ok": True, "error": None}
    except Exception as exc:
        doc["init"] = {"ok": False, "error": _error(exc)}
    doc["init"]["seconds"] = round(time.monotonic() - start, 4)
    # The library's own version answers even when init fails on a driver/library mismatch
    # (nvidia-smi prints "NVML library version: 550.144" then: intel/llvm#17614).
    system.get("nvml_version", nv.nvmlSystemGetNVMLVersion)
    if doc["init"]["ok"]:
        system.get("driver_version", nv.nvmlSystemGetDriverVersion)
        system.get("cuda_driver_version", nv.nvmlSystemGetCudaDriverVersion_v2)
        if system.errors.get("cuda_driver_version", {}).get("error") == "FunctionNotFound":
            del system.errors["cuda_driver_version"]
            system.get("cuda_driver_version", nv.nvmlSystemGetCudaDriverVersion)
            fallbacks.append("nvmlSystemGetCudaDriverVersion")
        count = system.get("device_count", nv.nvmlDeviceGetCount)
        doc["devices"] = [_device(nv, index, fallbacks) for index in range(count or 0)]
        try:
            nv.nvmlShutdown()
        except Exception:  # nothing to report: the facts are already gathered
            pass
    doc["system"] = system.values
    doc["system_errors"] = system.errors
    doc["fallbacks"] = fallbacks
    return doc


def main() -> int:
    # Run by path, sys.path[0] is envcheck/probes/ itself: drop it so no probe module can shadow a stdlib one.
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path.pop(0)
    # pynvml's folder (the parent's site-packages) goes AFTER the stdlib, where site would have put it (-S).
    extra = os.environ.get("ENVCHECK_PYNVML_DIR")
    if extra and extra not in sys.path:
        sys.path.append(extra)
    sys.stdout.write(json.dumps(collect(), sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
