"""The fleet artifact (envcheck/fleet/artifact.py) run as a host runs it: sh, a clean environment, a Python
without envcheck or any of its dependencies (Debian's /usr/bin/python3), a private TMPDIR checked empty after."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import psutil
import pytest

from envcheck.fleet.artifact import (
    DEADLINE_RESERVE_S,
    END_GRACE_S,
    EXIT_CANNOT_START,
    EXIT_NO_PYTHON,
    EXIT_TIMED_OUT,
    OUTPUT_CAP_BYTES,
    Artifact,
    build_artifact,
    payload,
)

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3 package (scripts/test installs it): none of envcheck's deps
TOOLS = ("sh", "mktemp", "rm", "cat", "tail", "sleep", "head")  # all the prologue runs besides python (kill: builtin)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return build_artifact(tmp_path_factory.mktemp("artifact"))


def _bin(folder: Path, python: str | None) -> Path:
    """A PATH folder with the prologue's tools and, when given, ``python`` as python3 (a script's text)."""
    folder.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool) or f"/bin/{tool}", folder / tool)
    if python is not None:
        (folder / "python3").write_text(python)
        (folder / "python3").chmod(0o755)
    return folder


def _program(body: str) -> str:
    """A python3 for _bin that answers the prologue's version check (``-V``) as the real one does and, where the
    prologue starts the program (``-I -S -B -c LEAD ARTIFACT TMP ARGS...``), starts as the real program does (a
    process group of its own, by which the prologue ends the run; SIGPIPE and SIGXFSZ back to their defaults from
    CPython's ignoring them) and runs ``body`` instead, with those arguments ($7: the artifact's temporary
    folder)."""
    start = ("import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
             "signal.signal(signal.SIGXFSZ, signal.SIG_DFL); os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])")
    return (f"#!/bin/sh\ncase $1 in\n    -V) exec /usr/bin/python3 -V ;;\n"
            f"    -I) exec /usr/bin/python3 -c '{start}' \"$0\" program \"$@\" ;;\nesac\nshift\n" + body)


def _run(artifact: Artifact, tmp: Path, path: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    scratch = tmp / "scratch"
    scratch.mkdir()
    env = {"PATH": path, "HOME": str(tmp), "TMPDIR": str(scratch), "LANG": "C.UTF-8"}
    done = subprocess.run(["/bin/sh", str(artifact.path), *args], env=env, cwd=tmp, capture_output=True,
                          timeout=120, check=False)
    assert list(scratch.iterdir()) == [], "the artifact left files in TMPDIR"
    assert _of_folder(scratch) == [], "the artifact left processes behind"
    return done


def test_the_artifacts_own_main_agrees_on_its_exit_code() -> None:
    # artifact_main runs where envcheck is not yet importable, so it keeps its own copy of the number.
    from envcheck.fleet import artifact_main

    assert artifact_main.EXIT_CANNOT_START == EXIT_CANNOT_START


def test_the_payload_has_no_bytecode_and_only_the_abi3_extension() -> None:
    names = [name for name, _ in payload()]
    assert [n for n in names if n.endswith(".so")] == []  # pure Python: any CPython 3.10+, any machine
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert {"envcheck/__main__.py", "envcheck/fleet/record.py", "envcheck/fleet/hostdoctor.py", "yaml/__init__.py",
            "pynvml.py"} <= set(names)
    # rich and jinja2 (smoke's progress, the scaffold), the docker SDK (smoke --docker and verify; doctor speaks to
    # the engine through envcheck/dockerapi.py), packaging (the artifact's build), click (a host's doctor reads its
    # arguments itself), psutil (no module of envcheck imports it), and what only they require: never imported there;
    # nor nvidia-ml-py's example script.
    assert not {name.split("/", 1)[0] for name in names} & {"rich", "pygments", "markdown_it", "mdurl", "jinja2",
                                                              "markupsafe", "docker", "requests", "urllib3",
                                                              "certifi", "idna", "charset_normalizer", "packaging",
                                                              "click", "psutil"}
    assert "example.py" not in names
    assert not [n for n in names if n.startswith(("envcheck/smoke/", "envcheck/scaffold/"))]


def test_it_runs_with_a_bare_system_python_and_leaves_nothing(artifact: Artifact, tmp_path: Path) -> None:
    # The system Python has none of envcheck's dependencies (no click, rich or psutil): all come from the artifact.
    bare = subprocess.run([SYSTEM_PYTHON, "-s", "-E", "-c", "import click"], capture_output=True, check=False)
    assert bare.returncode == 1
    done = _run(artifact, tmp_path, "/usr/bin:/bin", "--host", "lab<1>&$(id)", "--group", "lab")
    assert done.returncode in (0, 1, 3), done.stderr.decode()
    envelope = json.loads(done.stdout)
    assert (envelope["schema"], envelope["schema_version"], envelope["command"], envelope["host"]) == (
        "envcheck.report", 1, "doctor", "lab<1>&$(id)")
    assert envelope["exit_code"] == done.returncode


def test_no_python_on_path_is_the_no_python_exit(artifact: Artifact, tmp_path: Path) -> None:
    done = _run(artifact, tmp_path, str(_bin(tmp_path / "bin", None)))
    assert (done.returncode, done.stdout) == (EXIT_NO_PYTHON, b"")
    assert b"no usable Python on this host" in done.stderr


def test_a_python_older_than_3_10_is_the_no_python_exit(artifact: Artifact, tmp_path: Path) -> None:
    # A python3 that answers the version check as Python 3.9 does, and would run anything else: it must not be run.
    old = "#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 3.9.18' && exit 0\necho ran; exit 0\n"
    done = _run(artifact, tmp_path, str(_bin(tmp_path / "bin", old)))
    assert (done.returncode, done.stdout) == (EXIT_NO_PYTHON, b"")


def test_a_flooding_python_is_capped(artifact: Artifact, tmp_path: Path) -> None:
    flood = _program("while :; do echo 0123456789abcdef0123456789abcdef; done\n")
    done = _run(artifact, tmp_path, str(_bin(tmp_path / "bin", flood)))
    assert done.returncode != 0
    assert 0 < len(done.stdout) <= OUTPUT_CAP_BYTES


def _of_folder(folder: Path) -> list[str]:
    """Processes whose command line or working directory names ``folder``."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmdline, cwd = " ".join(proc.info["cmdline"] or []), proc.info["cwd"] or ""
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{proc.info['pid']}: {cmdline[:200]} (in {cwd})")
    return found


def test_a_program_that_never_ends_is_ended_at_the_deadline_with_its_group(artifact: Artifact,
                                                                           tmp_path: Path) -> None:
    # A python3 that answers the version check and then, in the artifact's folder, never ends and ignores TERM
    # (the watchdog's KILL comes END_GRACE_S later), with a child of its own: the host kind `stalls`, worse.
    stalls = _program("trap '' TERM\ncd \"$7\" || exit 9\nsleep 100000 &\nwhile :; do sleep 1; done\n")
    timeout_s = DEADLINE_RESERVE_S + 1  # whole seconds: the program gets one
    started = time.monotonic()
    done = _run(artifact, tmp_path, str(_bin(tmp_path / "bin", stalls)), "--timeout", str(timeout_s), "--host", "h")
    elapsed_s = time.monotonic() - started
    assert (done.returncode, done.stdout) == (EXIT_TIMED_OUT, b""), done.stderr.decode()
    assert done.stderr.decode().strip() == (f"envcheck: did not finish within this host's {timeout_s} s deadline "
                                            "(--timeout): ended after 1 s here, with everything it started")
    assert elapsed_s < 1 + END_GRACE_S + 3  # and _run found no process of it left


def test_a_hangup_ends_the_run_with_everything_it_started(artifact: Artifact, tmp_path: Path) -> None:
    # What the host sees when the controller closes the ssh session (`ssh -O exit` at the end of a fleet run): a
    # SIGHUP to the artifact's shell, with no --timeout of its own.
    stalls = _program("cd \"$7\" || exit 9\nsleep 100000\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {"PATH": str(_bin(tmp_path / "bin", stalls)), "HOME": str(tmp_path), "TMPDIR": str(scratch)}
    with subprocess.Popen(["/bin/sh", str(artifact.path)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as shell:
        deadline = time.monotonic() + 10
        while not any("(in " + str(scratch) in found for found in _of_folder(scratch)):  # the fake is in there
            assert time.monotonic() < deadline, "the program did not start"
            time.sleep(0.05)
        shell.send_signal(signal.SIGHUP)
        out, _ = shell.communicate(timeout=10)
    assert (shell.returncode, out) == (129, b"")
    assert list(scratch.iterdir()) == []
    assert _of_folder(scratch) == []


def test_a_run_that_ends_in_time_leaves_no_watchdog(artifact: Artifact, tmp_path: Path) -> None:
    # A python3 that answers at once: the watchdog and its sleep end with the run, long before the deadline.
    quick = _program("echo '{}'\nexit 3\n")
    done = _run(artifact, tmp_path, str(_bin(tmp_path / "bin", quick)), "--timeout", "600")
    assert (done.returncode, done.stdout) == (3, b"{}\n")
    leftover = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "535"]]
    assert leftover == []


def test_a_payload_that_would_unpack_outside_its_folder_is_a_clear_cannot_start(artifact: Artifact,
                                                                                 tmp_path: Path) -> None:
    # The list of members to unpack names one that would leave the run's folder: nothing is written, and the host
    # ends as "could not start" (91), saying why.
    broken = tmp_path / "broken.sh"
    data = artifact.path.read_bytes()
    start = data.index(b"PK\x03\x04")
    broken.write_bytes(data[:start])
    with zipfile.ZipFile(artifact.path) as source, zipfile.ZipFile(broken, "a") as target:
        for info in source.infolist():
            text = source.read(info)
            target.writestr(info, b"lib/../../escaped.py" if info.filename == "UNPACK" else text)
    done = _run(Artifact(broken, 0, 0, 0.0), tmp_path, "/usr/bin:/bin")
    assert (done.returncode, done.stdout) == (EXIT_CANNOT_START, b"")
    assert b"cannot unpack the fleet artifact" in done.stderr and b"would leave" in done.stderr
    assert not (tmp_path / "escaped.py").exists() and not (tmp_path / "scratch" / "escaped.py").exists()


def _members(artifact: Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as archive:
        return archive.namelist()


POLICY = """# lab policy
disk_free_warn_gib: 3.5
groups:
  gpu:
    hosts: ["gpu-*"]
    overrides: {gpu_count: 8, gpu_model: "*H100*", skip: {docker: "no engine on compute nodes"}}
"""


@pytest.mark.parametrize(("text", "member", "with_yaml"), [
    (POLICY, "policy/policy.json", False),  # JSON spells every value: a host reads it without PyYAML
    (POLICY + "_reviewed: 2026-11-30\n", "policy/policy.yaml", True),  # a date (in a comment key): as written
])
def test_a_policy_travels_as_json_where_json_spells_it_and_judges_alike(tmp_path: Path, text: str, member: str,
                                                                         with_yaml: bool) -> None:
    from envcheck.policy_groups import load_policy_source

    policy = tmp_path / "lab.yaml"
    policy.write_text(text)
    (tmp_path / "build").mkdir()
    built = build_artifact(tmp_path / "build", policy=policy)
    names = _members(built)
    assert member in names and not [n for n in names if n.startswith("policy/") and n != member]
    assert any(n.startswith("lib/yaml/") for n in names) is with_yaml
    done = _run(built, tmp_path, "/usr/bin:/bin", "--host", "gpu-7")
    assert done.returncode in (0, 1, 3), done.stderr.decode()
    judged = json.loads(done.stdout)["policy"]
    expected = load_policy_source(policy).effective("gpu-7").ref
    assert (judged["digest"], judged["groups"]) == (expected.digest, ["gpu"])


def test_without_a_policy_the_artifact_carries_no_yaml_parser(artifact: Artifact) -> None:
    names = _members(artifact)
    assert not [n for n in names if n.startswith(("lib/yaml/", "lib/_yaml/", "policy/"))]
