"""Stand-in conda tools and env folders for the conda tests.

conda, mamba and micromamba cannot be installed or run on this machine or in CI (all three install from
conda-forge, which they cannot reach), so the tests write STAND-INS: small shell scripts that replay the
documents under tests/data/conda/ (see its README for where each one's shape comes from), hang, or print
garbage. The env folders they describe are laid out for real.
"""

from __future__ import annotations

import json
from pathlib import Path

from envcheck import runner
from envcheck.units import ProbeContext

DATA = Path(__file__).parents[1] / "data" / "conda"
RECORDED_HOME = "/home/demo"
SYSTEM_PATH = "/usr/bin:/bin"


def write_standin(path: Path, body: str) -> Path:
    """A stand-in `conda` (or mamba, micromamba): a shell script, since no real one can run here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n# STAND-IN for a conda tool: no conda can run on this machine.\n" + body + "\n")
    path.chmod(0o755)
    return path


def replaying_conda(path: Path, recording: str, home: Path) -> Path:
    """A stand-in conda whose `info --json` replays a recording, with the recorded home moved to ``home``."""
    source = DATA / recording
    return write_standin(path, f"""case "$1" in
  info) sed 's#{RECORDED_HOME}#{home}#g' '{source}' ;;
  *) echo "stand-in conda: only 'info --json' is recorded" >&2; exit 2 ;;
esac""")


def replaying_micromamba(path: Path, home: Path, version: str = "2.8.1") -> Path:
    """A stand-in micromamba (or mamba 2) answering `info --json`, `env list --json` and `--version` from
    micromamba-2.8-*.json, the recorded home moved to ``home``."""
    info, envs = DATA / "micromamba-2.8-info.json", DATA / "micromamba-2.8-env-list.json"
    return write_standin(path, f"""case "$1 $2" in
  "info --json") sed 's#{RECORDED_HOME}#{home}#g' '{info}' ;;
  "env list") sed 's#{RECORDED_HOME}#{home}#g' '{envs}' ;;
  "--version ") echo {version} ;;
  *) echo "stand-in micromamba: only info, env list and --version are recorded" >&2; exit 2 ;;
esac""")


def make_env(prefix: Path, python: str | None, *, records: tuple[str, ...] = (), pip_torch: str | None = None,
             torch_channel: str | None = None) -> Path:
    """An env folder as conda leaves it: conda-meta records named name-version-build.json, bin/, site-packages."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "history").write_text("==> 2025-01-01 00:00:00 <==\n")
    if python:
        (meta / f"python-{python}-h9e4cc4f_0_cpython.json").write_text(
            json.dumps({"name": "python", "version": python}))
        (meta / "python-dateutil-2.9.0.post0-pyhff2d567_1.json").write_text("{}")  # must not be taken for python
        bin_dir = prefix / "bin"
        bin_dir.mkdir()
        short = ".".join(python.split(".")[:2])
        for name in (f"python{short}", "python"):
            (bin_dir / name).write_text("")  # never run: versions are read from conda-meta
            (bin_dir / name).chmod(0o755)
        if pip_torch:
            (prefix / "lib" / f"python{short}" / "site-packages" / f"torch-{pip_torch}.dist-info").mkdir(parents=True)
    for record in records:
        body = {"build": "x", "channel": torch_channel} if record.startswith("pytorch-") else {}
        (meta / f"{record}.json").write_text(json.dumps(body, indent=2, sort_keys=True))
    return prefix


def ctx(home: Path, env: dict[str, str], timeout: float = 5.0) -> ProbeContext:
    return ProbeContext(env={"HOME": str(home), **env}, home=str(home), timeout_s=timeout, run=runner.run)


def conda_machine(case: str, tmp: Path) -> tuple[Path, dict[str, str]]:
    """The machine of a recorded conda case (a recording under tests/data/conda/, or "no-conda" and
    "no-conda-required": none at all): its home, and the environment a shell on it has."""
    home = tmp / "home"
    home.mkdir()
    if case == "miniforge-25.5-active-env":
        root = home / "miniforge3"
        make_env(root, "3.12.10", records=("conda-25.5.1-py312h7900ff3_0", "mamba-2.1.1-h1234567_0"))
        replaying_conda(root / "bin" / "conda", "miniforge-25.5-active-env.json", home)
        make_env(root / "envs" / "torch", "3.11.11", pip_torch="2.6.0")
        make_env(root / "envs" / "old-py38", "3.8.20")
        (home / ".conda").mkdir()
        (home / ".conda" / "environments.txt").write_text(
            f"{root}/envs/torch\n{home}/projects/gone-env\n\n{root}/envs/old-py38\n")
        return home, {"PATH": f"{root}/envs/torch/bin:{root}/condabin:{SYSTEM_PATH}",
                      "CONDA_PREFIX": f"{root}/envs/torch", "CONDA_DEFAULT_ENV": "torch"}
    if case == "anaconda-24.9-defaults-token":
        root = home / "anaconda3"
        make_env(root, "3.12.7", records=("conda-24.9.2-py312h06a4308_0",))
        make_env(root / "envs" / "nlp", "3.11.10")
        conda = replaying_conda(tmp / "bin" / "conda", "anaconda-24.9-defaults-token.json", home)
        return home, {"PATH": SYSTEM_PATH, "CONDA_EXE": str(conda)}
    if case == "miniforge-24.11-cuda-pytorch-channel":
        root = home / "miniforge3"
        make_env(root, "3.12.8", records=("conda-24.11.3-py312h7900ff3_0",))
        make_env(root / "envs" / "torch25", "3.11.11", records=("pytorch-2.5.1-py3.11_cuda12.4_cudnn9.1.0_0",),
                 torch_channel="https://conda.anaconda.org/pytorch/linux-64")
        make_env(root / "envs" / "torch26", "3.12.8", pip_torch="2.6.0")
        replaying_conda(root / "condabin" / "conda", "miniforge-24.11-cuda-pytorch-channel.json", home)
        return home, {"PATH": f"{root}/condabin:{SYSTEM_PATH}"}
    if case in ("no-conda", "no-conda-required"):
        return home, {"PATH": SYSTEM_PATH}
    raise KeyError(case)
