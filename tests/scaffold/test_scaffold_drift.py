"""`project.drift`: the doctor check that compares a scaffolded project's record with the
machine it runs on. The /proc/driver/nvidia trees are constructed from the documented format
(tests/data/scaffold/README.md); the project records are written by the real `envcheck scaffold`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.scaffold_helpers import envcheck_main

from envcheck import compat
from envcheck.checks.project import drift
from envcheck.engine import examine, make_context
from envcheck.hostfs import HostFS
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.nvidia_proc import parse_driver_version
from envcheck.probes.project import GpuNow, ProjectFacts, collect, read_gpu_now
from envcheck.project_record import ProjectRecord, RecordedHost, read_record
from envcheck.runner import run
from envcheck.units import ProbeContext, ProbeOptions

DATA = Path(__file__).parents[1] / "data" / "scaffold"
A100_535 = HostFS(str(DATA / "host-535-a100"))
H100_570 = HostFS(str(DATA / "host-open-570-h100"))


def test_proc_files_parse_for_both_kernel_modules() -> None:
    assert read_gpu_now(A100_535) == GpuNow(driver="535.104.05", gpu_names=("NVIDIA A100-SXM4-80GB",))
    now = read_gpu_now(H100_570)
    assert now.driver == "570.86.15" and now.gpu_names == ("NVIDIA H100 80GB HBM3",) * 2
    assert read_gpu_now(HostFS(str(DATA / "absent"))) == GpuNow()
    assert parse_driver_version("garbage") is None


def _record(driver: str = "535.104.05") -> ProjectRecord:
    return ProjectRecord(envcheck_version="0.1.0", data_version="2026-11-27", created="2026-11-27T12:00:00+00:00",
                         name="lab", package="lab", planned_for="this machine", planned_driver=None,
                         host=RecordedHost(driver=driver, gpu_name="NVIDIA A100-SXM4-80GB", python="3.11"),
                         torch="2.5.1", variant="cu121", cuda="12.1")


def _facts(record: ProjectRecord, now: GpuNow) -> ProjectFacts:
    return ProjectFacts(record_path="/p/.envcheck/project.json", record=record, now=now)


def test_same_machine_passes() -> None:
    outcome = drift(_facts(_record(), read_gpu_now(A100_535)), default_policy())
    assert outcome.status is Status.PASS


def test_new_driver_and_other_gpu_warn_with_both_changes() -> None:
    outcome = drift(_facts(_record(), read_gpu_now(H100_570)), default_policy())
    assert outcome.status is Status.WARN
    assert "driver 535.104.05 -> 570.86.15" in outcome.reason
    assert "GPU NVIDIA A100-SXM4-80GB -> NVIDIA H100 80GB HBM3" in outcome.reason
    assert "envcheck scaffold --dry-run" in outcome.fix


def test_driver_too_old_for_the_projects_cuda_fails() -> None:
    record = replace(_record(driver="580.65.06"), cuda="13.0", variant="cu130")
    outcome = drift(_facts(record, read_gpu_now(A100_535)), default_policy())
    assert outcome.status is Status.FAIL
    assert "needs driver >= 580" in outcome.reason


def test_outside_a_project_skips_and_a_broken_record_is_unknown(tmp_path: Path) -> None:
    assert drift(ProjectFacts(), default_policy()).status is Status.SKIP
    broken = ProjectFacts(record_path="/p/.envcheck/project.json", record_error="could not read it")
    assert drift(broken, default_policy()).status is Status.UNKNOWN


def _ctx(cwd: Path, host: HostFS) -> ProbeContext:
    return ProbeContext(env=dict(os.environ), home=str(cwd), timeout_s=5.0, run=run,
                        options=ProbeOptions(cwd=str(cwd)), fs=host)


def test_probe_finds_the_record_walking_up_from_a_subfolder(tmp_path: Path) -> None:
    project = tmp_path / "lab"
    ran = envcheck_main(["scaffold", str(project), "--cuda", "cpu", "--no-git", "--no-docker"])
    assert ran.code == 0, ran.err
    facts = collect(_ctx(project / "src" / "lab", A100_535))
    assert facts.record_path == str(project / ".envcheck" / "project.json")
    assert facts.record is not None and facts.record.name == "lab" and facts.record.data_version
    # Planned on this GPU-less machine for the CPU; now a driver and an A100 appear.
    outcome = drift(facts, default_policy())
    assert outcome.status is Status.WARN and "planned for the CPU" in outcome.reason


def test_planned_with_driver_option_and_run_on_that_machine(tmp_path: Path) -> None:
    project = tmp_path / "target"
    assert envcheck_main(["scaffold", str(project), "--driver", "535.104.05", "--no-git"]).code == 0
    from envcheck.checks.project import CHECKS
    from envcheck.probes.project import PROBES

    policy, options = default_policy(), ProbeOptions(cwd=str(project))
    report = examine(CHECKS, {p.name: p for p in PROBES}, policy,
                        ctx_for=make_context(policy, options, fs=A100_535))
    (result,) = report.results
    assert result.id == "project.drift" and result.status is Status.PASS, result
    newer = examine(CHECKS, {p.name: p for p in PROBES}, policy,
                       ctx_for=make_context(policy, options, fs=H100_570))
    assert newer.results[0].status is Status.WARN


def test_doctor_inside_a_project_reports_it(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    assert envcheck_main(["scaffold", str(project), "--driver", "580.65.06", "--no-git"]).code == 0
    done = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--only", "project", "--json"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    (result,) = [r for r in report["results"] if r["id"] == "project.drift"]
    # The loaded NVIDIA kernel module's version, none where no driver is loaded (the build machine and CI): then
    # this is not the --driver 580.65.06 machine the project was planned for.
    version_file = Path("/proc/driver/nvidia/version")
    driver = parse_driver_version(version_file.read_text()) if version_file.exists() else None
    record = read_record(project / ".envcheck/project.json")
    assert isinstance(record, ProjectRecord) and record.cuda is not None
    if driver is not None and not compat.cuda_runs_on(driver, record.cuda):
        assert result["status"] == "fail", result
    elif driver != "580.65.06":
        assert result["status"] == "warn" and f"driver 580.65.06 -> {driver or 'none'}" in result["reason"], result
    else:
        assert result["status"] == "pass", result
    outside = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--only", "project", "--json"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert json.loads(outside.stdout)["results"][0]["status"] == "skip"


@pytest.mark.parametrize("text", ["{", "[]", '{"schema": "other"}'])
def test_a_record_that_is_not_ours_is_unknown_not_pass(tmp_path: Path, text: str) -> None:
    (tmp_path / ".envcheck").mkdir()
    (tmp_path / ".envcheck" / "project.json").write_text(text)
    facts = collect(_ctx(tmp_path, A100_535))
    assert facts.record_error
    assert drift(facts, default_policy()).status is Status.UNKNOWN


def test_planned_with_minor_compat_is_not_a_failure_on_that_driver(tmp_path: Path) -> None:
    # --minor-compat on R535 picks a CUDA 12.6 build that R535 runs only by the family rule: the user accepted
    # that, so the same driver later is a pass, while a driver outside the family still fails.
    project = tmp_path / "target"
    ran = envcheck_main(["scaffold", str(project), "--driver", "535.104.05", "--minor-compat", "--no-git"])
    assert ran.code == 0, ran.err
    record = read_record(project / ".envcheck/project.json")
    assert isinstance(record, ProjectRecord) and record.cuda == "12.6"
    facts = ProjectFacts(record_path=str(project / ".envcheck/project.json"), record=record,
                         now=GpuNow(driver="535.104.05", gpu_names=("NVIDIA A100-SXM4-80GB",)))
    assert drift(facts, default_policy()).status is Status.PASS
    old = ProjectFacts(record_path=facts.record_path, record=record, now=GpuNow(driver="470.82.01"))
    outcome = drift(old, default_policy())
    assert outcome.status is Status.FAIL and "12.6" in outcome.reason
    assert "envcheck generate dockerfile . --force" in (outcome.fix or "")
