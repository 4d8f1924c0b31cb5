"""Tests of the compatibility data itself (envcheck/data/compat.json) and of the questions asked of it.

Expected values are the facts of ../shared/facts/compat.md (read 2026-11-27), restated here on purpose: a test
that recomputed them from the JSON would pass on a wrong row.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Any, Iterator

import pytest

from envcheck import compat

TODAY = date(2026, 11, 27)


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("envcheck").joinpath("data/compat.json").read_text("utf-8"))
    return data


def _rows(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every data row: a dict that names a source (variants inherit their release's source)."""
    if isinstance(node, dict):
        if "source" in node:
            yield path, node
        for key, value in node.items():
            if key != "variants":
                yield from _rows(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _rows(item, f"{path}[{i}]")


# --- provenance -------------------------------------------------------------------------------------------


def test_every_row_names_source_and_read_date() -> None:
    raw = _raw()
    assert raw["data_version"] == compat.DATA_VERSION
    sections = [k for k, v in raw.items() if isinstance(v, list)]
    assert set(sections) >= {"cuda_families", "cuda_toolkits", "driver_branches", "branch_lifecycle", "ubuntu",
                             "torch", "cuda_images", "gpus"}
    for section in sections:
        for i, row in enumerate(raw[section]):
            assert isinstance(row, dict) and row.get("source"), f"{section}[{i}] has no source"
            assert row.get("read") == "2026-11-27", f"{section}[{i}] has no read date"
            assert row.get("unverified", False) in (True, False)
    assert raw["conda"]["source"] and raw["conda"]["read"] == "2026-11-27"
    assert sum(1 for _ in _rows(raw)) > 100


def test_weak_rows_are_marked_unverified() -> None:
    raw = _raw()
    toolkit_134 = next(r for r in raw["cuda_toolkits"] if r["cuda"] == "13.4.0")
    assert toolkit_134["unverified"] is True and toolkit_134["min_driver"] is None
    by_cuda = {r["cuda"]: r for r in raw["cuda_images"]}
    for cuda in ("13.1.1", "13.2.2", "13.3.1"):  # from public Dockerfiles, not NVIDIA's tag list
        assert by_cuda[cuda]["unverified"] is True
    for cuda in ("12.4.1", "12.9.1", "13.0.2"):
        assert "unverified" not in by_cuda[cuda]


# --- Ubuntu -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "codename", "python", "standard_end", "esm_end"),
    [
        ("16.04", "xenial", "3.5", date(2021, 4, 30), date(2026, 4, 23)),
        ("18.04", "bionic", "3.6", date(2023, 5, 31), date(2028, 4, 30)),
        ("20.04", "focal", "3.8", date(2025, 5, 31), date(2030, 4, 30)),
        ("22.04", "jammy", "3.10", date(2027, 6, 1), date(2032, 4, 21)),
        ("24.04", "noble", "3.12", date(2029, 5, 31), date(2034, 4, 25)),
        ("26.04", "resolute", "3.14", date(2031, 5, 29), date(2036, 4, 23)),
    ],
)
def test_ubuntu_releases(version: str, codename: str, python: str, standard_end: date, esm_end: date) -> None:
    r = compat.ubuntu_release(version)
    assert r is not None
    assert (r.codename, r.lts, r.default_python, r.standard_support_end, r.esm_end) == (
        codename, True, python, standard_end, esm_end)
    assert "distro-info-data" in r.source
    assert r.standard_support_end < r.esm_end  # type: ignore[operator]


def test_ubuntu_unknown_and_interim() -> None:
    assert compat.ubuntu_release("23.10") is None
    assert compat.ubuntu_release("bookworm") is None
    assert compat.ubuntu_interim_support_months() == 9
    ended = [v for v in ("16.04", "18.04", "20.04", "22.04", "24.04", "26.04")
             if compat.ubuntu_release(v).standard_support_end < TODAY]  # type: ignore[union-attr]
    assert ended == ["16.04", "18.04", "20.04"]


# --- driver <-> CUDA ------------------------------------------------------------------------------------------


def test_parse_version_and_branch() -> None:
    assert compat.parse_version("535.104.05") == (535, 104, 5)
    assert compat.parse_version("570.86") == (570, 86)
    assert compat.parse_version("2.13.0+cpu") == (2, 13, 0)
    assert compat.driver_branch("580.95.05") == 580
    with pytest.raises(ValueError):
        compat.parse_version("n/a")


def test_driver_minimums_rise_with_cuda_version() -> None:
    rows = sorted((compat.parse_version(r["cuda"]), compat.parse_version(r["min_driver"]))
                  for r in _raw()["cuda_toolkits"] if r["min_driver"])
    assert len(rows) >= 50
    for (cuda_a, drv_a), (cuda_b, drv_b) in zip(rows, rows[1:], strict=False):
        assert cuda_a < cuda_b, "duplicate CUDA row"
        assert drv_a <= drv_b, f"CUDA {cuda_b} needs an older driver than {cuda_a}"
    families = sorted((r["major"], compat.parse_version(r["minimum"])) for r in _raw()["cuda_families"])
    assert [f[1] for f in families] == sorted(f[1] for f in families)


def test_branch_table_agrees_with_table_3() -> None:
    for r in _raw()["driver_branches"]:
        branch, cuda = r["branch"], r["cuda"]
        first_min = compat.cuda_min_driver(cuda)
        if r.get("unverified"):
            assert first_min is None  # 13.4: no exact minimum known
            continue
        assert first_min is not None and compat.driver_branch(first_min) == branch, (branch, cuda)
        # the newest driver of that branch fully supports exactly that CUDA, no more
        assert compat.cuda_full_support(f"{branch}.999.99") == cuda
    assert [r["branch"] for r in _raw()["driver_branches"]][-1] == 615


@pytest.mark.parametrize(
    ("driver", "full"),
    [
        ("535.104.05", "12.2"), ("535.54.03", "12.2"), ("530.30.02", "12.1"), ("565.57.01", "12.6"),
        ("570.86", "12.8"), ("570.86.10", "12.8"), ("570.25", "12.6"), ("575.57.08", "12.9"),
        ("580.95.05", "13.0"), ("595.71.05", "13.2"), ("610.43.02", "13.3"), ("616.00", "13.3"),
        ("450.80.02", "11.0"), ("520.61.05", "11.8"), ("450.36.06", None), ("390.157", None),
    ],
)
def test_cuda_full_support(driver: str, full: str | None) -> None:
    assert compat.cuda_full_support(driver) == full


def test_cuda_min_driver_and_families() -> None:
    assert compat.cuda_min_driver("12.4") == "550.54.14"
    assert compat.cuda_min_driver("12.4.1") == "550.54.15"
    assert compat.cuda_min_driver("12.8") == "570.26"
    assert compat.cuda_min_driver("13.0.2") == "580.95.05"
    assert compat.cuda_min_driver("12.7") is None  # never released
    assert compat.cuda_min_driver("13.4") is None  # exact minimum not found
    assert compat.cuda_family_minimum(11) == "450.80.02"
    assert compat.cuda_family_minimum(12) == "525.60.13"
    assert compat.cuda_family_minimum(13) == "580"
    assert compat.cuda_family_minimum(10) is None


def test_cuda_runs_on_full_and_minor_compat() -> None:
    assert compat.cuda_runs_on("535.104.05", "12.2")
    assert not compat.cuda_runs_on("535.104.05", "12.4")
    assert compat.cuda_runs_on("535.104.05", "12.6", minor_compat=True)
    assert not compat.cuda_runs_on("535.104.05", "13.0", minor_compat=True)  # another major
    assert not compat.cuda_runs_on("450.80.02", "11.8")
    assert compat.cuda_runs_on("450.80.02", "11.8", minor_compat=True)  # family 11 minimum
    assert not compat.cuda_runs_on("450.51.05", "11.8", minor_compat=True)  # below the family minimum
    assert compat.cuda_runs_on("580.65.06", "13.0") and not compat.cuda_runs_on("580.65.06", "13.0.2")
    assert compat.cuda_runs_on("580.65.06", "13.2", minor_compat=True)
    assert not compat.cuda_runs_on("999.99", "13.4")  # unknown minimum: never claimed as full support


def test_normalize_driver_cuda() -> None:
    assert compat.normalize_driver_cuda("12.7") == "12.6"  # R565 reports 12.7; no 12.7 toolkit exists
    assert compat.normalize_driver_cuda("12.8") == "12.8"
    assert compat.normalize_driver_cuda("13.0") == "13.0"
    assert compat.normalize_driver_cuda("12.10") == "12.9"
    assert compat.normalize_driver_cuda("13.4") == "13.4"


@pytest.mark.parametrize(
    ("driver", "kind", "ended", "eol"),
    [
        ("535.104.05", "LTS", True, date(2026, 6, 30)),  # EOL June 2026
        ("570.86.10", "production", True, date(2026, 2, 28)),  # EOL Feb 2026
        ("580.95.05", "LTS", False, date(2028, 8, 31)),  # EOL Aug 2028
    ],
)
def test_branch_status_listed(driver: str, kind: str, ended: bool, eol: date) -> None:
    s = compat.branch_status(driver, TODAY)
    assert (s.branch, s.kind, s.ended, s.eol) == (compat.driver_branch(driver), kind, ended, eol)
    assert "Supported Drivers" in s.source


def test_branch_status_unlisted() -> None:
    assert not compat.branch_status("535.104.05", date(2026, 6, 30)).ended  # month known only: not early
    old = compat.branch_status("470.256.02", TODAY)
    assert old.ended and old.kind is None and "inferred" in old.source
    assert not compat.branch_status("470.256.02", date(2026, 1, 1)).ended
    new = compat.branch_status("595.71.05", TODAY)
    assert (new.kind, new.eol, new.ended) == (None, None, False) and "unknown" in new.source
