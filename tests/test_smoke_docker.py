"""`envcheck smoke --docker IMAGE` against the real Docker engine.

No image can be pulled here, so both images are built locally: the base is Debian bookworm made with
debootstrap (python3 3.11, no torch), imported with `docker import`; the torch
image adds .venv's own torch 2.13.0 CPU build and its pure-Python dependencies (cp311 wheels, matching
Debian's python3.11) under /usr/local/lib/python3.11/dist-packages. Both are cached by tag across runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from envcheck.model import Report, Result, Status
from envcheck.smoke import smoke_test

BASE = "envcheck-test/debian:bookworm"
TORCH_IMAGE = "envcheck-test/smoke-torch:2.13.0-r3"  # bump r when PACKAGES change: the tag is the cache key
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
# torch and what `import torch` needs (its Requires-Dist without setuptools, plus numpy to avoid its warning).
PACKAGES = ("torch", "torchgen", "functorch", "typing_extensions.py", "sympy", "mpmath", "networkx", "jinja2",
            "markupsafe", "fsspec", "filelock", "numpy", "numpy.libs")

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _docker(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)


def _have(image: str) -> bool:
    return _docker("image", "inspect", image, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def base_image() -> str:
    if shutil.which("docker") is None or _docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (scripts/start-docker starts one)")
    if _have(BASE):
        return BASE
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: scripts/start-docker installs it")
    with tempfile.TemporaryDirectory(prefix="envcheck-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3", "bookworm", rootfs,
                        "http://deb.debian.org/debian"], check=True, capture_output=True, timeout=900)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, check=True, capture_output=True,
                       timeout=600)
        tar.wait(timeout=60)
    return BASE


@pytest.fixture(scope="module")
def torch_image(base_image: str) -> str:
    if sys.version_info[:2] != (3, 11):  # the image's python is Debian bookworm's 3.11: cp311 wheels only
        pytest.skip(f"torch in this venv is built for Python {sys.version_info[0]}.{sys.version_info[1]}, not 3.11")
    if _have(TORCH_IMAGE):
        return TORCH_IMAGE
    with tempfile.TemporaryDirectory(prefix="envcheck-torch-image-") as tmp:
        context = Path(tmp)
        site = context / "site"
        site.mkdir()
        for name in PACKAGES:
            src = SITE / name
            if src.is_dir():
                shutil.copytree(src, site / name)  # with __pycache__ (mtimes kept): a read-only import stays fast
            elif src.exists():
                shutil.copy2(src, site / name)
        (context / "Dockerfile").write_text(
            f"FROM {base_image}\n"
            "COPY site/ /usr/local/lib/python3.11/dist-packages/\n"
            'LABEL envcheck.test="smoke torch image: .venv torch 2.13.0 CPU build on Debian bookworm python3.11"\n'
        )
        legacy = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the build machine's docker CLI 28 has no buildx plugin
        built = _docker("build", "-t", TORCH_IMAGE, str(context), timeout=900, env=legacy)
        assert built.returncode == 0, built.stderr[-2000:]
    return TORCH_IMAGE


def _ids(report: Report) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for r in report.results:
        out.setdefault(r.id, []).append(r)
    return out


def test_image_without_torch_fails_at_import_with_a_dockerfile_fix(base_image: str) -> None:
    report = smoke_test(docker=base_image, run_timeout_s=120)
    by_id = _ids(report)
    target = by_id["smoke.target"][0]
    assert target.status is Status.PASS and f"image {base_image}" in target.observed
    assert "Python 3.11" in target.observed
    (imp,) = by_id["smoke.import-torch"]
    assert imp.status is Status.FAIL
    assert imp.observed == "ModuleNotFoundError: No module named 'torch'"
    # Debian's python3 comes without pip and refuses it (PEP 668): the line installs pip and says so to pip.
    assert target.evidence["pip"] is False and target.evidence["externally_managed"] is True
    assert imp.fix.startswith("Add to the image's Dockerfile: RUN apt-get update && apt-get install -y "
                              "--no-install-recommends python3-pip && python3 -m pip install --break-system-packages "
                              "--no-cache-dir torch==")
    assert report.exit_code == 1


def test_image_with_torch_trains_in_the_container(torch_image: str) -> None:
    report = smoke_test(docker=torch_image, run_timeout_s=300)
    by_id = _ids(report)
    assert by_id["smoke.import-torch"][0].observed == "torch 2.13.0+cpu (CPU-only build)"
    (train,) = by_id["smoke.train"]
    assert train.status is Status.PASS and train.item == "cpu"
    assert train.evidence["accuracy"] >= 0.95
    assert by_id["smoke.cuda-available"][0].reason == "CPU-only build"
    assert report.exit_code == 0, [(r.id, r.status, r.reason) for r in report.results]
    leftover = _docker("ps", "-aq", "--filter", "label=envcheck=smoke", timeout=30).stdout.split()
    assert leftover == []  # the container is removed after the run


def test_missing_image_fails_at_the_target_with_the_fix(base_image: str) -> None:
    report = smoke_test(docker="envcheck-test/does-not-exist:1", run_timeout_s=60)
    (target,) = _ids(report)["smoke.target"]
    assert target.status is Status.FAIL
    assert "is not on this host" in target.reason
    assert target.fix.startswith("docker pull envcheck-test/does-not-exist:1")


def test_a_merged_container_stream_keeps_each_streams_order_and_the_exit_code(base_image: str) -> None:
    """`envcheck verify` reads its smoke container this way: stdout and stderr as `docker logs` shows them.

    The engine copies stdout and stderr on separate pipes, so lines of the two streams can arrive in either
    order (seen here: "err" before "out" under load); within one stream the order is kept."""
    from envcheck.smoke import container

    code = ("import sys; print('out', flush=True); sys.stderr.write('err\\n'); sys.stderr.flush(); "
            "print('x' * 70); sys.exit(3)")
    spec = container.Launch(base_image, ["python3", "-c", code], try_by_hand="", labels={"envcheck": "test-merged"},
                            merged=True)
    stream = container.launch(spec, env=os.environ, home=os.path.expanduser("~"), timeout_s=30, gpus=False,
                              run_timeout_s=60)
    try:
        lines = []
        while (line := stream.readline(60.0)) is not None:
            lines.append(line)
        assert sorted(lines) == sorted(["out", "err", "x" * 70])
        assert lines.index("out") < lines.index("x" * 70)
        assert stream.close(wait_s=30.0) == 3 and stream.stream_failure is None
    finally:
        stream.remove()
    assert _docker("ps", "-aq", "--filter", "label=envcheck=test-merged", timeout=30).stdout.split() == []
