"""Python checks on hand-built facts: version lines from the policy, conda envs (conda cannot run here),
system Pythons, and PATH resolutions that disagree. Paths that must exist for realpath are made in tmp_path."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from envcheck import compat
from envcheck.checks import python as checks
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.python import PythonFacts, Resolution

POLICY = default_policy()


def info(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"version": [3, 12, 3], "executable": "/opt/env/bin/python3", "prefix": "/opt/env",
                            "base_prefix": "/opt/env", "externally_managed": False, "conda_meta": False,
                            "conda_base": False, "conda_prefix": None, "conda_env": None, "pip_version": "24.0",
                            "pip_path": "/opt/env/lib/python3.12/site-packages/pip/__init__.py",
                            "user_site": None, "user_site_entries": 0}
    return {**base, **kw}


def facts(resolutions: tuple[Resolution, ...] = (), **kw: Any) -> PythonFacts:
    names = {r.name for r in resolutions}
    rest = tuple(Resolution(n, None) for n in ("python", "python3", "pip", "jupyter") if n not in names)
    return PythonFacts("python3 on PATH", "/opt/env/bin/python3", info=info(**kw), resolutions=resolutions + rest)


@pytest.mark.parametrize(
    ("version", "status"),
    [([3, 8, 10], Status.FAIL), ([3, 9, 18], Status.FAIL), ([3, 10, 12], Status.WARN), ([3, 11, 2], Status.PASS),
     ([3, 12, 3], Status.PASS)],
)
def test_version_against_policy(version: list[int], status: Status) -> None:
    verdict = checks.version(facts(version=version), POLICY)
    assert verdict.status is status
    assert verdict.observed.startswith("Python " + ".".join(map(str, version)))
    if status is not Status.PASS:
        assert "conda create" in verdict.fix


def test_version_policy_lines_are_read_from_the_policy() -> None:
    strict = dataclasses.replace(POLICY, python_min="3.12", python_warn_below="3.13")
    assert checks.version(facts(version=[3, 11, 9]), strict).status is Status.FAIL
    assert checks.version(facts(version=[3, 12, 3]), strict).status is Status.WARN


def test_python_newer_than_any_torch_wheel_warns() -> None:
    newest = compat.torch_releases()[-1]
    major, minor = (int(p) for p in newest.python_max.split("."))
    verdict = checks.version(facts(version=[major, minor + 1, 0]), POLICY)
    assert verdict.status is Status.WARN and newest.python_max in verdict.reason


def test_conda_env_named_from_conda_default_env() -> None:
    verdict = checks.environment(facts(prefix="/opt/conda/envs/dl", base_prefix="/opt/conda/envs/dl",
                                       conda_meta=True, conda_prefix="/opt/conda/envs/dl", conda_env="dl"), POLICY)
    assert verdict.status is Status.PASS and verdict.observed == "conda env dl at /opt/conda/envs/dl"


def test_conda_base_warns() -> None:
    verdict = checks.environment(facts(prefix="/opt/conda", base_prefix="/opt/conda", conda_meta=True,
                                       conda_base=True), POLICY)
    assert verdict.status is Status.WARN and verdict.fix.startswith("conda create -n dl")


def test_system_python_kinds() -> None:
    managed = checks.environment(facts(prefix="/usr", base_prefix="/usr", externally_managed=True), POLICY)
    assert managed.status is Status.WARN and "externally-managed-environment" in managed.reason
    plain = checks.environment(facts(prefix="/usr", base_prefix="/usr"), POLICY)
    assert plain.status is Status.PASS and "venv keeps them apart" in plain.reason
    # A venv made from an externally managed Python is fine: PEP 668 does not apply inside venvs.
    venv = checks.environment(facts(prefix="/home/u/v", base_prefix="/usr", externally_managed=True), POLICY)
    assert venv.status is Status.PASS


def test_pip_fix_depends_on_the_kind_of_python() -> None:
    no_pip = {"pip_version": None, "pip_path": None}
    assert checks.pip(facts(prefix="/usr", base_prefix="/usr", **no_pip), POLICY).fix == \
        "sudo apt-get install -y python3-pip"
    assert checks.pip(facts(conda_meta=True, **no_pip), POLICY).fix == "conda install -y pip"


def test_pip_whose_interpreter_cannot_be_read_is_unknown() -> None:
    res = (Resolution("pip", "/usr/local/bin/pip", "/usr/local/bin/pip", "binary"),)
    verdict = checks.pip(facts(res), POLICY)
    assert verdict.status is Status.UNKNOWN and "python3 -m pip" in verdict.reason


def test_no_pip_on_path_but_module_present_passes() -> None:
    verdict = checks.pip(facts(), POLICY)
    assert verdict.status is Status.PASS and "use python3 -m pip" in verdict.observed


def _interpreters(tmp_path: Path) -> tuple[str, str]:
    """Two distinct real files standing for two interpreters (realpath must be able to tell them apart)."""
    a, b = tmp_path / "a/bin", tmp_path / "b/bin"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    (a / "python3").write_text("")
    (b / "python3").write_text("")
    os.symlink("python3", a / "python")
    return str(a / "python3"), str(b / "python3")


def test_python_and_python3_disagree(tmp_path: Path) -> None:
    a, b = _interpreters(tmp_path)
    res = (Resolution("python", b, b, "binary"), Resolution("python3", a, a, "binary"))
    verdict = checks.path_resolution(facts(res, executable=a), POLICY)
    assert verdict.status is Status.WARN and f"`python` runs {b}" in verdict.reason


def test_python_and_python3_as_links_in_one_folder_agree(tmp_path: Path) -> None:
    a, _ = _interpreters(tmp_path)
    py = str(Path(a).with_name("python"))
    res = (Resolution("python", py, a, "binary"), Resolution("python3", a, a, "binary"))
    assert checks.path_resolution(facts(res, executable=a), POLICY).status is Status.PASS


def test_missing_python_command_warns_with_python_is_python3(tmp_path: Path) -> None:
    a, _ = _interpreters(tmp_path)
    verdict = checks.path_resolution(facts((Resolution("python3", a, a, "binary"),), executable=a), POLICY)
    assert verdict.status is Status.WARN and verdict.fix == "sudo apt-get install -y python-is-python3"


def test_jupyter_on_another_interpreter_is_explained(tmp_path: Path) -> None:
    a, b = _interpreters(tmp_path)
    py = str(Path(a).with_name("python"))
    res = (Resolution("python", py, a, "binary"), Resolution("python3", a, a, "binary"),
           Resolution("jupyter", "/x/jupyter", "/x/jupyter", "script", interpreter=b))
    verdict = checks.path_resolution(facts(res, executable=a), POLICY)
    assert verdict.status is Status.PASS and "ipykernel install" in verdict.reason
    assert f"jupyter -> /x/jupyter [runs {b}]" in verdict.observed


def test_user_site_leaks_into_conda_env() -> None:
    conda = {"conda_meta": True, "prefix": "/opt/conda/envs/dl", "base_prefix": "/opt/conda/envs/dl"}
    leak = checks.user_site(facts(user_site="/home/u/.local/lib/python3.12/site-packages", user_site_entries=12,
                                  **conda), POLICY)
    assert leak.status is Status.WARN and "PYTHONNOUSERSITE=1" in leak.fix
    assert checks.user_site(facts(**conda), POLICY).status is Status.PASS
    assert checks.user_site(facts(), POLICY).status is Status.SKIP


def test_same_interpreter_rules(tmp_path: Path) -> None:
    base = tmp_path / "usr/bin"
    base.mkdir(parents=True)
    (base / "python3.12").write_text("")
    os.symlink("python3.12", base / "python3")
    venv = tmp_path / "venv/bin"
    venv.mkdir(parents=True)
    os.symlink(base / "python3.12", venv / "python3")
    assert checks.same_interpreter(str(base / "python3"), str(base / "python3.12"))
    # A venv's python links to the base interpreter, yet it is another environment.
    assert not checks.same_interpreter(str(venv / "python3"), str(base / "python3"))
