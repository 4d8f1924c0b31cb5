"""Where the smoke test runs: the interpreter (or image) the user names, not envcheck's own.

Resolution order for the default: the active conda env (``CONDA_PREFIX``), then the active venv
(``VIRTUAL_ENV``), then ``python3`` on PATH; the report says which it took. ``--conda-env NAME`` asks the
env manager itself (``$CONDA_EXE info --json``: after ``conda init``, ``conda`` is a shell function a subprocess
cannot see; else mamba or micromamba, ``$MAMBA_EXE``) and falls back to ``~/.conda/environments.txt`` and
``<root>/envs/NAME`` for the usual roots.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, Callable, Literal, Mapping

from envcheck.frozen import frozen
from envcheck.model import UsageError
from envcheck.probes import conda_formats

MANAGER_TIMEOUT_S = 15.0  # `conda info --json`: about a second, several on a busy machine; never the whole run
CONDA_ROOTS = ("miniforge3", "miniconda3", "anaconda3", "mambaforge", "micromamba", ".conda")
SYSTEM_CONDA_ROOTS = ("/opt/conda", "/opt/miniforge3", "/opt/miniconda3", "/opt/anaconda3")
# How the target was chosen: the active conda env or venv, python3 on PATH (the defaults, in that order),
# or named by --python, --conda-env or --docker.
TargetKind = Literal["active-conda", "active-venv", "path", "python", "conda", "docker"]


@frozen
class Target:
    """The interpreter the child runs in, and how it was chosen."""

    kind: TargetKind
    python: str  # a path on this host, or the command inside the image for docker
    description: str  # for the report: "the active venv /home/a/.venvs/ml"
    image: str | None = None
    error: str = ""  # why no interpreter could be found (the default target only)


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _python_in(prefix: str) -> str:
    return os.path.join(prefix, "bin", "python")


def resolve(
    *,
    python: str | None = None,
    conda_env: str | None = None,
    docker: str | None = None,
    env: Mapping[str, str],
    home: str,
    run: Callable[..., Any],
    timeout_s: float = MANAGER_TIMEOUT_S,
) -> Target:
    """The target the options name; a named interpreter that is not there is a usage error."""
    if conda_env and (python or docker):
        raise UsageError("--conda-env names the interpreter already: leave out --python and --docker")
    if docker:
        command = python or "python3"  # with --docker, --python is the interpreter inside the image
        return Target("docker", command, f"image {docker} ({command} inside it)", image=docker)
    if python:
        found = python if os.sep in python else shutil.which(python, path=env.get("PATH"))
        if not found or not _executable(found):
            raise UsageError(f"--python {python}: no executable interpreter there")
        found = os.path.abspath(found)  # fixes name it, pasted from anywhere; no realpath: a venv's python is a link
        return Target("python", found, f"--python {found}")
    if conda_env:
        prefix = conda_prefix(conda_env, env=env, home=home, run=run, timeout_s=timeout_s)
        return Target("conda", _python_in(prefix), f"conda env {conda_env!r} ({prefix})")
    return active(env)


def active(env: Mapping[str, str]) -> Target:
    """The environment a plain `python` would run in: conda env, then venv, then python3 on PATH."""
    prefix = env.get("CONDA_PREFIX")
    if prefix and _executable(_python_in(prefix)):
        name = env.get("CONDA_DEFAULT_ENV") or os.path.basename(prefix)
        return Target("active-conda", _python_in(prefix), f"the active conda env {name!r} ({prefix})")
    venv = env.get("VIRTUAL_ENV")
    if venv and _executable(_python_in(venv)):
        return Target("active-venv", _python_in(venv), f"the active venv {venv}")
    found = shutil.which("python3", path=env.get("PATH"))
    if found:
        return Target("path", found, f"python3 on PATH ({found}): no conda env or venv is active")
    return Target("path", "python3", "python3 on PATH", error="no conda env or venv is active and no python3 on PATH")


def find_manager(env: Mapping[str, str], home: str) -> tuple[str, str] | None:
    """(name, executable) of the env manager to ask: conda, else mamba, else micromamba (the probe's order,
    envcheck.probes.conda.MANAGERS: conda's answer is what `conda activate` uses; the others stand in for it)."""
    path = env.get("PATH")
    conda = env.get("CONDA_EXE") or shutil.which("conda", path=path)
    if conda:
        return "conda", conda
    mamba = shutil.which("mamba", path=path)
    if mamba:
        return "mamba", mamba
    for micromamba in (env.get("MAMBA_EXE"), shutil.which("micromamba", path=path),
                       os.path.join(home, ".local", "bin", "micromamba")):
        if micromamba and _executable(micromamba):
            return "micromamba", micromamba
    return None


def _ask(manager: str, argv: list[str], run: Callable[..., Any], timeout_s: float) -> tuple[dict[str, Any], str]:
    """The JSON object a manager printed, or why there is none."""
    result = run(argv, timeout_s=timeout_s)
    if result.timed_out:  # a hung manager is not "no env": say so (a lock, a stalled network drive)
        return {}, f"`{' '.join(argv)}` did not answer within {timeout_s:g} s ({manager} hangs)"
    if not result.ok:
        return {}, result.describe()
    try:
        answer = json.loads(result.out)
    except ValueError:
        answer = {}
    return (answer if isinstance(answer, dict) else {}), ""


def conda_prefix(name: str, *, env: Mapping[str, str], home: str, run: Callable[..., Any], timeout_s: float) -> str:
    """The prefix of the conda env called ``name`` ("base" is the root prefix), through conda, mamba or micromamba."""
    seen: list[str] = []
    manager = find_manager(env, home)
    asked = ""  # why the manager could not list its envs, for the error when the files do not find the env either
    roots = [env[var] for var in ("CONDA_ROOT", "MAMBA_ROOT_PREFIX") if env.get(var)]
    if manager:
        tool, exe = manager
        deadline = time.monotonic() + timeout_s
        info, asked = _ask(tool, [exe, "info", "--json"], run, timeout_s)
        if not asked and conda_formats.is_libmamba_info(info):  # mamba 2, micromamba: envs only from `env list`
            listed, asked = _ask(tool, [exe, "env", "list", "--json"], run, max(0.1, deadline - time.monotonic()))
            names = listed.get("envs")
            info = conda_formats.from_libmamba(
                info, [p for p in names if isinstance(p, str)] if isinstance(names, list) else [], tool)
        root = info.get("root_prefix") or info.get("conda_prefix")
        if name == "base" and isinstance(root, str) and root:
            return root
        envs = info.get("envs")
        seen.extend(p for p in (envs if isinstance(envs, list) else []) if isinstance(p, str))
        roots.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(exe))))  # <root>/bin/<tool>
    roots += [os.path.join(home, r) for r in CONDA_ROOTS] + list(SYSTEM_CONDA_ROOTS)
    try:
        with open(os.path.join(home, ".conda", "environments.txt"), encoding="utf-8") as handle:
            seen.extend(line.strip() for line in handle if line.strip())
    except OSError:
        pass
    seen.extend(os.path.join(root, "envs", name) for root in roots)
    if name == "base":
        seen.extend(roots)
    for prefix in dict.fromkeys(seen):
        matches = os.path.basename(prefix.rstrip("/")) == name or (name == "base" and prefix in roots)
        if matches and _executable(_python_in(prefix)):
            return prefix
    known = sorted({os.path.basename(p.rstrip("/")) for p in seen if _executable(_python_in(p))})
    found = f" (found: {', '.join(known)})" if known else ""
    if asked:
        raise UsageError(f"--conda-env {name}: {asked}; ~/.conda/environments.txt and the usual roots hold no env "
                         f"of that name{found}")
    if manager is None:
        raise UsageError(f"--conda-env {name}: no conda, mamba or micromamba is installed (looked for $CONDA_EXE, "
                         f"conda and mamba on PATH, $MAMBA_EXE, micromamba on PATH and ~/.local/bin/micromamba), "
                         f"and ~/.conda/environments.txt and the usual roots hold no env of that name{found}")
    raise UsageError(f"--conda-env {name}: no such conda env with a bin/python" + (found or f" ({manager[0]} lists "
                                                                                            "no env with one)"))
