"""Facts about the user's Python: the `python3` on PATH (or ``ctx.options.python``), and where `python`,
`python3`, `pip` and `jupyter` really resolve.

The interpreter runs once, with a tiny script that prints a Python literal (no json, no importlib.metadata:
those imports alone cost 40 ms; the script takes about 20 ms). pyenv shims are resolved by reading pyenv's
own version files, as `pyenv which` does, because running a shim costs about 150 ms.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from dataclasses import field
from typing import Any, Literal, Mapping

from envcheck.frozen import frozen
from envcheck.hostfs import read_small_text
from envcheck.units import ProbeContext, ProbeSpec

# Runs inside the user's interpreter: standard library only, works on Python 3.6+.
# pip's version comes from pip/__init__.py's __version__ line, which pip has kept since 1.x.
# PathFinder searches sys.path only: importlib.util.find_spec would also consult meta-path hooks such as
# setuptools' _distutils_hack, whose pip hook imports traceback (8 ms) on every lookup.
SCRIPT = r"""
import os, site, sys
from importlib.machinery import PathFinder
std = os.path.dirname(os.__file__)
spec = PathFinder.find_spec("pip")
pipv = None
if spec is not None and spec.origin:
    try:
        with open(spec.origin, encoding="utf-8") as f:
            for line in f:
                if line.startswith("__version__"):
                    pipv = line.split("=", 1)[1].strip().strip("\"'")
                    break
    except OSError:
        pass
user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
print(repr({"version": list(sys.version_info[:3]), "executable": sys.executable, "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix), "stdlib": std,
    "externally_managed": os.path.isfile(os.path.join(std, "EXTERNALLY-MANAGED")),
    "conda_meta": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
    "conda_base": os.path.isdir(os.path.join(sys.prefix, "condabin")),
    "conda_prefix": os.environ.get("CONDA_PREFIX"), "conda_env": os.environ.get("CONDA_DEFAULT_ENV"),
    "pip_path": spec.origin if spec else None, "pip_version": pipv,
    "user_site": user, "user_site_entries": len(os.listdir(user)) if user and os.path.isdir(user) else 0}))
"""

NAMES = ("python", "python3", "pip", "jupyter")


# What PATH found: a compiled program, a script (the interpreter is its shebang's), or a pyenv shim.
ResolutionKind = Literal["", "binary", "script", "pyenv shim"]


@frozen
class Resolution:
    """Where one command name on PATH leads."""

    name: str
    path: str | None  # what PATH finds first; None: not on PATH
    realpath: str | None = None
    kind: ResolutionKind = ""  # "": not on PATH
    target: str | None = None  # for a pyenv shim: the program it runs
    interpreter: str | None = None  # for a script (or a shim's script): the interpreter from its shebang
    broken: tuple[str, ...] = ()  # earlier PATH entries with this name that are dangling symlinks


@frozen
class PythonFacts:
    requested: str  # "python3 on PATH" or the --python option
    interpreter: str | None  # the file run; None: not found
    via: str = ""  # how it was found, e.g. "pyenv shim /root/.pyenv/shims/python3"
    info: Mapping[str, Any] = field(default_factory=dict)  # what the script printed
    error: str = ""  # why info is empty although an interpreter was found
    resolutions: tuple[Resolution, ...] = ()
    own_executable: str = sys.executable  # envcheck's own interpreter, for the evidence
    own_version: str = sys.version.split()[0]


def _head(path: str, size: int = 1024) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def shebang(path: str, env_path: str | None) -> str | None:
    """The interpreter a script names: `#!/x/python`, `#!/usr/bin/env python3` (looked up on PATH), or
    pip's launcher for long paths (`#!/bin/sh` then `'''exec' /x/python "$0" "$@"`)."""
    head = _head(path)
    if not head.startswith(b"#!"):
        return None
    lines = head.decode("utf-8", "replace").splitlines()
    words = lines[0][2:].split()
    if not words:
        return None
    if words[0] == "/bin/sh" and len(lines) > 1 and lines[1].startswith("'''exec' "):
        rest = lines[1][len("'''exec' "):].strip()
        return rest[1:].split('"', 1)[0] if rest.startswith('"') else rest.split()[0]
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        program = next((w for w in words[1:] if not w.startswith("-")), None)
        return shutil.which(program, path=env_path) if program else None
    return words[0]


def _is_pyenv_shim(path: str) -> bool:
    return os.path.basename(os.path.dirname(path)) == "shims" and b"pyenv" in _head(path)


def _pyenv_versions(root: str, env: Mapping[str, str], cwd: str) -> list[str]:
    """pyenv's version selection: $PYENV_VERSION, then the nearest .python-version, then $PYENV_ROOT/version."""
    if env.get("PYENV_VERSION"):
        return env["PYENV_VERSION"].split(":")
    directory = env.get("PYENV_DIR") or cwd
    candidates = []
    while True:
        candidates.append(os.path.join(directory, ".python-version"))
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    candidates.append(os.path.join(root, "version"))
    for candidate in candidates:
        try:
            # pyenv's version file names a few versions; a 64 KiB cap keeps a stray huge file from being read.
            words = [w for line in read_small_text(candidate, 64 * 1024).splitlines()
                     for w in line.split("#", 1)[0].split()]
        except OSError:
            continue
        if words:
            return words
    return ["system"]


def pyenv_target(shim: str, env: Mapping[str, str], cwd: str) -> str | None:
    """The program a pyenv shim runs, or None when the selection needs pyenv itself (then run the shim)."""
    shims = os.path.dirname(shim)
    root = env.get("PYENV_ROOT") or os.path.dirname(shims)
    name = os.path.basename(shim)
    for version in _pyenv_versions(root, env, cwd):
        if version == "system":
            rest = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                   if p and os.path.realpath(p) != os.path.realpath(shims))
            found = shutil.which(name, path=rest)
        else:
            candidate = os.path.join(root, "versions", version, "bin", name)
            found = candidate if os.access(candidate, os.X_OK) else None
        if found:
            return found
    return None


def _broken_before(name: str, env_path: str, found: str | None) -> tuple[str, ...]:
    broken = []
    for directory in env_path.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if found is not None and candidate == found:
            break
        if os.path.islink(candidate) and not os.path.exists(candidate):
            broken.append(f"{candidate} -> {os.readlink(candidate)}")
    return tuple(broken)


def resolve(name: str, env: Mapping[str, str], cwd: str) -> Resolution:
    env_path = env.get("PATH", os.defpath)
    path = shutil.which(name, path=env_path)
    broken = _broken_before(name, env_path, path)
    if path is None:
        return Resolution(name, None, broken=broken)
    real = os.path.realpath(path)
    if _is_pyenv_shim(path):
        target = pyenv_target(path, env, cwd)
        interp = shebang(target, env_path) if target else None
        return Resolution(name, path, real, "pyenv shim", target, interp, broken)
    interp = shebang(real, env_path)
    return Resolution(name, path, real, "script" if interp else "binary", None, interp, broken)


def _failure(interpreter: str, run: Any) -> str:
    """Why the inspection failed, without echoing the whole inline script."""
    if run.timed_out:
        return f"`{interpreter} -c ...` did not finish within {run.duration_s:.1f} s"
    if run.missing:
        return f"`{interpreter}` could not start: {run.error or 'not found'}"
    tail = (run.err or run.out).strip().splitlines()[-1:] or [""]
    return f"`{interpreter} -c ...` exited {run.rc}: {tail[0][:200]}"


def collect(ctx: ProbeContext) -> PythonFacts:
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was deleted under us; pyenv would fail the same way
        cwd = "/"
    resolutions = tuple(resolve(name, ctx.env, cwd) for name in NAMES)
    option = ctx.options.python
    via = ""
    if option:
        requested = option
        interpreter = shutil.which(requested, path=ctx.env.get("PATH")) or (requested if os.path.exists(requested)
                                                                            else None)
    else:
        requested = "python3 on PATH"
        python3 = resolutions[1]
        interpreter = python3.path
        if python3.kind == "pyenv shim" and python3.target:
            interpreter, via = python3.target, f"pyenv shim {python3.path}"
    if interpreter is None:
        return PythonFacts(requested, None, resolutions=resolutions)
    run = ctx.run([interpreter, "-c", SCRIPT], timeout_s=ctx.timeout_s, env=ctx.env)
    if not run.ok:
        return PythonFacts(requested, interpreter, via, error=_failure(interpreter, run), resolutions=resolutions)
    try:
        info = ast.literal_eval(run.out.strip().splitlines()[-1])
        if not isinstance(info, dict):
            raise ValueError("not a dict")
    except (ValueError, SyntaxError, IndexError) as exc:
        return PythonFacts(requested, interpreter, via, resolutions=resolutions,
                           error=f"unexpected output from {interpreter}: {exc}: {run.out[:200]!r}")
    return PythonFacts(requested, interpreter, via, info=info, resolutions=resolutions)


def summarize(facts: PythonFacts) -> dict[str, str | None]:
    """The version of the interpreter examined ("3.11.2"); None when it could not be run."""
    version = facts.info.get("version")
    if not isinstance(version, (list, tuple)) or not version:
        return {"python": None}
    return {"python": ".".join(str(part) for part in version)}


PROBES = (ProbeSpec("python", collect, summarize=summarize),)
