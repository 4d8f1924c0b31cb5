"""The questions asked of the compatibility data (envcheck/compat.py), with the facts they must give.

Expected values are the upstream facts the rows cite (CUDA release notes Table 3, NVIDIA's driver lifecycle
table, PyTorch's release matrix and wheel index, distro-info-data, nvidia/cuda tags, datasheets), restated here
on purpose: a test that recomputed them from the JSON would pass on a wrong row. The file's shape, provenance
and internal rules are tested in test_compat_data.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from envcheck import compat, compat_data

TODAY = date(2026, 11, 27)  # the day the questions are asked: fixed, so that "ended" answers do not drift


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
        ("580.95.05", "LTS", False, date(2028, 6, 30)),  # EOL June 2028 (620 edition; earlier ones said Aug)
        ("595.71.05", "production", False, date(2027, 3, 31)),  # EOL March 2027
        ("620.10.01", "LTS", False, date(2029, 9, 30)),  # EOL September 2029
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
    # Before the table was read (a replayed recording's date), a branch above may not have existed yet:
    # nothing is inferred then. R470 on 2026-01-01: older than R535, which had not ended: not known.
    assert not compat.branch_status("470.256.02", date(2026, 1, 1)).ended
    assert not compat.branch_status("565.57.01", date(2024, 11, 14)).ended
    newer = compat.branch_status("625.10", TODAY)  # newer than every listed branch: not known yet
    assert (newer.kind, newer.eol, newer.ended) == (None, None, False) and "unknown" in newer.source


@pytest.mark.parametrize("driver", ["545.29.06", "550.144.03", "560.35.03", "565.57.01", "575.64", "590.48.01"])
def test_a_branch_missing_below_a_supported_one_is_no_longer_supported(driver: str) -> None:
    """NVIDIA's table lists every LTS and production branch it supports; new feature branches (545, 555, 560,
    565, 575, 590) and dropped ones (550) are missing from it. Below a listed, supported branch they get no
    updates: ended, said to be inferred, and pointing at the branch above."""
    s = compat.branch_status(driver, TODAY)
    assert s.ended and s.kind is None and s.eol is None
    assert s.source.startswith("inferred: not among the branches NVIDIA supports, and older than R")


def test_the_recommended_branch_is_the_oldest_supported_lts() -> None:
    rec = compat.recommended_branch(TODAY)
    assert rec is not None and (rec.branch, rec.kind) == (580, "LTS")  # R535 ended June 2026
    before = compat.recommended_branch(date(2026, 1, 1))  # R535 still supported then: the oldest LTS
    assert before is not None and before.branch == 535
    assert compat.recommended_branch(date(2030, 1, 1)) is None  # past every listed LTS: no guess


# --- PyTorch releases and variants --------------------------------------------------------------------------


def _v(t: str) -> tuple[int, ...]:
    return compat.parse_version(t)


@pytest.mark.parametrize(
    ("version", "python", "stable", "experimental"),
    [
        ("2.0", ("3.8", "3.11"), {"cu117"}, {"cu118"}),
        ("2.3", ("3.8", "3.11"), {"cu118"}, {"cu121"}),
        ("2.4", ("3.8", "3.12"), {"cu118", "cu121"}, {"cu124"}),
        ("2.5", ("3.9", "3.12"), {"cu118", "cu121", "cu124"}, set()),
        ("2.7", ("3.9", "3.13"), {"cu118", "cu126"}, {"cu128"}),
        ("2.8", ("3.9", "3.13"), {"cu126", "cu128"}, {"cu129"}),
        ("2.9", ("3.10", "3.14"), {"cu126", "cu128"}, {"cu130"}),
        ("2.11", ("3.10", "3.14"), {"cu126", "cu128", "cu130"}, set()),
        ("2.13", ("3.10", "3.14"), {"cu126", "cu130"}, {"cu132"}),
        ("2.14", ("3.10", "3.14"), {"cu126", "cu130", "cu132"}, {"cu134"}),
    ],
)
def test_torch_release_rows(version: str, python: tuple[str, str], stable: set[str], experimental: set[str]) -> None:
    r = compat.torch_release(version)
    assert r is not None and (r.python_min, r.python_max) == python
    assert {v.name for v in r.variants if v.stable and v.cuda} == stable
    assert {v.name for v in r.variants if not v.stable} == experimental


def test_torch_arch_lists_from_build_cuda_sh() -> None:
    def variant(release: str, name: str) -> compat.TorchVariant:
        r = compat.torch_release(release)
        assert r is not None
        return next(v for v in r.variants if v.name == name)

    cu126, cu128_27, cu128 = variant("2.14", "cu126"), variant("2.7", "cu128"), variant("2.8", "cu128")
    assert cu126.archs == ((5, 0), (6, 0), (7, 0), (7, 5), (8, 0), (8, 6), (9, 0)) and not cu126.ptx
    assert cu128_27.archs[0] == (7, 5)  # torch 2.7's cu128 started at sm_75
    for release in ("2.8", "2.9", "2.10", "2.11"):
        assert variant(release, "cu128").archs == ((7, 0), (7, 5), (8, 0), (8, 6), (9, 0), (10, 0), (12, 0))
    assert not cu128.ptx and variant("2.8", "cu129").ptx
    for release, name in (("2.11", "cu130"), ("2.14", "cu132"), ("2.14", "cu134")):
        v = variant(release, name)
        assert v.archs == ((7, 5), (8, 0), (8, 6), (9, 0), (10, 0), (12, 0)) and v.ptx and not v.unverified
    assert variant("2.5", "cu124").unverified  # arch list not checked against 2.5's .ci/manywheel/build_cuda.sh


def test_cu128_stops_at_2_11_and_plain_pypi_wheel_cuda() -> None:
    with_cu128 = [r.version for r in compat.torch_releases() if any(v.name == "cu128" for v in r.variants)]
    assert with_cu128 == ["2.7", "2.8", "2.9", "2.10", "2.11"]
    pypi = {r.version: r.pypi_cuda_variant for r in compat.torch_releases()}
    assert pypi["2.6"] is None and pypi["2.7"] == "cu126"
    assert pypi["2.8"] == pypi["2.9"] == pypi["2.10"] == "cu128"
    assert pypi["2.11"] == pypi["2.13"] == pypi["2.14"] == "cu130"  # so from 2.11 it needs a driver >= 580


def test_torch_release_lookup_and_index() -> None:
    import importlib.metadata

    installed = importlib.metadata.version("torch")  # the real torch in this venv, e.g. "2.13.0+cpu"
    release = compat.torch_release(installed)
    assert release is not None and installed.startswith(release.latest_patch)
    assert compat.torch_release("2.13.0+cu126") is release
    assert compat.torch_release("1.13.1") is None
    assert compat.pip_index_url("cu126") == "https://download.pytorch.org/whl/cu126"
    assert compat.pip_index_url("cpu") == "https://download.pytorch.org/whl/cpu"


def test_arch_supported() -> None:
    r = compat.torch_release("2.14")
    assert r is not None
    by = {v.name: v for v in r.variants}
    assert compat.arch_supported(by["cu126"], (6, 1))  # Pascal: sm_60 cubins run on 6.1 (same major)
    assert compat.arch_supported(by["cu126"], (8, 9))  # RTX 4090 through sm_86
    assert not compat.arch_supported(by["cu126"], (12, 0))  # RTX 50: "sm_120 is not compatible"
    assert not compat.arch_supported(by["cu130"], (7, 0))  # Volta dropped from 13.0
    assert not compat.arch_supported(by["cu130"], (6, 1))
    assert compat.arch_supported(by["cu130"], (12, 0)) and compat.arch_supported(by["cu130"], (10, 0))
    assert not compat.arch_supported(by["cpu"], (9, 0))


def test_arch_list_covers_live_arch_lists() -> None:
    cu126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    assert not compat.arch_list_covers(cu126, (12, 0))  # pytorch/pytorch#150733
    assert compat.arch_list_covers(cu126, (8, 9)) and compat.arch_list_covers(cu126, (6, 1))
    assert compat.arch_list_covers(["sm_80", "sm_90", "compute_90"], (12, 0))  # PTX JIT forward
    assert not compat.arch_list_covers(["sm_80", "sm_90", "compute_90"], (7, 5))
    assert not compat.arch_list_covers([], (9, 0))


# --- torch_choices: the questions doctor and scaffold ask -------------------------------------------------------


def _first(choices: list[compat.TorchChoice]) -> tuple[str, str]:
    assert choices
    return choices[0].release.version, choices[0].variant.name


def test_choices_hopper_on_r580() -> None:
    choices = compat.torch_choices("580.95.05", (9, 0))
    assert _first(choices) == ("2.14", "cu130")
    assert "fully supports CUDA 13.0" in choices[0].reason and "sm_90" in choices[0].reason
    assert [_v(c.release.version) for c in choices] == sorted((_v(c.release.version) for c in choices), reverse=True)
    assert all(c.variant.stable for c in choices)
    by_release = {c.release.version: c.variant.name for c in choices}
    assert by_release["2.11"] == "cu130" and by_release["2.10"] == "cu128" and by_release["2.5"] == "cu124"
    newest_driver = compat.torch_choices("595.71.05", (9, 0))
    assert _first(newest_driver) == ("2.14", "cu132")
    assert _first(compat.torch_choices("595.71.05", (9, 0), include_experimental=True)) == ("2.14", "cu132")


def test_choices_pascal_only_cu126() -> None:
    choices = compat.torch_choices("580.95.05", (6, 1))
    recent = {c.release.version: c.variant.name for c in choices if _v(c.release.version) >= (2, 7)}
    assert set(recent) == {f"2.{n}" for n in range(7, 15)} and set(recent.values()) == {"cu126"}
    # Each release's best wheel with sm_60 kernels: up to cu126, never cu128 or later (they dropped Pascal).
    assert {c.variant.name for c in choices} == {"cu117", "cu118", "cu121", "cu124", "cu126"}


def test_choices_rtx50_on_r570() -> None:
    choices = compat.torch_choices("570.86.10", (12, 0))
    assert _first(choices) == ("2.11", "cu128")
    assert {c.variant.name for c in choices} == {"cu128"}
    assert [c.release.version for c in choices] == ["2.11", "2.10", "2.9", "2.8"]  # 2.7's cu128 is experimental
    with_exp = compat.torch_choices("570.86.10", (12, 0), include_experimental=True)
    assert with_exp[-1].release.version == "2.7" and "experimental" in with_exp[-1].reason
    assert compat.torch_choices("565.57.01", (12, 0)) == []  # 12.6 driver: no wheel has sm_120 for it


def test_choices_volta() -> None:
    by_release = {c.release.version: c.variant.name for c in compat.torch_choices("580.95.05", (7, 0))}
    assert by_release["2.14"] == "cu126" and by_release["2.11"] == "cu128" and by_release["2.8"] == "cu128"
    exp = {c.release.version: c.variant.name
           for c in compat.torch_choices("580.95.05", (7, 0), include_experimental=True)}
    assert exp["2.8"] == "cu129" and exp["2.7"] == "cu126"  # 2.7 cu128 has no sm_70


def test_minor_compat_changes_the_answer_and_says_so() -> None:
    default = compat.torch_choices("535.104.05", (9, 0))
    assert _first(default) == ("2.7", "cu118")  # 12.2 driver: no cu12x wheel of a newer torch fully runs
    assert "fully supports CUDA 11.8" in default[0].reason
    minor = compat.torch_choices("535.104.05", (9, 0), minor_compat=True)
    assert _first(minor) == ("2.14", "cu126")
    assert "minor-version compatibility" in minor[0].reason and "525.60.13" in minor[0].reason
    assert "fully supports only CUDA 12.2" in minor[0].reason
    # no major-version crossing: R535 is past the 11.x (450.80.02) and 12.x (525.60.13) family minimums but below
    # 13.x's 580, so the wheels offered are 11.x and 12.x ones, never a 13.x one
    assert {c.variant.cuda.split(".")[0] for c in minor if c.variant.cuda} == {"11", "12"}


def test_no_driver_means_cpu_and_python_filter() -> None:
    choices = compat.torch_choices(None, None)
    assert len(choices) == len(compat.torch_releases())
    assert {c.variant.name for c in choices} == {"cpu"} and "no NVIDIA driver" in choices[0].reason
    py314 = compat.torch_choices(None, (9, 0), python="3.14.1")
    assert [c.release.version for c in py314][-1] == "2.9"
    py38 = compat.torch_choices("580.95.05", (8, 0), python="3.8")
    assert [c.release.version for c in py38] == ["2.4", "2.3", "2.2", "2.1", "2.0"]


def test_unknown_capability_is_said() -> None:
    choices = compat.torch_choices("580.95.05", None)
    assert _first(choices) == ("2.14", "cu130") and "not checked" in choices[0].reason
    assert compat.torch_choices("390.157", (9, 0)) == []  # too old for every wheel


# --- nvidia/cuda images ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cuda", "ubuntus", "infix"),
    [
        ("11.8", ("20.04", "22.04"), "cudnn8"),
        ("12.2", ("20.04", "22.04"), "cudnn8"),  # cudnn8- up to 12.2.2
        ("12.3", ("20.04", "22.04"), "cudnn9"),  # cudnn9- in 12.3.2
        ("12.4", ("20.04", "22.04"), "cudnn"),  # plain cudnn- from 12.4.1
        ("12.5", ("20.04", "22.04", "24.04"), "cudnn"),  # 12.5.1 added 24.04
        ("12.9", ("20.04", "22.04", "24.04"), "cudnn"),
        ("13.0", ("22.04", "24.04"), "cudnn"),  # 20.04 dropped
        ("13.2", ("22.04", "24.04"), "cudnn"),
        ("13.3", ("22.04", "24.04", "26.04"), "cudnn"),
    ],
)
def test_image_coverage_and_cudnn_infix(cuda: str, ubuntus: tuple[str, ...], infix: str) -> None:
    assert compat.image_ubuntus(cuda) == ubuntus
    image = compat.cuda_image(cuda, ubuntu=ubuntus[0])
    assert image is not None and image.tag.split("-")[1] == infix


def test_cuda_image_tags() -> None:
    image = compat.cuda_image("12.4")
    assert image == compat.CudaImage("12.4.1-cudnn-runtime-ubuntu22.04", "12.4.1", "22.04", "runtime", True)
    assert compat.cuda_image("12.4.1") == image
    assert compat.cuda_image("12.6").tag == "12.6.3-cudnn-runtime-ubuntu24.04"  # type: ignore[union-attr]
    assert compat.cuda_image("12.2").tag == "12.2.2-cudnn8-runtime-ubuntu22.04"  # type: ignore[union-attr]
    assert compat.cuda_image("13.0", flavor="devel").tag == "13.0.2-cudnn-devel-ubuntu24.04"  # type: ignore[union-attr]
    assert compat.cuda_image("12.8", "22.04", "base", cudnn=False).tag == "12.8.1-base-ubuntu22.04"  # type: ignore[union-attr]
    assert compat.cuda_image("12.8", flavor="base") is None  # NVIDIA publishes no cudnn base image
    assert compat.cuda_image("13.0", ubuntu="20.04") is None
    assert compat.cuda_image("12.4.0") is None  # only the latest patch of a minor is kept on Docker Hub
    assert compat.cuda_image("12.7") is None and compat.cuda_image("13.4") is None
    with pytest.raises(ValueError):
        compat.cuda_image("12.4", flavor="slim")


def test_no_cuda_12_image_for_ubuntu_26_04() -> None:
    for row in compat_data.image_rows():
        if row.cuda.startswith("12."):
            assert compat.cuda_image(row.cuda, ubuntu="26.04") is None
    image = compat.cuda_image("13.3")
    assert image is not None and image.ubuntu == "26.04" and image.unverified
    assert not compat.cuda_image("12.9").unverified  # type: ignore[union-attr]


def test_every_torch_cuda_variant_since_2_8_has_a_base_image() -> None:
    # scaffold pairs a wheel variant with an nvidia/cuda runtime tag of the same X.Y (cu134 excepted: no tag)
    for r in compat.torch_releases():
        for v in r.variants:
            if v.cuda and _v(r.version) >= (2, 8) and v.name != "cu134":
                assert compat.cuda_image(v.cuda) is not None, (r.version, v.name)


# --- GPU peaks ----------------------------------------------------------------------------------------------


NVML_NAMES = {  # names as NVML reports them -> the row they must match
    "NVIDIA H100 80GB HBM3": "H100 SXM5",
    "NVIDIA H100 PCIe": "H100 PCIe",
    "NVIDIA H200": "H200 SXM",
    "NVIDIA A100-SXM4-80GB": "A100 SXM4 80GB",
    "NVIDIA A100-PCIE-40GB": "A100 PCIe 40GB",
    "NVIDIA L40S": "L40S",
    "NVIDIA L4": "L4",
    "NVIDIA GeForce RTX 4090": "RTX 4090",
    "NVIDIA GeForce RTX 3090": "RTX 3090",
    "Tesla V100-SXM2-16GB": "V100 SXM2 16GB",
    "Tesla V100-SXM2-32GB": "V100 SXM2 32GB",
    "Tesla T4": "T4",
    "NVIDIA H100 NVL": "H100 NVL",
    "NVIDIA H200 NVL": "H200 NVL",
    "NVIDIA A100-SXM4-40GB": "A100 SXM4 40GB",
    "NVIDIA A100 80GB PCIe": "A100 PCIe 80GB",
    "NVIDIA A40": "A40",
    "NVIDIA A10": "A10",
    "NVIDIA RTX A6000": "RTX A6000",
    "NVIDIA L40": "L40",
    "Tesla V100-PCIE-16GB": "V100 PCIe 16GB",
    "Tesla V100-PCIE-32GB": "V100 PCIe 32GB",
    "Tesla V100S-PCIE-32GB": "V100S PCIe",
}


@pytest.mark.parametrize(("nvml_name", "row"), sorted(NVML_NAMES.items()))
def test_gpu_peak_matches_nvml_names(nvml_name: str, row: str) -> None:
    peak = compat.gpu_peak(nvml_name)
    assert peak is not None and peak.name == row
    assert compat.gpu_peak(nvml_name.lower()) == peak
    assert [g.name for g in compat_data.gpu_rows() if compat.gpu_peak(nvml_name) is g] == [row]


@pytest.mark.parametrize(
    "other",
    ["NVIDIA GeForce RTX 4090 Laptop GPU", "NVIDIA GeForce RTX 4090 D", "NVIDIA GeForce RTX 3090 Ti",
     "NVIDIA A10G", "NVIDIA A100 80GB PCIe MIG 1g.10gb", "NVIDIA RTX 6000 Ada Generation", "NVIDIA GH200 480GB",
     "NVIDIA GeForce RTX 3060", "NVIDIA T400", ""],
)
def test_gpu_peak_other_products_are_not_guessed(other: str) -> None:
    assert compat.gpu_peak(other) is None


def test_gpu_peak_figures() -> None:
    sxm, pcie, h200 = (compat.gpu_peak(n) for n in ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H200"))
    assert sxm is not None and pcie is not None and h200 is not None
    assert (sxm.bf16_tflops, sxm.tf32_tflops, sxm.fp32_tflops, sxm.mem_bw_gbs, sxm.memory_gb) == (
        989.4, 494.7, 67.0, 3350.0, 80.0)
    assert (pcie.bf16_tflops, pcie.mem_bw_gbs) == (756.0, 2000.0)
    assert (h200.bf16_tflops, h200.mem_bw_gbs, h200.memory_gb) == (989.4, 4800.0, 141.0)
    t4 = compat.gpu_peak("Tesla T4")
    assert t4 is not None
    assert (t4.fp16_tflops, t4.bf16_tflops, t4.tf32_tflops, t4.mem_bw_gbs) == (65.0, None, None, 320.0)
    a100 = compat.gpu_peak("NVIDIA A100-SXM4-80GB")
    assert a100 is not None and (a100.bf16_tflops, a100.mem_bw_gbs) == (312.0, 2039.0)
    # The NVL parts (one GPU of an NVLink pair) are clocked lower than the SXM ones and must not borrow their row.
    nvl, h200nvl = compat.gpu_peak("NVIDIA H100 NVL"), compat.gpu_peak("NVIDIA H200 NVL")
    assert nvl is not None and (nvl.bf16_tflops, nvl.mem_bw_gbs, nvl.memory_gb) == (835.5, 3900.0, 94.0)
    assert h200nvl is not None and (h200nvl.bf16_tflops, h200nvl.mem_bw_gbs) == (835.5, 4800.0)
    a100_40, a100_80p = compat.gpu_peak("NVIDIA A100-SXM4-40GB"), compat.gpu_peak("NVIDIA A100 80GB PCIe")
    assert a100_40 is not None and a100_40.mem_bw_gbs == 1555.0
    assert a100_80p is not None and a100_80p.mem_bw_gbs == 1935.0


# --- conda ------------------------------------------------------------------------------------------------


def test_conda_facts() -> None:
    facts = compat.conda_facts()
    assert (facts.pytorch_channel_last, facts.pytorch_cuda_last, facts.forge_cuda_builds) == ("2.5", "12.4",
                                                                                            ("12.9", "13.0"))
    assert "138506" in facts.source
    channel_last = compat.torch_release(facts.pytorch_channel_last)
    assert channel_last is not None and channel_last.latest_patch == "2.5.1"
    # Each CUDA named there is a toolkit row of Table 3, with the minimum driver of its first release.
    assert {cuda: compat.cuda_min_driver(cuda) for cuda in facts.forge_cuda_builds + (facts.pytorch_cuda_last,)} == {
        "12.9": "575.51.03", "13.0": "580.65.06", "12.4": "550.54.14"}
