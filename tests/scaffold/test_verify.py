"""`envcheck verify` with the real Docker engine: both smoke tests in one report, the CUDA image that cannot run here,
the images it leaves, the report options, and fixes that name the project's path. No image can be pulled here, so
the Dockerfiles are swapped for ones built on the local images (tests/helpers/docker_images.py)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import pytest
from helpers.docker_images import base_image, docker_cli, torch_image  # noqa: F401  (pytest fixtures, by name)
from helpers.scaffold_helpers import envcheck_main

from envcheck.probes import nvidia_proc
from envcheck.probes.project import read_gpu_now
from envcheck.verify import gpu_runtime_gap, shown_path


@pytest.fixture()
def name() -> Iterator[str]:
    """A project name no other run uses; its images (NAME:cpu, NAME:cuda) are removed afterwards."""
    project = f"vt-{os.urandom(3).hex()}"
    yield project
    docker_cli("image", "rm", "-f", f"{project}:cpu", f"{project}:cuda", timeout=120)


def _scaffold(where: Path, name: str, *args: str) -> None:
    ran = envcheck_main(["scaffold", str(where), "--name", name, "--no-git", "--no-jupyter", *args])
    assert ran.code == 0, ran.out + ran.err


def _offline_cpu(project: Path, image: str, package: str) -> None:
    """Dockerfile.cpu on the local torch image; only the lines that need the network are swapped."""
    (project / "Dockerfile.cpu").write_text(
        f"FROM {image}\nWORKDIR /app\nCOPY src/ /usr/local/lib/python3.11/dist-packages/\nUSER 10001:10001\n"
        f'CMD ["python3", "-m", "{package}.train", "--steps", "5"]\n'
    )


def test_gpu_runtime_gap_needs_the_driver_and_the_nvidia_runtime_or_a_cdi_spec() -> None:
    assert gpu_runtime_gap(None, ["nvidia"], []) == "no NVIDIA GPU on this machine to run the CUDA image"
    assert gpu_runtime_gap("580.65.06", ["runc"], ["nvidia.com/gpu"]) == ""
    assert gpu_runtime_gap("580.65.06", ["nvidia", "runc"], []) == ""
    assert gpu_runtime_gap("580.65.06", ["runc"], ["example.com/fpga"]) == (
        "the Docker engine has neither the nvidia runtime nor an nvidia.com CDI spec, so `docker run --gpus` "
        "cannot reach the GPU")


def test_shown_path_is_relative_where_that_is_shorter(tmp_path: Path) -> None:
    assert shown_path(str(tmp_path), cwd=str(tmp_path)) == "."
    assert shown_path(str(tmp_path / "my proj"), cwd=str(tmp_path)) == "my proj"
    assert shown_path(str(tmp_path / "a"), cwd="/") == str(tmp_path / "a")[1:]
    deep = tmp_path / "x" / "y" / "z" / "w"
    assert shown_path("/srv", cwd=str(deep)) == "/srv"  # ../../../../.. is longer


@pytest.mark.docker
@pytest.mark.slow
def test_training_smoke_joins_the_report_and_no_keep_images_removes_them(
        tmp_path: Path, name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    image = request.getfixturevalue("torch_image")
    # As on a machine with a GPU: the CPU image's CPU-only torch is what it should have, not a failure.
    gpu = nvidia_proc.HostGpu("0000:3b:00.0", "NVIDIA H100 80GB HBM3", "GPU-b42dd28e-0000-0000-0000-000000000000")
    monkeypatch.setattr(nvidia_proc, "read_gpus", lambda fs=None: (gpu,))
    project = tmp_path / "p"
    _scaffold(project, name, "--cuda", "cpu")
    _offline_cpu(project, image, name.replace("-", "_"))
    junit = tmp_path / "verify.xml"
    ran = envcheck_main(["verify", str(project), "--json", "--junit", str(junit), "--no-keep-images",
                         "--timeout", "600"])
    assert ran.code == 0, ran.out + ran.err
    report = json.loads(ran.out)  # one envelope: verify's results and the smoke ladder's
    assert report["command"] == "verify" and report["exit_code"] == 0
    results = {(r["id"], r["item"]): r for r in report["results"]}
    assert results[("verify.build", "Dockerfile.cpu")]["evidence"]["tag"] == f"{name}:cpu"
    assert results[("verify.smoke", "Dockerfile.cpu")]["status"] == "pass"
    assert results[("smoke.target", "Dockerfile.cpu")]["status"] == "pass"
    train = results[("smoke.train", "Dockerfile.cpu cpu")]
    assert train["status"] == "pass" and "held-out accuracy" in train["observed"]
    cuda = results[("smoke.cuda-available", "Dockerfile.cpu")]
    assert (cuda["status"], cuda["reason"]) == ("skip", "CPU-only build")
    images = results[("verify.images", None)]
    assert images["observed"] == f"removed {name}:cpu"
    assert images["evidence"] == {"images": [f"{name}:cpu"], "removed": [f"{name}:cpu"]}
    assert docker_cli("image", "inspect", f"{name}:cpu", timeout=30).returncode != 0
    cases = {case.get("name") for case in ET.parse(junit).getroot().iter("testcase")}
    assert {"verify.build[Dockerfile.cpu]", "verify.smoke[Dockerfile.cpu]", "smoke.train[Dockerfile.cpu cpu]",
            "verify.images"} <= cases, cases


@pytest.mark.docker
def test_cuda_image_is_built_but_not_run_without_a_gpu(tmp_path: Path, name: str,
                                                      request: pytest.FixtureRequest) -> None:
    if read_gpu_now().driver is not None:
        pytest.skip("this machine has an NVIDIA driver: the CUDA image may run here")
    image = request.getfixturevalue("base_image")
    project = tmp_path / "gpu"
    _scaffold(project, name, "--driver", "580.65.06")
    (project / "Dockerfile").write_text(f"FROM {image}\nRUN true\n")
    (project / "Dockerfile.cpu").unlink()
    ran = envcheck_main(["verify", str(project), "--json", "--timeout", "300"])
    assert ran.code == 0, ran.out + ran.err
    results = json.loads(ran.out)["results"]
    assert [r["id"] for r in results] == ["verify.build", "verify.smoke", "verify.images"]  # no training ladder
    smoke = results[1]
    assert smoke["status"] == "skip" and smoke["observed"] == f"built {name}:cuda; did not run it"
    assert smoke["reason"] == "no NVIDIA GPU on this machine to run the CUDA image"
    assert results[2]["observed"] == f"kept {name}:cuda"  # kept by default, and named
    assert docker_cli("image", "inspect", f"{name}:cuda", timeout=30).returncode == 0
    text = envcheck_main(["verify", str(project), "--timeout", "300"])
    assert text.code == 0
    assert f"envcheck: kept {name}:cuda (`docker image rm {name}:cuda` removes them)" in text.err


@pytest.mark.docker
def test_fixes_name_the_path_the_user_gave_and_v_shows_every_result(
        tmp_path: Path, name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    image = request.getfixturevalue("base_image")
    project = tmp_path / "my proj"
    _scaffold(project, name, "--cuda", "cpu")
    (project / "Dockerfile.cpu").write_text(f"FROM {image}\nRUN false # {os.urandom(4).hex()}\n")
    monkeypatch.chdir(tmp_path)
    ran = envcheck_main(["verify", "my proj", "--json", "--timeout", "300"])
    assert ran.code == 1, ran.out + ran.err
    (build,) = [r for r in json.loads(ran.out)["results"] if r["id"] == "verify.build"]
    assert build["fix"] == "docker build -f 'my proj/Dockerfile.cpu' 'my proj'  # to see the whole log"
    plain = envcheck_main(["verify", "my proj", "--timeout", "300"])
    verbose = envcheck_main(["verify", "my proj", "-v", "--timeout", "300"])
    assert plain.code == verbose.code == 1
    # Without -v only the problems are detailed; -v adds every result's duration and evidence, as in doctor.
    assert "took " not in plain.out and "verify.images: images left by verify" not in plain.out
    assert "took " in verbose.out and "verify.images: images left by verify" in verbose.out
    assert "fix:" in plain.out and "'my proj/Dockerfile.cpu'" in plain.out
