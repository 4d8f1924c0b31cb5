"""The driver / CUDA / PyTorch / Ubuntu / nvidia-cuda image / GPU peak data and the questions asked of it.

The facts live in ``data/compat.json`` (transcribed from ``../shared/facts/compat.md``; every row names its
source and the date it was read, weak rows carry ``"unverified": true``). This module is the only reader:
it loads the file once, lazily, and answers questions; stdlib only, so ``envcheck --help`` stays cheap.
The API is the one agreed in compat-api.md (used by the gpu and host checks and by scaffold).
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

DATA_VERSION = "2026-11-27"  # == data/compat.json "data_version" (a test holds them together)


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("envcheck").joinpath("data/compat.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def parse_version(v: str) -> tuple[int, ...]:
    """"535.104.05" -> (535, 104, 5); trailing text such as "-1ubuntu1" or "+cpu" is ignored."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", v)
    if m is None:
        raise ValueError(f"not a version: {v!r}")
    return tuple(int(p) for p in m.group(1).split("."))


def _xy(v: str) -> tuple[int, int]:
    parts = parse_version(v)
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def _month_end(yyyy_mm: str) -> date:
    # A date known only to the month ("June 2026") ends with that month: never call it ended early.
    year, month = (int(p) for p in yyyy_mm.split("-"))
    return date(year, month, calendar.monthrange(year, month)[1])


# --- Ubuntu (compat.md section 6) -------------------------------------------------------------------------


@dataclass(frozen=True)
class UbuntuRelease:
    version: str
    codename: str
    lts: bool
    default_python: str
    standard_support_end: date
    esm_end: date | None
    source: str


def ubuntu_release(version_id: str) -> UbuntuRelease | None:
    """os-release VERSION_ID ("22.04") -> the release; None for releases not in the data (interim ones)."""
    for r in _data()["ubuntu"]:
        if r["version"] == version_id.strip():
            esm = r.get("esm_end")
            return UbuntuRelease(r["version"], r["codename"], r["lts"], r["default_python"],
                                 date.fromisoformat(r["standard_support_end"]),
                                 date.fromisoformat(esm) if esm else None, r["source"])
    return None


def ubuntu_interim_support_months() -> int:
    """Interim (non-LTS) Ubuntu releases get this many months of support (compat.md section 6)."""
    return int(_data()["ubuntu_interim_support_months"])


# --- driver <-> CUDA (compat.md sections 1 and 2) ----------------------------------------------------------


def driver_branch(driver: str) -> int:
    return parse_version(driver)[0]


def _toolkits() -> list[tuple[tuple[int, ...], tuple[int, ...] | None]]:
    """(cuda x.y.z, minimum driver or None when unknown), oldest CUDA first."""
    rows = [(parse_version(r["cuda"]), parse_version(r["min_driver"]) if r["min_driver"] else None)
            for r in _data()["cuda_toolkits"]]
    return sorted(rows)


def cuda_min_driver(cuda: str) -> str | None:
    """Minimum driver for full support of "12.4.1", or of "12.4" (its first patch in Table 3); None if unknown."""
    want = parse_version(cuda)
    for r in sorted(_data()["cuda_toolkits"], key=lambda r: parse_version(r["cuda"])):
        have = parse_version(r["cuda"])
        if have == want or (len(want) == 2 and have[:2] == want):
            return r["min_driver"]  # type: ignore[no-any-return]  # JSON str or null
    return None


def cuda_full_support(driver: str) -> str | None:
    """Highest CUDA "X.Y" whose X.Y.0 (first listed patch) minimum this driver meets; None if too old for all.
    Rows with no known minimum (13.4) are never claimed: NVML's own answer wins on a live machine."""
    d = parse_version(driver)
    best: tuple[int, ...] | None = None
    seen: set[tuple[int, ...]] = set()
    for cuda, minimum in _toolkits():
        if cuda[:2] in seen:
            continue  # only the first patch of a minor decides "X.Y"
        seen.add(cuda[:2])
        if minimum is not None and d >= minimum:
            best = cuda[:2]
    return None if best is None else f"{best[0]}.{best[1]}"


def cuda_family_minimum(major: int) -> str | None:
    for r in _data()["cuda_families"]:
        if r["major"] == major:
            return r["minimum"]  # type: ignore[no-any-return]
    return None


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
    released = sorted({c[:2] for c, _ in _toolkits() if c[:2] <= want})
    if not released:
        return f"{want[0]}.{want[1]}"
    return f"{released[-1][0]}.{released[-1][1]}"


@dataclass(frozen=True)
class BranchStatus:
    branch: int
    kind: str | None  # "LTS" / "production" / None when the branch is not in NVIDIA's data-center table
    eol: date | None
    ended: bool
    source: str


def branch_status(driver: str, today: date) -> BranchStatus:
    branch = driver_branch(driver)
    rows = sorted(_data()["branch_lifecycle"], key=lambda r: r["branch"])
    for r in rows:
        if r["branch"] == branch:
            eol = _month_end(r["eol"])
            return BranchStatus(branch, r["kind"], eol, today > eol, f"{r['source']} (read {r['read']})")
    oldest = rows[0]
    oldest_eol = _month_end(oldest["eol"])
    if branch < oldest["branch"] and today > oldest_eol:
        # NVIDIA lists only branches still (or recently) supported; one older than an ended LTS has ended too.
        return BranchStatus(branch, None, None, True,
                            f"inferred: older than R{oldest['branch']}, whose support ended {oldest_eol} "
                            f"({oldest['source']})")
    return BranchStatus(branch, None, None, False, f"R{branch} is not in {oldest['source']}: lifecycle unknown")
