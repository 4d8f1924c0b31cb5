"""The fleet artifact carries bytecode for the controller's Python: a host on that version imports it instead of
compiling about a thousand sources on every run; a host on another version compiles the sources as before."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envcheck.fleet.artifact import Artifact, build_artifact, bytecode, bytecode_name

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3 (scripts/test installs it): none of envcheck's deps there
TAG = sys.implementation.cache_tag


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return build_artifact(tmp_path_factory.mktemp("artifact"))


def test_unchecked_hash_bytecode_beside_zip_imports_and_in_pycache_for_unpacked_files(artifact: Artifact) -> None:
    with zipfile.ZipFile(artifact.path) as archive:
        names = set(archive.namelist())
        doctor = archive.read("lib/envcheck/doctor.pyc")
        source = archive.read("lib/envcheck/doctor.py")
    assert "lib/envcheck/report/jsontext.pyc" in names and "lib/envcheck/report/jsontext.py" in names  # beside it
    assert f"lib/__pycache__/pynvml.{TAG}.pyc" in names  # a top-level module unpacked to disk
    # PEP 552: magic, flags 0b01 (hash-based, not checked against the source), the source's hash, the code.
    assert doctor[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(doctor[4:8], "little") == 0b01
    assert doctor[8:16] == importlib.util.source_hash(source)


def test_bytecode_names_follow_where_the_file_is_imported_from() -> None:
    assert bytecode_name("lib/yaml/scanner.py") == "lib/yaml/scanner.pyc"
    assert bytecode_name("lib/envcheck/probes/gpu.py") == "lib/envcheck/probes/gpu.pyc"
    assert bytecode_name("lib/envcheck/probes/gpu_nvml_child.py") == (
        f"lib/envcheck/probes/__pycache__/gpu_nvml_child.{TAG}.pyc")
    assert bytecode_name("lib/pynvml.py") == f"lib/__pycache__/pynvml.{TAG}.pyc"


def test_a_source_that_does_not_compile_here_gets_no_bytecode(tmp_path: Path) -> None:
    newer = tmp_path / "newer.py"
    newer.write_text("match = (\n")  # a syntax this Python cannot read: the host compiles it, or not, itself
    assert bytecode(newer, "lib/newer.py") is None


def test_a_host_on_the_same_python_imports_the_bytecode(artifact: Artifact, tmp_path: Path) -> None:
    done = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.implementation.cache_tag)"],
                          capture_output=True, text=True, timeout=30, check=True)
    if done.stdout.strip() != TAG:
        pytest.skip(f"{SYSTEM_PYTHON} is {done.stdout.strip()}, not {TAG}: it compiles the sources instead")
    folder = tmp_path / "run"
    folder.mkdir()
    ran = subprocess.run([SYSTEM_PYTHON, "-s", "-E", "-B", "-v", str(artifact.path), str(folder), "--host", "h"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"})
    assert ran.returncode in (0, 1, 3), ran.stderr[-2000:]
    # pynvml is unpacked with its bytecode (the NVML child imports it from there): a Python that reads that folder
    # loads the code object from the pyc, not the source.
    nvml = subprocess.run([SYSTEM_PYTHON, "-s", "-E", "-B", "-v", "-c", "import sys; sys.path[0:0] = [sys.argv[1]]; "
                           "import pynvml", f"{folder}/lib"], capture_output=True, text=True, timeout=60, check=True)
    assert f"code object from '{folder}/lib/__pycache__/pynvml.{TAG}.pyc'" in nvml.stderr
    # zipimport says nothing with -v; the module's file names what it loaded (the .pyc when the bytecode served).
    imported = subprocess.run([SYSTEM_PYTHON, "-s", "-E", "-B", "-c", "import sys; sys.path[0:0] = [sys.argv[1]]; "
                               "import envcheck.report.jsontext as j, envcheck.doctor as d; "
                               "print(j.__file__, d.__file__)",
                               f"{artifact.path}/lib"],
                              capture_output=True, text=True, timeout=60, check=True)
    assert imported.stdout.split() == [f"{artifact.path}/lib/envcheck/report/jsontext.pyc",
                                       f"{artifact.path}/lib/envcheck/doctor.pyc"]
