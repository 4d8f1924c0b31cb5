"""The one file a fleet host runs: envcheck and every runtime dependency, for any CPython >= 3.10 on Linux.

A target needs only sshd and a CPython 3.10+; nothing is installed there and nothing stays. The artifact is a
POSIX sh prologue followed by a zip archive (the layout of a zipapp with a shebang, PEP 441: CPython finds a
zip's central directory from the end of the file, so it runs a zip with other data in front; sh reads the
prologue line by line and stops at its `exit`, before the binary part). The prologue:

- finds python3 / python3.1x / python on PATH and keeps the first that is CPython >= 3.10; none: exit 90
  (EXIT_NO_PYTHON, the controller's "no-python");
- makes a private folder (mktemp -d, umask 077) and removes it on every exit path (an EXIT trap; HUP, INT and
  TERM go through it too);
- runs the zip with that Python (-s -E -B: no user site, no PYTHON* variables, no .pyc written), whose
  ``__main__`` (envcheck/fleet/artifact_main.py) unpacks there what cannot be imported from a zip (psutil's
  extension, envcheck's own files), imports the rest from the zip, and runs ``envcheck doctor --json``
  with the policy carried inside the artifact and the arguments given (``--host NAME --group G...``);
- writes doctor's output to that folder under ``ulimit -f`` (OUTPUT_CAP_BYTES: a host that floods its output
  is cut there, and what arrives is then no valid report), prints it, and exits with doctor's code; 91
  (EXIT_CANNOT_START) when envcheck could not start there.

One artifact for hosts with different Pythons in one inventory: only pure-Python code and psutil's abi3
extension (``_psutil_linux.abi3.so``: one build for every CPython 3.x, by the stable ABI of PEP 384) go in.
The other compiled modules of the dependencies have pure-Python fallbacks their packages import when the
extension is missing (PyYAML's ``_yaml``, MarkupSafe's ``_speedups``, charset_normalizer's mypyc builds), so
they are left out; a compiled module without such a fallback stops the build (ArtifactError), never the host.
psutil's extension is built for the controller's platform (x86_64 glibc here): a host where it does not load
ends with 91 and a message saying so, which the controller records as run-failed.

The artifact is built from the installed distributions (importlib.metadata: envcheck's requirements,
recursively), once per `envcheck fleet` run, into that run's temporary folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from envcheck.model import EnvcheckError

ARTIFACT_NAME = "envcheck-fleet.sh"
EXIT_NO_PYTHON = 90
EXIT_CANNOT_START = 91  # the same number as artifact_main.EXIT_CANNOT_START, which runs where envcheck is not
# A doctor report is tens of kB (about 35 kB on a workstation); this leaves ample room and stops a flood early:
# every byte of it crosses ssh through a PTY and Ansible's result, where 8 MiB took about 30 s.
OUTPUT_CAP_BYTES = 2 * 1024 * 1024
# The CPython versions whose requirement markers are honoured (a dependency only some of them need goes in).
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Compiled modules left out, by module path without the extension suffix: each has a pure-Python fallback.
# https://github.com/yaml/pyyaml/blob/main/lib/yaml/__init__.py (`try: from .cyaml import *`),
# https://github.com/pallets/markupsafe/blob/main/src/markupsafe/__init__.py (`except ImportError` on _speedups),
# charset_normalizer ships its .py sources beside the mypyc builds (cd.py, md.py; md__mypyc is their runtime).
DROPPED_EXTENSIONS = frozenset({"yaml/_yaml", "markupsafe/_speedups", "charset_normalizer/cd", "charset_normalizer/md"})

_PROLOGUE = """#!/bin/sh
# envcheck fleet artifact: a sh prologue, then a zip that CPython >= 3.10 runs (envcheck and its dependencies).
# Usage: sh THIS_FILE [--host NAME] [--group GROUP]...  Prints envcheck doctor's JSON report and exits with
# doctor's code; {no_python} when this host has no CPython >= 3.10, {cannot_start} when envcheck cannot start
# here. It runs from a private temporary folder that is removed on every exit path.
umask 077
check='import sys; sys.exit(not (sys.implementation.name == "cpython" and sys.version_info >= (3, 10)))'
py=
for candidate in python3 python3.14 python3.13 python3.12 python3.11 python3.10 python; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c "$check" </dev/null >/dev/null 2>&1; then
        py=$candidate
        break
    fi
done
if [ -z "$py" ]; then
    echo "envcheck: no usable Python on this host: envcheck needs CPython 3.10 or newer (python3 on PATH)" >&2
    exit {no_python}
fi
tmp=$(mktemp -d "${{TMPDIR:-/tmp}}/envcheck.XXXXXXXXXX") || {{
    echo "envcheck: cannot create a private temporary folder" >&2
    exit {cannot_start}
}}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# ulimit -f counts 512-byte blocks in POSIX shells (dash; bash as sh): every file written below stays under it.
(ulimit -f {cap_blocks} && exec "$py" -s -E -B "$0" "$tmp" "$@" </dev/null >"$tmp/stdout" 2>"$tmp/stderr")
code=$?
cat "$tmp/stdout"
tail -c 4096 "$tmp/stderr" >&2
exit $code
"""


class ArtifactError(EnvcheckError):
    """The artifact cannot be built from what is installed here."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    size: int  # bytes
    files: int  # files in the payload
    build_s: float


def prologue() -> bytes:
    """The sh prologue, with its exit codes and output cap filled in."""
    text = _PROLOGUE.format(no_python=EXIT_NO_PYTHON, cannot_start=EXIT_CANNOT_START,
                            cap_blocks=OUTPUT_CAP_BYTES // 512)
    return text.encode("ascii")


def _wanted(requirement: Requirement) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"python_version": version, "sys_platform": "linux",
                                            "platform_system": "Linux", "extra": ""})
               for version in SUPPORTED_PYTHONS)


def dependencies() -> list[importlib.metadata.Distribution]:
    """The installed distributions envcheck needs at run time, recursively (envcheck itself not included)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [Requirement(text) for text in importlib.metadata.requires("envcheck") or []]
    while todo:
        requirement = todo.pop()
        key = requirement.name.lower().replace("_", "-").replace(".", "-")
        if key in found or not _wanted(requirement):
            continue
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            if requirement.marker is not None:
                continue  # needed only by Pythons other than this one, and not installed here
            raise ArtifactError(f"cannot build the fleet artifact: {requirement.name} is not installed") from None
        found[key] = distribution
        todo += [Requirement(text) for text in distribution.requires or []]
    return [found[key] for key in sorted(found)]


def _keeps(name: str) -> bool:
    """Whether a file of a distribution (a path relative to its site-packages) goes into the payload."""
    if name.startswith("..") or "__pycache__" in name.split("/") or name.endswith(".pyc"):
        return False  # scripts in bin/, and bytecode of one Python version
    if not name.endswith(".so"):
        return True
    if name.endswith(".abi3.so"):
        return True
    module = name.split(".", 1)[0]
    if module in DROPPED_EXTENSIONS or module.rsplit("/", 1)[-1].endswith("__mypyc"):
        return False
    raise ArtifactError(f"cannot build the fleet artifact: {name} is compiled for one Python version and has no "
                        "known pure-Python fallback")


def payload() -> list[tuple[str, Path]]:
    """(name inside the payload, file here) for envcheck's package and every dependency's files."""
    files: list[tuple[str, Path]] = []
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*")):
        name = path.relative_to(package.parent).as_posix()
        if path.is_file() and _keeps(name) and not name.endswith(".so"):
            files.append((name, path))
    for distribution in dependencies():
        for entry in distribution.files or []:
            name = entry.as_posix()
            if _keeps(name):
                files.append((name, Path(str(distribution.locate_file(entry)))))
    return files


def build_artifact(folder: Path, *, policy: Path | None = None) -> Artifact:
    """Write the artifact into ``folder`` (a run's private temporary folder) and say what it cost."""
    started = time.monotonic()
    path = folder / ARTIFACT_NAME
    files = payload()
    main = Path(__file__).with_name("artifact_main.py")
    try:
        path.write_bytes(prologue())
        # Mode "a" on a file that is not a zip appends an archive after it, with offsets from the file's start.
        with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.write(main, "__main__.py")
            for name, source in files:
                archive.write(source, "lib/" + name)
            if policy is not None:
                archive.write(policy, "policy/policy" + (policy.suffix if policy.suffix.isalnum() else ""))
        os.chmod(path, 0o700)
    except OSError as exc:
        raise ArtifactError(f"cannot build the fleet artifact in {folder}: {exc}") from exc
    return Artifact(path=path, size=path.stat().st_size, files=len(files), build_s=time.monotonic() - started)


if __name__ == "__main__":  # pragma: no cover - a manual check: build one into the folder given
    built = build_artifact(Path(sys.argv[1]))
    print(f"{built.path}: {built.size} bytes, {built.files} files, {built.build_s:.2f} s")
