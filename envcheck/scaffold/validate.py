"""Input validation for `envcheck scaffold`: every value is checked before anything is written, so a bad
value never leaves a half-written project.

Each function returns the cleaned value or raises :class:`UsageError` (exit 2) with a message that says
what was wrong and what would be accepted. Nothing here touches the disk except reading what a target
folder already holds.
"""

from __future__ import annotations

import difflib
import keyword
import os
import re
import sys
import unicodedata
from pathlib import Path, PurePosixPath

from envcheck.model import UsageError

# PEP 508 / the packaging spec's "name" rule, ASCII only; 64 characters keeps paths and image tags sane.
_DIST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
# Names a generated package must not take: the project imports torch and numpy, and its tests use pytest.
# jupyterlab and ipykernel come with --jupyter: a package of that name, installed with `pip install -e .`, would
# break the notebook's kernel.
_SHADOWED = frozenset({"torch", "torchvision", "torchaudio", "numpy", "pytest", "setuptools", "pip", "envcheck",
                       "jupyter", "jupyterlab", "ipykernel"})
# Standard-library packages missing from sys.stdlib_module_names (CPython leaves its test suite out): stdlib
# paths come before site-packages, so `python -m test.train` would find CPython's `test` package, not the project.
_STDLIB_EXTRA = frozenset({"test"})
# Device names Windows reserves in every folder: a src/con/ package cannot even be checked out there.
_WINDOWS_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                               *(f"lpt{i}" for i in range(10))})
_PYTHON = re.compile(r"^3\.(\d{1,2})$")
_TORCH = re.compile(r"^(\d{1,2})\.(\d{1,3})(?:\.(\d{1,3}))?$")
_CUDA = re.compile(r"^(\d{1,2})\.(\d{1,2})$")
# Linux driver versions: "535.104.05", "570.26", "580.65.06".
_DRIVER = re.compile(r"^(\d{3})\.(\d{1,3})(?:\.(\d{1,3}))?$")
# A compute capability as NVIDIA writes it ("8.0") or as nvcc and torch.cuda.get_arch_list() do ("sm_80", "sm_90a").
_CAPABILITY = re.compile(r"^(?:(?P<major>\d{1,2})\.(?P<minor>\d)|sm_?(?P<sm>\d{2,3})a?)$", re.IGNORECASE)


def show(value: str) -> str:
    """A value as it may appear in a message: quoted, control characters escaped, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _control_chars(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def dist_name(name: str) -> str:
    """A valid distribution name (what pyproject.toml's ``name`` takes), returned unchanged."""
    if not name:
        raise UsageError("the project name is empty: pass --name NAME")
    if _control_chars(name):
        raise UsageError(f"the project name {show(name)} contains control characters")
    if "/" in name or "\\" in name or os.sep in name or ".." in name:
        raise UsageError(f"the project name {show(name)} must not contain path separators or '..'")
    if not _DIST_NAME.match(name):
        raise UsageError(
            f"the project name {show(name)} is not a valid distribution name: use ASCII letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit, at most 64 characters (e.g. --name mnist-demo)"
        )
    return name


def package_name(name: str) -> str:
    """The import name for a distribution name: lower case, '-' and '.' as '_'; refused when unusable."""
    package = re.sub(r"[-_.]+", "_", dist_name(name)).lower()
    if not package.isidentifier() or not package.isascii():
        raise UsageError(f"the package name {package!r} (from {show(name)}) is not a Python identifier; pass --name "
                         "with a name that starts with a letter, e.g. --name my-project")
    hint = f"pass --name with another name, e.g. --name {package.replace('_', '-')}-project"
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise UsageError(f"the package name {package!r} is a Python keyword; {hint}")
    if package in sys.stdlib_module_names or package in _STDLIB_EXTRA:
        raise UsageError(f"the package name {package!r} would shadow the standard library module {package!r}; {hint}")
    if package in _SHADOWED or package.startswith("torch"):
        raise UsageError(f"the package name {package!r} would shadow {package!r}, which the project imports; {hint}")
    if package in _WINDOWS_RESERVED:
        raise UsageError(f"the package name {package!r} is a device name Windows reserves (src/{package}/ could not "
                         f"be checked out there); {hint}")
    return package


def target_path(path: str) -> Path:
    """The target folder, absolute; it may exist (an empty folder, or any folder with --force) or not."""
    if not path or _control_chars(path):
        raise UsageError(f"the target path {show(path)} is empty or contains control characters")
    target = Path(os.path.abspath(os.path.expanduser(path)))
    if target == Path(target.anchor):
        raise UsageError("refusing to scaffold into the root folder: name a project folder")
    _check_reachable(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    if target.is_symlink():
        raise UsageError(f"{target} is a symbolic link: name the real folder")
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"the parent folder {parent} does not exist: create it first (mkdir -p {parent})")
    return target


def _check_reachable(target: Path) -> None:
    """A path that runs through a file, or a name longer than the file system takes, is refused here: the stat
    calls below would fail on it with ENOTDIR or ENAMETOOLONG (which Python 3.10 and 3.11's Path.exists raise)."""
    ancestor = target
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor != target and not os.path.isdir(ancestor):
        raise UsageError(f"{ancestor} is a file, not a folder: {target} cannot be made under it")
    try:
        name_max = os.pathconf(ancestor, "PC_NAME_MAX")
        path_max = os.pathconf(ancestor, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096  # Linux's NAME_MAX and PATH_MAX
    for part in target.relative_to(ancestor).parts:
        if len(os.fsencode(part)) > name_max:
            raise UsageError(f"the folder name {show(part)} is {len(os.fsencode(part))} bytes long; the file system "
                             f"of {ancestor} takes names of at most {name_max} bytes")
    # The project's own deepest paths (src/<package>/..., .envcheck/staging-*/tree/...) add up to about 150 bytes.
    if len(os.fsencode(str(target))) + 150 >= path_max:
        raise UsageError(f"the path {show(str(target))} is too long: the project's files under it would pass the "
                         f"{path_max}-byte limit of a path")


def python_version(value: str) -> str:
    """``3.12`` style; the range check against the chosen torch happens in the decisions."""
    if not _PYTHON.match(value):
        raise UsageError(f"--python {show(value)}: expected a version like 3.12")
    return value


def torch_version(value: str) -> str:
    """``2.8`` or ``2.8.0``; whether envcheck knows it is checked against the compatibility data."""
    if not _TORCH.match(value):
        raise UsageError(f"--torch {show(value)}: expected a version like 2.8 or 2.8.0")
    return value


def cuda_option(value: str) -> str:
    """``auto``, ``cpu`` or a CUDA ``X.Y``."""
    if value in ("auto", "cpu") or _CUDA.match(value):
        return value
    raise UsageError(f"--cuda {show(value)}: expected auto, cpu or a CUDA version like 12.6")


def gpu_option(value: str) -> tuple[tuple[int, int], str | None]:
    """``--gpu``: a compute capability (``8.0``, ``sm_80``) or a GPU model name from envcheck's GPU data (``A100``);
    returns the capability and, for a name, the name as the plan should say it."""
    text = value.strip()
    found = _CAPABILITY.match(text)
    if found:
        major, minor = (found["major"], found["minor"]) if found["major"] else (found["sm"][:-1], found["sm"][-1])
        return (int(major), int(minor)), None
    from envcheck.compat import gpu_capability, gpu_model_names

    named = gpu_capability(text)
    if named is not None:
        return named
    close = difflib.get_close_matches(text.upper(), [n.upper() for n in gpu_model_names()], n=4, cutoff=0.5)
    shown = {n.upper(): n for n in gpu_model_names()}
    hint = f" (close: {', '.join(shown[c] for c in close)})" if close else ""
    raise UsageError(f"--gpu {show(value)}: not a compute capability like 8.0 or sm_80, nor a GPU model in "
                     f"envcheck's data{hint}")


def driver_version(value: str) -> str:
    """An NVIDIA Linux driver version such as ``535.104.05``."""
    if not _DRIVER.match(value):
        raise UsageError(f"--driver {show(value)}: expected an NVIDIA driver version like 535.104.05 or 570.26")
    return value


def safe_relpath(rel: str) -> PurePosixPath:
    """A path to write (from a plan, or read back from a journal) must be relative, plain and free of '..',
    backslashes and control characters."""
    pure = PurePosixPath(rel)
    bad = (
        not rel
        or pure.is_absolute()
        or "\\" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
        or _control_chars(rel)
    )
    if bad:
        raise UsageError(f"refusing to write {show(rel)}: not a plain relative path")
    return pure


def existing_entries(target: Path) -> list[str]:
    """The target's top-level entries (sorted); empty when it does not exist. One listing, not a walk: whether a
    folder is empty, and what to name in the refusal, needs no more, and a .venv inside holds tens of thousands of
    files. A folder that cannot be listed is refused, never taken for an empty one."""
    if not target.is_dir():
        return []
    try:
        return sorted(os.listdir(target))
    except OSError as err:
        raise UsageError(f"cannot list {target} ({err.strerror or err}): envcheck writes a project only into a "
                         f"folder it can list (ls -ld {target})") from err
