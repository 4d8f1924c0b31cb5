"""Loading ``data/compat.json`` into typed, frozen rows. The questions asked of them live in ``compat.py``
(import from there: this module is its data layer and its names are re-exported there).

Every row names its upstream source (``source``: what was read; ``urls``: where) and the date it was read
(``read``, never after ``data_version``); rows resting on weak evidence carry ``"unverified": true`` (kept on
the typed rows too). ``compat_rules.py`` says what a valid file keeps, docs/compat-data.md where each fact
comes from. Loaded once, lazily (``lru_cache``): importing envcheck costs nothing.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from envcheck import packagedata
from envcheck.frozen import frozen

DATA_VERSION = "2026-11-27"  # == data/compat.json "data_version" (a test holds them together)


def parse_version(v: str) -> tuple[int, ...]:
    """"535.104.05" -> (535, 104, 5); trailing text such as "-1ubuntu1" or "+cpu" is ignored."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", v)
    if m is None:
        raise ValueError(f"not a version: {v!r}")
    return tuple(int(p) for p in m.group(1).split("."))


def month_end(yyyy_mm: str) -> date:
    """A date known only to the month ("June 2026") ends with that month: nothing is called ended early."""
    year, month = (int(p) for p in yyyy_mm.split("-"))
    return last_day(year, month)


def last_day(year: int, month: int) -> date:
    """The month's last day: the day before the next month's first (calendar.monthrange imports locale)."""
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


@lru_cache(maxsize=1)
def raw() -> dict[str, Any]:
    text = packagedata.read_text("compat.json")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _cite(row: dict[str, Any]) -> str:
    return f"{row['source']} (read {row['read']})"


@frozen
class UbuntuRelease:
    version: str
    codename: str
    lts: bool
    default_python: str
    standard_support_end: date
    esm_end: date | None
    source: str
    legacy_end: date | None = None  # the paid Legacy add-on of Ubuntu Pro, after ESM


@lru_cache(maxsize=1)
def ubuntu_rows() -> tuple[UbuntuRelease, ...]:
    return tuple(
        UbuntuRelease(r["version"], r["codename"], r["lts"], r["default_python"],
                      date.fromisoformat(r["standard_support_end"]),
                      date.fromisoformat(r["esm_end"]) if r.get("esm_end") else None, _cite(r),
                      date.fromisoformat(r["legacy_end"]) if r.get("legacy_end") else None)
        for r in raw()["ubuntu"])


@frozen
class Toolkit:
    cuda: tuple[int, ...]  # (12, 4, 1)
    min_driver: str | None  # None: exact minimum not known (13.4)
    source: str


@lru_cache(maxsize=1)
def toolkit_rows() -> tuple[Toolkit, ...]:
    """Table 3 rows, oldest CUDA first."""
    rows = (Toolkit(parse_version(r["cuda"]), r["min_driver"], _cite(r)) for r in raw()["cuda_toolkits"])
    return tuple(sorted(rows, key=lambda t: t.cuda))


@frozen
class Lifecycle:
    branch: int
    kind: str
    eol: date
    source: str


@lru_cache(maxsize=1)
def lifecycle_rows() -> tuple[Lifecycle, ...]:
    """Data-center branches with a published end of life, oldest branch first."""
    rows = (Lifecycle(r["branch"], r["kind"], month_end(r["eol"]), _cite(r)) for r in raw()["branch_lifecycle"])
    return tuple(sorted(rows, key=lambda r: r.branch))


@lru_cache(maxsize=1)
def lifecycle_read() -> date:
    """When the lifecycle table was read from NVIDIA's page: what it lists is true from then on."""
    return max(date.fromisoformat(r["read"]) for r in raw()["branch_lifecycle"])


@frozen
class TorchVariant:
    name: str  # "cu126" / "cpu"
    cuda: str | None  # "12.6"; None for cpu
    stable: bool  # False: experimental in that release
    archs: tuple[tuple[int, int], ...]  # SASS targets, e.g. ((7, 5), (8, 0), ...)
    ptx: bool  # PTX of the highest arch is embedded (JIT forward to newer GPUs)
    unverified: bool = False  # arch list rests on weak evidence


@frozen
class TorchRelease:
    version: str  # "2.13"
    python_min: str
    python_max: str
    variants: tuple[TorchVariant, ...]
    latest_patch: str  # "2.13.0"
    source: str
    pypi_cuda_variant: str | None = None  # the CUDA of a plain `pip install torch` ("cu130"); None: not recorded


def _arch(s: str) -> tuple[int, int]:
    major, minor = s.split(".")
    return (int(major), int(minor))


@lru_cache(maxsize=1)
def torch_rows() -> tuple[TorchRelease, ...]:
    out = []
    for r in raw()["torch"]:
        variants = tuple(TorchVariant(v["name"], v["cuda"], v["stable"], tuple(_arch(a) for a in v["archs"]),
                                      v["ptx"], v.get("unverified", False)) for v in r["variants"])
        out.append(TorchRelease(r["version"], r["python_min"], r["python_max"], variants, r["latest_patch"],
                                _cite(r), r["pypi_cuda_variant"]))
    return tuple(sorted(out, key=lambda t: parse_version(t.version)))


@frozen
class ImageRow:
    cuda: str  # "12.4.1": the latest patch of its minor
    ubuntus: tuple[str, ...]  # oldest first
    cudnn_infix: str  # "cudnn8" / "cudnn9" / "cudnn"
    unverified: bool
    source: str


@lru_cache(maxsize=1)
def image_rows() -> tuple[ImageRow, ...]:
    return tuple(ImageRow(r["cuda"], tuple(sorted(r["ubuntus"], key=parse_version)), r["cudnn_infix"],
                          r.get("unverified", False), _cite(r)) for r in raw()["cuda_images"])


@frozen
class GpuPeak:
    name: str
    match: tuple[str, ...]  # substrings of NVML names (whole words, case-insensitive)
    fp32_tflops: float
    tf32_tflops: float | None
    bf16_tflops: float | None
    fp16_tflops: float | None
    mem_bw_gbs: float
    memory_gb: float
    source: str
    exclude: tuple[str, ...] = ()  # names containing one of these are another product (H200 NVL, RTX 4090 D)


@lru_cache(maxsize=1)
def gpu_rows() -> tuple[GpuPeak, ...]:
    return tuple(GpuPeak(r["name"], tuple(r["match"]), float(r["fp32_tflops"]), _float(r["tf32_tflops"]),
                         _float(r["bf16_tflops"]), _float(r["fp16_tflops"]), float(r["mem_bw_gbs"]),
                         float(r["memory_gb"]), _cite(r), tuple(r["exclude"])) for r in raw()["gpus"])


def gpu_capability_rows() -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """(row name, its NVML name matches, compute capability "8.0") per GPU row: what `scaffold --gpu A100` plans
    for (NVIDIA's table: https://developer.nvidia.com/cuda-gpus). Kept apart from GpuPeak, whose fields are the
    bench's evidence."""
    return tuple((r["name"], tuple(r["match"]), str(r["compute_capability"])) for r in raw()["gpus"])


def _float(v: float | int | None) -> float | None:
    return None if v is None else float(v)


@frozen
class CondaFacts:
    pytorch_channel_last: str  # "2.5": the last torch on the `pytorch` Anaconda channel (pytorch/pytorch#138506)
    pytorch_cuda_last: str  # "12.4": pytorch::pytorch-cuda stops there
    forge_cuda_builds: tuple[str, ...]  # ("12.9", "13.0"): CUDA of recent conda-forge linux-64 pytorch builds
    source: str


@lru_cache(maxsize=1)
def conda_row() -> CondaFacts:
    r = raw()["conda"]
    return CondaFacts(r["pytorch_channel_last"], r["pytorch_cuda_last"], tuple(r["conda_forge_cuda_builds"]),
                      _cite(r))


def has_word(name: str, part: str) -> bool:
    """Whole-word, case-insensitive: "L4" does not match "L40S" and "T4" does not match "RTX 4090"."""
    if not (part and name.isascii() and part.isascii()):
        return re.search(rf"(?<![A-Za-z0-9]){re.escape(part)}(?![A-Za-z0-9])", name, re.IGNORECASE) is not None
    # ASCII, the names NVML and the table use: the same answer without compiling a pattern for each part (a GPU
    # lookup asks a few dozen).
    text, word = name.lower(), part.lower()
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        start = text.find(word, start + 1)
    return False
