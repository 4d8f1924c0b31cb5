"""The one file a fleet host runs: envcheck and every runtime dependency, for any CPython >= 3.10 on Linux.

A target needs only sshd and a CPython 3.10+; nothing is installed there and nothing stays. The artifact is a
POSIX sh prologue followed by a zip archive (the layout of a zipapp with a shebang, PEP 441: CPython finds a
zip's central directory from the end of the file, so it runs a zip with other data in front; sh reads the
prologue line by line and stops at its `exit`, before the binary part). The prologue:

- finds python3 / python3.1x / python on PATH and keeps the first whose ``-V`` says 3.10 or newer (the program
  then checks that it is CPython); none: exit 90 (EXIT_NO_PYTHON, the controller's "no-python");
- given ``--in FOLDER`` (envcheck's Ansible task received the file into a private folder), uses that folder and
  removes it; else
  makes a private folder (mktemp -d, umask 077); removes it on every exit path (an EXIT trap; HUP, INT and
  TERM go through it too);
- given ``--timeout SECONDS`` (the host's deadline, which the controller's task ``timeout`` enforces too), ends
  envcheck before that deadline: envcheck runs in a process group of its own, and a watchdog (sh and ``sleep``
  only: a host may have no coreutils ``timeout``) sends it TERM at SECONDS less DEADLINE_RESERVE_S and a tenth,
  and KILL END_GRACE_S later; it then exits 92 (EXIT_TIMED_OUT, the controller's "timed-out"). On every exit
  path the group and the watchdog are ended, so nothing the artifact started outlives it; a HUP, INT or TERM
  to the prologue ends the run the same way;
- runs the zip with that Python (-I -S -B: isolated, no site, no .pyc written), whose
  ``__main__`` (envcheck/fleet/artifact_main.py) unpacks there what cannot be imported from a zip (pynvml and
  the gpu probe's child, which runs by path), imports the rest, envcheck included, from the
  zip, and runs ``envcheck doctor --json``
  with the policy carried inside the artifact and the arguments given (``--host NAME --group G...``);
- writes doctor's output to that folder under ``ulimit -f`` (OUTPUT_CAP_BYTES: a host that floods its output
  is cut there, and what arrives is then no valid report), prints it, and exits with doctor's code; 91
  (EXIT_CANNOT_START) when envcheck could not start there.

One artifact for hosts with different Pythons and machines in one inventory: only pure-Python code goes in
(an abi3 extension, one build for every CPython 3.x by the stable ABI of PEP 384, would, though for the
controller's platform only; none of what a host imports has one). The compiled modules of the dependencies have
pure-Python fallbacks their packages import when the extension is missing (PyYAML's ``_yaml``; MarkupSafe's
``_speedups`` and charset_normalizer's mypyc builds, should a future dependency bring them), so they are left
out; a compiled module without such a fallback stops the build (ArtifactError), never the host.

Bytecode for the controller's Python rides along (:func:`bytecode`): a host on the same version, as a lab's
hosts and its controller often are, imports it instead of compiling the sources, which was about a third of a
host's CPU time per run (0.53 s -> 0.37 s measured on a Debian 12 container); a host on another version
compiles the sources as before. Importing envcheck from the zip rather than unpacking its 250 files took a host's
CPU time per run from 0.43 s to 0.36 s (best of 10 runs on an idle Debian 12 container, docker exec, 2-core VM);
leaving out what no entry of the artifact imports (NOT_SHIPPED, NOT_SHIPPED_PACKAGES, CONTROLLER_ONLY) took the
artifact from 5.7 MB to 1.0 MB at the zlib level build_artifact uses, and its build from about 1.1 s to 0.1 s. Size
is a host's CPU time too: piping 4.3 MB through ssh into a file cost an idle host 60 ms of CPU, about 14 ms a MB.

The artifact is built from the installed distributions (importlib.metadata: envcheck's requirements,
recursively), once per `envcheck fleet` run, into that run's temporary folder.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import marshal
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from envcheck.fleet.artifact_main import LIB, POLICY, UNPACK, on_disk
from envcheck.frozen import frozen
from envcheck.model import EnvcheckError

if TYPE_CHECKING:  # packaging is imported by the build alone: the record mode imports this module without it
    from packaging.requirements import Requirement

ARTIFACT_NAME = "envcheck-fleet.sh"
EXIT_NO_PYTHON = 90
EXIT_CANNOT_START = 91  # the same number as artifact_main.EXIT_CANNOT_START, which runs where envcheck is not
EXIT_TIMED_OUT = 92  # envcheck did not finish within the deadline given (--timeout) and was ended there
NO_PYTHON_SAID = "envcheck: no usable Python on this host: envcheck needs CPython 3.10 or newer (python3 on PATH)"
# Of a host's deadline (--timeout SECONDS), what envcheck does not get: this plus a tenth, for the controller's
# connecting and copying before it starts and for ending it after; the controller's own cut (the task's
# `timeout`, at SECONDS) then comes only where the artifact could not end itself.
DEADLINE_RESERVE_S = 5
END_GRACE_S = 2  # from the TERM at the limit (envcheck ends its children) to the KILL of its process group
# A doctor report is tens of kB (about 35 kB on a workstation); this leaves ample room and stops a flood early:
# every byte of it crosses ssh and Ansible's result (through ansible-runner's event stream), where 8 MiB took about
# 30 s.
OUTPUT_CAP_BYTES = 2 * 1024 * 1024
# The CPython versions whose requirement markers are honoured (a dependency only some of them need goes in).
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Compiled modules left out, by module path without the extension suffix: each has a pure-Python fallback.
# https://github.com/yaml/pyyaml/blob/main/lib/yaml/__init__.py (`try: from .cyaml import *`),
# https://github.com/pallets/markupsafe/blob/main/src/markupsafe/__init__.py (`except ImportError` on _speedups),
# charset_normalizer ships its .py sources beside the mypyc builds (cd.py, md.py; md__mypyc is their runtime).
DROPPED_EXTENSIONS = frozenset({"yaml/_yaml", "markupsafe/_speedups", "charset_normalizer/cd", "charset_normalizer/md"})

# Requirements of envcheck that neither of the artifact's two entries (`envcheck doctor --json` on a host, the
# record mode on the controller) imports: rich (smoke's live progress) with pygments, markdown-it-py and mdurl, and
# jinja2 (the scaffold's templates) with MarkupSafe. Left out, with what only they require: 1.7 MB of the 5.7 MB
# that every host received, and most of the build's compression time (pygments alone is 4.6 MB of sources).
# tests/fleet/test_artifact.py runs doctor from the artifact on a Python that has none of them.
# packaging: only this module (the build, on the controller) imports it: 0.4 MB of the 2.4 MB every host received.
# click: a host runs doctor through envcheck/fleet/hostdoctor.py, which reads its few arguments itself; output.py
# imports click only for text with escape codes or non-ASCII letters, and writes such text without it where click
# is missing. psutil: no module of envcheck imports it (envcheck/proctree.py reads /proc itself); shipped, it was
# 0.25 MB of every transfer, a compiled module for the controller's platform only, and 12 ms of unpacking and
# 9 ms of importing on every host run, to check that it loads.
NOT_SHIPPED = frozenset({"rich", "jinja2", "docker", "packaging", "click", "psutil"})
# Files of the dependencies that nothing imports on a host: nvidia-ml-py's top-level example script.
UNUSED_FILES = frozenset({"example.py"})
# envcheck's own subpackages that neither entry imports: the smoke test (doctor runs it only with --smoke, which
# a fleet run never passes), the scaffold, and the README's recipes.
NOT_SHIPPED_PACKAGES = ("envcheck/smoke/", "envcheck/scaffold/", "envcheck/data/recipes/")
# envcheck's own files that neither entry imports or reads: the CLI and its commands' modules (a host's doctor
# starts at envcheck/fleet/hostdoctor.py), the report renderers other than JSON (a host prints JSON and writes no
# report file), the controller's side of the fleet (Ansible, merging, the fleet page) and the scaffold's
# compatibility rules. The record mode keeps classify, outcomes, artifact and artifact_main. A quarter of the
# bytes every host received. tests/fleet/test_artifact.py holds that every import in what is shipped resolves
# inside the payload, or is one of these on a path a host run never takes.
CONTROLLER_ONLY = frozenset({
    "envcheck/cli.py", "envcheck/policy_cli.py", "envcheck/policy_init.py", "envcheck/verify.py",
    "envcheck/recipes.py", "envcheck/compat_rules.py",
    "envcheck/report/terminal.py", "envcheck/report/markdown.py", "envcheck/report/brief.py", "envcheck/report/wrap.py",
    "envcheck/report/console.py", "envcheck/report/junit.py", "envcheck/report/prometheus.py",
    "envcheck/fleet/ansible.py", "envcheck/fleet/ansible_action.py", "envcheck/fleet/command.py",
    "envcheck/fleet/expect.py", "envcheck/fleet/fleetjson.py", "envcheck/fleet/html.py", "envcheck/fleet/junit.py",
    "envcheck/fleet/merge.py", "envcheck/fleet/metrics.py", "envcheck/fleet/playbook.py", "envcheck/fleet/table.py",
    "envcheck/fleet/hostreport.py", "envcheck/fleet/hosttext.py",
    "envcheck/data/fleet-page.css", "envcheck/data/fleet-page.js", "envcheck/data/policy.schema.json",
})

_PROLOGUE = """#!/bin/sh
# envcheck fleet artifact: a sh prologue, then a zip that CPython >= 3.10 runs (envcheck and its dependencies).
# Usage: sh THIS_FILE [--in FOLDER] [--timeout SECONDS] [--host NAME] [--group GROUP]...  Prints envcheck
# doctor's JSON report and exits with doctor's code; {no_python} when this host has no CPython >= 3.10,
# {cannot_start} when envcheck cannot start here, {timed_out} when it did not finish in time. SECONDS: this host's
# whole deadline as the controller counts it (from before it connected); envcheck gets SECONDS less a reserve
# ({reserve_s} s and a tenth) for connecting, copying and ending, and is then ended with everything it started. It
# runs from a private temporary folder that is removed on every exit path, and leaves no process behind.
umask 077
# --in FOLDER: this file was received into FOLDER, a private folder made for this run (envcheck's Ansible task
# does that): it is the run's temporary folder, removed on every exit path from here on.
own=
if [ "$1" = --in ]; then
    own=$2
    case $0 in
        "$own"/*) trap 'rm -rf "$own"' EXIT ;;
        *) echo "envcheck: --in names the folder this file is in, not '$own'" >&2; exit {cannot_start} ;;
    esac
    shift 2
fi
seconds=
limit=
if [ "$1" = --timeout ]; then
    case $2 in
        ''|0*|*[!0-9]*) echo "envcheck: --timeout takes whole seconds, not '$2'" >&2; exit {cannot_start} ;;
    esac
    seconds=$2
    limit=$(( seconds - {reserve_s} - seconds / 10 ))
    [ "$limit" -ge 1 ] || limit=1
    shift 2
fi
# The first Python 3.10 or newer on PATH, by what `-V` says (one line, without starting the interpreter proper:
# a millisecond, where running a version check cost a Python start). The program checks the implementation
# itself (CPython) as it starts, with the same message and exit code.
py=
for candidate in python3 python3.14 python3.13 python3.12 python3.11 python3.10 python; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    case $("$candidate" -V 2>&1 </dev/null | head -n 1) in
        "Python 3.1"[0-9]*|"Python 3."[2-9][0-9]*) py=$candidate; break ;;
    esac
done
if [ -z "$py" ]; then
    echo "{no_python_said}" >&2
    exit {no_python}
fi
tmp=$own
[ -n "$tmp" ] || tmp=$(mktemp -d "${{TMPDIR:-/tmp}}/envcheck.XXXXXXXXXX") || {{
    echo "envcheck: cannot create a private temporary folder" >&2
    exit {cannot_start}
}}
run=
watchdog=
# Nothing of the run outlives it: its process group (envcheck and what it started there) and the watchdog.
end_run() {{
    [ -z "$run" ] || kill -KILL -"$run" "$run" 2>/dev/null
    [ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null
    run= watchdog=
}}
# A signal (HUP: a terminal the artifact was started from closed) gives envcheck a TERM first: it then ends the
# children it started in sessions of their own (envcheck/shutdown.py), which a kill of its group would miss.
stop() {{
    if [ -n "$run" ] && kill -TERM -"$run" "$run" 2>/dev/null; then sleep 1; fi
    exit "$1"
}}
trap 'end_run; rm -rf "$tmp"' EXIT
trap 'stop 129' HUP
trap 'stop 130' INT
trap 'stop 143' TERM
# ulimit -f counts 512-byte blocks in POSIX shells (dash; bash as sh): every file written below stays under it.
# envcheck gets a process group of its own, so that one kill ends all it started there: the Python just found
# calls setpgid first (dash's `set -m` turns itself off without a terminal, and sh has no setpgid of its own),
# then runs the zip in the same process, as `python ZIP` would (-I: isolated, neither PYTHON* variables, the user's
# site nor the current folder on sys.path; -S: no site either, so no .pth file or sitecustomize of the host runs
# first, and a broken one cannot stop envcheck; -B: no .pyc written). Signals: an exec keeps ignored signals ignored,
# CPython's own SIGPIPE and SIGXFSZ (a program past `ulimit -f` would go on writing; subprocess's restore_signals
# resets the same), and sh's SIGINT and SIGQUIT for a job started with & (POSIX "Asynchronous Lists"): the
# program gets the defaults a foreground one has.
lead='import os, runpy, signal, sys
if sys.implementation.name != "cpython" or sys.version_info < (3, 10):
    sys.stderr.write("{no_python_said} (" + sys.executable + " is " + sys.implementation.name + " "
                     + ".".join(map(str, sys.version_info[:3])) + ")\\n")
    sys.exit({no_python})
for name in ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGQUIT"):
    signal.signal(getattr(signal, name), signal.SIG_DFL)
os.setpgid(0, 0)
del sys.argv[0]
runpy.run_path(sys.argv[0], run_name="__main__")'
(ulimit -f {cap_blocks} && exec "$py" -I -S -B -c "$lead" "$0" "$tmp" "$@" \\
    </dev/null >"$tmp/stdout" 2>"$tmp/stderr") &
run=$!
if [ -n "$limit" ]; then
    # The watchdog: at the limit, TERM to the group, KILL {grace_s} s later. Its sleeps run in the background
    # and are waited for, so that the TERM end_run sends (the run ended first) ends the sleep too.
    (
        stopped= sleeper=
        trap 'stopped=1; [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null' TERM
        nap() {{
            sleep "$1" & sleeper=$!
            [ -n "$stopped" ] || wait "$sleeper" || return 1  # a TERM came, or sleep failed: no cut
            [ -z "$stopped" ] || {{ kill "$sleeper" 2>/dev/null; return 1; }}
        }}
        nap "$limit" || exit 0
        : >"$tmp/cut"
        kill -TERM -"$run" "$run" 2>/dev/null
        nap {grace_s} || exit 0
        kill -KILL -"$run" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    watchdog=$!
fi
wait "$run" 2>/dev/null  # not the shell's "Killed" when the watchdog had to
code=$?
kill -KILL -"$run" 2>/dev/null  # what it left in its group
run=
end_run
case $code in
    0|1|3) ;;
    *) if [ -e "$tmp/cut" ]; then
           echo "envcheck: did not finish within this host's $seconds s deadline (--timeout): ended after $limit s" \\
                "here, with everything it started" >&2
           exit {timed_out}
       fi ;;
esac
cat "$tmp/stdout"
tail -c 4096 "$tmp/stderr" >&2
exit $code
"""


class ArtifactError(EnvcheckError):
    """The artifact cannot be built from what is installed here."""


@frozen
class Artifact:
    path: Path
    size: int  # bytes
    files: int  # files in the payload
    build_s: float


def prologue() -> bytes:
    """The sh prologue, with its exit codes and output cap filled in."""
    text = _PROLOGUE.format(no_python=EXIT_NO_PYTHON, cannot_start=EXIT_CANNOT_START, timed_out=EXIT_TIMED_OUT,
                            cap_blocks=OUTPUT_CAP_BYTES // 512, reserve_s=DEADLINE_RESERVE_S, grace_s=END_GRACE_S,
                            no_python_said=NO_PYTHON_SAID)
    return text.encode("ascii")


def _wanted(requirement: Requirement) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"python_version": version, "sys_platform": "linux",
                                            "platform_system": "Linux", "extra": ""})
               for version in SUPPORTED_PYTHONS)


def dependencies(leave_out: frozenset[str] = frozenset()) -> list[importlib.metadata.Distribution]:
    """The installed distributions envcheck needs at run time, recursively (envcheck itself, NOT_SHIPPED and
    ``leave_out``, by normalized name, left out)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    from packaging.requirements import Requirement

    todo = [Requirement(text) for text in importlib.metadata.requires("envcheck") or []]
    while todo:
        requirement = todo.pop()
        key = requirement.name.lower().replace("_", "-").replace(".", "-")
        if key in found or key in NOT_SHIPPED or key in leave_out or not _wanted(requirement):
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
    if name.startswith("..") or "__pycache__" in name.split("/") or name.endswith(".pyc") \
            or name in UNUSED_FILES:
        return False  # scripts in bin/, bytecode of one Python version, code that never runs on a host
    if not name.endswith(".so"):
        return True
    if name.endswith(".abi3.so"):
        return True
    module = name.split(".", 1)[0]
    if module in DROPPED_EXTENSIONS or module.rsplit("/", 1)[-1].endswith("__mypyc"):
        return False
    raise ArtifactError(f"cannot build the fleet artifact: {name} is compiled for one Python version and has no "
                        "known pure-Python fallback")


def payload(leave_out: frozenset[str] = frozenset()) -> list[tuple[str, Path]]:
    """(name inside the payload, file here) for envcheck's package and every dependency's files (but the
    distributions named in ``leave_out``)."""
    files: list[tuple[str, Path]] = []
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*")):
        name = path.relative_to(package.parent).as_posix()
        if path.is_file() and _keeps(name) and not name.endswith(".so") and not name.startswith(NOT_SHIPPED_PACKAGES) \
                and name not in CONTROLLER_ONLY:
            files.append((name, path))
    for distribution in dependencies(leave_out):
        for entry in distribution.files or []:
            name = entry.as_posix()
            if _keeps(name):
                files.append((name, Path(str(distribution.locate_file(entry)))))
    return files


def bytecode(source: Path, name: str) -> bytes | None:
    """``source`` compiled for this Python as an unchecked-hash pyc (PEP 552: magic, flags 0b01, the source's
    hash, the marshalled code), or None when it does not compile here. A host on this Python version imports it
    without compiling the source, which was about half of a host's CPU time (a fleet's hosts are usually alike);
    a host on another version finds another magic number and compiles the source, as before. Unchecked: the
    files are unpacked with new mtimes and come from this one artifact, so checking them against the source
    would only cost time. The compiled form is taken from the installed ``__pycache__`` when it is up to date
    (as pip writes it at install), else compiled here."""
    try:
        data = source.read_bytes()
        code = _installed_bytecode(source)
        if code is None:
            code = marshal.dumps(compile(data, name, "exec", dont_inherit=True))
    except (OSError, SyntaxError, ValueError):
        return None
    return importlib.util.MAGIC_NUMBER + (0b01).to_bytes(4, "little") + importlib.util.source_hash(data) + code


def _installed_bytecode(source: Path) -> bytes | None:
    """The marshalled code of ``source``'s timestamp-based pyc in ``__pycache__`` when it matches the source's
    mtime and size (PEP 552's header: magic, flags 0, mtime, size), else None."""
    try:
        cached = Path(importlib.util.cache_from_source(str(source))).read_bytes()
        status = source.stat()
    except (OSError, NotImplementedError, ValueError):
        return None
    header = importlib.util.MAGIC_NUMBER + bytes(4) + (int(status.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") \
        + (status.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    return cached[16:] if cached[:16] == header else None


def bytecode_name(name: str) -> str:
    """Where the pyc of payload file ``name`` (``lib/pkg/mod.py``) goes: beside it for the part imported from the
    zip (zipimport reads ``pkg/mod.pyc``), in ``__pycache__`` under this Python's tag for the part unpacked to
    disk (the path importlib's file finder reads)."""
    stem = name[: -len(".py")]
    if not on_disk(name):
        return stem + ".pyc"
    folder, _, module = stem.rpartition("/")
    return f"{folder}/__pycache__/{module}.{sys.implementation.cache_tag}.pyc"


def carried_policy(policy: Path) -> tuple[str, bytes, bool]:
    """How the artifact carries ``policy``: (its name in the artifact, its bytes, whether a host needs PyYAML to
    read it). A policy whose values JSON spells exactly (text, numbers, booleans, null, lists, mappings with text
    keys: every valid policy, but one with a date or a set in a comment key) goes as JSON, which a host reads with
    the standard library: it then never imports PyYAML's pure-Python parser, and the artifact leaves PyYAML out.
    The values, so the effective policy and its digest, are the same either way; anything else goes as it is."""
    from envcheck.policy import parse_policy_file

    try:
        data = parse_policy_file(policy)
        text = json.dumps(data, allow_nan=False)
        if json.loads(text) == data:
            return POLICY + "policy.json", text.encode("ascii"), False
    except (EnvcheckError, TypeError, ValueError, RecursionError):
        pass  # a date, a set, a number key, nan: YAML's own
    return POLICY + "policy.yaml", policy.read_bytes(), True


def build_artifact(folder: Path, *, policy: Path | None = None) -> Artifact:
    """Write the artifact into ``folder`` (a run's private temporary folder) and say what it cost."""
    started = time.monotonic()
    path = folder / ARTIFACT_NAME
    try:
        carried = carried_policy(policy) if policy is not None else None
    except OSError as exc:
        raise ArtifactError(f"cannot read the policy {policy} for the fleet artifact: {exc}") from exc
    # PyYAML only reads a YAML policy: without one, no host imports it.
    files = payload(frozenset() if carried is not None and carried[2] else frozenset({"pyyaml"}))
    main = Path(__file__).with_name("artifact_main.py")
    try:
        path.write_bytes(prologue())
        # Mode "a" on a file that is not a zip appends an archive after it, with offsets from the file's start.
        # zlib level 1: 2.45 MB built in 0.18 s; level 6 gives 2.22 MB in 0.27 s, level 9 2.20 MB in 0.67 s.
        # The build's CPU time (on the controller, once) outweighs what a tenth of the size saves on 20 hosts.
        with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.write(main, "__main__.py")
            compiled_main = bytecode(main, "__main__.py")
            if compiled_main is not None:  # zipimport runs the pyc when its magic is the host's, else the source
                archive.writestr("__main__.pyc", compiled_main)
            unpacked: list[str] = []  # what the host writes to disk (artifact_main.UNPACK)
            for name, source in files:
                archive.write(source, LIB + name)
                compiled = bytecode(source, LIB + name) if name.endswith(".py") else None
                if compiled is not None:
                    archive.writestr(bytecode_name(LIB + name), compiled)
                if on_disk(LIB + name):
                    unpacked += [LIB + name] + ([bytecode_name(LIB + name)] if compiled is not None else [])
            if carried is not None:
                unpacked.append(carried[0])
                archive.writestr(carried[0], carried[1])
            archive.writestr(UNPACK, "\n".join(unpacked))
        os.chmod(path, 0o700)
    except OSError as exc:
        raise ArtifactError(f"cannot build the fleet artifact in {folder}: {exc}") from exc
    return Artifact(path=path, size=path.stat().st_size, files=len(files), build_s=time.monotonic() - started)


if __name__ == "__main__":  # pragma: no cover - a manual check: build one into the folder given
    built = build_artifact(Path(sys.argv[1]))
    print(f"{built.path}: {built.size} bytes, {built.files} files, {built.build_s:.2f} s")
