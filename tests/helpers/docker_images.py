"""Local Docker images for the tests that run containers, as module-scoped pytest fixtures.

No image can be pulled here, so both images are built locally: the base is Debian bookworm made with
debootstrap (python3 3.11, no torch), imported with `docker import`; the torch image adds .venv's own torch
2.13.0 CPU build and its pure-Python dependencies (cp311 wheels, matching Debian's python3.11) under
/usr/local/lib/python3.11/dist-packages. Both are cached by tag across runs. A test module imports the
fixtures by name (``from helpers.docker_images import base_image``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASE = "envcheck-test/debian:bookworm"
TORCH_IMAGE = "envcheck-test/smoke-torch:2.13.0-r3"  # bump r when PACKAGES change: the tag is the cache key
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
# torch and what `import torch` needs (its Requires-Dist without setuptools, plus numpy to avoid its warning).
PACKAGES = ("torch", "torchgen", "functorch", "typing_extensions.py", "sympy", "mpmath", "networkx", "jinja2",
            "markupsafe", "fsspec", "filelock", "numpy", "numpy.libs")


def docker_cli(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)


def _have(image: str) -> bool:
    return docker_cli("image", "inspect", image, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def base_image() -> str:
    if shutil.which("docker") is None or docker_cli("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (scripts/start-docker starts one)")
    if _have(BASE):
        return BASE
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: scripts/test installs it")
    with tempfile.TemporaryDirectory(prefix="envcheck-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        # This machine's own Debian mirror, as its apt sources name it (scripts/fleet-image reads them).
        mirror = subprocess.run([str(REPO / "scripts" / "fleet-image"), "mirror"], capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3", "bookworm", rootfs, mirror],
                       check=True, capture_output=True, timeout=900)
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
        built = docker_cli("build", "-t", TORCH_IMAGE, str(context), timeout=900, env=legacy)
        assert built.returncode == 0, built.stderr[-2000:]
    return TORCH_IMAGE

