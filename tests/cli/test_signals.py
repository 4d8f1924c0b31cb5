"""Signals sent to a real `envcheck` process: while it still imports its CLI, and while `doctor` waits for a
child that hangs. Each ends envcheck with 128 + the signal's number, without a traceback, and nothing envcheck
started is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.process_helpers import gone_within

# The console script pyproject.toml installs (envcheck.__main__:main), beside this interpreter in the venv.
SCRIPT = Path(sys.executable).parent / "envcheck"
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _default_signals() -> None:
    """In the child before exec: the three signals at their defaults, as in a terminal. A test run in the
    background of a shell (or under nohup) would otherwise pass SIGINT (or SIGHUP) on ignored."""
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_DFL)


def _wait_for_file(path: Path, proc: subprocess.Popen[str], timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        assert proc.poll() is None, f"envcheck ended early: {proc.communicate()}"
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"{path} was not written within {timeout_s} s")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_while_the_cli_is_imported_ends_envcheck_quietly(tmp_path: Path, signum: int, code: int) -> None:
    # A stand-in for click, found first on PYTHONPATH, holds the import of the CLI open: it says so in a file,
    # then sleeps, so the signal arrives exactly while envcheck.cli is being imported.
    ready = tmp_path / "importing"
    (tmp_path / "click").mkdir()
    (tmp_path / "click" / "__init__.py").write_text(
        f"import pathlib, time\npathlib.Path({str(ready)!r}).write_text('yes')\ntime.sleep(60)\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen([str(SCRIPT), "--help"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_signals)
    try:
        _wait_for_file(ready, proc)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (code, "", "")


@pytest.mark.parametrize(("signum", "code", "said"), [
    (signal.SIGTERM, 143, ""),
    (signal.SIGHUP, 129, ""),
    (signal.SIGINT, 130, "\nAborted.\n"),  # click: a new line after what ^C left on the terminal
])
def test_a_signal_during_doctor_ends_it_and_the_child_it_waits_for(tmp_path: Path, signum: int, code: int,
                                                                   said: str) -> None:
    # A conda that never answers: the conda probe's `conda info` runs in a session of its own, so the signal
    # reaches envcheck alone, and only envcheck's clean-up can end it.
    child_pid = tmp_path / "conda.pid"
    conda = tmp_path / "conda"
    conda.write_text(f"#!/bin/sh\necho $$ > {child_pid}\nexec sleep 300\n")
    conda.chmod(0o755)
    env = dict(os.environ, CONDA_EXE=str(conda), HOME=str(tmp_path))
    proc = subprocess.Popen([str(SCRIPT), "doctor", "--only", "conda", "--timeout", "120"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    try:
        pid = int(_wait_for_file(child_pid, proc))
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (code, "", said)
    assert gone_within(pid, 5.0), f"the hanging conda (pid {pid}) outlived envcheck"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_after_the_run_is_noted_and_the_exit_goes_on_quietly(signum: int) -> None:
    # What envcheck/__main__.py does once the CLI has returned: Python's exit (thread joins, exit hooks) then runs
    # with the run's exit code, and no handler raises into it.
    code = ("import os, signal, sys\nfrom envcheck import shutdown\nshutdown.install((signal.SIGINT, *shutdown.ENDING))"
            f"\nshutdown.exiting()\nos.kill(os.getpid(), {int(signum)})\nprint('went on', shutdown._received)\n"
            "sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (3, f"went on [{int(signum)}]\n", "")
