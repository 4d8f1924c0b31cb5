"""GPU states replayed through the real NVML child.

The machine these tests are written on has no GPU and no NVIDIA driver. The no-driver path runs for real
there: envcheck/probes/gpu_nvml_child.py imports the real pynvml, which cannot load libnvidia-ml.so.1. Every
other state runs the SAME child script in a real child process, with tests/data/nvml/fake first on its
PYTHONPATH: a stand-in ``pynvml`` that keeps the real module's constants and error classes and answers
the nvml* calls from a recording (tests/data/nvml/*.json; README.md there says where each came from).
Host files (/proc/driver/nvidia, /dev/nvidia*, /dev/kmsg, /var/run/reboot-required) come from the
recording's "host" part, laid out under a temporary folder that the probe reads through ``HostFS(folder)``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

import pytest
from helpers.gpu_helpers import host_files

from envcheck import runner
from envcheck.checks.gpu import CHECKS, NVML_ERRORS
from envcheck.engine import Collected, apply_checks, examine
from envcheck.hostfs import HostFS
from envcheck.model import Result, Status
from envcheck.policy import Policy, default_policy
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts, collect, collect_torch_build
from envcheck.units import ProbeContext, ProbeOptions, ProbeSpec

DATA = Path(__file__).parents[1] / "data" / "nvml"


def replay_ctx(tmp_path: Path, recording: Path, fs: HostFS, timeout: float = 5.0,
               options: ProbeOptions | None = None) -> ProbeContext:
    env = dict(os.environ, PYTHONPATH=str(DATA / "fake"), ENVCHECK_NVML_RECORDING=str(recording))
    return ProbeContext(env=env, home=str(tmp_path), timeout_s=timeout, run=runner.run,
                        options=options or ProbeOptions(), fs=fs)


def replay(tmp_path: Path, recording: Path, timeout: float = 5.0) -> GpuFacts:
    host = json.loads(recording.read_text()).get("host", {})
    return collect(replay_ctx(tmp_path, recording, host_files(tmp_path, host), timeout))


def verdicts(facts: GpuFacts, policy: Policy | None = None) -> list[Result]:
    collected = {"gpu": Collected("gpu", facts=facts),
                 "gpu-torch": Collected("gpu-torch", facts=TorchBuildFacts(asked=False))}
    return apply_checks(CHECKS, collected, policy or default_policy())


def by_id(results: list[Result]) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for result in results:
        out.setdefault(result.id, []).append(result)
    return out


def statuses(results: list[Result], check_id: str) -> list[str]:
    return [r.status.value for r in by_id(results)[check_id]]


# --- the real path of this machine ---------------------------------------------------------------------


@pytest.mark.skipif(Path("/proc/driver/nvidia/version").exists(), reason="this machine has an NVIDIA driver")
def test_real_child_without_a_driver_reports_library_not_found_and_every_check_skips() -> None:
    facts = collect(ProbeContext(env=dict(os.environ), home=str(Path.home()), timeout_s=5.0, run=runner.run))
    assert facts.child == "ok" and facts.init_error == "LibraryNotFound" and facts.init_error_code == 12
    assert not facts.driver_present and facts.xid is None and facts.devices == ()
    results = verdicts(facts)
    assert {r.status for r in results} == {Status.SKIP}
    # gpu.torch-build does not wait on the driver: asked (--torch), it names the installed build anyway.
    blocked = [r for r in results if r.id not in ("gpu.driver", "gpu.torch-build")]
    assert all("no NVIDIA driver found" in r.reason for r in blocked)
    assert all(r.caused_by == "gpu.driver" for r in blocked)
    assert by_id(results)["gpu.torch-build"][0].reason.startswith("not asked: ")
    required = verdicts(facts, Policy.from_mapping({"require_gpu": True}, base=default_policy()))
    assert by_id(required)["gpu.driver"][0].status is Status.FAIL
    assert "ubuntu-drivers" in by_id(required)["gpu.driver"][0].fix


# --- replayed states -----------------------------------------------------------------------------------


def test_healthy_eight_h100(tmp_path: Path) -> None:
    facts = replay(tmp_path, DATA / "h100x8-healthy.json")
    assert facts.driver_version == "565.57.01" and facts.cuda_driver_version == "12.7"
    assert facts.library_version == "565.57.01" == facts.module_version
    assert [d.uuid for d in facts.devices][0] == "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"
    results = verdicts(facts)
    grouped = by_id(results)
    assert len(grouped["gpu.devices"]) == 8
    assert grouped["gpu.devices"][7].item == "GPU 7 (GPU-33135771-a848-ece1-b61e-489e221d663c)"
    assert grouped["gpu.power"][0].observed == "101 W of 700 W limit"
    assert grouped["gpu.retired-pages"][0].status is Status.SKIP  # H100 remaps rows instead: n/a, not a failure
    assert grouped["gpu.retired-pages"][0].observed == "n/a (NotSupported)"
    assert "CUDA <= 12.6" in grouped["gpu.cuda-compat"][0].observed
    assert "no 12.7 toolkit exists" in grouped["gpu.cuda-compat"][0].observed
    assert grouped["gpu.torch-wheels"][0].status is Status.PASS
    assert "--index-url https://download.pytorch.org/whl/cu126" in grouped["gpu.torch-wheels"][0].fix
    # Judged today, R565 (a new feature branch, never a supported one) is long superseded: one warning, with the
    # LTS to move to. Judged on the day it was recorded (2024-11-14), nothing is inferred: a healthy node.
    (branch,) = grouped["gpu.driver-branch"]
    assert branch.status is Status.WARN and branch.observed == "R565 is no longer supported"
    assert branch.fix.startswith("sudo apt-get install -y nvidia-driver-580-server  # R580 LTS, supported until")
    assert [r.id for r in results if r.status in (Status.FAIL, Status.WARN, Status.UNKNOWN)] == ["gpu.driver-branch"]
    then = verdicts(dataclasses.replace(facts, today="2024-11-14"))
    assert [r for r in then if r.status in (Status.FAIL, Status.WARN, Status.UNKNOWN)] == []


def test_one_lost_gpu_never_hides_the_other_seven(tmp_path: Path) -> None:
    results = verdicts(replay(tmp_path, DATA / "h100x8-one-lost.json"))
    devices = by_id(results)["gpu.devices"]
    assert [r.status.value for r in devices] == ["pass"] * 3 + ["fail"] + ["pass"] * 4
    assert "GpuIsLost" in devices[3].observed and "0000:5d:00.0" in devices[3].observed
    assert devices[3].fix.startswith("sudo reboot")
    temps = by_id(results)["gpu.temperature"]
    assert [t.observed for t in temps if t.status is Status.PASS] == ["30 C", "30 C", "31 C", "28 C", "30 C", "29 C",
                                                                      "29 C"]
    assert temps[3].status is Status.UNKNOWN and temps[3].caused_by == "gpu.devices"
    xid = by_id(results)["gpu.xid"][0]
    assert xid.status is Status.FAIL and "Xid 79" in xid.observed


def test_driver_library_mismatch_asks_for_a_reboot(tmp_path: Path) -> None:
    facts = replay(tmp_path, DATA / "mismatch.json")
    assert facts.init_error == "LibRmVersionMismatch" and facts.library_version == "550.144.03"
    grouped = by_id(verdicts(facts))
    module = grouped["gpu.kernel-module"][0]
    assert module.status is Status.FAIL
    assert module.observed == "kernel module 550.127.05 != NVML library 550.144.03"
    assert module.fix.startswith("sudo reboot")
    assert grouped["gpu.nvml"][0].caused_by == "gpu.kernel-module"
    pending = grouped["gpu.reboot-pending"][0]
    assert pending.status is Status.FAIL
    assert "550.127.05 != library 550.144.03" in pending.observed
    # /var/run/reboot-required is judged once, by host.reboot-required: named here, not listed again.
    assert "/var/run/reboot-required" not in pending.observed
    assert pending.reason.endswith("; the host waits for a reboot as well (host.reboot-required)")


def test_driver_not_loaded(tmp_path: Path) -> None:
    grouped = by_id(verdicts(replay(tmp_path, DATA / "driver-not-loaded.json")))
    driver = grouped["gpu.driver"][0]
    assert driver.status is Status.FAIL and driver.fix.startswith("sudo modprobe nvidia")
    assert grouped["gpu.nvml"][0].caused_by == "gpu.driver"


def test_no_permission(tmp_path: Path) -> None:
    nvml = by_id(verdicts(replay(tmp_path, DATA / "no-permission.json")))["gpu.nvml"][0]
    assert nvml.status is Status.FAIL and nvml.observed == "nvmlInit failed: NoPermission (4)"
    assert "/dev/nvidia" in nvml.reason


def test_retired_pages_and_ecc_pending_wait_for_a_reset(tmp_path: Path) -> None:
    grouped = by_id(verdicts(replay(tmp_path, DATA / "v100-retired-pages-ecc-pending.json")))
    assert statuses(list(grouped["gpu.retired-pages"]), "gpu.retired-pages") == ["warn"]
    assert grouped["gpu.ecc"][0].observed.startswith("ECC off (on pending)")
    assert grouped["gpu.remapped-rows"][0].status is Status.SKIP  # Volta has no row remapper: n/a
    pending = grouped["gpu.reboot-pending"][0]
    assert pending.status is Status.WARN
    assert "retired pages pending" in pending.observed and "ECC mode on pending" in pending.observed
    assert grouped["gpu.xid"][0].status is Status.WARN and "Xid 63" in grouped["gpu.xid"][0].observed
    assert grouped["gpu.driver-branch"][0].status is Status.WARN  # R535 LTS ended June 2026


def test_mig_pending(tmp_path: Path) -> None:
    grouped = by_id(verdicts(replay(tmp_path, DATA / "a100-mig-pending.json")))
    assert grouped["gpu.mig"][0].status is Status.WARN and grouped["gpu.mig"][0].observed == "MIG off, on pending"
    assert "MIG mode on pending" in grouped["gpu.reboot-pending"][0].observed


def test_thermal_and_power_throttling(tmp_path: Path) -> None:
    grouped = by_id(verdicts(replay(tmp_path, DATA / "h100-throttling.json")))
    throttle = grouped["gpu.throttle"]
    assert throttle[0].status is Status.FAIL and "HwThermalSlowdown" in throttle[0].observed
    assert throttle[1].status is Status.PASS and "SwPowerCap" in throttle[1].observed
    assert [t.status.value for t in grouped["gpu.temperature"]] == ["warn", "pass"]


def test_pcie_downgraded_under_load_but_not_at_idle(tmp_path: Path) -> None:
    links = by_id(verdicts(replay(tmp_path, DATA / "h100-pcie-downgraded.json")))["gpu.pcie-link"]
    assert [link.status.value for link in links] == ["pass", "warn"]
    assert links[1].observed == "Gen4 x8 of Gen5 x16"
    geforce = by_id(verdicts(replay(tmp_path / "g", DATA / "rtx3090x2-geforce.json")))["gpu.pcie-link"]
    assert [link.status.value for link in geforce] == ["pass", "pass"] and "idle" in geforce[0].observed


def test_geforce_fields_it_lacks_are_na_not_failures(tmp_path: Path) -> None:
    results = verdicts(replay(tmp_path, DATA / "rtx3090x2-geforce.json"))
    grouped = by_id(results)
    for check in ("gpu.ecc", "gpu.remapped-rows", "gpu.retired-pages", "gpu.mig"):
        assert [r.status.value for r in grouped[check]] == ["skip", "skip"], check
        assert grouped[check][0].observed == "n/a (NotSupported)"
    # Only the driver branch (R560, superseded today) is worth a word; nothing a GeForce card lacks is.
    assert [r.id for r in results if r.status in (Status.FAIL, Status.WARN, Status.UNKNOWN)] == ["gpu.driver-branch"]


def test_function_not_found_falls_back_to_older_symbols(tmp_path: Path) -> None:
    facts = replay(tmp_path, DATA / "a100-r450-function-not-found.json")
    assert facts.cuda_driver_version == "11.0"
    assert facts.fallbacks == ("nvmlSystemGetCudaDriverVersion", "GPU 0: nvmlDeviceGetCurrentClocksThrottleReasons")
    assert facts.devices[0].clocks_event_reasons == ("GpuIdle",)
    grouped = by_id(verdicts(facts))
    assert grouped["gpu.nvml"][0].status is Status.PASS and "fell back" in grouped["gpu.nvml"][0].observed
    assert grouped["gpu.torch-wheels"][0].status is Status.FAIL  # no wheel for a CUDA 11.0 driver


def test_a_hanging_nvml_is_unknown_within_the_deadline(tmp_path: Path) -> None:
    start = time.monotonic()
    facts = replay(tmp_path, DATA / "hang.json", timeout=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 1.0 + 1.0
    assert facts.child == "timeout"
    nvml = by_id(verdicts(facts))["gpu.nvml"][0]
    assert nvml.status is Status.UNKNOWN and "did not answer" in nvml.reason


def test_missing_nvidia_ml_py_is_a_skip_with_the_install_command(tmp_path: Path) -> None:
    nvml = by_id(verdicts(replay(tmp_path, DATA / "no-pynvml.json")))["gpu.nvml"][0]
    assert nvml.status is Status.SKIP and nvml.fix == "pip install nvidia-ml-py"


@pytest.mark.parametrize("error", ["Unknown", "GpuIsLost", "ResetRequired", "FunctionNotFound", "Uninitialized"])
def test_every_nvml_init_error_maps_to_cause_and_fix(tmp_path: Path, error: str) -> None:
    # failure-modes.md's table; the recording is just the error nvmlInit raises, with a loaded module.
    recording = tmp_path / "rec.json"
    host = json.loads((DATA / "no-permission.json").read_text())["host"]
    recording.write_text(json.dumps({"nvmlInit": {"error": error}, "host": host,
                                     "system": {"nvmlSystemGetNVMLVersion": "12.550.127.05"}}))
    facts = replay(tmp_path / "run", recording)
    assert facts.init_error == error
    nvml = by_id(verdicts(facts))["gpu.nvml"][0]
    expected, cause, _ = NVML_ERRORS[error]
    assert nvml.status is expected and nvml.reason == cause
    if expected is Status.FAIL:
        assert nvml.fix


def test_doctor_finishes_within_the_deadline_when_nvml_hangs(tmp_path: Path) -> None:
    # The whole engine path: the probe's 1 s deadline, the child killed, every GPU check still reported.
    recording = DATA / "hang.json"
    fs = host_files(tmp_path, json.loads(recording.read_text())["host"])

    def ctx_for(timeout: float) -> ProbeContext:
        return replay_ctx(tmp_path, recording, fs, timeout)

    probes = {"gpu": ProbeSpec("gpu", collect)}
    policy = Policy.from_mapping({"probe_timeout_s": 1.0}, base=default_policy())
    start = time.monotonic()
    report = examine(CHECKS, probes, policy, ctx_for=ctx_for)
    assert time.monotonic() - start < 1.0 + 1.0
    # Every check that applies: the policy states no requirement, so gpu.count and its kind do not run.
    assert len({r.id for r in report.results}) == len([c for c in CHECKS if c.applies_to(policy)])
    nvml = [r for r in report.results if r.id == "gpu.nvml"][0]
    assert nvml.status is Status.UNKNOWN and report.exit_code == 3


def test_json_report_of_a_replayed_node_is_complete(tmp_path: Path) -> None:
    from envcheck.model import Report
    from envcheck.report.jsonreport import render_json

    results = verdicts(replay(tmp_path, DATA / "h100x8-one-lost.json"))
    report = Report(command="doctor", host="h100-node", started_at="2026-11-27T00:00:00+00:00", duration_s=0.2,
                    results=tuple(results))
    doc = json.loads(render_json(report))
    rows = [r for r in doc["results"] if r["id"] == "gpu.devices"]
    assert len(rows) == 8 and rows[0]["evidence"]["compute_capability"] == [9, 0]
    assert rows[0]["evidence"]["n/a"] == ["retired_pages_pending"]


def test_torch_build_on_a_replayed_h100_with_the_real_cpu_torch(tmp_path: Path) -> None:
    # --torch: the gpu-torch probe runs the REAL torch child (this machine's CPU build) beside the replayed NVML.
    recording = DATA / "h100x8-healthy.json"
    fs = host_files(tmp_path, json.loads(recording.read_text())["host"])
    assert collect_torch_build(replay_ctx(tmp_path, recording, fs)).asked is False  # plain doctor: nothing runs
    build = collect_torch_build(replay_ctx(tmp_path, recording, fs, 60.0, ProbeOptions(torch_check=True)))
    assert build.gpu is not None and len(build.gpu.devices) == 8
    # This interpreter's own torch (the CPU build the test venv installs), as its package metadata names it.
    assert build.torch is not None and (build.torch.version, build.torch.cuda) == (importlib.metadata.version("torch"),
                                                                                  None)
    results = apply_checks(CHECKS, {"gpu": Collected("gpu", facts=build.gpu),
                                    "gpu-torch": Collected("gpu-torch", facts=build)}, default_policy())
    verdict = by_id(results)["gpu.torch-build"][0]
    assert verdict.status is Status.WARN and verdict.observed.endswith("a CPU-only build")
    assert verdict.fix == "pip install torch==2.14.1 --index-url https://download.pytorch.org/whl/cu126"


@pytest.mark.parametrize("name", ["h100x8-one-lost.json", "a100-r450-function-not-found.json", "mismatch.json"])
def test_capture_script_round_trips_a_recording(tmp_path: Path, name: str) -> None:
    # tests/data/nvml/capture.py is what a GPU session runs to record a real machine. Run against
    # the stand-in, it must write a recording that replays to the same facts as the one it read.
    original = DATA / name
    env = dict(os.environ, PYTHONPATH=str(DATA / "fake"), ENVCHECK_NVML_RECORDING=str(original))
    done = runner.run([sys.executable, str(DATA / "capture.py")], timeout_s=30, env=env)
    assert done.ok, done.describe()
    captured = json.loads(done.out)
    captured["host"] = json.loads(original.read_text())["host"]  # the host part is this machine's: compare NVML only
    copy = tmp_path / "captured.json"
    copy.write_text(json.dumps(captured))
    first, second = replay(tmp_path / "a", original), replay(tmp_path / "b", copy)
    assert first.devices == second.devices and first.fallbacks == second.fallbacks
    assert (first.init_error, first.nvml_version, first.driver_version, first.cuda_driver_version) == \
        (second.init_error, second.nvml_version, second.driver_version, second.cuda_driver_version)
