"""Facts about Jupyter: the `jupyter` launcher and its interpreter, package versions, every kernelspec.

Nothing is started: `jupyter --version` costs about 2 s, as it imports a dozen Jupyter packages to print
their versions (jupyter_core/command.py). The launcher's shebang names its interpreter; versions come from
that interpreter's site-packages ``*.dist-info/METADATA``; kernelspecs are found by walking the data paths the way
jupyter_core.paths.jupyter_path("kernels") orders them (JUPYTER_PATH, then user and env dirs, the env
first inside a venv or a conda env, then /usr/local/share/jupyter and /usr/share/jupyter). The first
kernelspec of a name wins, as in jupyter_client.kernelspec; later ones are recorded as shadowed.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil

from envcheck.frozen import frozen
from envcheck.hostfs import read_small_text
from envcheck.units import ProbeContext, ProbeSpec

# A kernel.json or pyvenv.cfg is a few hundred bytes; anything past 64 KiB is not one (and is not read).
_KERNEL_JSON_MAX = _PYVENV_CFG_MAX = 64 * 1024

PACKAGES = ("jupyter_core", "jupyter_client", "notebook", "jupyterlab", "ipykernel")
SYSTEM_DATA_DIRS = ("/usr/local/share/jupyter", "/usr/share/jupyter")


@frozen
class Kernelspec:
    name: str
    resource_dir: str
    argv0: str | None = None
    interpreter: str | None = None  # argv[0] resolved to a path; None when it resolves nowhere
    interpreter_exists: bool = False
    resolved_via: str = ""  # "absolute path", "PATH", "jupyter's own interpreter"
    display_name: str = ""
    language: str = ""
    uses_ipykernel: bool = False
    ipykernel_found: bool | None = None  # None: not an ipykernel kernel, or its site-packages were not found
    error: str = ""  # kernel.json unreadable or malformed


@frozen
class JupyterFacts:
    path: str | None  # `jupyter` on PATH; None: not found
    interpreter: str | None = None  # from the launcher's shebang
    interpreter_exists: bool = False
    launcher_error: str = ""  # why the interpreter could not be read
    packages: tuple[tuple[str, str], ...] = ()  # (distribution, version) found in the interpreter's site dirs
    site_dirs: tuple[str, ...] = ()
    data_dirs: tuple[str, ...] = ()  # kernels folders searched, in Jupyter's order
    kernelspecs: tuple[Kernelspec, ...] = ()
    shadowed: tuple[str, ...] = ()  # "name at dir" hidden by an earlier kernelspec of the same name


def read_shebang(launcher: str) -> tuple[str | None, str]:
    """The interpreter a console script runs with, or why it is not known."""
    try:
        with open(launcher, "rb") as handle:
            head = handle.read(1024).decode("utf-8", errors="replace")
    except OSError as exc:
        return None, f"cannot read {launcher}: {exc.strerror or exc}"
    lines = head.splitlines()
    if not lines or not lines[0].startswith("#!"):
        return None, f"{launcher} is not a script with a #! line"
    # pip/distlib fall back to this for shebangs over 127 bytes or with spaces: '''exec' /path/python "$0" "$@"
    if lines[0].strip() == "#!/bin/sh" and len(lines) > 1:
        match = re.match(r"'''exec' (.+?) \"\$0\" \"\$@\"", lines[1])
        if match:
            return match.group(1).strip('"'), ""
    parts = lines[0][2:].split()
    if not parts:
        return None, f"{launcher} has an empty #! line"
    if os.path.basename(parts[0]) == "env" and len(parts) > 1:
        return parts[1] if parts[1] != "-S" or len(parts) < 3 else parts[2], ""  # resolved on PATH by the caller
    return parts[0], ""


def python_version_of(interpreter: str) -> str | None:
    """"3.11" for an interpreter path, from its real file name or the venv's pyvenv.cfg; None if unknown."""
    match = re.fullmatch(r"python(\d\.\d+)", os.path.basename(os.path.realpath(interpreter)))
    if match:
        return match.group(1)
    cfg = os.path.join(os.path.dirname(os.path.dirname(interpreter)), "pyvenv.cfg")
    try:
        found = re.search(r"^version(?:_info)?\s*=\s*(\d+\.\d+)", read_small_text(cfg, _PYVENV_CFG_MAX), re.M)
        return found.group(1) if found else None
    except OSError:
        return None


def site_dirs_of(interpreter: str, home: str) -> list[str]:
    """Where that interpreter imports from, by the usual layouts (venv, conda env, Debian's python3)."""
    prefix = os.path.dirname(os.path.dirname(interpreter))  # not realpath: a venv's python links elsewhere
    version = python_version_of(interpreter)
    pattern = f"python{version}" if version else "python3.*"
    dirs = glob.glob(os.path.join(glob.escape(prefix), "lib", pattern, "site-packages"))
    is_venv = os.path.isfile(os.path.join(prefix, "pyvenv.cfg"))
    if prefix == "/usr":  # Debian and Ubuntu: apt's dist-packages, then pip's under /usr/local
        dirs += glob.glob(f"/usr/local/lib/{pattern}/dist-packages") + ["/usr/lib/python3/dist-packages"]
    if not is_venv:  # `pip install --user`; a venv does not see the user site
        dirs += glob.glob(os.path.join(glob.escape(home), ".local", "lib", pattern, "site-packages"))
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def distribution_version(site_dirs: list[str], name: str) -> str | None:
    """Version from the first ``name-*.dist-info/METADATA`` (or egg-info PKG-INFO) in ``site_dirs``."""
    for site in site_dirs:
        for info in sorted(glob.glob(os.path.join(glob.escape(site), f"{name}-[0-9]*.*-info"))):
            meta = os.path.join(info, "METADATA" if info.endswith(".dist-info") else "PKG-INFO")
            if not os.path.isdir(info):
                meta = info  # a Debian egg-info can be a single file
            try:
                with open(meta, encoding="utf-8", errors="replace") as handle:
                    found = re.search(r"^Version:\s*(\S+)", handle.read(4096), re.M)
            except OSError:
                continue
            if found:
                return found.group(1)
    return None


def data_dirs(ctx: ProbeContext, interpreter: str | None, with_ipython: bool = False) -> list[str]:
    """Kernel folders in the order jupyter_client's KernelSpecManager searches them for that interpreter:
    jupyter_core.paths.jupyter_path("kernels"), then ~/.ipython/kernels when IPython is installed."""
    env, home = ctx.env, ctx.home
    paths = [p.rstrip(os.sep) for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    prefixes = [os.path.dirname(os.path.dirname(interpreter))] if interpreter else []
    in_venv = bool(prefixes) and os.path.isfile(os.path.join(prefixes[0], "pyvenv.cfg"))
    xdg = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    user = [env.get("JUPYTER_DATA_DIR") or os.path.join(xdg, "jupyter")]
    if not in_venv:  # site.ENABLE_USER_SITE is off in a venv; elsewhere the user base's share/jupyter counts
        user.append(os.path.join(env.get("PYTHONUSERBASE") or os.path.join(home, ".local"), "share", "jupyter"))
    prefixes += [p for p in (env.get("CONDA_PREFIX"), env.get("VIRTUAL_ENV")) if p]
    env_dirs = [d for d in (os.path.join(p, "share", "jupyter") for p in prefixes) if d not in SYSTEM_DATA_DIRS]
    if "JUPYTER_PREFER_ENV_PATH" in env:
        prefer_env = env["JUPYTER_PREFER_ENV_PATH"].lower() not in ("", "0", "false", "no", "off", "n")
    else:  # jupyter_core.paths.prefer_environment_over_user: inside a venv, or a non-base conda env
        in_conda = bool(interpreter and env.get("CONDA_PREFIX") and env.get("CONDA_DEFAULT_ENV", "base") != "base"
                        and interpreter.startswith(env["CONDA_PREFIX"]))
        prefer_env = in_venv or in_conda
    paths += env_dirs + user if prefer_env else user + env_dirs
    paths += SYSTEM_DATA_DIRS
    kernels = [os.path.join(p, "kernels") for p in dict.fromkeys(paths)]
    if with_ipython:
        kernels.append(os.path.join(env.get("IPYTHONDIR") or os.path.join(home, ".ipython"), "kernels"))
    return list(dict.fromkeys(kernels))


def _resolve(argv0: str, resource_dir: str, ctx: ProbeContext, jupyter_python: str | None) -> tuple[str | None, str]:
    argv0 = argv0.replace("{resource_dir}", resource_dir)
    if os.path.isabs(argv0):
        return argv0, "absolute path"
    # jupyter_client's KernelManager.format_kernel_cmd runs a bare python, python3 or python3.X (its own
    # version) as its own sys.executable, not what PATH says.
    version = python_version_of(jupyter_python) if jupyter_python else None
    if jupyter_python and argv0 in {"python", "python3", f"python{version}"}:
        return jupyter_python, "jupyter's own interpreter"
    found = shutil.which(argv0, path=ctx.env.get("PATH", ""))
    return (found, "PATH") if found else (None, "PATH")


def read_kernelspec(name: str, resource_dir: str, ctx: ProbeContext, jupyter_python: str | None) -> Kernelspec:
    try:
        spec = json.loads(read_small_text(os.path.join(resource_dir, "kernel.json"), _KERNEL_JSON_MAX))
    except (OSError, ValueError) as exc:
        return Kernelspec(name, resource_dir, error=f"kernel.json unreadable: {exc}")
    argv = spec.get("argv") if isinstance(spec, dict) else None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return Kernelspec(name, resource_dir, error="kernel.json has no argv list")
    interpreter, via = _resolve(argv[0], resource_dir, ctx, jupyter_python)
    exists = bool(interpreter and os.path.isfile(interpreter) and os.access(interpreter, os.X_OK))
    uses_ipykernel = any(a in ("ipykernel_launcher", "ipykernel") for a in argv[1:3])
    ipykernel_found = None
    if uses_ipykernel and exists and interpreter:
        sites = site_dirs_of(interpreter, ctx.home)
        if sites:
            ipykernel_found = distribution_version(sites, "ipykernel") is not None
    return Kernelspec(
        name, resource_dir, argv0=argv[0], interpreter=interpreter, interpreter_exists=exists, resolved_via=via,
        display_name=str(spec.get("display_name", "")), language=str(spec.get("language", "")),
        uses_ipykernel=uses_ipykernel, ipykernel_found=ipykernel_found,
    )


def collect(ctx: ProbeContext) -> JupyterFacts:
    path = shutil.which("jupyter", path=ctx.env.get("PATH", ""))
    interpreter: str | None = None
    error = ""
    packages: tuple[tuple[str, str], ...] = ()
    sites: tuple[str, ...] = ()
    if path:
        interpreter, error = read_shebang(path)
        if interpreter and not os.path.isabs(interpreter):
            interpreter = shutil.which(interpreter, path=ctx.env.get("PATH", "")) or interpreter
    exists = bool(interpreter and os.path.isfile(interpreter))
    if interpreter and exists:
        found = site_dirs_of(interpreter, ctx.home)
        sites = tuple(found)
        packages = tuple((n, v) for n in PACKAGES if (v := distribution_version(found, n)) is not None)
    with_ipython = bool(sites) and distribution_version(list(sites), "ipython") is not None
    dirs = data_dirs(ctx, interpreter if exists else None, with_ipython)
    specs: dict[str, Kernelspec] = {}
    shadowed: list[str] = []
    for kernels in dirs:
        for resource_dir in sorted(glob.glob(os.path.join(glob.escape(kernels), "*", "kernel.json"))):
            folder = os.path.dirname(resource_dir)
            # jupyter_client lower-cases names and only warns about odd ones (spaces): it still uses them.
            name = os.path.basename(folder).lower()
            if name in specs:
                shadowed.append(f"{name} at {folder}")
                continue
            specs[name] = read_kernelspec(name, folder, ctx, interpreter if exists else None)
    return JupyterFacts(
        path=path, interpreter=interpreter, interpreter_exists=exists, launcher_error=error, packages=packages,
        site_dirs=sites, data_dirs=tuple(dirs), kernelspecs=tuple(specs.values()), shadowed=tuple(shadowed),
    )


PROBES = (ProbeSpec("jupyter", collect),)
