"""What each smoke step reported, as typed records: decoded once, by the driver, from the child's JSON.

The child (another interpreter, maybe another envcheck version) is outside this process, so its facts are
untrusted: each ``decode`` checks the fields its judge reads and raises :class:`FactsError` naming the
first one that is missing or of the wrong kind. Fields the judges read with a default stay optional with
the same default. Numbers keep the type JSON gave them (an integer prints without ".0" in a report), and
``raw`` keeps the whole object as the child sent it: it is the evidence a result carries.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Any, Mapping

from envcheck.frozen import frozen


class FactsError(ValueError):
    """A step's facts lack a field its judge reads, or hold it as the wrong kind of value."""


def _need(raw: Mapping[str, Any], key: str) -> Any:
    if key not in raw:
        raise FactsError(f"{key!r} is missing")
    return raw[key]


def _wrong(key: str, kind: str, value: Any) -> FactsError:
    return FactsError(f"{key!r} should be {kind}, not {value!r:.80}")


def _number(raw: Mapping[str, Any], key: str) -> float:
    """A measured error or loss, never negative; its judge reads NaN and infinity as the failure they are (a
    diverged loss, a GPU computing garbage), so those pass here."""
    value = _need(raw, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong(key, "a number", value)
    if value < 0:
        raise _wrong(key, "a number, not negative", value)
    return value


def _finite(raw: Mapping[str, Any], key: str) -> float:
    """A figure no judge could read as NaN or infinity (a time, a rate, a size): those are not facts. A NaN rate
    compares false with every floor, so it would pass a "below the floor" test: refused here."""
    value = _number(raw, key)
    if not math.isfinite(value) or value < 0:
        raise _wrong(key, "a finite number, not negative", value)
    return value


def _fraction(raw: Mapping[str, Any], key: str) -> float:
    value = _number(raw, key)
    if not 0 <= value <= 1:
        raise _wrong(key, "a fraction from 0 to 1", value)
    return value


def _opt_finite(raw: Mapping[str, Any], key: str) -> float | None:
    return None if raw.get(key) is None else _finite(raw, key)


def _int(raw: Mapping[str, Any], key: str) -> int:
    """A count: an integer (true is not 1 here), never negative."""
    value = _need(raw, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(key, "an integer", value)
    if value < 0:
        raise _wrong(key, "a count, not negative", value)
    return value


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = _need(raw, key)
    if not isinstance(value, str):
        raise _wrong(key, "a string", value)
    return value


def _opt_int(raw: Mapping[str, Any], key: str) -> int | None:
    return None if raw.get(key) is None else _int(raw, key)


def _opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(key, "a string", value)
    return value


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = _need(raw, key)
    if not isinstance(value, bool):
        raise _wrong(key, "true or false", value)
    return value


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    """A yes/no the judges read with ``.get``: absent or null is no."""
    return False if raw.get(key) is None else _bool(raw, key)


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(key, "a list", value)
    return value


def _strs(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = _list(raw, key)
    if not all(isinstance(v, str) for v in values):
        raise _wrong(key, "a list of strings", values)
    return tuple(values)


def _records(raw: Mapping[str, Any], key: str) -> tuple[Mapping[str, Any], ...]:
    values = _list(raw, key)
    if not all(isinstance(v, dict) for v in values):
        raise _wrong(key, "a list of objects", values)
    return tuple(values)


def _object(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong(key, "an object", value)
    return value


@frozen
class StepFacts:
    """The base of every step's facts: ``raw`` is the child's object, kept whole as the evidence."""

    raw: Mapping[str, Any] = field(repr=False, compare=False, kw_only=True)


@frozen
class ImportFacts(StepFacts):
    version: str  # torch.__version__: an import that gives none did not import torch
    cuda_build: str | None
    warnings: tuple[str, ...]

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> ImportFacts:
        return cls(_str(raw, "version"), _opt_str(raw, "cuda_build"), _strs(raw, "warnings"), raw=raw)


@frozen
class CudaFacts(StepFacts):
    cuda_build: str | None
    available: bool
    device_count: int
    cuda_visible_devices: str | None
    warnings: tuple[str, ...]
    proc_driver_version: str | None  # the first line of /proc/driver/nvidia/version, inside the target
    proc_gpus: tuple[str, ...]  # the bus ids under /proc/driver/nvidia/gpus, inside the target
    libcuda_error: str | None  # why libcuda.so.1 did not load
    dev_nvidia_uvm: bool

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> CudaFacts:
        return cls(
            _opt_str(raw, "cuda_build"), _flag(raw, "available"), _opt_int(raw, "device_count") or 0,
            _opt_str(raw, "cuda_visible_devices"), _strs(raw, "warnings"), _opt_str(raw, "proc_driver_version"),
            _strs(raw, "proc_gpus"), _opt_str(raw, "libcuda_error"), _flag(raw, "dev_nvidia_uvm"), raw=raw,
        )


@frozen
class CountFacts(StepFacts):
    torch_uuids: tuple[str | None, ...]  # one per device torch lists; None where torch gave no UUID
    nvml_uuids: tuple[str, ...]  # every GPU NVML lists (it ignores CUDA_VISIBLE_DEVICES)
    nvml_error: str | None  # why NVML could not be asked
    cuda_visible_devices: str | None

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> CountFacts:
        nvml = _object(raw, "nvml")
        torch_uuids = tuple(_opt_str(d, "uuid") for d in _records(raw, "torch_devices"))
        nvml_uuids = tuple(u for d in _records(nvml, "devices") if (u := _opt_str(d, "uuid")))
        error = nvml.get("error")
        return cls(torch_uuids, nvml_uuids, str(error) if error else None, _opt_str(raw, "cuda_visible_devices"),
                   raw=raw)


@frozen
class ArchFacts(StepFacts):
    name: str | None
    capability: tuple[int, int]
    arch_list: tuple[str, ...]  # torch.cuda.get_arch_list(): "sm_90", "compute_90"

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> ArchFacts:
        capability = _need(raw, "capability")
        if not (isinstance(capability, list) and len(capability) == 2
                and all(isinstance(c, int) and not isinstance(c, bool) for c in capability)):
            raise _wrong("capability", "[major, minor]", capability)
        return cls(_opt_str(raw, "name"), (capability[0], capability[1]), _strs(raw, "arch_list"), raw=raw)


@frozen
class ContextFacts(StepFacts):
    init_s: float
    allocated_mib: int
    free_gib: float
    total_gib: float
    checksum_ok: bool

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> ContextFacts:
        return cls(_finite(raw, "init_s"), _int(raw, "allocated_mib"), _finite(raw, "free_gib"),
                   _finite(raw, "total_gib"), _flag(raw, "checksum_ok"), raw=raw)


@frozen
class MatmulFacts(StepFacts):
    max_rel_err: float  # the GPU's fp32 product against a float64 reference
    cpu_max_rel_err: float  # the CPU's, for scale

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> MatmulFacts:
        return cls(_number(raw, "max_rel_err"), _number(raw, "cpu_max_rel_err"), raw=raw)


@frozen
class TrainFacts(StepFacts):
    loss_start: float
    loss_end: float
    steps: int
    time_per_step_ms: float
    accuracy: float  # on the held-out points

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> TrainFacts:
        return cls(_number(raw, "loss_start"), _number(raw, "loss_end"), _int(raw, "steps"),
                   _finite(raw, "time_per_step_ms"), _fraction(raw, "accuracy"), raw=raw)


@frozen
class AmpFacts(StepFacts):
    amp_dtype: str  # "bfloat16" or "float16"
    logits_dtype: str | None  # what autocast gave the last layer: the same dtype when it really ran
    loss_start: float
    loss_end: float
    steps: int

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> AmpFacts:
        amp_dtype = _opt_str(raw, "amp_dtype")
        if amp_dtype is None:
            raise _wrong("amp_dtype", "a dtype's name", raw.get("amp_dtype"))
        _need(raw, "logits_dtype")
        return cls(amp_dtype, _opt_str(raw, "logits_dtype"), _number(raw, "loss_start"), _number(raw, "loss_end"),
                   _int(raw, "steps"), raw=raw)


@frozen
class SaveLoadFacts(StepFacts):
    tensors: int
    bytes: int
    identical_output: bool

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> SaveLoadFacts:
        return cls(_int(raw, "tensors"), _int(raw, "bytes"), _bool(raw, "identical_output"), raw=raw)


@frozen
class ForwardFacts(StepFacts):
    max_abs_diff: float  # the largest |GPU - CPU| over the logits
    outputs: int

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> ForwardFacts:
        return cls(_number(raw, "max_abs_diff"), _int(raw, "outputs"), raw=raw)


@frozen
class RankReport:
    """One rank of the all-reduce: did it get the right sum, in how long, or what it raised."""

    rank: int
    ok: bool
    duration_s: float | None
    error: str | None

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> RankReport:
        return cls(_int(raw, "rank"), _flag(raw, "ok"), _opt_finite(raw, "seconds"), _opt_str(raw, "error"))


@frozen
class NcclFacts(StepFacts):
    backend: str
    world_size: int
    bytes: int
    nccl_version: str | None
    ranks: tuple[RankReport, ...]  # those that reported before the deadline

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> NcclFacts:
        backend = _opt_str(raw, "backend")
        if backend is None:
            raise _wrong("backend", "a backend's name", raw.get("backend"))
        ranks = tuple(RankReport.decode(r) for r in _records(raw, "ranks"))
        return cls(backend, _int(raw, "world_size"), _int(raw, "bytes"), _opt_str(raw, "nccl_version"), ranks,
                   raw=raw)


# --- --bench ---------------------------------------------------------------------------------------------------


@frozen
class BenchLibrariesFacts(StepFacts):
    torch_cuda: str | None
    cudnn: int | None  # torch.backends.cudnn.version(): an encoded number (bench.py decodes it)
    nccl: str | None
    driver: str | None
    library_names: tuple[str, ...]  # the file name of every CUDA library mapped into the child

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> BenchLibrariesFacts:
        names = []
        for library in _records(raw, "libraries"):
            name = _opt_str(library, "name")
            if name is None:
                raise _wrong("libraries", "objects with a name", library)
            names.append(name)
        return cls(_opt_str(raw, "torch_cuda"), _opt_int(raw, "cudnn"), _opt_str(raw, "nccl"),
                   _opt_str(raw, "driver"), tuple(names), raw=raw)


MATMUL_DTYPES = ("fp32", "tf32", "bf16", "fp16")


@frozen
class BenchMatmulFacts(StepFacts):
    on_cpu: bool  # the CPU's figure: no datasheet peak to compare with
    name: str | None  # the GPU's
    n: int | None  # the product's size (an n-cube)
    threads: int | None  # the CPU's torch threads
    tflops: Mapping[str, float | None]  # MATMUL_DTYPES -> the best TFLOP/s; None where the GPU lacks the dtype

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> BenchMatmulFacts:
        if "name" not in raw:  # the child names the GPU; the CPU has no name
            return cls(True, None, _int(raw, "n"), _int(raw, "threads"), {"fp32": _finite(raw, "fp32_tflops")},
                       raw=raw)
        tflops = {label: _opt_finite(raw, f"{label}_tflops") for label in MATMUL_DTYPES}
        return cls(False, _opt_str(raw, "name"), _opt_int(raw, "n"), None, tflops, raw=raw)


@frozen
class BenchMemoryFacts(StepFacts):
    name: str | None
    gbs: float  # device-to-device copy, read + write

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> BenchMemoryFacts:
        return cls(_opt_str(raw, "name"), _finite(raw, "gbs"), raw=raw)


@frozen
class BenchTransferFacts(StepFacts):
    h2d_gbs: float
    d2h_gbs: float
    current_link_speed: str | None  # sysfs's words: "32.0 GT/s PCIe"
    current_link_width: str | None  # "16"
    max_link_speed: str | None
    max_link_width: str | None

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> BenchTransferFacts:
        return cls(_finite(raw, "h2d_gbs"), _finite(raw, "d2h_gbs"), _opt_str(raw, "current_link_speed"),
                   _opt_str(raw, "current_link_width"), _opt_str(raw, "max_link_speed"),
                   _opt_str(raw, "max_link_width"), raw=raw)
