"""A stand-in for the ``pynvml`` module (nvidia-ml-py), fed by a JSON recording; for envcheck's tests only.

The test puts this folder first on the NVML child's PYTHONPATH and names a recording in
ENVCHECK_NVML_RECORDING, so envcheck/probes/gpu_nvml_child.py runs unchanged, in a real child process, exactly as
on a GPU machine. Constants, error classes and structures are the REAL pynvml's (loaded from the next
entry on sys.path under another name); only the nvml* calls answer from the recording:

- a recorded value is returned (a dict becomes an object with attributes: memory info, PCI info);
- {"error": "GpuIsLost"} raises the real pynvml.NVMLError_GpuIsLost;
- {"hang": true} sleeps for an hour (a wedged driver);
- {"by_args": {"1,0": 0}} answers by the call's extra arguments (nvmlDeviceGetTotalEccErrors(h, 1, 0));
- a function the recording does not list raises FunctionNotFound, as a library without that symbol does;
- every call is first bound to the REAL function's signature, so a call the real pynvml would refuse
  (a missing sensor argument, an extra one) raises the same TypeError here instead of being answered;
  a name the real module does not have is not defined here either (AttributeError, as with the real one).
"""

import importlib.machinery
import importlib.util
import inspect
import json
import os
import sys
import time
import types

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.environ["ENVCHECK_NVML_RECORDING"], encoding="utf-8") as _file:
    _REC = json.load(_file)
if _REC.get("import_error"):
    raise ImportError("No module named 'pynvml' (recorded)")

_path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
_found = importlib.machinery.PathFinder.find_spec("pynvml", _path)
# Under its own name, so the real module's error-class factory (which looks itself up in sys.modules) fills it.
_spec = importlib.util.spec_from_file_location("_real_pynvml", _found.origin)
_real = importlib.util.module_from_spec(_spec)
sys.modules["_real_pynvml"] = _real
_spec.loader.exec_module(_real)
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
__version__ = getattr(_real, "__version__", "recorded")


def _raise(name):
    raise getattr(_real, "NVMLError_" + name)()


def _answer(value, args=()):
    if isinstance(value, dict):
        if "error" in value:
            _raise(value["error"])
        if value.get("hang"):
            time.sleep(3600)
        if "by_args" in value:
            return _answer(value["by_args"][",".join(str(int(a)) for a in args)])
        return types.SimpleNamespace(**value)
    return value


def _check_call(name, args):
    """The real wrapper's signature decides whether this call is valid (functools.wraps keeps it visible)."""
    inspect.signature(getattr(_real, name)).bind(*args)


def _system(name):
    def call(*args):
        _check_call(name, args)
        if name not in _REC.get("system", {}):
            _raise("FunctionNotFound")
        return _answer(_REC["system"][name], args)
    return call


def _devices():
    defaults = _REC.get("device_defaults", {})
    return [{**defaults, **d} for d in _REC.get("devices", [])]


def _device(name):
    def call(*args):
        _check_call(name, args)
        handle, args = args[0], args[1:]
        device = _devices()[handle]
        if name not in device:
            _raise("FunctionNotFound")
        return _answer(device[name], args)
    return call


def nvmlInit():
    _check_call("nvmlInit", ())
    if "nvmlInit" in _REC:
        _answer(_REC["nvmlInit"])


def nvmlShutdown():
    return None


def nvmlDeviceGetHandleByIndex(index):
    _check_call("nvmlDeviceGetHandleByIndex", (index,))
    device = _devices()[index]
    if "nvmlDeviceGetHandleByIndex" in device:
        _answer(device["nvmlDeviceGetHandleByIndex"])
    return index


for _name in ("nvmlSystemGetNVMLVersion", "nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion",
              "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetCount"):
    if hasattr(_real, _name):
        globals()[_name] = _system(_name)
for _name in ("nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo", "nvmlDeviceGetMemoryInfo",
              "nvmlDeviceGetTemperature", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
              "nvmlDeviceGetPowerManagementDefaultLimit", "nvmlDeviceGetPersistenceMode",
              "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetEccMode", "nvmlDeviceGetTotalEccErrors",
              "nvmlDeviceGetRetiredPagesPendingStatus", "nvmlDeviceGetRemappedRows",
              "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons",
              "nvmlDeviceGetCurrPcieLinkGeneration", "nvmlDeviceGetMaxPcieLinkGeneration",
              "nvmlDeviceGetCurrPcieLinkWidth", "nvmlDeviceGetMaxPcieLinkWidth", "nvmlDeviceGetMigMode"):
    if hasattr(_real, _name):
        globals()[_name] = _device(_name)
