"""The recipes that put envcheck into a lab's own tools, each run where it can run here.

- NHC: the shipped module (envcheck/data/recipes/envcheck.nhc) inside real LBNL NHC (a vendored copy, see
  tests/data/nhc/PROVENANCE.md), with the real `envcheck doctor`; only the node-marking helper is ours, and it
  records what `node-mark-offline` would hand to `scontrol update State=DRAIN Reason=...`.
- node-problem-detector: its Go binary cannot be built here, so its documented contract is what is checked: the
  shipped plugin script's exit code (0 OK, 1 NonOK, anything else Unknown) and one line of output within the
  shipped config's max_output_length.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck.recipes import RECIPES, recipe_text

ROOT = Path(__file__).resolve().parents[2]
NHC = ROOT / "tests" / "data" / "nhc"
RECIPES_DIR = ROOT / "envcheck" / "data" / "recipes"
ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
# host.memory fails on any machine: no machine has 100 TiB of memory.
FAILING_POLICY = "ram_min_gib: 100000\n"


def _nhc(tmp_path: Path, conf_line: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                                                     list[str] | None, bool]:
    """Run real NHC with one config line; returns the run, what the node-marking helper was given (None: the node
    was not marked offline) and whether NHC marked it online."""
    conf = tmp_path / "conf"
    (conf / "scripts").mkdir(parents=True)
    for script in (NHC / "scripts").iterdir():
        shutil.copy(script, conf / "scripts" / script.name)
    shutil.copy(RECIPES_DIR / "envcheck.nhc", conf / "scripts" / "envcheck.nhc")
    (conf / "nhc.conf").write_text(conf_line + "\n")
    offline_args, online = tmp_path / "offline.args", tmp_path / "online"
    helper = tmp_path / "mark-offline"
    helper.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > {offline_args}\n")
    helper.chmod(0o755)
    marker = tmp_path / "mark-online"
    marker.write_text(f"#!/bin/sh\ntouch {online}\n")
    marker.chmod(0o755)
    argv = [str(NHC / "nhc"), "-D", str(conf), "-c", str(conf / "nhc.conf"), "-l", str(tmp_path / "nhc.log"),
            "-t", "60", "NHC_RM=slurm", f"OFFLINE_NODE={helper}", f"ONLINE_NODE={marker}", "HOSTNAME=gpu-node-7"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ENVCHECK": ENVCHECK, **(env or {})})
    given = offline_args.read_text().split("\0")[:-1] if offline_args.exists() else None
    return done, given, online.exists()


def test_nhc_module_marks_the_node_with_envchecks_first_problem(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(FAILING_POLICY)
    done, given, online = _nhc(tmp_path, f"* || check_envcheck --policy {policy}")
    assert done.returncode == 1, done.stderr
    assert given is not None and given[0] == "gpu-node-7"
    assert given[1].startswith("envcheck fail: host.memory: ") and "expected >= 100000 GiB" in given[1]
    assert "\n" not in given[1] and not online


def test_nhc_module_leaves_a_healthy_node_online(tmp_path: Path) -> None:
    done, given, online = _nhc(tmp_path, "* || check_envcheck")  # the built-in policy: this machine passes or warns
    assert (done.returncode, given, online) == (0, None, True), done.stderr


def test_nhc_reason_cannot_break_out_of_nhcs_quoting(tmp_path: Path) -> None:
    """NHC hands the reason to its helper through `eval ... "'$*'"`: a quote in a check's reason (an observed value
    is outside data) would run the rest as shell. A stand-in envcheck prints such a line; the real NHC runs it."""
    pwned = tmp_path / "pwned"
    fake = tmp_path / "envcheck"
    fake.write_text(f"#!/bin/sh\necho \"envcheck fail: gpu.driver: it's $(printf '%s' '$(touch {pwned})') gone\"\n"
                    "exit 1\n")
    fake.chmod(0o755)
    done, given, _online = _nhc(tmp_path, "* || check_envcheck", env={"ENVCHECK": str(fake)})
    assert done.returncode == 1, done.stderr
    assert not pwned.exists()
    assert given == ["gpu-node-7", f"envcheck fail: gpu.driver: its $(touch {pwned}) gone"]


def test_nhc_module_on_could_not_check(tmp_path: Path) -> None:
    """Exit 3 (could not check) marks the node unless the admin says it is healthy enough; a stand-in envcheck
    gives the exit code, since no real probe can be made to fail on demand here."""
    fake = tmp_path / "envcheck"
    fake.write_text("#!/bin/sh\necho 'envcheck unknown: docker.engine: the engine did not answer in 5 s'\nexit 3\n")
    fake.chmod(0o755)
    first = tmp_path / "first"
    done, given, _online = _nhc(first, "* || check_envcheck", env={"ENVCHECK": str(fake)})
    assert done.returncode == 1 and given == ["gpu-node-7", "envcheck unknown: docker.engine: the engine did not "
                                                            "answer in 5 s"]
    second = tmp_path / "second"
    done, given, online = _nhc(second, "* || check_envcheck", env={"ENVCHECK": str(fake),
                                                                   "ENVCHECK_UNKNOWN_IS_HEALTHY": "1"})
    assert (done.returncode, given, online) == (0, None, True)
    assert "docker.engine" in (second / "nhc.log").read_text()


def test_plain_check_cmd_status_drains_with_a_generic_reason(tmp_path: Path) -> None:
    """The one-line recipe without the module: NHC's check_cmd_status drains, but its reason only says the exit
    code (the command's output goes to /dev/null), which is why the module exists."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(FAILING_POLICY)
    done, given, _online = _nhc(tmp_path, f"* || check_cmd_status -t 30 -r 0 {ENVCHECK} doctor --policy {policy}")
    assert done.returncode == 1, done.stderr
    assert given is not None and given[1].startswith("check_cmd_status:  1 (expected 0) returned by ")


def _npd_plugin(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RECIPES_DIR / "envcheck-npd")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ENVCHECK": ENVCHECK, **env})


def test_node_problem_detector_plugin_contract(tmp_path: Path) -> None:
    config = json.loads((RECIPES_DIR / "npd-envcheck.json").read_text())
    cap = config["pluginConfig"]["max_output_length"]
    assert config["rules"][0]["path"] == "/usr/local/bin/envcheck-npd"
    failing = tmp_path / "failing.yaml"
    failing.write_text(FAILING_POLICY)
    broken = tmp_path / "broken.yaml"
    broken.write_text("ram_min_gib: lots\n")
    ok, nonok, unknown = (_npd_plugin({}), _npd_plugin({"ENVCHECK_POLICY": str(failing)}),
                          _npd_plugin({"ENVCHECK_POLICY": str(broken)}))
    assert ok.returncode == 0 and ok.stdout.startswith("envcheck ")
    assert nonok.returncode == 1 and nonok.stdout.startswith("envcheck fail: host.memory: ")
    assert unknown.returncode not in (0, 1)  # Unknown: the policy could not be read, nothing was judged
    for done in (ok, nonok):
        assert done.stdout.count("\n") == 1 and len(done.stdout.rstrip("\n")) <= cap


def test_every_recipe_is_shipped_and_printed() -> None:
    for name, (file_name, _about) in RECIPES.items():
        assert recipe_text(name) == (RECIPES_DIR / file_name).read_text()
    listed = subprocess.run([ENVCHECK, "recipe"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == list(RECIPES)
    unknown = subprocess.run([ENVCHECK, "recipe", "nope"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "no such recipe" in unknown.stderr


@pytest.mark.parametrize("name", list(RECIPES))
def test_readme_installs_each_recipe_from_the_installed_envcheck(name: str) -> None:
    """The README installs every recipe with `envcheck recipe NAME`: the version installed, never a copy."""
    assert f"envcheck recipe {name} " in (ROOT / "README.md").read_text()
