"""`envcheck fleet` with hostile input, through real Ansible on ``ansible_connection: local`` hosts (no ssh):
a file of the user's in the out folder, an inventory name longer than a file name may be, empty values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envcheck.fleet.outcomes import safe_file_name

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
LONG = "n" * 300  # longer than NAME_MAX (255 bytes): Ansible's jsonfile fact cache names a file after a host


def _inventory(folder: Path, *hosts: str) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    path = folder / "inventory.json"  # JSON is YAML: Ansible's yaml inventory plugin reads it
    path.write_text(json.dumps({"all": {"children": {"lab": {"hosts": {h: local for h in hosts}}}}}))
    return path


def _fleet(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENVCHECK, "fleet", *argv], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})


def _read(folder: Path, host: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / safe_file_name(host)).read_text("utf-8"))
    return data


@pytest.mark.slow
def test_a_users_file_in_the_out_folder_is_kept_and_nothing_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "lab-1.json").write_text("my notes\n", encoding="utf-8")
    done = _fleet("-i", str(_inventory(tmp_path, "lab-1")), "--out", str(out))
    assert (done.returncode, done.stdout) == (4, "")
    assert done.stderr == (f"envcheck: error: {out / 'lab-1.json'} exists and is not an envcheck result; it is kept: "
                           "give another --out, or move it\n")
    assert (out / "lab-1.json").read_text("utf-8") == "my notes\n"


@pytest.mark.slow
def test_an_earlier_result_is_replaced_and_a_too_long_name_fails_only_its_host(tmp_path: Path) -> None:
    inventory, out = _inventory(tmp_path, "lab-1", LONG), tmp_path / "out"
    first = _fleet("-i", str(inventory), "--out", str(out), "--limit", "lab-1", "--json")
    assert first.returncode in (0, 1, 3), first.stderr
    done = _fleet("-i", str(inventory), "--out", str(out), "--json")
    assert done.returncode == 3, done.stderr  # the long name is unjudged; before, the whole run failed
    view = json.loads(done.stdout)
    outcomes = {h["host"]: h["outcome"] for h in view["hosts"]}
    assert outcomes[LONG] == "unjudged" and outcomes["lab-1"] in ("pass", "warn", "failed")
    assert _read(out, "lab-1")["schema"] == "envcheck.report"
    record = _read(out, LONG)
    assert (record["outcome"], record["message"].startswith("envcheck exited 2: ")) == ("run-failed", True)
    assert view["file_errors"] == []


@pytest.mark.parametrize("argv", [("-i", ""), ("-i", "x.ini", "--limit", ""), ("-i", "x.ini", "--out", "")])
def test_an_empty_value_is_a_usage_error_never_the_whole_fleet(argv: tuple[str, ...]) -> None:
    done = _fleet(*argv)
    option = argv[-2]
    assert (done.returncode, done.stderr) == (2, f"envcheck: error: {option}: the value was empty\n")


def test_fleet_playbook_keeps_a_playbook_the_admin_edited(tmp_path: Path) -> None:
    out = tmp_path / "ansible"
    first, again = _fleet("playbook", "--out", str(out)), _fleet("playbook", "--out", str(out))
    assert (first.returncode, again.returncode) == (0, 0), again.stderr  # the same playbook: written again
    playbook = out / "envcheck.yml"
    edited = playbook.read_text("utf-8") + "# the lab's own edit\n"
    playbook.write_text(edited, encoding="utf-8")
    done = _fleet("playbook", "--out", str(out))
    assert (done.returncode, done.stderr) == (4, f"envcheck: error: {playbook} exists and is not this envcheck's "
                                                 "playbook (edited, or another file); it is kept: move it, or give "
                                                 "another --out\n")
    assert playbook.read_text("utf-8") == edited


@pytest.mark.parametrize("command", [("-i", "lab-1,"), ("playbook",)])
def test_an_out_folder_that_is_a_file_is_kept_and_named(command: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / "results"
    out.write_text("a file of the user's\n", encoding="utf-8")
    done = _fleet(*command, "--out", str(out))
    assert (done.returncode, done.stderr) == (4, f"envcheck: error: the out folder {out} is a file, not a folder: "
                                                 "give a folder\n")
    assert out.read_text("utf-8") == "a file of the user's\n"
