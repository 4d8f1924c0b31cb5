"""The driver / CUDA / PyTorch / Ubuntu / nvidia-cuda image / GPU peak data and the questions asked of it.

The facts live in ``data/compat.json`` (every row names its upstream source, its URLs and the date it was
read; weak rows carry ``"unverified": true``; docs/compat-data.md says how to add rows and
scripts/check-compat-data checks them); ``compat_data.py`` loads them into typed rows, once and lazily. This
module answers the questions the gpu and host checks and scaffold ask. Stdlib only, so ``envcheck --help``
stays cheap.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Sequence

from envcheck.compat_data import (
    DATA_VERSION,
    CondaFacts,
    GpuPeak,
    Lifecycle,
    TorchRelease,
    TorchVariant,
    UbuntuRelease,
    conda_row,
    gpu_capability_rows,
    gpu_rows,
    has_word,
    image_rows,
    lifecycle_read,
    lifecycle_rows,
    parse_version,
    raw,
    toolkit_rows,
    torch_rows,
    ubuntu_rows,
)
from envcheck.frozen import frozen

__all__ = [
    "DATA_VERSION", "BranchStatus", "CondaFacts", "CudaImage", "GpuPeak", "TorchChoice", "TorchRelease",
    "TorchVariant", "UbuntuRelease", "arch_list_covers", "arch_supported", "branch_status", "conda_facts",
    "cuda_family_minimum", "cuda_full_support", "cuda_image", "cuda_min_driver", "cuda_runs_on", "driver_branch",
    "gpu_capability", "gpu_model_names",
    "gpu_peak", "image_ubuntus", "normalize_driver_cuda", "parse_version", "pip_index_url", "torch_choices",
    "torch_release", "torch_releases", "ubuntu_interim_support_months", "ubuntu_release",
]


def _xy(v: str) -> tuple[int, int]:
    parts = parse_version(v)
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def _dotted(v: Sequence[int]) -> str:
    return ".".join(str(p) for p in v)


# --- Ubuntu (distro-info-data ubuntu.csv) -----------------------------------------------------------------


def ubuntu_release(version_id: str) -> UbuntuRelease | None:
    """os-release VERSION_ID ("22.04") -> the release; None for releases not in the data (interim ones)."""
    return next((r for r in ubuntu_rows() if r.version == version_id.strip()), None)


def ubuntu_interim_support_months() -> int:
    """Interim (non-LTS) Ubuntu releases get this many months of support (https://ubuntu.com/about/release-cycle)."""
    return int(raw()["ubuntu_interim_support_months"])


# --- driver <-> CUDA (CUDA release notes Table 3; CUDA Compatibility guide) ---------------------------------


def driver_branch(driver: str) -> int:
    return parse_version(driver)[0]


def cuda_min_driver(cuda: str) -> str | None:
    """Minimum driver for full support of "12.4.1", or of "12.4" (its first patch in Table 3); None if unknown."""
    want = parse_version(cuda)
    for t in toolkit_rows():
        if t.cuda == want or (len(want) == 2 and t.cuda[:2] == want):
            return t.min_driver
    return None


def cuda_full_support(driver: str) -> str | None:
    """Highest CUDA "X.Y" whose first listed patch's minimum this driver meets; None if too old for all.
    Rows with no known minimum (13.4) are never claimed: on a live machine NVML's own answer wins."""
    d = parse_version(driver)
    first: dict[tuple[int, ...], str | None] = {}
    for t in toolkit_rows():
        first.setdefault(t.cuda[:2], t.min_driver)
    ok = [xy for xy, minimum in first.items() if minimum is not None and d >= parse_version(minimum)]
    return _dotted(max(ok)) if ok else None


def cuda_family_minimum(major: int) -> str | None:
    return next((str(r["minimum"]) for r in raw()["cuda_families"] if r["major"] == major), None)


def cuda_runs_on(driver: str, cuda: str, *, minor_compat: bool = False) -> bool:
    """Full support (Table 3), or with minor_compat the family rule (same major, driver >= family minimum)."""
    minimum = cuda_min_driver(cuda)
    d = parse_version(driver)
    if minimum is not None and d >= parse_version(minimum):
        return True
    if minor_compat:
        family = cuda_family_minimum(parse_version(cuda)[0])
        return family is not None and d >= parse_version(family)
    return False


def normalize_driver_cuda(reported: str) -> str:
    """NVML's CUDA driver version -> the highest released toolkit X.Y at or below it ("12.7" -> "12.6")."""
    want = _xy(reported)
    released = [t.cuda[:2] for t in toolkit_rows() if t.cuda[:2] <= want]
    return _dotted(released[-1] if released else want)


@frozen
class BranchStatus:
    branch: int
    kind: str | None  # "LTS" / "production" / None when the branch is not in NVIDIA's data-center table
    eol: date | None
    ended: bool
    source: str


def branch_status(driver: str, today: date) -> BranchStatus:
    branch = driver_branch(driver)
    rows = lifecycle_rows()
    for r in rows:
        if r.branch == branch:
            return BranchStatus(branch, r.kind, r.eol, today > r.eol, r.source)
    oldest = rows[0]
    if branch < oldest.branch and today > oldest.eol:
        # NVIDIA lists only branches still (or recently) supported; one older than an ended LTS has ended too.
        return BranchStatus(branch, None, None, True,
                            f"inferred: older than R{oldest.branch}, whose support ended {oldest.eol}; {oldest.source}")
    # NVIDIA's table lists every long-term and production branch it still supports. A branch missing from it
    # but older than a listed production/LTS one that is still supported is a new feature branch (short-lived,
    # never updated once the next one ships: R545, R555, R560, R565, R575, R590) or an ended branch NVIDIA
    # dropped from the table (R550): either way no longer updated, and there is a supported branch above it.
    # The table says which branches exist as of when it was read, not when each began: for an earlier date
    # (a replayed recording) a branch above may not have existed yet, so nothing is inferred then.
    newer = [r for r in rows if r.branch > branch and r.kind in ("LTS", "production") and today <= r.eol]
    if newer and today >= lifecycle_read():
        return BranchStatus(branch, None, None, True,
                            f"inferred: not among the branches NVIDIA supports, and older than R{newer[0].branch} "
                            f"({newer[0].kind}, supported until {newer[0].eol}); {newer[0].source}")
    return BranchStatus(branch, None, None, False, f"R{branch} is not in {oldest.source}: lifecycle unknown")


def recommended_branch(today: date) -> Lifecycle | None:
    """The LTS branch to move to: the OLDEST long-term branch still supported (R580 at the time of writing).
    Not the newest: Ubuntu's `nvidia-driver-<branch>-server` packages follow NVIDIA's LTS branches with a lag,
    so a newer LTS (R620) is named only once the older one ends, and the advice never points at a package
    Ubuntu may not ship yet. None once every listed LTS has ended: no guess."""
    supported = [r for r in lifecycle_rows() if r.kind == "LTS" and today <= r.eol]
    return supported[0] if supported else None


# --- PyTorch wheels (RELEASE.md compatibility matrix; download.pytorch.org/whl) ---------------------------


def torch_releases() -> tuple[TorchRelease, ...]:
    """Oldest first."""
    return torch_rows()


def torch_release(version: str) -> TorchRelease | None:
    """"2.13", "2.13.0" or "2.13.0+cu126" -> that release; None when not in the data."""
    want = _dotted(_xy(version))
    return next((r for r in torch_rows() if r.version == want), None)


def arch_supported(variant: TorchVariant, capability: tuple[int, int]) -> bool:
    """Does the wheel carry code this GPU runs? An exact sm match; or an older minor of the same major (a cubin
    for X.y runs on X.z, z >= y: CUDA C++ Programming Guide, binary compatibility; sm_86 serves an sm_89 RTX
    4090); or, with PTX embedded, a GPU newer than the highest arch (JIT)."""
    if not variant.archs:
        return False
    if any(a[0] == capability[0] and a[1] <= capability[1] for a in variant.archs):
        return True
    return variant.ptx and capability > max(variant.archs)


def arch_list_covers(arch_list: Sequence[str], capability: tuple[int, int]) -> bool:
    """The same question for a live ``torch.cuda.get_arch_list()`` (["sm_80", "sm_90", "compute_90"])."""
    sass = tuple((int(m.group(1)) // 10, int(m.group(1)) % 10)
                 for a in arch_list if (m := re.fullmatch(r"sm_(\d+)a?", a.strip())))
    ptx = tuple((int(m.group(1)) // 10, int(m.group(1)) % 10)
                for a in arch_list if (m := re.fullmatch(r"compute_(\d+)a?", a.strip())))
    if any(s[0] == capability[0] and s[1] <= capability[1] for s in sass):
        return True
    return any(p <= capability for p in ptx)


@frozen
class TorchChoice:
    release: TorchRelease
    variant: TorchVariant
    reason: str


def _python_fits(release: TorchRelease, python: str) -> bool:
    return _xy(release.python_min) <= _xy(python) <= _xy(release.python_max)


def _arch_names(variant: TorchVariant) -> str:
    names = ", ".join(f"sm_{a}{b}" for a, b in variant.archs)
    return names + (" + PTX" if variant.ptx else "")


def torch_choices(driver: str | None, capability: tuple[int, int] | None, *, minor_compat: bool = False,
                  include_experimental: bool = False, python: str | None = None) -> list[TorchChoice]:
    """Newest torch first, each with its best variant: the newest CUDA that the driver fully supports (or runs
    through minor-version compatibility, only when asked: pytorch/pytorch#130684 is why it is not the default)
    and whose archs cover the GPU. Driver None -> the cpu variant of each release. Capability None -> the
    architecture is not checked (planning for another machine) and the reason says so."""
    out: list[TorchChoice] = []
    for rel in reversed(torch_rows()):
        if python is not None and not _python_fits(rel, python):
            continue
        if driver is None:
            cpu = next(v for v in rel.variants if v.cuda is None)
            out.append(TorchChoice(rel, cpu, f"torch {rel.latest_patch} cpu: no NVIDIA driver, so the CPU build"))
            continue
        full = cuda_full_support(driver)
        candidates = sorted((v for v in rel.variants if v.cuda is not None and (v.stable or include_experimental)),
                            key=lambda v: parse_version(v.cuda or ""), reverse=True)
        for v in candidates:
            cuda = v.cuda or ""
            if cuda_runs_on(driver, cuda):
                why = f"driver {driver} fully supports CUDA {cuda} (needs >= {cuda_min_driver(cuda)})"
            elif minor_compat and cuda_runs_on(driver, cuda, minor_compat=True):
                why = (f"driver {driver} fully supports only CUDA {full}; CUDA {cuda} runs through minor-version "
                       f"compatibility (CUDA {cuda.split('.')[0]}.x needs >= "
                       f"{cuda_family_minimum(int(cuda.split('.')[0]))}) with a limited feature set: PTX JIT of "
                       "newer PTX can fail")
            else:
                continue
            if capability is None:
                arch = "GPU architecture not known, not checked"
            elif arch_supported(v, capability):
                arch = f"sm_{capability[0]}{capability[1]} is covered by the wheel's {_arch_names(v)}"
            else:
                continue
            label = "" if v.stable else " (experimental in this release)"
            out.append(TorchChoice(rel, v, f"torch {rel.latest_patch} {v.name}{label}: {why}; {arch}"))
            break
    return out


def pip_index_url(variant: str) -> str:
    return f"{raw()['torch_index_url']}{variant}"


# --- nvidia/cuda images (container-images/cuda doc/supported-tags.md) -------------------------------------


@frozen
class CudaImage:
    tag: str  # "12.6.3-cudnn-runtime-ubuntu24.04"
    cuda: str  # "12.6.3"
    ubuntu: str
    flavor: str  # base / runtime / devel
    cudnn: bool
    unverified: bool = False  # the tag rests on weak evidence (13.1-13.3: public Dockerfiles, not NVIDIA's list)


FLAVORS = ("base", "runtime", "devel")


def _image_row(cuda: str) -> tuple[str, tuple[str, ...], str, bool] | None:
    want = parse_version(cuda)
    for r in image_rows():
        have = parse_version(r.cuda)
        if have == want or (len(want) == 2 and have[:2] == want):
            return r.cuda, r.ubuntus, r.cudnn_infix, r.unverified
    return None


def image_ubuntus(cuda: str) -> tuple[str, ...]:
    """Ubuntu versions the supported tag of this CUDA ("12.6" or "12.6.3") exists for, oldest first."""
    row = _image_row(cuda)
    return row[1] if row else ()


def cuda_image(cuda: str, ubuntu: str | None = None, flavor: str = "runtime", cudnn: bool = True) -> CudaImage | None:
    """The full tag for CUDA X.Y (its latest patch: the only one NVIDIA keeps) or that exact X.Y.Z; on the
    newest Ubuntu it exists for unless one is named. None when no such tag is known (13.4, 12.x on 26.04, an
    old patch, cuDNN on `base`, which NVIDIA does not publish)."""
    if flavor not in FLAVORS:
        raise ValueError(f"flavor must be one of {', '.join(FLAVORS)}, not {flavor!r}")
    row = _image_row(cuda)
    if row is None or (cudnn and flavor == "base"):
        return None
    patch, ubuntus, infix, unverified = row
    chosen = ubuntus[-1] if ubuntu is None else ubuntu
    if chosen not in ubuntus:
        return None
    tag = f"{patch}-{infix + '-' if cudnn else ''}{flavor}-ubuntu{chosen}"
    return CudaImage(tag, patch, chosen, flavor, cudnn, unverified)


# --- GPU datasheet peaks (NVIDIA datasheets and architecture whitepapers) ---------------------------------


def gpu_peak(nvml_name: str) -> GpuPeak | None:
    """NVML's name ("NVIDIA H100 80GB HBM3") -> its datasheet peaks; None for a GPU not in the data.
    A MIG instance ("NVIDIA A100 80GB PCIe MIG 1g.10gb") has a slice of the GPU's SMs and memory bandwidth,
    so the whole board's datasheet says nothing about it: None, shown as "peak n/a", never a low figure."""
    if has_word(nvml_name, "MIG"):
        return None
    for g in gpu_rows():
        if any(has_word(nvml_name, m) for m in g.match) and not any(has_word(nvml_name, x) for x in g.exclude):
            return g
    return None


def gpu_model_names() -> tuple[str, ...]:
    """Every GPU model the data knows, by its row name ("A100 SXM4 80GB", "RTX 4090")."""
    return tuple(name for name, _, _ in gpu_capability_rows())


def gpu_capability(model: str) -> tuple[tuple[int, int], str] | None:
    """A model name as a person writes it ("A100", "h100", "RTX 4090") -> (its compute capability, that name
    stripped); None when no row matches or the matching rows disagree on the capability."""
    capabilities = {capability for name, match, capability in gpu_capability_rows()
                    if has_word(name, model) or any(has_word(m, model) for m in match) or has_word(model, name)}
    if len(capabilities) != 1:
        return None
    return _xy(capabilities.pop()), model.strip()


# --- conda (pytorch/pytorch#138506; conda-forge pytorch builds) -------------------------------------------


def conda_facts() -> CondaFacts:
    """The `pytorch` channel's last torch (2.5) and the CUDA of conda-forge's recent pytorch builds."""
    return conda_row()
