"""Facts about conda: where it is, what `conda info --json` says, each env read from disk, mamba tools.

With no conda, mamba or micromamba answers instead (MANAGERS says the order and why): their libmamba
answers and conda 23.7's text table are read into conda's shape by envcheck.probes.conda_formats.
pixi and uv, when on PATH, are named with their versions (other_tools).

Finding conda: after `conda init`, `conda` is a shell function (conda/shell/etc/profile.d/conda.sh
defines ``conda()`` and exports ``CONDA_EXE``) that a subprocess cannot see, so look at ``$CONDA_EXE``,
then PATH, then the usual install prefixes.
`conda info --json` is the one slow call (about a second; seconds on a busy machine): it runs through
the seam under what is left of the probe's deadline, so a hang is a fact ("did not answer"), not a
stuck report. Everything per env (Python version, where torch came from) is read from
``<prefix>/conda-meta`` and ``site-packages`` names, never by starting that env's Python.

The shape of `conda info --json` is conda's own ``get_info_dict()`` (conda/cli/main_info.py, 24.x/25.x):
``conda_version``, ``root_prefix``, ``active_prefix``, ``active_prefix_name``, ``envs``, ``envs_dirs``,
``channels`` (URLs, tokens already shown as ``/t/<TOKEN>/``), ``virtual_pkgs`` ([name, version, build]),
``solver`` ({"name": ...}). Every channel is passed through envcheck.redact.redact all the same:
older conda, other front ends and custom channel URLs can carry credentials.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable, Mapping

from envcheck.frozen import frozen
from envcheck.hostfs import read_small_text
from envcheck.probes import conda_formats, nvidia_proc
from envcheck.redact import redact
from envcheck.units import ProbeContext, ProbeSpec

HOME_PREFIXES = ("miniforge3", "mambaforge", "miniconda3", "anaconda3")
SYSTEM_PREFIXES = ("/opt/conda", "/opt/miniconda3", "/opt/miniforge3")
_MARGIN_S = 0.3  # leave the engine time to collect our facts before its own deadline fires
_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?)")
# Which manager answers for the envs, in this order: conda's `info --json` names its envs, channels and version in
# one call and is what `conda activate` in the user's shell reads; mamba next (1.x wraps conda, 2.x is libmamba);
# micromamba last (standalone, its own root in $MAMBA_ROOT_PREFIX). A machine with only micromamba is still checked.
MANAGERS = ("conda", "mamba", "micromamba")
# Env tools outside conda's world, named with their versions: many new projects make their envs with them.
OTHER_TOOLS = ("pixi", "uv")
OTHER_TOOL_TIMEOUT_S = 3.0  # `--version` of a Rust binary answers in milliseconds; an info row never waits long


@frozen
class CondaEnv:
    prefix: str
    name: str  # "base", the folder name for envs under an envs dir, else the prefix itself
    exists: bool
    is_conda_env: bool = False  # has a conda-meta folder
    python_version: str | None = None  # None: no Python in this env (or it could not be read)
    torch_version: str | None = None
    torch_source: str | None = None  # the conda channel URL torch came from, or "pip"


@frozen
class Tool:
    """mamba or micromamba."""

    name: str
    path: str
    version: str | None = None
    error: str = ""


@frozen
class CondaFacts:
    exe: str | None  # the manager's executable; None: no conda, mamba or micromamba was found anywhere
    found_via: str = ""  # "$CONDA_EXE", "PATH", "install prefix", or where mamba / micromamba was found
    manager: str = "conda"  # which of MANAGERS answered for the envs
    json_ignored: bool = False  # conda printed its text table when asked for --json (conda/conda#12972)
    searched: tuple[str, ...] = ()  # where we looked, for the "not found" message
    stale_conda_exe: str | None = None  # $CONDA_EXE when it names a file that does not exist
    info_error: str = ""  # why `conda info --json` gave no answer ("" when it did)
    version: str | None = None
    version_source: str = ""  # "conda info" or the conda-meta record it was read from
    root_prefix: str | None = None
    active_prefix: str | None = None
    active_name: str | None = None
    active_exists: bool = False
    python_on_path: str | None = None  # what `python` resolves to, to compare with the active env
    envs: tuple[CondaEnv, ...] = ()
    channels: tuple[str, ...] = ()  # redacted URLs, in conda's order
    virtual_packages: tuple[tuple[str, str, str], ...] = ()
    solver: str | None = None
    cuda_override: str | None = None  # $CONDA_OVERRIDE_CUDA
    nvidia_driver_loaded: bool = False  # /proc/driver/nvidia/version exists
    environments_txt: str = ""
    environments_txt_entries: tuple[str, ...] = ()
    environments_txt_stale: tuple[str, ...] = ()  # listed, but gone or no longer a conda env
    environments_txt_error: str = ""
    tools: tuple[Tool, ...] = ()
    other_tools: tuple[Tool, ...] = ()  # pixi and uv when they are on PATH


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def locate(
    env: Mapping[str, str], home: str, system_prefixes: tuple[str, ...] = SYSTEM_PREFIXES
) -> tuple[str | None, str, tuple[str, ...], str | None]:
    """(conda executable, how it was found, where we looked, a $CONDA_EXE that points nowhere)."""
    searched: list[str] = []
    stale = None
    conda_exe = env.get("CONDA_EXE", "")
    if conda_exe:
        searched.append(f"$CONDA_EXE={conda_exe}")
        if _executable(conda_exe):
            return conda_exe, "$CONDA_EXE", tuple(searched), None
        stale = conda_exe
    searched.append("PATH")
    on_path = shutil.which("conda", path=env.get("PATH", ""))
    if on_path:
        return on_path, "PATH", tuple(searched), stale
    prefixes = [os.path.join(home, name) for name in HOME_PREFIXES] + list(system_prefixes)
    for prefix in prefixes:
        candidate = os.path.join(prefix, "bin", "conda")
        searched.append(candidate)
        if _executable(candidate):
            return candidate, "install prefix", tuple(searched), stale
    return None, "", tuple(searched), stale


def _install_prefix(exe: str) -> str | None:
    """<prefix>/bin/conda or <prefix>/condabin/conda -> <prefix>."""
    folder = os.path.dirname(os.path.abspath(exe))
    return os.path.dirname(folder) if os.path.basename(folder) in ("bin", "condabin") else None


def _meta_version(prefix: str, package: str) -> tuple[str | None, str]:
    """Version of ``package`` in an env from its conda-meta record's file name (name-version-build.json)."""
    for path in sorted(glob.glob(os.path.join(glob.escape(prefix), "conda-meta", f"{package}-[0-9]*.json"))):
        rest = os.path.basename(path)[len(package) + 1 : -len(".json")]
        return rest.rsplit("-", 1)[0], path
    return None, ""


def _record_channel(path: str) -> str | None:
    # conda writes conda-meta records with sorted keys, so "channel" sits well before the long "files" list.
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError:
        return None
    match = re.search(r'"channel"\s*:\s*"([^"]*)"', head)
    return redact(match.group(1)) if match else None


def read_env(prefix: str, name: str) -> CondaEnv:
    """One env, from its files: conda-meta records first, bin/python3.X names as the fallback."""
    if not os.path.isdir(prefix):
        return CondaEnv(prefix=prefix, name=name, exists=False)
    is_conda = os.path.isdir(os.path.join(prefix, "conda-meta"))
    python, _ = _meta_version(prefix, "python")
    if python is None:
        names = [os.path.basename(p) for p in glob.glob(os.path.join(glob.escape(prefix), "bin", "python3.*"))]
        found = sorted((n[len("python"):] for n in names if re.fullmatch(r"python3\.\d+", n)),
                       key=lambda v: int(v.split(".")[1]))
        python = found[-1] if found else None
    torch, record = _meta_version(prefix, "pytorch")
    source = _record_channel(record) if record else None
    if torch is None and python is not None:
        major_minor = ".".join(python.split(".")[:2])
        site = os.path.join(glob.escape(prefix), "lib", f"python{major_minor}", "site-packages")
        for info in sorted(glob.glob(os.path.join(site, "torch-[0-9]*.dist-info"))):
            torch, source = os.path.basename(info)[len("torch-") : -len(".dist-info")], "pip"
    return CondaEnv(prefix=prefix, name=name, exists=True, is_conda_env=is_conda, python_version=python,
                    torch_version=torch, torch_source=source)


def _env_name(prefix: str, root: str | None, envs_dirs: list[str]) -> str:
    # conda's own env_name(): base for the root prefix, the folder name inside an envs dir, else the path.
    if root and os.path.normpath(prefix) == os.path.normpath(root):
        return "base"
    parent = os.path.dirname(os.path.normpath(prefix))
    if parent in {os.path.normpath(d) for d in envs_dirs} or os.path.basename(parent) == "envs":
        return os.path.basename(os.path.normpath(prefix))
    return prefix


def _read_environments_txt(home: str) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
    path = os.path.join(home, ".conda", "environments.txt")
    try:
        # One line per env conda ever made: a few KiB; the 1 MiB cap (hostfs.MAX_READ) is thousands of envs.
        text = read_small_text(path)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    except FileNotFoundError:
        return path, (), (), ""
    except OSError as exc:
        return path, (), (), f"cannot read {path}: {exc.strerror or exc}"
    entries = tuple(dict.fromkeys(lines))
    # conda itself drops an entry once <prefix>/conda-meta is gone (envs_manager._clean_environments_txt).
    stale = tuple(p for p in entries if not os.path.isdir(os.path.join(p, "conda-meta")))
    return path, entries, stale, ""


def parse_info(text: str, command: str = "conda info --json") -> tuple[dict[str, Any] | None, str]:
    """conda's JSON object, or why there is none. Tolerates noise before the object (plugins that print). Any text
    at all is an answer, never an exception: json raises ValueError for an integer of more digits than
    sys.get_int_max_str_digits() allows, and RecursionError for nesting deeper than its recursion limit."""
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        return whole, ""
    if whole is not None:
        return None, f"`{command}` printed JSON that is not an object"
    start = text.find("{")
    if start < 0:
        first = text.strip().splitlines()[:1] or ["(no output)"]
        return None, f"`{command}` printed no JSON: {first[0][:160]}"
    try:
        data, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        return None, f"`{command}` printed something that is not JSON ({exc.msg} at char {exc.pos})"
    except (ValueError, RecursionError) as exc:
        return None, f"`{command}` printed JSON that cannot be read ({type(exc).__name__}: {str(exc)[:120]})"
    return data, ""


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _tool_version(ctx: ProbeContext, tool: str, path: str, base: str | None, left_s: Callable[[], float]) -> Tool:
    # mamba living in the base env has a conda-meta record: its version costs no process start.
    if base and os.path.dirname(os.path.dirname(path)) == os.path.normpath(base):
        version, _ = _meta_version(base, tool)
        if version:
            return Tool(tool, path, version)
    timeout_s = left_s()
    result = ctx.run([path, "--version"], timeout_s=timeout_s, env=ctx.env)
    if result.timed_out:
        return Tool(tool, path, error=f"`{tool} --version` did not answer within {timeout_s:.1f} s: "
                                      f"{tool} hangs ({path})")
    if not result.ok:
        return Tool(tool, path, error=result.describe())
    match = _VERSION.search((result.out.strip().splitlines() or [""])[0])
    return Tool(tool, path, match.group(1) if match else None, "" if match else "no version in its output")


def _find_tools(env: Mapping[str, str], home: str, base: str | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    mamba_candidates = [shutil.which("mamba", path=env.get("PATH", ""))]
    if base:
        mamba_candidates += [os.path.join(base, "bin", "mamba"), os.path.join(base, "condabin", "mamba")]
    micro_candidates = [env.get("MAMBA_EXE"), shutil.which("micromamba", path=env.get("PATH", "")),
                        os.path.join(home, ".local", "bin", "micromamba"), os.path.join(home, "bin", "micromamba")]
    for tool, candidates in (("mamba", mamba_candidates), ("micromamba", micro_candidates)):
        for candidate in candidates:
            if candidate and os.path.basename(candidate) == tool and _executable(candidate):
                found.append((tool, candidate))
                break
    return found


def collect(ctx: ProbeContext) -> CondaFacts:
    deadline = time.monotonic() + max(0.2, ctx.timeout_s - _MARGIN_S)

    def left_s() -> float:
        return max(0.1, deadline - time.monotonic())

    # Before `conda info`: conda rewrites environments.txt without the stale entries as it lists envs.
    txt_path, txt_entries, txt_stale, txt_error = _read_environments_txt(ctx.home)
    exe, via, searched, stale_exe = locate(ctx.env, ctx.home)
    common: dict[str, Any] = dict(
        searched=searched, stale_conda_exe=stale_exe, cuda_override=ctx.env.get("CONDA_OVERRIDE_CUDA"),
        nvidia_driver_loaded=ctx.fs.exists(nvidia_proc.VERSION), environments_txt=txt_path,
        environments_txt_entries=txt_entries, environments_txt_stale=txt_stale, environments_txt_error=txt_error,
        python_on_path=shutil.which("python", path=ctx.env.get("PATH", "")),
    )
    base_guess = _install_prefix(exe) if exe else None
    tools_found = _find_tools(ctx.env, ctx.home, base_guess)
    others_found = [(t, p) for t in OTHER_TOOLS if (p := shutil.which(t, path=ctx.env.get("PATH", "")))]
    manager = "conda"
    if exe is None and tools_found:  # no conda: mamba, else micromamba, answers for the envs (see MANAGERS)
        manager, exe = tools_found[0]
        via = "$MAMBA_EXE" if exe == ctx.env.get("MAMBA_EXE") else "PATH" if exe == shutil.which(
            manager, path=ctx.env.get("PATH", "")) else "home folder"
        base_guess = ctx.env.get("MAMBA_ROOT_PREFIX") or None
        common["searched"] = searched + tuple(p for _, p in tools_found)

    # The manager's calls and the tools' --version calls overlap: the probe costs the slowest, not the sum.
    with ThreadPoolExecutor(max_workers=6) as pool:
        info_timeout_s = left_s()
        info_future = pool.submit(ctx.run, [exe, "info", "--json"], timeout_s=info_timeout_s,
                                  env=ctx.env) if exe else None
        # libmamba's `info` lists no envs; `env list --json` does (conda's `info --json` lists them itself).
        list_future = pool.submit(ctx.run, [exe, "env", "list", "--json"], timeout_s=info_timeout_s,
                                  env=ctx.env) if exe and manager != "conda" else None
        tool_futures = [pool.submit(_tool_version, ctx, t, p, base_guess, left_s) for t, p in tools_found]
        other_futures = [pool.submit(_tool_version, ctx, t, p, None, lambda: min(OTHER_TOOL_TIMEOUT_S, left_s()))
                         for t, p in others_found]
        info_run = info_future.result() if info_future else None
        list_run = list_future.result() if list_future else None
        tools = [f.result() for f in tool_futures]
        common["other_tools"] = tuple(f.result() for f in other_futures)
    if exe is None or info_run is None:
        return CondaFacts(exe=None, tools=tuple(tools), **common)

    command = f"{manager} info --json"
    data: dict[str, Any] | None = None
    json_ignored = False
    if info_run.timed_out:  # a hung conda (a lock, a stalled network drive): a fact of its own, not "no env"
        info_error = f"`{command}` did not answer within {info_timeout_s:.1f} s: {manager} hangs ({exe})"
    elif info_run.missing:
        info_error = info_run.describe()
    else:
        data, info_error = parse_info(info_run.out, command)
        rows = conda_formats.parse_text_table(info_run.out) if data is None and info_run.ok else {}
        if rows:  # conda 23.7.0-23.7.2 printed its text table for --json (conda/conda#12972): read the text
            data, info_error, json_ignored = conda_formats.from_text_table(rows), "", True
            data["envs"] = _known_prefixes(data, txt_entries)
        if info_run.rc != 0:
            # With --json, conda reports its own errors as {"error": ..., "exception_name": ...} on stdout.
            message = str(data.get("error") or data.get("message") or "") if data else ""
            info_error = f"`{command}` exited {info_run.rc}: {message.strip()[:200]}" if message \
                else info_run.describe()
            data = None
    if data is not None and conda_formats.is_libmamba_info(data):
        listed, _ = parse_info(list_run.out, f"{manager} env list --json") if list_run and list_run.ok else (None, "")
        envs = _strings(listed.get("envs")) if listed else []
        data = conda_formats.from_libmamba(data, envs, manager)
    facts = _facts_from_info(ctx, exe, via, base_guess, data, info_error, tools, common)
    return replace(facts, manager=manager, json_ignored=json_ignored)


def _known_prefixes(data: dict[str, Any], environments_txt: tuple[str, ...]) -> list[str]:
    """The envs conda would list, for an answer that names none: conda's list_all_known_prefixes()
    (conda/core/envs_manager.py) is the base, every env folder in each envs dir, and environments.txt."""
    root = data.get("root_prefix")
    found = [root] if isinstance(root, str) else []
    for folder in _strings(data.get("envs_dirs")):
        found += sorted(os.path.dirname(m) for m in glob.glob(os.path.join(glob.escape(folder), "*", "conda-meta")))
    return list(dict.fromkeys(found + list(environments_txt)))


def _facts_from_info(
    ctx: ProbeContext, exe: str, via: str, base_guess: str | None, data: dict[str, Any] | None,
    info_error: str, tools: list[Tool], common: dict[str, Any],
) -> CondaFacts:
    env_prefix = ctx.env.get("CONDA_PREFIX") or None
    if data is None:
        # Without conda's answer, the version still comes from the base env's own record, if we know the base.
        version, record = _meta_version(base_guess, "conda") if base_guess else (None, "")
        return CondaFacts(
            exe=exe, found_via=via, info_error=info_error, version=version, version_source=record,
            root_prefix=base_guess, active_prefix=env_prefix, active_name=ctx.env.get("CONDA_DEFAULT_ENV"),
            active_exists=bool(env_prefix and os.path.isdir(env_prefix)), tools=tuple(tools), **common,
        )
    root = data.get("root_prefix") if isinstance(data.get("root_prefix"), str) else base_guess
    envs_dirs = _strings(data.get("envs_dirs"))
    prefixes = list(dict.fromkeys(_strings(data.get("envs"))))
    active = data.get("active_prefix") if isinstance(data.get("active_prefix"), str) else env_prefix
    active_name = data.get("active_prefix_name") or ctx.env.get("CONDA_DEFAULT_ENV")
    virtual = tuple(
        (str(p[0]), str(p[1]), str(p[2]) if len(p) > 2 else "")
        for p in data.get("virtual_pkgs") or [] if isinstance(p, list) and len(p) >= 2
    )
    solver = data.get("solver")
    version = data.get("conda_version")
    return CondaFacts(
        exe=exe, found_via=via, version=version if isinstance(version, str) else None,
        version_source="conda info" if isinstance(version, str) else "", root_prefix=root,
        active_prefix=active, active_name=str(active_name) if active_name else None,
        active_exists=bool(active and os.path.isdir(active)),
        envs=tuple(read_env(p, _env_name(p, root, envs_dirs)) for p in prefixes),
        channels=tuple(redact(c) for c in _strings(data.get("channels"))),
        virtual_packages=virtual,
        solver=str(solver.get("name")) if isinstance(solver, dict) and solver.get("name") else None,
        tools=tuple(tools), **common,
    )


PROBES = (ProbeSpec("conda", collect),)
