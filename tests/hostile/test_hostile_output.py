"""Output contracts as a shell meets them, in real processes: a closed, full or broken stdout ends envcheck with
README's exit code and no traceback; --json means JSON on stdout, errors included; a bad option value or output
file is a usage error before any work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.docker_helpers import world_dir, world_envcheck

from envcheck.model import EXIT_BROKEN_PIPE, EXIT_OUTPUT, EXIT_USAGE
from envcheck.policy import shown

# Fixtures, imported so pytest finds them here.
__all__ = ["world_dir", "world_envcheck"]
ENVCHECK = [sys.executable, "-m", "envcheck"]
BASH = shutil.which("bash")
CLOSED = "envcheck: error: stdout is closed; redirect it to a file or /dev/null instead\n"
FULL = "envcheck: error: cannot write to stdout: No space left on device\n"
# Commands that print, each quick: a few probes, a list, a dry-run plan.
PRINTING = [
    ["doctor", "--only", "git"],
    ["doctor", "--only", "git", "--json"],
    ["doctor", "--only", "git", "--share"],
    ["doctor", "--list"],
    ["doctor", "--list", "--json"],
    ["smoke", "--list"],
    ["smoke", "--list", "--json"],
    ["generate", "environment", "{tmp}", "--dry-run", "--cuda", "cpu", "--python", "3.11"],
    ["generate", "environment", "{tmp}", "--dry-run", "--cuda", "cpu", "--python", "3.11", "--json"],
    ["--help"],  # click's own output, printed while it parses
    ["--version"],
    ["generate", "dockerfile", "-h"],
]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "NO_COLOR": "1"}


def _args(args: list[str], tmp_path: Path) -> list[str]:
    return [arg.replace("{tmp}", str(tmp_path)) for arg in args]


def _run(args: list[str], tmp_path: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("capture_output", "stdout" not in kwargs)
    if "stdout" in kwargs:
        kwargs["stderr"] = subprocess.PIPE
    return subprocess.run([*ENVCHECK, *_args(args, tmp_path)], text=True, env=_env(tmp_path), timeout=120, **kwargs)


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("args", [*PRINTING, ["doctor", "--bogus", "--json"]])
def test_a_closed_stdout_is_exit_4_before_any_work(tmp_path: Path, args: list[str]) -> None:
    assert BASH
    done = subprocess.run([BASH, "-c", 'exec "$@" >&-', "envcheck", *ENVCHECK, *_args(args, tmp_path)],
                          capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert (done.returncode, done.stderr) == (EXIT_OUTPUT, CLOSED)


@pytest.mark.parametrize("args", PRINTING)
def test_a_full_stdout_is_exit_4_with_one_line(tmp_path: Path, args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = _run(args, tmp_path, stdout=full)
    assert (done.returncode, done.stderr) == (EXIT_OUTPUT, FULL)


def test_a_usage_error_on_a_full_stdout_keeps_its_own_exit_code(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = _run(["doctor", "--json", "--share"], tmp_path, stdout=full)
    assert done.returncode == EXIT_USAGE
    assert done.stderr == "envcheck: error: --json and --share each print the report their own way: choose one\n"


@pytest.mark.parametrize("args", PRINTING)
def test_a_pipe_whose_reader_left_is_exit_141_and_silent(tmp_path: Path, args: list[str]) -> None:
    # The reader is gone before envcheck writes anything (its end closed up front): every write is EPIPE.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _run(args, tmp_path, stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (EXIT_BROKEN_PIPE, "")


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("args", [["doctor", "--list"], ["doctor", "--only", "git"], ["smoke", "--list"]])
def test_head_that_read_what_it_wanted_leaves_the_exit_code_alone(tmp_path: Path, args: list[str]) -> None:
    # envcheck writes its output in one piece, under the 64 KiB a Linux pipe holds, while head is still reading:
    # the write succeeds, as `cat small-file | head -1` does.
    assert BASH
    script = '"$@" | head -1; echo "status ${PIPESTATUS[0]}"'
    done = subprocess.run([BASH, "-c", script, "envcheck", *ENVCHECK, *args], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=120)
    first, status = done.stdout.splitlines()
    full = _run(args, tmp_path)
    assert (first, status, done.stderr) == (full.stdout.splitlines()[0], f"status {full.returncode}", "")


@pytest.mark.parametrize("command", [["doctor"], ["smoke"]])
def test_json_list_is_one_versioned_object(tmp_path: Path, command: list[str]) -> None:
    listed = _run([*command, "--list", "--json"], tmp_path)
    text = _run([*command, "--list"], tmp_path)
    data = json.loads(listed.stdout)
    assert listed.returncode == 0 and listed.stderr == ""
    assert {k: data[k] for k in ("schema", "schema_version", "command")} == {
        "schema": "envcheck.list", "schema_version": 1, "command": command[0]}
    assert [item["id"] for item in data["items"]] == [line.split()[0] for line in text.stdout.splitlines()]


# --- hostile option values: a usage error before any work, one line on stderr, the envelope with --json ---------

FLOAT_OPTIONS = [
    (["doctor"], "--timeout"),
    (["smoke", "--python", "/nonexistent/python3"], "--timeout"),
    (["smoke", "--python", "/nonexistent/python3"], "--step-timeout"),
    (["verify", "{tmp}"], "--timeout"),
]
FLOAT_VALUES = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e309", "1e-400", "", "0x10", "1_0e999", "-1", " "]


@pytest.mark.parametrize("value", FLOAT_VALUES)
@pytest.mark.parametrize(("command", "option"), FLOAT_OPTIONS)
def test_non_finite_and_malformed_numbers_are_usage_errors(tmp_path: Path, command: list[str], option: str,
                                                           value: str) -> None:
    done = _run([*command, option, value], tmp_path)
    assert (done.returncode, done.stdout) == (EXIT_USAGE, "")
    assert f"Error: Invalid value for '{option}': " in done.stderr and "Traceback" not in done.stderr
    as_json = _run([*command, option, value, "--json"], tmp_path)
    envelope = json.loads(as_json.stdout)
    assert as_json.returncode == EXIT_USAGE
    assert set(envelope) == {"schema", "schema_version", "error", "exit_code"}
    assert (envelope["schema"], envelope["schema_version"], envelope["exit_code"]) == ("envcheck.error", 1, 2)
    assert envelope["error"].startswith(f"Invalid value for '{option}': ")


def _usage_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name: (arguments, the one line on stderr after "envcheck: error: ")."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n")
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(50 * 1024 * 1024)
    return {
        "empty --only": (["doctor", "--only", ""], "--only: give a check id or subject; the value was empty"),
        "empty --policy": (["doctor", "--policy", ""], "policy: cannot read '': No such file or directory"),
        "policy /dev/null": (["doctor", "--policy", "/dev/null"], "policy: '/dev/null' is not a regular file"),
        "policy fifo": (["doctor", "--policy", str(fifo)], f"policy: {shown(str(fifo))} is not a regular file"),
        "policy folder": (["smoke", "--policy", str(tmp_path)],
                          f"policy: {shown(str(tmp_path))} is not a regular file"),
        "policy alias bomb": (["doctor", "--policy", str(bomb)],
                              f"policy: {shown(str(bomb))}: line 1, column 4: anchors and aliases (&name, *name) "
                              "are not allowed in a policy"),
        "policy 50 MB": (["doctor", "--policy", str(big)],
                         f"policy: {shown(str(big))} has 52428800 bytes; a policy file has at most 1048576"),
        "junit /proc": (["doctor", "--junit", "/proc/version"],
                        "--junit /proc/version: cannot create a file in /proc: No such file or directory"),
        "junit folder": (["smoke", "--junit", str(tmp_path)], f"--junit {tmp_path}: is a folder; give a file name"),
        "junit missing folder": (["verify", str(tmp_path), "--junit", str(tmp_path / "no" / "r.xml")],
                                 f"--junit {tmp_path / 'no' / 'r.xml'}: folder {tmp_path / 'no'} does not exist"),
        "junit /dev/null": (["doctor", "--junit", "/dev/null"], "--junit /dev/null: not a regular file"),
        "junit fifo": (["doctor", "--junit", str(fifo)], f"--junit {fifo}: not a regular file"),
        "junit dangling link": (["doctor", "--junit", str(tmp_path / "dangling")],
                                f"--junit {tmp_path / 'dangling'}: not writable: No such file or directory"),
    }


USAGE_CASES = ["empty --only", "empty --policy", "policy /dev/null", "policy fifo", "policy folder",
               "policy alias bomb", "policy 50 MB", "junit /proc", "junit folder", "junit missing folder",
               "junit /dev/null", "junit fifo", "junit dangling link"]


@pytest.mark.parametrize("case", USAGE_CASES)
def test_bad_values_and_output_files_are_usage_errors_up_front(tmp_path: Path, case: str) -> None:
    args, message = _usage_cases(tmp_path)[case]
    done = _run(args, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_USAGE, "", f"envcheck: error: {message}\n")
    as_json = _run([*args, "--json"], tmp_path)
    assert as_json.returncode == EXIT_USAGE
    assert json.loads(as_json.stdout) == {"schema": "envcheck.error", "schema_version": 1, "error": message,
                                          "exit_code": 2}


def test_the_usage_case_list_names_every_case(tmp_path: Path) -> None:
    assert sorted(_usage_cases(tmp_path)) == sorted(USAGE_CASES)


@pytest.mark.root
def test_a_read_only_junit_file_is_refused_for_an_unprivileged_user(world_dir: Path,
                                                                    world_envcheck: tuple[str, str]) -> None:
    # root may write a read-only file, so the refusal is checked as `nobody` (uid 65534), in a folder it owns.
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv (util-linux) to run as another user")
    python, path = world_envcheck
    os.chown(world_dir, 65534, 65534)  # the folder takes new files: only the file itself is read-only
    report = world_dir / "report.xml"
    report.write_text("<old/>")
    os.chown(report, 65534, 65534)
    report.chmod(0o444)
    argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", python, "-m", "envcheck", "doctor",
            "--only", "git", "--junit", str(report)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/",
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "HOME": "/nonexistent"})
    assert (done.returncode, done.stdout) == (EXIT_USAGE, "")
    assert done.stderr == f"envcheck: error: --junit {report}: not writable: Permission denied\n"
    assert report.read_text() == "<old/>"


def test_doctor_timeout_has_the_policy_probe_timeout_range() -> None:
    # cli.py leaves envcheck.policy unimported until a command judges, so the range is written there twice.
    from envcheck.cli import Seconds, cli
    from envcheck.policy import PROBE_TIMEOUT_MAX_S, PROBE_TIMEOUT_MIN_S

    option = next(p for p in cli.commands["doctor"].params if "--timeout" in p.opts)
    assert isinstance(option.type, Seconds)
    assert (option.type.min, option.type.max) == (PROBE_TIMEOUT_MIN_S, PROBE_TIMEOUT_MAX_S)
