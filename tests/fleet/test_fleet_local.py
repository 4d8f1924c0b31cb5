"""`envcheck fleet` through real Ansible (ansible-runner, envcheck's action plugin, the artifact) on hosts with
``ansible_connection: local``: no ssh, no containers; the many-host run over sshd is test_fleet_e2e.py's. One
host has shell, HTML and Jinja characters in its name; one is an ssh port nobody listens on."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envcheck.fleet.outcomes import HostOutcome, exit_code, outcome_of_overall, safe_file_name

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
ODD = "lab<b>;$(touch PWNED)'\"{{ 7 * 7 }}&"
CLOSED = "lab-closed"
LEFT_ON_HOST = ("/tmp/ansible-tmp-*", "/tmp/envcheck.*")  # a folder of Ansible's, the artifact's


def _inventory(folder: Path) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"children": {
        "lab": {"hosts": {"lab-1": local, ODD: local}},
        "far": {"hosts": {CLOSED: {"ansible_host": "127.0.0.1", "ansible_port": 1}}},
    }}}
    path = folder / "inventory.json"  # JSON is YAML: Ansible's yaml inventory plugin reads it
    path.write_text(json.dumps(inventory))
    return path


def _read(folder: Path, host: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / safe_file_name(host)).read_text())
    return data


def _left() -> set[str]:
    return {path for pattern in LEFT_ON_HOST for path in glob.glob(pattern)}


POLICY = """\
groups:
  lab-hosts:
    inventory_groups: [lab]
    overrides:
      basic_tools: [sh]
  typo:
    inventory_groups: [labb]
    overrides:
      basic_tools: [sh]
"""


@pytest.mark.slow
def test_fleet_of_local_hosts_end_to_end(tmp_path: Path) -> None:
    inventory, out, policy = _inventory(tmp_path), tmp_path / "out", tmp_path / "lab.yaml"
    policy.write_text(POLICY)
    before = _left()
    done = subprocess.run([ENVCHECK, "fleet", "-i", str(inventory), "--policy", str(policy), "--out", str(out),
                           "--json", "--timeout", "120"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert done.stderr == "envcheck: warning: policy group 'typo' matches none of this run's hosts: its " \
                          "requirements judge nothing\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(safe_file_name(h) for h in ("lab-1", ODD, CLOSED))
    reports = {host: _read(out, host) for host in ("lab-1", ODD)}
    for host, report in reports.items():
        assert (report["schema"], report["command"], report["host"]) == ("envcheck.report", "doctor", host)
        # The policy travelled inside the artifact; the report names the controller's file.
        assert (report["groups"], report["policy"]["path"], report["policy"]["groups"]) == (
            ["lab"], str(policy), ["lab-hosts"])
    closed = _read(out, CLOSED)
    assert (closed["schema"], closed["outcome"], closed["groups"]) == ("envcheck.host-error", "unreachable", ["far"])
    assert "Connection refused" in closed["message"]
    outcomes = [outcome_of_overall(r["overall"]) for r in reports.values()] + [HostOutcome.UNREACHABLE]
    assert done.returncode == exit_code(outcomes), done.stderr
    view = json.loads(done.stdout)
    assert sorted(h["host"] for h in view["hosts"]) == sorted(["lab-1", ODD, CLOSED])
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    assert _left() - before == set()


def test_a_malformed_inventory_is_one_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "hosts.ini"
    bad.write_text("[lab\nhost-1 ansible_host=\n")
    done = subprocess.run([ENVCHECK, "fleet", "-i", str(bad), "--out", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"envcheck: error: cannot read the inventory {bad}: ")
    assert not (tmp_path / "out").exists()


def test_without_the_extra_it_says_what_to_install(tmp_path: Path) -> None:
    # ansible_runner made unimportable in this interpreter: what a core install without the extra sees.
    code = ("import sys; sys.modules['ansible_runner'] = None\n"
            "from envcheck.cli import main\n"
            f"main(['fleet', '-i', {str(_inventory(tmp_path))!r}])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "envcheck: error: envcheck fleet needs Ansible, an optional extra: " \
                          "pip install 'envcheck[fleet]'\n"


@pytest.mark.slow
def test_the_playbook_gives_the_same_files_with_ansible_playbook(tmp_path: Path) -> None:
    folder = tmp_path / "playbook"
    written = subprocess.run([ENVCHECK, "fleet", "playbook", "--out", str(folder)], capture_output=True, text=True,
                             timeout=120, check=False)
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["action_plugins", "envcheck-fleet.sh", "envcheck.yml"]
    assert [p.name for p in (folder / "action_plugins").iterdir()] == ["envcheck_run.py"]
    inventory = _inventory(tmp_path)
    played = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(folder / "envcheck.yml"),
                             "-e", "ansible_remote_tmp=/tmp"], capture_output=True, text=True, timeout=300,
                            check=False)
    results = folder / "results"
    assert sorted(p.name for p in results.iterdir()) == sorted(safe_file_name(h) for h in ("lab-1", ODD, CLOSED)), \
        played.stdout[-3000:]
    assert _read(results, ODD)["host"] == ODD
    assert _read(results, "lab-1")["schema"] == "envcheck.report"
    closed = _read(results, CLOSED)
    assert (closed["schema"], closed["outcome"], closed["groups"]) == ("envcheck.host-error", "unreachable", ["far"])


def test_a_limit_that_matches_no_host_is_a_usage_error(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path)
    done = subprocess.run([ENVCHECK, "fleet", "-i", str(inventory), "--limit", "nosuchhost", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"envcheck: error: no host in the inventory {inventory} matches --limit nosuchhost\n"
