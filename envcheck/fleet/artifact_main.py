"""The ``__main__.py`` of the fleet artifact: what runs on a target host, under the artifact's sh prologue.

Standard library only, and valid on every CPython envcheck supports (3.10+): nothing of envcheck or its
dependencies is importable until this module has put them on sys.path. Run as ``python ARTIFACT TMP ARGS...``
(isolated: -I -S) by the prologue (envcheck/fleet/artifact.py), which made TMP (a private folder it removes on every
exit path): unpack there what cannot run from a zip (the members the artifact's UNPACK list names), put that and
the zip's payload first on sys.path (ahead of anything installed on the host, which must not shadow the versions
envcheck was built with), then run doctor's JSON report in this process (envcheck/fleet/hostdoctor.py).
``python ARTIFACT --record ...`` is the record mode instead.

The members are read through zipimport, which Python has already used to run this module from the archive, and
whose index of it is cached: importing zipfile and reading the archive's directory again cost a tenth of a
host's CPU time per run. The modules imported from the zip go through :class:`ZipModules` rather than zipimport's
own finder, which reads, inflates and unmarshals every module twice (its ``find_spec`` asks ``get_filename``, which
loads the code to learn the path: CPython's Lib/zipimport.py, 3.10 to 3.14), a tenth of a host's CPU time.
"""

from __future__ import annotations

import marshal
import os
import runpy
import sys
import zipimport
from importlib.machinery import ModuleSpec, PathFinder
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from types import CodeType, ModuleType

# The artifact's own exit code for "envcheck could not start on this host" (the payload could not be unpacked):
# the controller's run-failed. Kept in step with EXIT_CANNOT_START in envcheck/fleet/artifact.py.
EXIT_CANNOT_START = 91
LIB = "lib/"
# What must be a real file (the rest is imported from the zip, envcheck itself included: unpacking its 250
# files cost about a sixth of a host's CPU time per run): pynvml, which the gpu probe's child imports from its
# folder, and that child, which the gpu probe runs by path (envcheck/probes/gpu.py CHILD). A package with a
# compiled module would go here too (no zip import loads one).
ON_DISK = ("pynvml.py",)
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


class ZipModules:
    """A meta path finder and loader for the pure-Python modules of the payload (``lib/`` in the zip): each
    module's pyc (or source) is read once, at find time, and kept in its spec until the module runs.

    The pyc is the build's (envcheck/fleet/artifact.py ``bytecode``), used when its magic number is this Python's;
    any other version compiles the source, as zipimport would. ``__file__`` is the source's path in the archive,
    so that tracebacks (``get_source``) and package data (``get_data``, what ``pkgutil.get_data`` asks) resolve
    as under zipimport, whose reader this delegates to."""

    def __init__(self, payload: zipimport.zipimporter, archive: str) -> None:
        self._payload = payload
        self._root = os.path.join(archive, LIB)

    def _read(self, member: str) -> bytes | None:
        try:
            return self._payload.get_data(member)
        except OSError:  # not in the archive
            return None

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        base = fullname.replace(".", "/")
        for stem, package in ((base + "/__init__", True), (base, False)):
            if on_disk(LIB + stem + ".py"):
                return None  # unpacked: the path finder imports it from the folder
            data = self._read(LIB + stem + ".pyc")
            if data is None or data[:4] != MAGIC_NUMBER:
                data = self._read(LIB + stem + ".py")
                if data is None:
                    continue
                state = (stem, False, data)
            else:
                state = (stem, True, data)
            # A loader by protocol (create_module, exec_module): importlib.abc would be one more import.
            spec = ModuleSpec(fullname, self, origin=self._root + stem + ".py",  # type: ignore[arg-type]
                              loader_state=state, is_package=package)
            spec.has_location = True
            if package:
                spec.submodule_search_locations = [self._root + base]
            return spec
        return None

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None
        code = self._code(spec)
        spec.loader_state = None  # the bytes are not needed again
        exec(code, module.__dict__)

    def get_code(self, fullname: str) -> CodeType | None:
        """What runpy asks for the module it runs as ``__main__``."""
        spec = self.find_spec(fullname)
        return None if spec is None else self._code(spec)

    @staticmethod
    def _code(spec: ModuleSpec) -> CodeType:
        stem, compiled, data = spec.loader_state
        # A pyc: 16 bytes of header (PEP 552), then the marshalled code.
        code = marshal.loads(memoryview(data)[16:]) if compiled else compile(data, str(spec.origin), "exec",
                                                                             dont_inherit=True)
        if not isinstance(code, CodeType):
            raise ImportError(f"{stem}.pyc in the fleet artifact holds no code object", name=spec.name)
        return code

    def get_data(self, path: str) -> bytes:
        return self._payload.get_data(path)

    def get_source(self, fullname: str) -> str | None:
        base = fullname.replace(".", "/")
        data = self._read(LIB + base + "/__init__.py")
        data = data if data is not None else self._read(LIB + base + ".py")
        return None if data is None else data.decode("utf-8", "replace")

    def is_package(self, fullname: str) -> bool:
        return self._read(LIB + fullname.replace(".", "/") + "/__init__.py") is not None


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
    # Ahead of the path finder (the payload's modules win over any installed elsewhere), after the built-in and
    # frozen ones (the standard library's compiled-in modules stay the interpreter's own).
    finders = [type(finder) if not isinstance(finder, type) else finder for finder in sys.meta_path]
    sys.meta_path.insert(finders.index(PathFinder) if PathFinder in finders else len(finders),
                         ZipModules(payload, artifact))
    # envcheck comes from the zip, where the gpu probe's child has no path to run: the copy unpacked here.
    from envcheck.probes import gpu

    gpu.CHILD = Path(os.path.abspath(folder), LIB, NVML_CHILD)
    sys.argv = ["envcheck-fleet", *policy, *args]
    # doctor's JSON report, started as the console script starts (signal handling, then the entry), which ends the
    # process with doctor's exit code.
    runpy.run_module("envcheck.fleet.hostdoctor", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
