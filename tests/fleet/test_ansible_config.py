"""The admin's Ansible configuration reaches the fleet run: the ansible.cfg their own ansible-playbook would read
here is named for ansible-runner (which runs from its own folder), and envcheck's preferred settings yield to
what that file or the environment sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envcheck.fleet import ansible
from envcheck.fleet.ansible import PREFERRED, admin_config


@pytest.fixture(autouse=True)
def _no_admin_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ["ANSIBLE_CONFIG", *PREFERRED]:
        monkeypatch.delenv(name, raising=False)


def _system_config() -> Path | None:
    system = Path("/etc/ansible/ansible.cfg")
    return system.resolve() if system.is_file() else None


def test_the_ansible_cfg_of_the_folder_the_admin_runs_from_is_named(tmp_path: Path) -> None:
    here = tmp_path / "lab"
    here.mkdir()
    assert admin_config(here) == _system_config()
    (here / "ansible.cfg").write_text("[defaults]\nremote_user = admin\n")
    assert admin_config(here) == (here / "ansible.cfg").resolve()


def test_a_world_writable_folders_ansible_cfg_is_ignored_as_ansible_ignores_it(tmp_path: Path) -> None:
    here = tmp_path / "shared"
    here.mkdir()
    (here / "ansible.cfg").write_text("[defaults]\nremote_user = someone\n")
    here.chmod(0o777)
    assert admin_config(here) == _system_config()


def test_ansible_config_in_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "lab"
    here.mkdir()
    (here / "ansible.cfg").write_text("[defaults]\n")
    chosen = tmp_path / "elsewhere.cfg"
    chosen.write_text("[defaults]\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(chosen))
    assert admin_config(here) == chosen.resolve()


def test_preferred_settings_yield_to_the_admins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = ansible._environment(tmp_path)
    assert {name: env[name] for name in PREFERRED} == {name: value for name, (_, _, value) in PREFERRED.items()}
    (tmp_path / "ansible.cfg").write_text("[ssh_connection]\nssh_args = -o ProxyJump=bastion\n")
    monkeypatch.setenv("ANSIBLE_TIMEOUT", "45")
    env = ansible._environment(tmp_path)
    assert env["ANSIBLE_CONFIG"] == str((tmp_path / "ansible.cfg").resolve())
    assert "ANSIBLE_SSH_ARGS" not in env and "ANSIBLE_TIMEOUT" not in env  # theirs: the file's, the environment's
    assert env["ANSIBLE_REMOTE_TMP"] == "/tmp"


def test_an_unreadable_config_leaves_it_to_ansible_to_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ansible.cfg").write_text("no section header\n")
    env = ansible._environment(tmp_path)
    assert env["ANSIBLE_CONFIG"] == str((tmp_path / "ansible.cfg").resolve())
    assert env["ANSIBLE_SSH_ARGS"] == PREFERRED["ANSIBLE_SSH_ARGS"][2]
    assert os.environ.get("ANSIBLE_SSH_ARGS") is None
