"""A policy file's groups: matched by host glob and by inventory group, in file order; the effective policy and
its digest; bad input as one clear UsageError."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck.model import PolicyRef, UsageError
from envcheck.policy import default_policy, load_policy
from envcheck.policy_groups import PolicySource, default_policy_source, digest, load_policy_source

LAB = """\
gpu_count: 8
skip:
  gpu.pcie-link: "risers on these boards train at x8"
groups:
  a100:
    hosts: ["gpu-a*", "dgx-??"]
    overrides:
      gpu_model: "*A100*"
      driver_branches: ["550"]
  small:
    inventory_groups: [small_boxes]
    overrides:
      gpu_count: 4
  late:
    hosts: ["gpu-a7"]
    inventory_groups: [late]
    overrides:
      gpu_count: 2
"""


def write(tmp_path: Path, text: str, name: str = "lab.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def lab(tmp_path: Path) -> PolicySource:
    return load_policy_source(write(tmp_path, LAB))


def test_groups_match_by_host_glob_case_insensitively(lab: PolicySource) -> None:
    judged = lab.effective("GPU-A3.lab.example", ())
    assert (judged.policy.gpu_model, judged.policy.gpu_count, judged.ref.groups) == ("*A100*", 8, ("a100",))
    assert lab.effective("dgx-07", ()).ref.groups == ("a100",)
    assert lab.effective("dgx-107", ()).ref.groups == ()  # ? is one character


def test_groups_match_by_inventory_group(lab: PolicySource) -> None:
    judged = lab.effective("cpu-1", ["small_boxes"])
    assert (judged.policy.gpu_count, judged.policy.gpu_model, judged.ref.groups) == (4, None, ("small",))
    assert lab.effective("cpu-1", ["Small_Boxes"]).ref.groups == ()  # Ansible group names are exact


def test_later_groups_win_in_file_order(lab: PolicySource) -> None:
    judged = lab.effective("gpu-a7", ["small_boxes"])
    assert judged.ref.groups == ("a100", "small", "late")
    assert (judged.policy.gpu_count, judged.policy.gpu_model, judged.policy.driver_branches) == (2, "*A100*", ("550",))
    assert lab.origins("gpu-a7", ["small_boxes"])["gpu_count"] == "group late"
    assert lab.origins("cpu-1", ())["gpu_count"] == "file"
    assert lab.origins("cpu-1", ())["ram_min_gib"] == "default"


def test_a_group_that_matches_no_host_is_named(lab: PolicySource) -> None:
    assert lab.unmatched([("gpu-a1", ()), ("cpu-1", ("small_boxes",))]) == ["late"]
    assert lab.unmatched([("gpu-a7", ("small_boxes",))]) == []


def test_a_group_can_take_a_requirement_away(tmp_path: Path) -> None:
    source = load_policy_source(write(tmp_path, "gpu_count: 8\ngroups:\n  cpu:\n    hosts: ['cpu-*']\n"
                                                "    overrides: {gpu_count: null}\n"))
    assert source.effective("cpu-1", ()).policy.gpu_count is None


def test_digest_is_stable_across_key_order_spelling_and_runs(tmp_path: Path, lab: PolicySource) -> None:
    one = load_policy_source(write(tmp_path, "gpu_count: 8\nram_min_gib: 16\n", "a.yaml")).effective("h", ())
    two = load_policy_source(write(tmp_path, '{"ram-min-gib": 16.0, "gpu_count": 8}', "b.json")).effective("h", ())
    assert one.ref.digest == two.ref.digest and one.ref.digest.startswith("sha256:") and len(one.ref.digest) == 71
    code = ("import sys; from envcheck.policy_groups import load_policy_source; "
            "print(load_policy_source(sys.argv[1]).effective('h', ()).ref.digest)")
    again = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.yaml")], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"})
    assert again.stdout.strip() == one.ref.digest


def test_digest_changes_when_a_group_changes_a_value(lab: PolicySource) -> None:
    base, grouped = lab.effective("cpu-1", ()), lab.effective("gpu-a1", ())
    assert base.ref.digest != grouped.ref.digest
    assert base.ref == PolicyRef(path=lab.path, digest=digest(base.policy), groups=())


def test_the_built_in_defaults_are_a_source_without_a_file() -> None:
    source = default_policy_source()
    judged = source.effective("anything", ["any"])
    assert (source.path, judged.policy, judged.ref.path, judged.ref.groups) == (None, default_policy(), None, ())


def test_load_policy_keeps_working_and_todays_keys_unchanged(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, "ram_min_gib: 32\nrequire_docker: true\n"))
    assert (loaded.ram_min_gib, loaded.require_docker, loaded.gpu_count) == (32, True, None)
    assert loaded.requires_tool("docker") and not loaded.requires_tool("conda")
    assert load_policy(write(tmp_path, "# nothing\n", "empty.yaml")) == default_policy()


@pytest.mark.parametrize(("text", "message"), [
    ("groups:\n  a:\n    hosts: ['x*']\n    overrides: {gpu_cont: 8}\n",
     "policy: group a: unknown key 'gpu_cont' (did you mean gpu_count? `envcheck policy schema` lists every key)"),
    ("groups:\n  a:\n    hosts: ['x*']\n    gpu_count: 8\n",
     "policy: group a: unknown key 'gpu_count' (a group holds hosts, inventory_groups, overrides; policy keys go "
     "under overrides)"),
    ("groups:\n  a:\n    overrides: {gpu_count: 8}\n",
     "policy: group a matches no host: give hosts (globs over host names) or inventory_groups (Ansible group names)"),
    ("groups:\n  a:\n    hosts: []\n    inventory_groups: []\n",
     "policy: group a matches no host: give hosts (globs over host names) or inventory_groups (Ansible group names)"),
    ("groups:\n  a:\n    hosts: [7]\n",
     "policy: group a hosts[0] must be a glob pattern (one line of text, like 'NVIDIA A100*'), got 7"),
    ("groups:\n  a:\n    hosts: 'gpu-*'\n",
     "policy: group a hosts must be a list of at most 200 glob patterns, got 'gpu-*'"),
    ("groups:\n  a:\n    inventory_groups: ['a b']\n",
     "policy: group a: inventory_groups holds 'a b', not a group name (letters, digits, _ . : -)"),
    ("groups:\n  a:\n    hosts: ['x']\n    overrides: {groups: {}}\n",
     "policy: group a: overrides cannot hold groups (groups do not nest)"),
    ("groups:\n  a:\n    hosts: ['x']\n    overrides: {gpu_count: -1}\n",
     "policy: group a: gpu_count must be a whole number from 0 to 256 (GPUs), got -1"),
    ("groups: [a, b]\n",
     "policy: groups must be a mapping of at most 200 group names to groups (hosts, inventory_groups, overrides), "
     "got ['a', 'b']"),
    ("groups:\n  'a b':\n    hosts: ['x']\n",
     "policy: a group name must be text of letters, digits and _ . : - (at most 64), got 'a b'"),
    ("skip:\n  gpu.ecc:\n", "policy: skip['gpu.ecc'] must give the reason, one line of text of at most 300 "
                            "characters shown in every report, got None"),
    ("skip:\n  gpu.ecc: '  '\n", "policy: skip['gpu.ecc'] must give the reason, one line of text of at most 300 "
                                 "characters shown in every report, got '  '"),
    ("skip: [gpu.ecc]\n", "policy: skip must be a mapping of at most 200 check ids or subjects to reasons, "
                          "got ['gpu.ecc']"),
])
def test_bad_input_is_one_clear_usage_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_policy_source(write(tmp_path, text))
    assert str(caught.value) == message


def test_effective_values_are_plain_json(lab: PolicySource) -> None:
    values = lab.effective("gpu-a1", ()).policy.values()
    assert values["skip"] == {"gpu.pcie-link": "risers on these boards train at x8"}
    assert values["driver_branches"] == ["550"]
    assert json.loads(json.dumps(values)) == values
