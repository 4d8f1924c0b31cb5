"""The built-in policy is data, and a policy file replaces only what it names."""

from __future__ import annotations

import json
from dataclasses import fields
from importlib import resources
from pathlib import Path

import pytest

from envcheck.model import UsageError
from envcheck.policy import Policy, default_policy, load_policy


def test_default_policy_file_sets_every_field_and_nothing_else() -> None:
    data = json.loads(resources.files("envcheck").joinpath("data/default-policy.json").read_text())
    keys = {k for k in data if not k.startswith("_")}
    assert keys == {f.name for f in fields(Policy)}
    policy = default_policy()
    assert policy.python_min == "3.10"
    assert "gcc" in policy.basic_tools and isinstance(policy.basic_tools, tuple)


def test_yaml_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text("require_gpu: true\ndisk-free-warn-gib: 100\n")
    policy = load_policy(path)
    assert policy.require_gpu is True and policy.disk_free_warn_gib == 100
    assert policy.python_min == default_policy().python_min


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must hold a mapping of keys to values, got list"),
        ("require_gpu: yes please\n", "require_gpu must be true or false, got 'yes please'"),
        ("basic_tools: ls\n", "basic_tools must be a list of at most 200 command names, got 'ls'"),
        ("ram_min_gib: -4\n", "ram_min_gib must be a number from 0 to 1048576 (GiB), got -4"),
        ("key: [unclosed\n",
         "line 2, column 1: while parsing a flow sequence; expected ',' or ']', but got '<stream end>'"),
    ],
)
def test_bad_policy_files_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_policy(path)
    assert str(caught.value).endswith(message)
