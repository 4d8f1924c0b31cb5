"""The one reader of /proc/driver/nvidia, over host trees built by hand under tmp_path.

The version lines follow the two published formats of the module's ``NVRM version:`` line (the open
module's, as in tests/data/nvml/, and the proprietary one's); the ``information`` file follows the
``Key: \\t value`` lines of NVIDIA's procfs (tests/data/scaffold/README.md).
"""

from __future__ import annotations

from pathlib import Path

from envcheck.hostfs import HostFS
from envcheck.probes import nvidia_proc
from envcheck.probes.nvidia_proc import HostGpu, KernelModule

OPEN_570 = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.20  Release Build  (dvs-builder@U16)\n"
            "GCC version:  gcc version 12.3.0\n")
PROPRIETARY_535 = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"


def _tree(root: Path, version: str | None, gpus: dict[str, str] | None = None) -> HostFS:
    nvidia = root / "proc" / "driver" / "nvidia"
    (nvidia / "gpus").mkdir(parents=True)
    if version is not None:
        (nvidia / "version").write_text(version)
    for bus, information in (gpus or {}).items():
        (nvidia / "gpus" / bus).mkdir()
        (nvidia / "gpus" / bus / "information").write_text(information)
    return HostFS(str(root))


def test_driver_and_gpus_from_both_kernel_modules(tmp_path: Path) -> None:
    fs = _tree(tmp_path, OPEN_570, {
        "0000:18:00.0": "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 16\n"
                        "GPU UUID: \t GPU-5c7e9a1f-2b3d-4c8e-9f01-a2b3c4d5e6f7\n",
        "0000:07:00.0": "Model: \t\t NVIDIA A100-SXM4-80GB\n",
    })
    assert nvidia_proc.driver_version(fs) == "570.133.20"
    assert nvidia_proc.read_gpus(fs) == (
        HostGpu("0000:07:00.0", "NVIDIA A100-SXM4-80GB", None),
        HostGpu("0000:18:00.0", "NVIDIA H100 80GB HBM3", "GPU-5c7e9a1f-2b3d-4c8e-9f01-a2b3c4d5e6f7"),
    )
    (tmp_path / "proc" / "driver" / "nvidia" / "version").write_text(PROPRIETARY_535)
    assert nvidia_proc.driver_version(fs) == "535.104.05"


def test_no_module_is_no_driver_and_no_gpus_not_an_error(tmp_path: Path) -> None:
    fs = HostFS(str(tmp_path))
    module = nvidia_proc.read_module(fs)
    assert module == KernelModule(str(tmp_path / "proc/driver/nvidia/version"))
    assert module.error == "" and nvidia_proc.driver_version(fs) is None
    assert nvidia_proc.read_gpus(fs) == () and nvidia_proc.bus_ids(fs) == ()


def test_a_version_file_without_a_version_or_unreadable_says_so(tmp_path: Path) -> None:
    path = tmp_path / "proc/driver/nvidia/version"
    fs = _tree(tmp_path, "garbage\n")
    module = nvidia_proc.read_module(fs)
    assert module.loaded and module.version is None
    assert module.error == f"no version in {path}: 'garbage\\n'"
    path.unlink()
    path.mkdir()  # reading a folder fails the way an unreadable file does: an OSError with a reason
    module = nvidia_proc.read_module(fs)
    assert module.loaded and module.version is None and module.error == f"{path}: Is a directory"


def test_a_gpu_whose_information_cannot_be_read_keeps_its_bus_id(tmp_path: Path) -> None:
    fs = _tree(tmp_path, PROPRIETARY_535)
    (tmp_path / "proc/driver/nvidia/gpus/0000:3b:00.0").mkdir()
    assert nvidia_proc.read_gpus(fs) == (HostGpu("0000:3b:00.0", None, None),)


def test_information_keeps_the_first_non_empty_value() -> None:
    fields = nvidia_proc.parse_information("Model: \nModel:  \t NVIDIA L4\nModel: other\nno colon here\n")
    assert fields == {"Model": "NVIDIA L4"}
