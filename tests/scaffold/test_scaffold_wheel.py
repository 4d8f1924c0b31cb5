"""The templates ship inside the wheel: build the wheel from a copy of the source tree,
install it into a fresh venv outside the checkout, and scaffold from there.

The fresh venv gets envcheck only from the wheel (`pip install --no-deps --no-index`); its dependencies
(click, jinja2, ...) come from this test environment's site-packages through a plain path line in a .pth
file, which does not run that folder's own .pth files, so the editable envcheck there stays invisible.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
                              ".ruff_cache", ".pytest_cache", ".hypothesis", "tests", "benchmarks")


@pytest.mark.slow
def test_wheel_carries_the_templates_and_scaffolds_from_a_fresh_venv(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP, symlinks=False)
    dist = tmp_path / "dist"
    # This venv's setuptools when it has one (Python 3.11 venvs do); otherwise pip fetches it from PyPI.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                            "-w", str(dist), str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("envcheck-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in ("envcheck/_shipped/templates/environment.yml.j2",
                     "envcheck/_shipped/templates/project/README.md.j2",
                     "envcheck/_shipped/dockerfiles/Dockerfile.j2"):
        assert template in names
    # The policy's JSON Schema, which `policy init` names on its first line for editors, ships as package data.
    assert {"envcheck/data/policy.schema.json", "envcheck/data/default-policy.json"} <= names
    # The smoke child is a folder run by path, not a package: its modules ship as package data.
    child = {f"envcheck/smoke/child/{path.name}" for path in (ROOT / "envcheck" / "smoke" / "child").glob("*.py")}
    assert "envcheck/smoke/child/__main__.py" in child
    assert child == {name for name in names if name.startswith("envcheck/smoke/child/")}

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = subprocess.run([str(python), "-c", "import envcheck; print(envcheck.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr

    planned = subprocess.run([str(python), "-m", "envcheck", "scaffold", "shipped-demo", "--driver", "580.65.06",
                              "--dry-run", "--json"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["templates"].startswith(str(site)) and "_shipped" in plan["templates"]

    made = subprocess.run([str(python), "-m", "envcheck", "scaffold", "shipped-demo", "--driver", "580.65.06",
                           "--no-git"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    project = work / "shipped-demo"
    for path in ("Dockerfile", "Dockerfile.cpu", "environment.yml", "src/shipped_demo/train.py",
                 "notebooks/01-hello-pytorch.ipynb"):
        assert (project / path).is_file(), path
    assert (project / ".gitignore").read_text().startswith("__pycache__/")
