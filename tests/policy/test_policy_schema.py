"""The shipped JSON Schema agrees with the loader: the built-in policy and `policy init`'s output validate, and for
every key a wrong value is refused by both (and a right one accepted by both)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from envcheck.engine import Collected
from envcheck.model import UsageError
from envcheck.policy import KEYS
from envcheck.policy_groups import load_policy_source
from envcheck.policy_init import render_yaml, schema_path, starting_entries
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts
from envcheck.probes.gpu_device import GpuDevice
from envcheck.probes.gpu_torch import TorchFacts

SCHEMA = json.loads(schema_path().read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DATA = Path(__file__).resolve().parents[2] / "envcheck" / "data"

# key -> (values the loader and the schema both accept, values both refuse)
CASES: dict[str, tuple[list[Any], list[Any]]] = {
    "python_min": (["3.10", "3.12.1"], [3.10, "3", "three", None]),
    "python_warn_below": (["3.11"], [3.11, ""]),
    "ram_min_gib": ([0, 8, 7.5], [-1, "8", True, 1 << 21]),
    "ram_warn_gib": ([16], [None]),
    "disk_free_fail_gib": ([2], ["2"]),
    "disk_free_warn_gib": ([20], [False]),
    "tmp_free_warn_gib": ([5], [-0.5]),
    "docker_free_warn_gib": ([30], [[30]]),
    "ubuntu_require_lts": ([True, False], ["yes", 1, None]),
    "ubuntu_support_warn_days": ([0, 180, 180.0], [1.5, -1, 36501]),
    "require_gpu": ([True], ["true"]),
    "gpu_temp_warn_c": ([85, 90.5], [151, "85"]),
    "require_docker": ([False], [0]),
    "require_conda": ([True], [None]),
    "conda_warn_below": (["23.10"], [23.10]),
    "shared_server": ([True], ["no"]),
    "probe_timeout_s": ([0.1, 5, 600], [0.05, 601, "5"]),
    "basic_tools": ([[], ["ls", "apt-get", "g++"]], ["ls", ["/bin/ls"], ["a b"], [1]]),
    "smoke_loss_max": ([0.1], [101]),
    "smoke_accuracy_min": ([0.95, 1], [95]),
    "smoke_matmul_peak_min_pct": ([75], [101]),
    "smoke_memory_peak_min_pct": ([80], [-1]),
    "gpu_count": ([None, 0, 8, 8.0], [-1, 257, 2.5, "8", True]),
    "gpu_model": ([None, "*A100*", "NVIDIA H100 80GB HBM3"], ["", 100, "a\nb", ["*A100*"]]),
    "driver_min": ([None, "550", "550.54", "535.183.01"], [550, "5", "550.54.15.1", "r550"]),
    "driver_branches": ([None, [], ["550", "570"], [550]], ["550", ["r550"], [5], [True]]),
    "cuda_min": ([None, "12.4"], [12.4, "12"]),
    "compute_capability_min": ([None, "8.0", "9.0"], [8.0, "sm_80"]),
    "container_runtime": ([None, "nvidia", "cdi", "either"], ["docker", "NVIDIA", 1]),
    "os_allowed": ([None, [], ["ubuntu 22.04", "rocky 9*"]], ["ubuntu 22.04", [""], [22.04]]),
    "tools_required": ([None, [], ["conda", "docker", "jupyter", "torch"]], [["mamba"], "conda", [None]]),
    "torch_min": ([None, "2.4", "2.5.1"], [2.4, "2.5.1+cu124"]),
    "free_space_gib": ([None, {}, {"/data": 500, "/": 1.5}], [{"data": 500}, {"/data": -1}, {"/data": "500"},
                                                              ["/data"]]),
    "ecc_uncorrected_max": ([0, 5], [-1, None, 1.5]),
    "ecc_lifetime_uncorrected_max": ([0, 10], ["0"]),
    "remapped_rows_uncorrectable_max": ([None, 0, 8], [-1, "8"]),
    "xid_ignore": ([None, [], [13, 31, 43]], [[0], [1000], ["13"], 13]),
    "skip": ([None, {}, {"gpu.pcie-link": "risers train at x8", "jupyter": "no notebooks here"}],
             [{"gpu.ecc": ""}, {"gpu.ecc": "   "}, {"gpu.ecc": None}, {"gpu.ecc": "a\nb"}, {"GPU": "x"},
              {"gpu.ecc": "x" * 301}, ["gpu.ecc"]]),
    "warnings_as_failures": ([None, [], ["gpu.ecc", "host"]], ["gpu.ecc", [""], ["Gpu.ecc"], [1]]),
}


def loader_accepts(document: dict[str, Any], tmp_path: Path) -> bool:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    try:
        load_policy_source(path)
    except UsageError:
        return False
    return True


def schema_accepts(document: dict[str, Any]) -> bool:
    return VALIDATOR.is_valid(document)


def test_every_key_has_cases() -> None:
    assert set(CASES) == set(KEYS)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_built_in_policy_validates() -> None:
    errors = [error.message for error in VALIDATOR.iter_errors(json.loads((DATA / "default-policy.json").read_text()))]
    assert errors == []


@pytest.mark.parametrize("key", list(CASES))
def test_loader_and_schema_agree_on_each_key(key: str, tmp_path: Path) -> None:
    good, bad = CASES[key]
    for value in good:
        for where in ({key: value}, {"groups": {"g": {"hosts": ["h*"], "overrides": {key: value}}}}):
            assert (loader_accepts(where, tmp_path), schema_accepts(where)) == (True, True), where
    for value in bad:
        for where in ({key: value}, {"groups": {"g": {"hosts": ["h*"], "overrides": {key: value}}}}):
            assert (loader_accepts(where, tmp_path), schema_accepts(where)) == (False, False), where
    if "_" in key and good:  # the loader reads "-" for "_"; so does the schema
        spelled = {key.replace("_", "-"): good[0]}
        assert (loader_accepts(spelled, tmp_path), schema_accepts(spelled)) == (True, True)


@pytest.mark.parametrize("document", [
    {"gpu_cont": 8},
    {"groups": {"g": {"overrides": {"gpu_count": 8}}}},
    {"groups": {"g": {"hosts": [], "inventory_groups": []}}},
    {"groups": {"g": {"hosts": ["h"], "gpu_count": 8}}},
    {"groups": {"g": {"hosts": ["h"], "overrides": {"groups": {}}}}},
    {"groups": {"g": {"hosts": [3]}}},
    {"groups": {"a b": {"hosts": ["h"]}}},
    {"groups": ["g"]},
])
def test_loader_and_schema_refuse_the_same_bad_groups(document: dict[str, Any], tmp_path: Path) -> None:
    assert (loader_accepts(document, tmp_path), schema_accepts(document)) == (False, False)


H100 = GpuDevice(index=0, name="NVIDIA H100 80GB HBM3", compute_capability=(9, 0))
GPU_HOST = {"gpu": Collected("gpu", facts=GpuFacts(child="ok", driver_version="570.86.15", cuda_driver_version="12.8",
                                                   device_count=8, devices=(H100,) * 8)),
            "gpu-torch": Collected("gpu-torch", facts=TorchBuildFacts(asked=True, torch=TorchFacts(
                python="/usr/bin/python3", version="2.7.1+cu128")))}


def test_policy_init_output_validates_for_a_gpu_host_and_a_bare_one(tmp_path: Path) -> None:
    for collected in ({}, {"gpu": Collected("gpu", error="probe 'gpu' crashed")}, GPU_HOST):
        text = render_yaml(starting_entries(collected), "test-host")
        assert text.splitlines()[0] == f"# yaml-language-server: $schema={schema_path()}"
        VALIDATOR.validate(yaml.safe_load(text))
        path = tmp_path / "init.yaml"
        path.write_text(text)
        load_policy_source(path)
    written = yaml.safe_load(render_yaml(starting_entries(GPU_HOST), "test-host"))
    assert {k: written[k] for k in ("gpu_count", "gpu_model", "driver_min", "driver_branches", "cuda_min",
                                    "compute_capability_min", "torch_min")} == {
        "gpu_count": 8, "gpu_model": "NVIDIA H100 80GB HBM3", "driver_min": "570.86.15", "driver_branches": ["570"],
        "cuda_min": "12.8", "compute_capability_min": "9.0", "torch_min": "2.7.1"}


def test_the_readme_example_is_a_valid_policy(tmp_path: Path) -> None:
    import re

    from envcheck.doctor import unknown_check_names

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Policy for a lab", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    VALIDATOR.validate(yaml.safe_load(example.group(1)))
    path = tmp_path / "lab.yaml"
    path.write_text(example.group(1))
    source = load_policy_source(path)
    assert unknown_check_names(source) == []
    assert [g.name for g in source.groups] == ["a100-nodes", "h100-nodes", "login"]
    login = source.effective("login2", ())
    assert (login.policy.gpu_count, login.policy.skip_reason("gpu.ecc")) == (0, "login nodes have no GPU")
