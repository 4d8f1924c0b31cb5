"""The NVML child against the REAL nvidia-ml-py API, not only against the stand-in.

The build machine and CI have no GPU and no NVIDIA driver (so no libnvidia-ml.so.1): the replay tests run the NVML
child over a stand-in ``pynvml`` (tests/data/nvml/fake/pynvml.py). A stand-in that accepted a wrong call,
or answered in another shape than the real wrappers, would hide a bug that only a GPU machine shows. So:

1. every ``nv.<name>`` the child uses exists in the installed pynvml, and every call binds to the real
   function's signature (read with ``inspect``);
2. the stand-in refuses what the real wrappers refuse (it binds each call to the real signature);
3. the strongest check: the child's ``collect()`` runs in-process on the REAL pynvml module, whose C library
   (``pynvml.nvmlLib``) is replaced by a fake one that answers each C symbol (``nvmlDeviceGetPciInfo_v3``,
   ``nvmlDeviceGetCount_v2``, ...) from the same recordings, through the real ctypes out-parameters.
   What the child gathers that way must equal what it gathers over the stand-in: the stand-in's answers
   have the shapes and units the real wrappers return (tuples vs lists, bytes vs str, struct fields).
"""

from __future__ import annotations

import ast
import ctypes
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pynvml = pytest.importorskip("pynvml")  # nvidia-ml-py, a dependency of envcheck

from envcheck import runner  # noqa: E402  (after the importorskip above)
from envcheck.probes import gpu as gpu_probe  # noqa: E402
from envcheck.probes import gpu_nvml_child  # noqa: E402
from envcheck.units import ProbeContext  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parents[1] / "data" / "nvml"
CHILD = ROOT / "envcheck" / "probes" / "gpu_nvml_child.py"


# --- 1. every name and call the child uses, against the installed module --------------------------------


def _child_uses() -> list[tuple[str, int | None, int]]:
    """(name, positional argument count or None when only referenced, line) for every ``nv.X`` in the child."""
    tree = ast.parse(CHILD.read_text())
    calls: dict[int, tuple[str, int | None, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "nv":
            assert not node.keywords, f"line {node.lineno}: keyword arguments to pynvml"
            calls[id(node.func)] = (node.func.attr, len(node.args), node.lineno)
    uses = list(calls.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "nv" \
                and id(node) not in calls:
            uses.append((node.attr, None, node.lineno))
    return uses


def test_every_pynvml_name_the_child_uses_exists_with_a_signature_that_binds() -> None:
    uses = _child_uses()
    # The walk found every `nv.<name>` the source spells out, and nothing else.
    assert {name for name, _, _ in uses} == set(re.findall(r"\bnv\.(\w+)", CHILD.read_text()))
    for name, nargs, line in uses:
        assert hasattr(pynvml, name), f"gpu_nvml_child.py:{line}: pynvml has no {name}"
        value = getattr(pynvml, name)
        if name.startswith("NVML_"):
            assert isinstance(value, int), f"gpu_nvml_child.py:{line}: {name} is not an NVML constant"
            continue
        if name in ("NVMLError", "NVMLLibraryMismatchError"):
            continue
        assert callable(value), f"gpu_nvml_child.py:{line}: {name} is not a function"
        # A function handed over uncalled (system.get("x", nv.f)) is called with no argument.
        inspect.signature(value).bind(*range(nargs or 0))


def test_the_child_passes_the_documented_constants() -> None:
    """Temperature sensor, ECC error type and counter types: the values nvml.h gives them."""
    assert (pynvml.NVML_TEMPERATURE_GPU, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED) == (0, 1)
    assert (pynvml.NVML_VOLATILE_ECC, pynvml.NVML_AGGREGATE_ECC) == (0, 1)


# --- 2. the stand-in refuses what the real module refuses ---------------------------------------------------


def _stand_in(code: str, recording: str = "h100x8-healthy.json") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DATA / "fake"), os.path.dirname(pynvml.__file__)]),
               ENVCHECK_NVML_RECORDING=str(DATA / recording))
    return subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=30)


def test_stand_in_refuses_a_call_the_real_wrapper_refuses() -> None:
    wrong = _stand_in("import pynvml; pynvml.nvmlInit(); print(pynvml.nvmlDeviceGetTemperature(0))")
    assert wrong.returncode != 0 and "TypeError" in wrong.stderr and "sensor" in wrong.stderr
    right = _stand_in("import pynvml; pynvml.nvmlInit(); print(pynvml.nvmlDeviceGetTemperature(0, 0))")
    assert right.returncode == 0 and right.stdout.strip() == "30", right.stderr
    extra = _stand_in("import pynvml; pynvml.nvmlInit(); pynvml.nvmlDeviceGetPowerUsage(0, 1)")
    assert extra.returncode != 0 and "TypeError" in extra.stderr


def test_pynvml_folder_never_shadows_the_stdlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The child runs with -S and gets pynvml's folder (the parent's site-packages) from the probe. A module
    # there named like a stdlib one (an old enum34's enum/, a `typing` backport) must not replace the stdlib's
    # in the child: the folder goes after the stdlib, where site would have put it. pynvml imports `string`.
    folder = tmp_path / "site-packages"
    folder.mkdir()
    (folder / "pynvml.py").symlink_to(pynvml.__file__)
    (folder / "string.py").write_text("raise ImportError('site-packages shadowed the stdlib')\n")
    monkeypatch.setattr(gpu_probe, "_pynvml_dir", lambda: str(folder))
    facts = gpu_probe.collect(ProbeContext(env=dict(os.environ), home=str(tmp_path), timeout_s=5.0, run=runner.run))
    assert facts.child == "ok", facts.child_error
    if not Path("/proc/driver/nvidia/version").exists():  # this machine: the real no-driver answer
        assert facts.init_error == "LibraryNotFound"


# --- 3. the real wrappers over a recorded C library -------------------------------------------------------

# C symbol -> the recording's key (the pynvml function name) where they differ.
_SYMBOL_KEYS = {"nvmlDeviceGetCount_v2": "nvmlDeviceGetCount", "nvmlDeviceGetPciInfo_v3": "nvmlDeviceGetPciInfo",
                "nvmlDeviceGetHandleByIndex_v2": "nvmlDeviceGetHandleByIndex"}
_HANDLE_BASE = 0x1000  # device handles are opaque pointers: index + base, never dereferenced


def _error_code(name: str) -> int:
    for code, cls in pynvml.NVMLError._valClassMapping.items():
        if cls.__name__ == f"NVMLError_{name}":
            return int(code)
    raise AssertionError(f"no NVML error named {name}")


class RecordedLibrary:
    """Stands in for ``CDLL("libnvidia-ml.so.1")``: each C symbol writes the recorded value into the ctypes
    out-parameters the real pynvml wrapper passed (byref(...) -> ``._obj``, string buffers), returns
    NVML_SUCCESS or the recorded error's code; a symbol the recording lacks is absent (AttributeError, which
    pynvml turns into FunctionNotFound, as with a library that lacks it)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.devices = [{**record.get("device_defaults", {}), **d} for d in record.get("devices", [])]
        self.calls: list[str] = []

    def __getattr__(self, symbol: str) -> Callable[..., int]:
        key = _SYMBOL_KEYS.get(symbol, symbol)
        if symbol in ("nvmlInitWithFlags", "nvmlShutdown"):
            return lambda *args: self._status(self.record.get("nvmlInit") if symbol != "nvmlShutdown" else None)
        if symbol == "nvmlDeviceGetHandleByIndex_v2":
            return self._handle
        if key.startswith("nvmlDevice") and key != "nvmlDeviceGetCount":
            return self._device_call(symbol, key)
        if key not in self.record.get("system", {}):
            raise AttributeError(symbol)

        def system_call(*args: Any) -> int:
            self.calls.append(symbol)
            return self._write(self.record["system"][key], args)
        return system_call

    def _status(self, value: Any) -> int:
        if isinstance(value, dict) and "error" in value:
            return _error_code(value["error"])
        return 0

    def _handle(self, index: Any, out: Any) -> int:
        self.calls.append("nvmlDeviceGetHandleByIndex_v2")
        device = self.devices[index.value]
        if "nvmlDeviceGetHandleByIndex" in device:
            return self._status(device["nvmlDeviceGetHandleByIndex"])
        pointer = out._obj
        ctypes.memmove(ctypes.addressof(pointer), ctypes.byref(ctypes.c_void_p(_HANDLE_BASE + index.value)),
                       ctypes.sizeof(ctypes.c_void_p))
        return 0

    def _device_call(self, symbol: str, key: str) -> Callable[..., int]:
        if not any(key in d for d in self.devices):
            raise AttributeError(symbol)

        def call(handle: Any, *args: Any) -> int:
            self.calls.append(symbol)
            index = int(ctypes.cast(handle, ctypes.c_void_p).value or 0) - _HANDLE_BASE
            device = self.devices[index]
            if key not in device:
                return _error_code("FunctionNotFound")
            return self._write(device[key], args)
        return call

    def _write(self, value: Any, args: tuple[Any, ...]) -> int:
        inputs = [a for a in args if isinstance(a, (int, ctypes.c_uint, ctypes.c_int)) and not _is_ref(a)]
        if isinstance(value, dict) and "by_args" in value:
            # (errorType, counterType) or (sensor,): the enum arguments come before the out-parameters.
            enums = [a.value if hasattr(a, "value") else int(a) for a in inputs]
            value = value["by_args"][",".join(str(v) for v in enums)]
        if isinstance(value, dict) and "error" in value:
            return _error_code(value["error"])
        buffers = [a for a in args if isinstance(a, ctypes.Array)]
        if buffers:  # (char *buffer, unsigned int length)
            buffers[0].value = str(value).encode()
            return 0
        outs = [a._obj for a in args if _is_ref(a)]
        if isinstance(value, dict):  # a struct: memory info, PCI info
            (struct,) = outs
            for name, field_value in value.items():
                setattr(struct, name, field_value.encode() if isinstance(field_value, str) else field_value)
            return 0
        values = value if isinstance(value, list) else [value]
        assert len(values) == len(outs), f"{len(outs)} out-parameters, recorded {values!r}"
        for out, item in zip(outs, values, strict=True):
            out.value = item
        return 0


def _is_ref(value: Any) -> bool:
    return type(value).__name__ == "CArgObject"  # what ctypes.byref() returns


@pytest.fixture
def real_pynvml_over(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], RecordedLibrary]]:
    def install(record: dict[str, Any]) -> RecordedLibrary:
        library = RecordedLibrary(record)
        monkeypatch.setattr(pynvml, "nvmlLib", library)
        monkeypatch.setattr(pynvml, "_nvmlGetFunctionPointer_cache", {})
        monkeypatch.setattr(pynvml.NVMLError, "_errcode_to_string", dict(pynvml.NVMLError._errcode_to_string))
        monkeypatch.setitem(sys.modules, "pynvml", pynvml)
        return library
    yield install


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc, sort_keys=True))  # tuples -> lists, as the child's stdout carries them
    for key in ("pid", "pynvml_file"):
        doc.pop(key, None)
    doc.get("init", {}).pop("seconds", None)
    for failure in [doc.get("init", {}).get("error"), *doc.get("system_errors", {}).values(),
                    *(e for d in doc.get("devices", []) for e in d.get("errors", {}).values())]:
        if isinstance(failure, dict):
            failure.pop("message", None)  # the real message comes from nvmlErrorString, absent in both
    return doc


RECORDINGS = sorted(p.name for p in DATA.glob("*.json") if p.name not in ("hang.json", "no-pynvml.json"))


@pytest.mark.parametrize("recording", RECORDINGS)
def test_real_pynvml_over_a_recorded_library_gives_what_the_stand_in_gives(
        recording: str, real_pynvml_over: Callable[[dict[str, Any]], RecordedLibrary]) -> None:
    record = json.loads((DATA / recording).read_text())
    over_stand_in = _stand_in(f"import runpy; runpy.run_path({str(CHILD)!r}, run_name='__main__')", recording)
    assert over_stand_in.returncode == 0, over_stand_in.stderr
    expected = _comparable(json.loads(over_stand_in.stdout.strip().splitlines()[-1]))

    library = real_pynvml_over(record)
    got = _comparable(gpu_nvml_child.collect())

    assert got == expected
    if record.get("devices"):
        # The real wrappers reached the real C symbols, versioned names included.
        assert {"nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetPciInfo_v3",
                "nvmlDeviceGetRemappedRows", "nvmlDeviceGetMigMode"} <= set(library.calls)
        first = got["devices"][0]["values"]
        assert isinstance(first["name"], str) and first["pci_bus_id"].startswith("0000")
