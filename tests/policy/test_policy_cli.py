"""`envcheck policy show | init | check | schema`, and doctor's --host / --group with a policy file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from envcheck.policy_init import schema_path

LAB = """\
# a lab
gpu_count: 8
skip:
  gpu.pcie-link: "risers on these boards train at x8"
warnings_as_failures: [host.swap]
groups:
  a100:
    hosts: ["gpu-a*"]
    overrides: {gpu_model: "*A100*", gpu_count: 4}
  cpu:
    inventory_groups: [cpu_nodes]
    overrides: {gpu_count: 0}
"""


def envcheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envcheck", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})


def lab_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(LAB)
    return path


def test_show_computes_a_hosts_policy_without_running_a_probe(tmp_path: Path) -> None:
    # Probes run through engine.collect_all and start commands through runner.run: both record any call here. (The
    # probe modules are imported: the check registry names the ids a policy's skip may use.)
    code = ("import json, sys\nfrom envcheck import engine, runner\nran = []\n"
            "engine.collect_all = lambda *a, **k: ran.append('collect_all')\n"
            "runner.run = lambda *a, **k: ran.append('run')\n"
            "from envcheck.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print(json.dumps({'code': e.code, 'ran': ran}), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, "policy", "show", "--policy", str(lab_file(tmp_path)),
                           "--host", "gpu-a9", "--group", "cpu_nodes", "--json"],
                          capture_output=True, text=True, timeout=60)
    shown = json.loads(done.stdout)
    assert json.loads(done.stderr.splitlines()[-1]) == {"code": 0, "ran": []}
    assert (shown["host"], shown["groups"], shown["matched"]) == ("gpu-a9", ["cpu_nodes"], ["a100", "cpu"])
    assert (shown["policy"]["gpu_count"], shown["policy"]["gpu_model"]) == (0, "*A100*")
    assert (shown["origins"]["gpu_count"], shown["origins"]["skip"], shown["origins"]["ram_min_gib"]) == (
        "group cpu", "file", "default")
    assert shown["digest"].startswith("sha256:") and shown["path"] == str(tmp_path / "lab.yaml")
    text = envcheck("policy", "show", "--policy", str(tmp_path / "lab.yaml"), "--host", "gpu-a1").stdout
    assert "groups matched: a100\n" in text and 'gpu_count                        4  (group a100)' in text


def test_check_lists_groups_and_what_each_overrides(tmp_path: Path) -> None:
    done = envcheck("policy", "check", str(lab_file(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{tmp_path / 'lab.yaml'}: valid policy, 3 key(s) over the built-in defaults, 2 group(s)",
        '  group a100 (hosts gpu-a*): overrides gpu_model="*A100*", gpu_count=4',
        "  group cpu (inventory groups cpu_nodes): overrides gpu_count=0"]


def test_check_names_a_group_that_matches_none_of_the_given_hosts(tmp_path: Path) -> None:
    done = envcheck("policy", "check", str(lab_file(tmp_path)), "--host", "gpu-a1", "--host", "login=admin", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["unmatched"] == ["cpu"]
    assert done.stderr == "envcheck: warning: group cpu matches none of the 2 host(s) given\n"
    assert envcheck("policy", "check", str(tmp_path / "lab.yaml"), "--host", "gpu-a1",
                    "--host", "n1=cpu_nodes").returncode == 0


def test_check_refuses_bad_files_with_exit_2_and_the_loaders_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups:\n  a:\n    hosts: ['x']\n    overrides: {gpu_cont: 8}\n")
    done = envcheck("policy", "check", str(bad))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip().endswith("policy: group a: unknown key 'gpu_cont' (did you mean gpu_count? "
                                        "`envcheck policy schema` lists every key)")


TYPO = """\
skip: {gpu.pcie-lnk: 'risers', gpu.drivr: 'no GPU', smoke.matmul: 'slow'}
warnings_as_failures: [hots, host.swap]
groups:
  g1:
    hosts: [x]
    overrides: {skip: {zz.nope: typo}}
"""
# What policy check and policy show say of TYPO: each name that is no check or subject, with the closest ones.
TYPO_WARNINGS = [
    "envcheck: warning: policy: the file names 'gpu.drivr' in skip, which is no check or subject of this envcheck; "
    "did you mean gpu.driver, gpu.driver-min, gpu.driver-branch? (`envcheck doctor --list` shows them)",
    "envcheck: warning: policy: the file names 'gpu.pcie-lnk' in skip, which is no check or subject of this "
    "envcheck; did you mean gpu.pcie-link, gpu.driver-min? (`envcheck doctor --list` shows them)",
    "envcheck: warning: policy: the file names 'hots' in warnings_as_failures, which is no check or subject of this "
    "envcheck; did you mean host? (`envcheck doctor --list` shows them)",
    "envcheck: warning: policy: group g1 names 'zz.nope' in skip, which is no check or subject of this envcheck "
    "(`envcheck doctor --list` shows them)",
]


def test_check_warns_of_each_name_that_is_no_check_and_exits_1(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(TYPO)
    done = envcheck("policy", "check", str(typo))
    assert (done.returncode, done.stderr.splitlines()) == (1, TYPO_WARNINGS)
    assert done.stdout.splitlines()[0] == f"{typo}: valid policy, 2 key(s) over the built-in defaults, 1 group(s)"
    as_json = envcheck("policy", "check", str(typo), "--json")
    checked = json.loads(as_json.stdout)
    assert (as_json.returncode, as_json.stderr.splitlines(), checked["valid"]) == (1, TYPO_WARNINGS, True)
    assert ["envcheck: warning: " + text for text in checked["unknown_names"]] == TYPO_WARNINGS


def test_show_warns_of_each_name_that_is_no_check_and_still_shows(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(TYPO)
    done = envcheck("policy", "show", "--policy", str(typo), "--host", "x", "--json")
    assert (done.returncode, done.stderr.splitlines()) == (0, TYPO_WARNINGS)
    assert json.loads(done.stdout)["policy"]["skip"] == {"zz.nope": "typo"}  # group g1's, over the file's


def test_init_then_check_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "policy.yaml"
    done = envcheck("policy", "init", str(target))
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={schema_path()}"
    data = yaml.safe_load(text)
    lines = text.splitlines()
    for key in data:  # a comment above each key
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        assert lines[index - 1].startswith("# "), key
    assert envcheck("policy", "check", str(target)).returncode == 0
    # Judged by the policy made from it, this host meets the requirements policy init wrote down.
    report = json.loads(envcheck("doctor", "--policy", str(target), "--only", "host.os-allowed,gpu.count",
                                 "--json").stdout)
    assert {r["id"]: r["status"] for r in report["results"]} == {"host.os-allowed": "pass", "gpu.count": "pass"}
    refused = envcheck("policy", "init", str(target))
    assert (refused.returncode, refused.stderr.strip()) == (
        2, f"envcheck: error: {target} exists; `envcheck policy init {target} --force` replaces it")
    target.write_text("old\n")
    assert envcheck("policy", "init", str(target), "--force").returncode == 0
    assert target.read_text().startswith("# yaml-language-server: $schema=")


def test_schema_prints_the_shipped_file() -> None:
    done = envcheck("policy", "schema")
    assert json.loads(done.stdout) == json.loads(schema_path().read_text())


def test_doctor_records_host_groups_and_the_policy(tmp_path: Path) -> None:
    done = envcheck("doctor", "--policy", str(lab_file(tmp_path)), "--host", "gpu-a2", "--group", "cpu_nodes",
                    "--only", "host.kernel,gpu.pcie-link", "--json")
    report = json.loads(done.stdout)
    assert (report["host"], report["groups"]) == ("gpu-a2", ["cpu_nodes"])
    assert report["policy"]["path"] == str(tmp_path / "lab.yaml")
    assert report["policy"]["groups"] == ["a100", "cpu"] and report["policy"]["digest"].startswith("sha256:")
    skipped = next(r for r in report["results"] if r["id"] == "gpu.pcie-link")
    assert (skipped["status"], skipped["reason"]) == ("skip", "skipped by policy: risers on these boards train at x8")
    plain = json.loads(envcheck("doctor", "--only", "host.kernel", "--json").stdout)
    assert plain["policy"]["path"] is None and plain["groups"] == []


def test_doctor_list_shows_the_requirement_checks_a_policy_states(tmp_path: Path) -> None:
    listed = envcheck("doctor", "--list", "--policy", str(lab_file(tmp_path)), "--host", "gpu-a1").stdout
    ids = [line.split()[0] for line in listed.splitlines()]
    assert "gpu.count" in ids and "gpu.model" in ids and "host.os-allowed" not in ids
    assert "gpu.count" not in [line.split()[0] for line in envcheck("doctor", "--list").stdout.splitlines()]
    bad_host = envcheck("doctor", "--host", "a\x1bb", "--only", "host.kernel")
    assert bad_host.returncode == 2 and "give a host name" in bad_host.stderr


def test_smoke_records_the_policy_and_counts_its_steps_by_it(tmp_path: Path, monkeypatch: Any) -> None:
    from click.testing import CliRunner

    import envcheck.cli as cli
    from envcheck.model import Outcome, Report, Result, Status

    smoked = Report("smoke", "h", "2026-11-27T12:00:00+00:00", 0.1,
                    (Result("smoke.bench-matmul", "matmul", Outcome(Status.WARN, reason="slow")),))
    monkeypatch.setattr(cli, "_smoke_live", lambda report, **kwargs: smoked)
    path = tmp_path / "p.yaml"
    path.write_text("warnings_as_failures: [smoke]\n")
    done = CliRunner().invoke(cli.cli, ["smoke", "--policy", str(path), "--json"], standalone_mode=False)
    report = json.loads(done.output)
    assert (report["policy"]["path"], report["exit_code"]) == (str(path), 1)
    assert report["results"][0]["reason"] == "slow (a failure here: the policy counts this check's warnings as " \
                                             "failures)"
