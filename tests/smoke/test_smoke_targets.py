"""Which interpreter the smoke test runs in: real folders and a stand-in `conda`.

conda cannot be installed on the build machine or in CI (conda, mamba and micromamba all come from
conda-forge, which they cannot reach): the --conda-env test runs a stand-in `conda`
executable that prints recorded `conda info --json` output (tests/data/conda/, constructed from conda's
documented format; see its README) with the prefixes moved under tmp_path, where real envs are laid out.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck import runner
from envcheck.model import UsageError
from envcheck.smoke import targets

CONDA_INFO = Path(__file__).parents[1] / "data" / "conda" / "miniforge-25.5-active-env.json"
ENVCHECK = str(Path(sys.executable).with_name("envcheck"))


def make_prefix(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text("#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return path


def test_active_conda_env_comes_before_a_venv_and_python3_on_path(tmp_path: Path) -> None:
    conda = make_prefix(tmp_path / "conda" / "envs" / "ml")
    venv = make_prefix(tmp_path / "venv")
    both = targets.active({"CONDA_PREFIX": str(conda), "CONDA_DEFAULT_ENV": "ml", "VIRTUAL_ENV": str(venv)})
    assert both.kind == "active-conda" and both.python == str(conda / "bin" / "python")
    assert both.description == f"the active conda env 'ml' ({conda})"
    only_venv = targets.active({"VIRTUAL_ENV": str(venv), "PATH": "/usr/bin"})
    assert only_venv.kind == "active-venv" and only_venv.description == f"the active venv {venv}"
    plain = targets.active({"PATH": "/usr/bin:/bin"})
    assert plain.kind == "path" and plain.python == "/usr/bin/python3" and "python3 on PATH" in plain.description
    nothing = targets.active({"PATH": str(tmp_path / "empty")})
    assert nothing.error


def conda_stand_in(tmp_path: Path) -> tuple[Path, Path]:
    """A `conda` that answers `info --json` with the recorded output, its prefixes moved under tmp_path."""
    root = tmp_path / "miniforge3"
    info = json.loads(CONDA_INFO.read_text())
    old_root = info["root_prefix"]
    text = json.dumps(info).replace(old_root, str(root))
    make_prefix(root)
    make_prefix(root / "envs" / "torch")
    (tmp_path / "info.json").write_text(text)
    exe = root / "bin" / "conda"
    exe.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'info --json' ] && exec cat {tmp_path / 'info.json'}\nexit 2\n")
    exe.chmod(0o755)
    return exe, root


def test_conda_env_by_name_through_conda_info(tmp_path: Path) -> None:
    exe, root = conda_stand_in(tmp_path)
    env = {"CONDA_EXE": str(exe), "PATH": "/usr/bin:/bin"}
    found = targets.resolve(conda_env="torch", env=env, home=str(tmp_path / "home"), run=runner.run)
    assert found.kind == "conda" and found.python == str(root / "envs" / "torch" / "bin" / "python")
    base = targets.resolve(conda_env="base", env=env, home=str(tmp_path / "home"), run=runner.run)
    assert base.python == str(root / "bin" / "python")
    with pytest.raises(UsageError, match="deleted-exp"):  # listed by conda, but its folder is gone
        targets.resolve(conda_env="deleted-exp", env=env, home=str(tmp_path / "home"), run=runner.run)


def test_conda_env_without_conda_from_environments_txt(tmp_path: Path) -> None:
    prefix = make_prefix(tmp_path / "somewhere" / "envs" / "exp")
    home = tmp_path / "home"
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_text(f"/gone/envs/old\n{prefix}\n")
    found = targets.resolve(conda_env="exp", env={"PATH": "/usr/bin"}, home=str(home), run=runner.run)
    assert found.python == str(prefix / "bin" / "python")


def test_the_cli_says_which_conda_env_ran(tmp_path: Path) -> None:
    exe, root = conda_stand_in(tmp_path)
    env = {**os.environ, "CONDA_EXE": str(exe)}
    proc = subprocess.run([ENVCHECK, "smoke", "--conda-env", "torch", "--json"], capture_output=True, text=True,
                          env=env, timeout=120)
    report = json.loads(proc.stdout)
    target = report["results"][0]
    assert target["id"] == "smoke.target" and target["status"] == "pass"
    assert target["observed"].startswith(f"conda env 'torch' ({root / 'envs' / 'torch'}): Python 3.11")
    assert proc.returncode == 1  # Debian's python3 behind the stand-in env has no torch


def test_options_that_contradict_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        targets.resolve(conda_env="x", docker="img", env={}, home=str(tmp_path), run=runner.run)


def test_a_relative_python_becomes_absolute_without_leaving_its_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = make_prefix(tmp_path / "venv")
    link = venv / "bin" / "python3"
    link.symlink_to(venv / "bin" / "python")
    monkeypatch.chdir(tmp_path)
    found = targets.resolve(python="venv/bin/python3", env={}, home=str(tmp_path), run=runner.run)
    assert found.python == str(link)  # absolute, and still the venv's link (its real file decides nothing)
    assert found.description == f"--python {link}"


def test_conda_env_by_name_through_micromamba_alone(tmp_path: Path) -> None:
    from helpers.conda_helpers import replaying_micromamba

    home = tmp_path / "home"
    root = make_prefix(home / "micromamba")
    torch_env = make_prefix(root / "envs" / "torch")
    exe = replaying_micromamba(tmp_path / "tools" / "micromamba", home)  # not under a usual root: only asked
    env = {"MAMBA_EXE": str(exe), "PATH": "/usr/bin:/bin"}
    found = targets.resolve(conda_env="torch", env=env, home=str(home), run=runner.run)
    assert (found.kind, found.python) == ("conda", str(torch_env / "bin" / "python"))
    base = targets.resolve(conda_env="base", env=env, home=str(home), run=runner.run)
    assert base.python == str(root / "bin" / "python")
    with pytest.raises(UsageError, match=r"^--conda-env old-py38: no such conda env with a bin/python \(found: "
                                         r"micromamba, torch\)$"):  # listed, but this machine has no bin/python in it
        targets.resolve(conda_env="old-py38", env=env, home=str(home), run=runner.run)


def test_no_manager_at_all_names_the_managers_looked_for(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        targets.resolve(conda_env="torch", env={"PATH": "/usr/bin:/bin"}, home=str(tmp_path), run=runner.run)
    assert str(raised.value) == (
        "--conda-env torch: no conda, mamba or micromamba is installed (looked for $CONDA_EXE, conda and mamba on "
        "PATH, $MAMBA_EXE, micromamba on PATH and ~/.local/bin/micromamba), and ~/.conda/environments.txt and the "
        "usual roots hold no env of that name")
