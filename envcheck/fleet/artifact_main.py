"""The ``__main__.py`` of the fleet artifact: what runs on a target host, under the artifact's sh prologue.

Standard library only, and valid on every CPython envcheck supports (3.10+): nothing of envcheck or its
dependencies is importable until this module has put them on sys.path. Run as ``python ARTIFACT TMP ARGS...``
(isolated: -I -S) by the prologue (envcheck/fleet/artifact.py), which made TMP (a private folder it removes on every
exit path): unpack there what cannot run from a zip (the members the artifact's UNPACK list names), put that and
the zip's payload first on sys.path (ahead of anything installed on the host, which must not shadow the versions
envcheck was built with), then run ``envcheck doctor --json ARGS`` in this process. ``python ARTIFACT --record
...`` is the record mode instead.

The members are read through zipimport, which Python has already used to run this module from the archive, and
whose index of it is cached: importing zipfile and reading the archive's directory again cost a tenth of a
host's CPU time per run.
"""

from __future__ import annotations

import os
import runpy
import sys
import zipimport
from pathlib import Path

# The artifact's own exit code for "envcheck could not start on this host" (the payload could not be unpacked,
# or psutil's compiled module does not load on this platform): the controller's run-failed. Kept in step with
# EXIT_CANNOT_START in envcheck/fleet/artifact.py.
EXIT_CANNOT_START = 91
LIB = "lib/"
# What must be a real file (the rest is imported from the zip, envcheck itself included: unpacking its 250
# files cost about a sixth of a host's CPU time per run): psutil, whose compiled module no zip import loads (and
# whose package must sit beside it); pynvml, which the gpu probe's child imports from its folder; and that child,
# which the gpu probe runs by path (envcheck/probes/gpu.py CHILD).
ON_DISK = ("psutil", "pynvml.py")
NVML_CHILD = "envcheck/probes/gpu_nvml_child.py"
POLICY = "policy/"
# The list of members to unpack (one name a line), written by the build: on_disk's answer for every payload file,
# and the policy.
UNPACK = "UNPACK"


def on_disk(name: str) -> bool:
    """Whether a payload file must be unpacked to a real file (ON_DISK, NVML_CHILD), with its bytecode
    (``__pycache__``), rather than imported from the zip."""
    if not name.startswith(LIB):
        return False
    top, _, rest = name[len(LIB):].partition("/")
    if top == "__pycache__":  # a top-level module's bytecode: lib/__pycache__/pynvml.cpython-311.pyc
        return rest.split(".", 1)[0] + ".py" in ON_DISK
    return top in ON_DISK or name[len(LIB):] == NVML_CHILD


def unpack(payload: zipimport.zipimporter, members: list[str], folder: str) -> None:
    """Write ``members`` under ``folder`` (names are the artifact's own; one that would leave the folder is refused
    all the same)."""
    made: set[str] = set()
    root = os.path.realpath(folder)
    for name in members:
        path = os.path.normpath(os.path.join(root, name))
        if not path.startswith(root + os.sep):
            raise ValueError(f"{name!r} would leave {folder}")
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as out:
            out.write(payload.get_data(name))


def record(artifact: str, args: list[str]) -> int:
    """The record mode, on the controller (envcheck/fleet/record.py): pure Python, imported from the zip itself."""
    sys.path[0:1] = [os.path.join(artifact, LIB)]
    sys.argv = ["envcheck-record", *args]
    runpy.run_module("envcheck.fleet.record", run_name="__main__", alter_sys=True)
    return 0


def main(argv: list[str]) -> int:
    artifact, folder, *args = argv
    if folder == "--record":
        return record(artifact, args)
    artifact = os.path.abspath(artifact)
    policy: list[str] = []
    try:
        payload = zipimport.zipimporter(artifact)
        wanted = payload.get_data(UNPACK).decode("utf-8").splitlines()
        unpack(payload, wanted, folder)
        policy = [arg for name in wanted if name.startswith(POLICY)
                  for arg in ("--policy", os.path.join(folder, name))][:2]
    except (OSError, ValueError, zipimport.ZipImportError) as exc:
        print(f"envcheck: cannot unpack the fleet artifact into {folder}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    # sys.path[0] is the artifact itself (Python runs a zip through zipimport): the unpacked part first, then
    # the rest straight from the zip.
    sys.path[0:1] = [os.path.join(folder, LIB), os.path.join(artifact, LIB)]
    try:
        import psutil  # noqa: F401  (the one compiled module shipped: an abi3 build for one platform)
    except ImportError as exc:
        import platform

        print(f"envcheck: psutil's compiled module does not load on this host ({platform.machine()}, "
              f"{platform.libc_ver()[0] or 'unknown libc'}): {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    # envcheck comes from the zip, where the gpu probe's child has no path to run: the copy unpacked here.
    from envcheck.probes import gpu

    gpu.CHILD = Path(os.path.abspath(folder), LIB, NVML_CHILD)
    sys.argv = ["envcheck", "doctor", "--json", *policy, *args]
    # `python -m envcheck`: the console script's own entry (signal handling, then the CLI), which ends the
    # process with doctor's exit code.
    runpy.run_module("envcheck", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
