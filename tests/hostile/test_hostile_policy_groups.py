"""Inventory group names and output file names from the command line are input too: a group name is shown in
every report and on the fleet page, and an empty value is an unset shell variable, never "no file" or "all"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
GROUP_ERROR = "give an inventory group name (at most 255 characters, no control characters)"


def _envcheck(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENVCHECK, *argv], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("argv", [
    ("doctor", "--only", "host", "--group", "lab\x1b[2Jx"),
    ("policy", "show", "--host", "h", "--group", "lab\nx"),
    ("policy", "show", "--host", "h", "--group", " "),
])
def test_a_group_name_with_control_characters_is_a_usage_error(argv: tuple[str, ...]) -> None:
    done = _envcheck(*argv)
    shown = repr(argv[-1])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"envcheck: error: --group {shown}: {GROUP_ERROR}\n"


def test_policy_check_host_arguments_are_checked_as_doctor_checks_them(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("groups:\n  g1:\n    hosts: [x]\n", encoding="utf-8")
    bad_host = _envcheck("policy", "check", str(policy), "--host", "a\x1b[2Jb=lab")
    bad_group = _envcheck("policy", "check", str(policy), "--host", "ab=lab,g\x07")
    assert (bad_host.returncode, bad_host.stderr) == (
        2, "envcheck: error: --host 'a\\x1b[2Jb': give a host name (at most 253 characters, no control characters)\n")
    assert (bad_group.returncode, bad_group.stderr) == (2, f"envcheck: error: --group 'g\\x07': {GROUP_ERROR}\n")


@pytest.mark.parametrize(("argv", "option"), [
    (("doctor", "--only", "host", "--junit", ""), "--junit"),
    (("doctor", "--only", "host", "--prometheus", ""), "--prometheus"),
    (("report", "html", ".", "-o", ""), "-o"),
])
def test_an_empty_output_file_name_is_a_usage_error_not_no_file(argv: tuple[str, ...], option: str,
                                                                tmp_path: Path) -> None:
    done = _envcheck(*argv, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"envcheck: error: {option}: give a file name; the value was empty\n")
    assert list(tmp_path.iterdir()) == []


def test_policy_init_with_an_empty_file_name_writes_nothing(tmp_path: Path) -> None:
    done = _envcheck("policy", "init", "", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "envcheck: error: policy init: give a file name (or - to print the policy); the value was empty\n")
    assert list(tmp_path.iterdir()) == []


def test_a_policy_naming_an_unknown_check_is_judged_by_the_rest_and_the_fleet_controller_says_it(
        tmp_path: Path) -> None:
    # A policy shared by hosts of several envcheck versions may name a check only the newer ones have: doctor runs
    # by the rest of it without a word (its stderr may share the stream the fleet reads its report from).
    policy = tmp_path / "p.yaml"
    policy.write_text("skip: {host.swap: 'no swap here', nope.zz: typo}\n", encoding="utf-8")
    done = _envcheck("doctor", "--only", "host", "--json", "--policy", str(policy), cwd=tmp_path)
    assert (done.returncode in (0, 1, 3), done.stderr) == (True, "")
    swap = [r for r in json.loads(done.stdout)["results"] if r["id"] == "host.swap"]
    assert [(r["status"], r["reason"]) for r in swap] == [("skip", "skipped by policy: no swap here")]
    done = _envcheck("fleet", "playbook", "--out", "out", "--policy", str(policy), cwd=tmp_path)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        0, "envcheck: warning: policy: the file names 'nope.zz' in skip, which is no check or subject of this "
           "envcheck (`envcheck doctor --list` shows them)")
