"""The fleet task's action plugin (envcheck/fleet/ansible_action.py): the host's one command, run here by a real
sh with the real artifact on its stdin, as ssh hands it over; the plugin's own checks of its arguments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck.fleet import ansible_action, artifact
from envcheck.fleet.artifact import Artifact, build_artifact
from envcheck.fleet.playbook import ACTION_NAME, action_plugin


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return build_artifact(tmp_path_factory.mktemp("artifact"))


def _receive(data: bytes, size: int, args: list[str], scratch: Path) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch.parent), "TMPDIR": str(scratch), "LANG": "C.UTF-8"}
    return subprocess.run(["/bin/sh", "-c", ansible_action.receive_command(size, args)], input=data, env=env,
                          capture_output=True, timeout=120, check=False)


def test_its_numbers_agree_with_the_artifacts() -> None:
    # The plugin runs in Ansible's Python, where envcheck may not be importable: it keeps its own copies.
    assert ansible_action.ARTIFACT_NAME == artifact.ARTIFACT_NAME
    assert ansible_action.EXIT_CANNOT_START == artifact.EXIT_CANNOT_START


def test_the_playbook_calls_it_by_the_name_it_is_written_under(tmp_path: Path) -> None:
    path, source = action_plugin(tmp_path)
    assert path == tmp_path / "action_plugins" / f"{ACTION_NAME}.py"
    assert source == Path(ansible_action.__file__).read_bytes()


def test_the_artifact_on_stdin_runs_and_its_folder_goes(built: Artifact, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    data = built.path.read_bytes()
    done = _receive(data, len(data), ansible_action.artifact_args("lab<1> $(id)", ["gpu", "a b"], 60), scratch)
    assert done.returncode in (0, 1, 3), done.stderr.decode()
    envelope = json.loads(done.stdout)
    assert (envelope["host"], envelope["groups"]) == ("lab<1> $(id)", ["gpu", "a b"])
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("cut", [0, 1000])
def test_an_artifact_cut_short_is_not_run_and_its_folder_goes(built: Artifact, tmp_path: Path, cut: int) -> None:
    # The connection dropped during the transfer: stdin ends early.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    data = built.path.read_bytes()
    done = _receive(data[:cut], len(data), ["--host", "h"], scratch)
    assert (done.returncode, done.stdout) == (ansible_action.EXIT_CANNOT_START, b"")
    assert done.stderr.decode().strip() == f"envcheck: the artifact arrived incomplete ({cut} of {len(data)} bytes)"
    assert list(scratch.iterdir()) == []


def test_no_private_folder_is_a_cannot_start(built: Artifact, tmp_path: Path) -> None:
    done = _receive(b"", 10, ["--host", "h"], tmp_path / "missing")
    assert (done.returncode, done.stdout) == (ansible_action.EXIT_CANNOT_START, b"")
    assert done.stderr.decode().strip().endswith("envcheck: cannot create a private temporary folder")


def test_in_must_name_the_artifacts_own_folder(built: Artifact, tmp_path: Path) -> None:
    # --in removes the folder it names: never one the artifact is not in.
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file").write_text("mine")
    done = subprocess.run(["/bin/sh", str(built.path), "--in", str(keep)], capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == ansible_action.EXIT_CANNOT_START
    assert done.stderr.decode().strip() == f"envcheck: --in names the folder this file is in, not '{keep}'"
    assert (keep / "file").read_text() == "mine"


@pytest.mark.parametrize(("host", "groups", "timeout_s", "why"), [
    ("", [], 60, "host must be the host's inventory name"),
    (None, [], 60, "host must be the host's inventory name"),
    ("h", "gpu", 60, "groups must be a list of group names"),
    ("h", [1], 60, "groups must be a list of group names"),
    ("h", [], 0, "timeout_s must be a whole number of seconds, at least 1"),
])
def test_malformed_arguments_are_refused(host: object, groups: object, timeout_s: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        ansible_action.artifact_args(host, groups, timeout_s)


def test_arguments_are_one_word_each_for_the_hosts_shell() -> None:
    args = ansible_action.artifact_args("a'b; rm -rf /", ["g$(x)"], "30")
    assert args == ["--timeout", "30", "--host", "a'b; rm -rf /", "--group", "g$(x)"]
    command = ansible_action.receive_command(5, args)
    assert "--in \"$d\" --timeout 30 --host 'a'\"'\"'b; rm -rf /' --group 'g$(x)'\n" in command


def test_ansible_is_imported_only_when_ansible_asks_for_the_plugin() -> None:
    # Importing ansible changes the interpreter (ansible-core 2.19 replaces sys.intern): a process that imports the
    # module for its commands must not get that. Ansible's loader asks for ActionModule by name; that imports it.
    code = ("import sys\nimport envcheck.fleet.ansible_action as plugin\nbefore = 'ansible' in sys.modules\n"
            "from ansible.plugins.action import ActionBase\n"
            "print(before, issubclass(plugin.ActionModule, ActionBase), sys.intern.__class__.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.split()[:2] == ["False", "True"], done.stderr
