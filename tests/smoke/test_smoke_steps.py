"""Smoke judges on hand-built facts, and whole runs replayed from child output kept in tests/data/smoke/.

No GPU can run here, so the GPU verdicts are tested two ways: facts built by hand for each failure mode,
and a two-GPU --bench run replayed through the real driver and judges. That file is CONSTRUCTED, not
recorded (tests/data/smoke/README.md says how); the CPU --bench file was recorded on the build machine.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers.smoke_helpers import NONCE, Replay

from envcheck.model import Outcome, Result, Status
from envcheck.policy import default_policy
from envcheck.probes.nvidia_proc import HostGpu
from envcheck.smoke import bench, steps
from envcheck.smoke.driver import BETWEEN, drive
from envcheck.smoke.events import ChildTranscript, Ended, decode_end
from envcheck.smoke.facts import BenchLibrariesFacts
from envcheck.smoke.judging import Judging
from envcheck.smoke.targets import Target

DATA = Path(__file__).parents[1] / "data" / "smoke"
LOCAL = Target("python", "/opt/conda/envs/ml/bin/python", "--python /opt/conda/envs/ml/bin/python")
DOCKER = Target("docker", "python3", "image ml:1 (python3 inside it)", image="ml:1")


def judging(target: Target = LOCAL, driver: str | None = "570.133.20", gpus: int = 2) -> Judging:
    host = tuple(HostGpu(f"0000:{i:02x}:00.0", "NVIDIA H100 80GB HBM3", f"GPU-{i}") for i in range(gpus))
    return Judging(default_policy(), target, driver, host, python_version="3.12.7")


def judge(step: str, facts: dict[str, Any], j: Judging) -> Outcome:
    """A step's judge on facts built by hand, decoded by the step's facts type as the driver decodes them."""
    spec = steps.BY_NAME[step]
    return spec.judge(spec.decode(facts), j)


def replayed(name: str, target: Target = LOCAL, **kw: Any) -> list[Result]:
    events: list[dict[str, Any]] = []
    replay = Replay(DATA / name)
    run = drive(replay, target, timeout_s_for=lambda s: 60.0, run_timeout_s=60.0, nonce=NONCE,
                on_event=events.append, bench=replay.bench)
    assert run.ended is Ended.DONE and events[0]["event"] == "hello"
    return steps.results(run, judging(target, **kw))


def one(results: list[Result], rid: str, item: str | None = None) -> Result:
    (found,) = [r for r in results if r.id == rid and r.item == item]
    return found


# --- a two-GPU --bench run, replayed -------------------------------------------------------------------

GPU0 = "GPU 0 (GPU-5c7e9a1f-2b3d-4c8e-9f01-a2b3c4d5e6f7)"
GPU1 = "GPU 1 (GPU-8d1f0b2e-3c4a-4d5b-8e6f-b7c8d9e0f1a2)"


def test_every_gpu_gets_its_own_results() -> None:
    results = replayed("h100x2-bench-constructed.jsonl")
    for step in ("arch-list", "context", "matmul", "train", "amp", "save-load", "forward-consistency"):
        assert one(results, f"smoke.{step}", GPU0).status is Status.PASS, step
        assert one(results, f"smoke.{step}", GPU1).status is Status.PASS, step
    assert one(results, "smoke.train", "cpu").status is Status.PASS
    assert one(results, "smoke.device-count").observed == "torch sees 2 of the 2 GPU(s) NVML sees"
    assert one(results, "smoke.nccl").observed.startswith("all-reduce of 16 MiB over 2 ranks, nccl (NCCL 2.26.2)")
    assert one(results, "smoke.amp", GPU0).observed.startswith("bfloat16 autocast")


def test_bench_sits_beside_the_datasheet_peak() -> None:
    results = replayed("h100x2-bench-constructed.jsonl")
    fast = one(results, "smoke.bench-matmul", GPU0)
    assert fast.status is Status.PASS
    assert "bf16 801.5 (81% of 989.4)" in fast.observed and fast.observed.endswith("[H100 SXM5]")
    assert "fp32 51.3 (77% of 67)" in fast.observed
    slow = one(results, "smoke.bench-matmul", GPU1)  # 612 of 989.4 dense bf16: below the 75% floor
    assert slow.status is Status.WARN and "bf16 reaches 62% of 989.4" in slow.reason
    memory = one(results, "smoke.bench-memory", GPU0)
    assert memory.status is Status.PASS and memory.observed == "device copy 2950.4 (88% of 3350) GB/s"
    link = one(results, "smoke.bench-transfer", GPU0)
    assert link.status is Status.PASS and link.observed.endswith("[PCIe 5.0 x16]") and "84% of 63" in link.observed
    narrow = one(results, "smoke.bench-transfer", GPU1)
    assert narrow.status is Status.WARN and "trained at PCIe 5.0 x8" in narrow.reason
    libs = one(results, "smoke.bench-libraries")
    assert libs.observed.startswith("CUDA 12.6, cuDNN 9.5.1, NCCL 2.26.2, driver 570.133.20; loaded: ")
    assert "libcudnn.so.9" in libs.observed and "libnccl.so.2" in libs.observed
    assert one(results, "smoke.bench-matmul", "cpu").observed.startswith("CPU fp32 1900.0 GFLOP/s")


def test_recorded_cpu_bench_run_skips_gpu_benches_with_the_reason() -> None:
    results = replayed("cpu-torch2.13-bench-recorded.jsonl", driver=None, gpus=0)
    cpu = one(results, "smoke.bench-matmul", "cpu")
    assert cpu.status is Status.PASS and "GFLOP/s" in cpu.observed and "peak n/a" in cpu.observed
    for step in ("bench-matmul", "bench-memory", "bench-transfer"):
        gpu = one(results, f"smoke.{step}")
        assert gpu.status is Status.SKIP and gpu.reason == "no usable GPU: CPU-only build", step
    assert one(results, "smoke.bench-libraries").reason == "CPU-only build: no CUDA, cuDNN or NCCL library to load"
    assert not [r for r in results if r.status in (Status.FAIL, Status.UNKNOWN)]


# --- cuda-available: each reason a GPU is not usable ---------------------------------------------------


def cuda_facts(**over: Any) -> dict[str, Any]:
    base = {"cuda_build": "12.6", "available": False, "device_count": 0, "cuda_visible_devices": None,
            "warnings": [], "proc_driver_version": "NVRM version: ... 570.133.20", "proc_gpus": ["0000:18:00.0"],
            "libcuda_error": None, "dev_nvidia_uvm": True, "dev_nvidiactl": True}
    return {**base, **over}


def test_cpu_only_build_without_gpus_is_a_skip() -> None:
    out = judge("cuda-available", cuda_facts(cuda_build=None, proc_gpus=[], proc_driver_version=None),
                judging(driver=None, gpus=0))
    assert out.status is Status.SKIP and out.reason == "CPU-only build"


def test_cpu_only_build_on_a_gpu_machine_fails_with_a_cuda_wheel_to_install() -> None:
    out = judge("cuda-available", cuda_facts(cuda_build=None), judging())
    assert out.status is Status.FAIL and "CPU-only build on a machine with 1 NVIDIA GPU" in out.observed
    assert out.fix.startswith("/opt/conda/envs/ml/bin/python -m pip install torch==")
    assert "--index-url https://download.pytorch.org/whl/cu" in out.fix


@pytest.mark.parametrize("cvd", ["", "-1"])
def test_cuda_visible_devices_hiding_everything_is_a_skip_that_says_so(cvd: str) -> None:
    out = judge("cuda-available", cuda_facts(cuda_visible_devices=cvd), judging())
    assert out.status is Status.SKIP and out.reason == f"CUDA_VISIBLE_DEVICES={cvd!r} hides every device"


def test_no_driver_is_a_skip_on_a_machine_without_gpus() -> None:
    facts = cuda_facts(proc_driver_version=None, proc_gpus=[], libcuda_error="libcuda.so.1: cannot open shared object")
    out = judge("cuda-available", facts, judging(driver=None, gpus=0))
    assert out.status is Status.SKIP and out.reason.startswith("no NVIDIA driver (libcuda.so.1")


def test_no_driver_inside_a_container_on_a_gpu_host_fails_with_the_toolkit_fix() -> None:
    facts = cuda_facts(proc_driver_version=None, proc_gpus=[], libcuda_error="libcuda.so.1: cannot open shared object")
    out = judge("cuda-available", facts, judging(DOCKER))
    assert out.status is Status.FAIL and "NVIDIA Container Toolkit" in out.fix


def test_missing_nvidia_uvm_is_named() -> None:
    out = judge("cuda-available", cuda_facts(dev_nvidia_uvm=False), judging())
    assert out.status is Status.FAIL and "/dev/nvidia-uvm is missing" in out.reason
    assert out.fix == "sudo nvidia-modprobe -u -c=0"


def test_driver_too_old_for_the_build_says_what_to_install() -> None:
    warning = ("CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). Please "
               "update your GPU driver")
    out = judge("cuda-available", cuda_facts(warnings=[warning]), judging(driver="470.256.02"))
    assert out.status is Status.FAIL and "too old" in out.reason
    assert out.fix.startswith("Upgrade the NVIDIA driver to >= 560.28.03 (torch's CUDA 12.6 needs it)")
    older = judge("cuda-available", cuda_facts(warnings=[warning]), judging(driver="535.104.05"))
    assert "or install a torch this driver runs:" in older.fix and "whl/cu1" in older.fix


# --- device count, architecture ------------------------------------------------------------------------


def count_facts(torch_uuids: list[str], nvml_uuids: list[str], cvd: str | None = None) -> dict[str, Any]:
    return {"torch_devices": [{"index": i, "name": "H100", "uuid": u} for i, u in enumerate(torch_uuids)],
            "nvml": {"error": None, "devices": [{"index": i, "uuid": u} for i, u in enumerate(nvml_uuids)]},
            "cuda_visible_devices": cvd}


def test_a_gpu_torch_does_not_see_fails_unless_cuda_visible_devices_chose_it() -> None:
    missing = judge("device-count", count_facts(["GPU-a"], ["GPU-a", "GPU-b"]), judging())
    assert missing.status is Status.FAIL and "GPU-b" in missing.reason
    chosen = judge("device-count", count_facts(["GPU-a"], ["GPU-a", "GPU-b"], cvd="0"), judging())
    assert chosen.status is Status.PASS and chosen.observed.endswith("(CUDA_VISIBLE_DEVICES=0)")


def test_a_container_with_fewer_gpus_than_the_host_fails() -> None:
    out = judge("device-count", count_facts(["GPU-0"], ["GPU-0"]), judging(DOCKER, gpus=4))
    assert out.status is Status.FAIL and "the host has 4" in out.observed


def test_an_architecture_the_wheel_lacks_fails_with_a_wheel_that_has_it() -> None:
    facts = {"capability": [12, 0], "name": "NVIDIA GeForce RTX 5090",
             "arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]}
    out = judge("arch-list", facts, judging(driver="575.57.08"))
    assert out.status is Status.FAIL and "no kernel image" in out.reason
    # R575 fully supports CUDA 12.9 at most; sm_120 kernels start with cu128, whose newest stable release is 2.11.
    assert out.fix.split("  # ")[0] == (f"{LOCAL.python} -m pip install torch==2.11.0 "
                                        "--index-url https://download.pytorch.org/whl/cu128")
    ptx = judge("arch-list", {**facts, "arch_list": ["sm_90", "compute_90"]}, judging())
    assert ptx.status is Status.PASS


# --- errors, hangs, crashes ----------------------------------------------------------------------------


def test_a_step_that_raised_no_kernel_image_gets_the_install_fix() -> None:
    event = {"event": "end", "step": "matmul", "item": GPU0, "state": "error", "duration_s": 0.1,
             "error": {"type": "RuntimeError", "message": "CUDA error: no kernel image is available for execution on "
                       "the device\nCUDA kernel errors might be asynchronously reported", "traceback": "..."}}
    ends = (decode_end(event, steps.BY_NAME["matmul"].decode),)
    run = ChildTranscript(LOCAL, Ended.DONE, hello={"version": "3.12.7", "python": LOCAL.python}, ends=ends)
    result = one(steps.results(run, judging()), "smoke.matmul", GPU0)
    assert result.status is Status.FAIL
    assert result.observed == "RuntimeError: CUDA error: no kernel image is available for execution on the device"
    assert result.reason == "torch has no kernels for this GPU's architecture" and "pip install torch==" in result.fix


def test_describe_exit_names_signals() -> None:
    assert steps.describe_exit(-9) == "killed by SIGKILL"
    assert steps.describe_exit(137) == "killed by SIGKILL"  # docker's 128 + 9
    assert steps.describe_exit(-11) == "killed by SIGSEGV"
    assert steps.describe_exit(3) == "exit code 3"


def test_an_interpreter_that_cannot_start_the_child_fails_the_target() -> None:
    run = ChildTranscript(LOCAL, Ended.EXIT, rc=1,
                          stderr_tail="  File \"child.py\", line 20\nSyntaxError: invalid syntax\n")
    results = steps.results(run, judging())
    assert results[0].id == "smoke.target" and results[0].status is Status.FAIL
    assert "SyntaxError" in results[0].reason
    assert all(r.caused_by == "smoke.target" for r in results[1:])


def test_link_bandwidth_per_pcie_generation() -> None:
    assert bench.link_gbs("32.0 GT/s PCIe", "16") == (63.0, "PCIe 5.0 x16")
    assert bench.link_gbs("16.0 GT/s PCIe", "16") == (31.5, "PCIe 4.0 x16")
    assert bench.link_gbs("8.0 GT/s PCIe", "8") == (7.9, "PCIe 3.0 x8")
    assert bench.link_gbs(None, "16") is None


# --- a real CUDA build on a machine without a driver (recorded: tests/data/smoke/README.md) ---------------


def test_cuda_build_without_a_driver_skips_every_gpu_step_with_the_driver_as_the_reason() -> None:
    results = replayed("cu130-nodriver-bench-recorded.jsonl", driver=None, gpus=0)
    assert one(results, "smoke.import-torch").observed == "torch 2.13.0+cu130 (CUDA 13.0 build)"
    cuda = one(results, "smoke.cuda-available")
    assert cuda.status is Status.SKIP and cuda.reason.startswith("no NVIDIA driver (libcuda.so.1: cannot open")
    # device-count and nccl too: no warning that NVML could not be asked, no "needs two GPUs"; the cause, once
    for step in ("device-count", "arch-list", "context", "matmul", "amp", "forward-consistency", "nccl",
                 "bench-matmul", "bench-memory", "bench-transfer"):
        result = one(results, f"smoke.{step}")
        assert result.status is Status.SKIP, step
        assert result.reason == f"no usable GPU: {cuda.reason}" and result.caused_by == "smoke.cuda-available", step
    libs = one(results, "smoke.bench-libraries")  # cuDNN and NCCL report their versions without a GPU
    assert libs.observed.startswith("CUDA 13.0, cuDNN 9.20.0, NCCL 2.29.7; loaded: ")
    assert "libcudnn.so.9" in libs.observed and "libnccl.so.2" in libs.observed
    assert one(results, "smoke.train", "cpu").status is Status.PASS
    assert not [r for r in results if r.status in (Status.FAIL, Status.UNKNOWN, Status.WARN)]


def test_cuda_visible_devices_empty_on_a_cuda_build_is_the_skip_reason() -> None:
    results = replayed("cu130-cvd-empty-recorded.jsonl", driver=None, gpus=0)
    cuda = one(results, "smoke.cuda-available")
    assert cuda.status is Status.SKIP and cuda.reason == "CUDA_VISIBLE_DEVICES='' hides every device"
    assert cuda.fix == "unset CUDA_VISIBLE_DEVICES"
    for step in ("device-count", "arch-list", "context", "matmul", "amp", "forward-consistency", "nccl"):
        result = one(results, f"smoke.{step}")
        assert result.status is Status.SKIP and result.caused_by == "smoke.cuda-available", step
        assert result.reason == "no usable GPU: CUDA_VISIBLE_DEVICES='' hides every device", step


@pytest.mark.parametrize(("encoded", "shown"), [(92000, "cuDNN 9.20.0"), (90501, "cuDNN 9.5.1"), (8902, "cuDNN 8.9.2"),
                                                (7605, "cuDNN 7.6.5")])
def test_cudnn_versions_decode_both_encodings(encoded: int, shown: str) -> None:
    facts = {"torch_cuda": "12.6", "cudnn": encoded, "libraries": [{"name": "libcudart.so.12"}]}
    assert f", {shown};" in bench.libraries(BenchLibrariesFacts.decode(facts), judging()).observed


def test_hang_and_crash_fixes_run_the_target_interpreter() -> None:
    from envcheck.smoke import fixes

    assert fixes.hang("import-torch", LOCAL).startswith(
        "timeout 300 /opt/conda/envs/ml/bin/python -X importtime -c 'import torch' 2>&1 | tail -n 5")
    assert fixes.crash("import-torch", DOCKER).startswith(
        "docker run --rm --init --entrypoint python3 ml:1 -c 'import torch'")


def test_install_fixes_follow_what_the_target_python_allows() -> None:
    from envcheck.smoke import fixes

    def fix(target: Target, **hello: Any) -> str:
        return fixes.install(Judging(default_policy(), target, None, (), "3.11.2", hello=hello), cuda=False)

    system = Target("path", "/usr/bin/python3", "python3 on PATH")
    pep668 = fix(system, pip=True, externally_managed=True, os_like="ubuntu debian")
    assert pep668.startswith("/usr/bin/python3 -m venv ~/.venvs/torch && ~/.venvs/torch/bin/python -m pip install "
                             "torch==")
    assert "&& envcheck smoke --python ~/.venvs/torch/bin/python  # " in pep668
    assert "sudo apt install python3-venv" in pep668
    assert fix(system, pip=False, externally_managed=False).startswith(
        "/usr/bin/python3 -m ensurepip --upgrade && /usr/bin/python3 -m pip install torch==")
    assert fix(LOCAL, pip=True, externally_managed=False).startswith("/opt/conda/envs/ml/bin/python -m pip install ")
    image = fix(DOCKER, pip=False, externally_managed=True, os_like="debian")
    assert image.startswith("Add to the image's Dockerfile: RUN apt-get update && apt-get install -y "
                            "--no-install-recommends python3-pip && python3 -m pip install --break-system-packages "
                            "--no-cache-dir torch==")
    assert "--break-system-packages" not in fix(DOCKER, pip=True, externally_managed=False)


class GoesQuiet(Replay):
    """Child output that stops without the child exiting: the driver's wait runs out."""

    def readline(self, timeout_s: float) -> str | None:
        if not self.lines:
            raise TimeoutError(f"no output within {timeout_s:.1f} s")
        return self.lines.pop(0)

    def close(self, grace_s: float = 2.0, wait_s: float = 0.0) -> int | None:
        return -9  # what killing it gives


def test_a_child_quiet_between_steps_is_cut_off_and_said_so_not_called_a_crash(tmp_path: Path) -> None:
    lines = (DATA / "cpu-torch2.13-bench-recorded.jsonl").read_text().splitlines()
    first_end = next(i for i, line in enumerate(lines) if '"end"' in line)
    (tmp_path / "quiet.jsonl").write_text("\n".join(lines[:first_end + 1]))
    run = drive(GoesQuiet(tmp_path / "quiet.jsonl"), LOCAL, timeout_s_for=lambda s: 30.0 if s == BETWEEN else 60.0,
                run_timeout_s=600.0, nonce=NONCE)
    assert run.ended is Ended.STEP_DEADLINE and run.open_step is None and run.timeout_s == pytest.approx(30.0, abs=0.5)
    target = steps.results(run, judging())[0]
    assert target.status is Status.FAIL
    assert target.reason.startswith("the child went quiet between steps and was cut off after 30 s, after 1 of 11 "
                                    "steps: envcheck cut it off at the default limit of 30 s (--step-timeout sets "
                                    "another)")
    assert target.fix.startswith("envcheck smoke --step-timeout")
    # The same cut at a --step-timeout the user set is no verdict on the machine: unknown, with a longer limit.
    user = steps.results(run, replace(judging(), step_timeout_s=30.0))[0]
    assert user.status is Status.UNKNOWN
    assert user.reason.startswith("the child went quiet between steps, after 1 of 11 steps, and was cut at "
                                  "--step-timeout 30 s, which you set")
    assert user.fix == "envcheck smoke --step-timeout 60  # a longer --step-timeout"


# --- facts decoded once, by each step's facts type --------------------------------------------------------


def end_event(step: str, facts: dict[str, Any], item: str | None = None) -> dict[str, Any]:
    return {"event": "end", "step": step, "item": item, "state": "ok", "facts": facts, "duration_s": 0.1}


def test_facts_a_judge_cannot_read_are_unknown_with_the_field_named_never_a_pass() -> None:
    facts = {"cpu_max_rel_err": 1e-7, "max_rel_err": "tiny"}  # another child version's idea of a number
    end = decode_end(end_event("matmul", facts, GPU0), steps.BY_NAME["matmul"].decode)
    assert end.facts is None and end.raw_facts == facts
    run = ChildTranscript(LOCAL, Ended.DONE, hello={"version": "3.12.7", "python": LOCAL.python}, ends=(end,))
    result = one(steps.results(run, judging()), "smoke.matmul", GPU0)
    assert result.status is Status.UNKNOWN
    assert result.reason == ("could not judge the child's facts: "
                             "FactsError: 'max_rel_err' should be a number, not 'tiny'")
    assert result.evidence == facts
    missing = decode_end(end_event("train", {"loss_start": 1.1}, "cpu"), steps.BY_NAME["train"].decode)
    assert missing.facts_error == "FactsError: 'loss_end' is missing"


def test_gpu_steps_after_a_failed_cuda_available_are_unknown_pointing_at_it() -> None:
    # The engine's rule for a check whose required check failed: unknown, caused by it, not another failure.
    cuda = cuda_facts(dev_nvidia_uvm=False)
    skip = {"event": "end", "step": "device-count", "item": None, "state": "skip", "reason": "no usable GPU",
            "gpu_skip": True, "duration_s": 0.0}
    ends = (decode_end(end_event("cuda-available", cuda), steps.BY_NAME["cuda-available"].decode),
            decode_end(skip, steps.BY_NAME["device-count"].decode))
    run = ChildTranscript(LOCAL, Ended.DONE, hello={"version": "3.12.7", "python": LOCAL.python}, ends=ends)
    results = steps.results(run, judging())
    assert one(results, "smoke.cuda-available").status is Status.FAIL
    count = one(results, "smoke.device-count")
    assert (count.status, count.caused_by) == (Status.UNKNOWN, "smoke.cuda-available")
    assert count.reason == "could not check because smoke.cuda-available is fail"


def test_a_result_under_the_policy_bar_names_the_key_and_a_gpu_fix_only_on_a_gpu() -> None:
    trained = {"loss_start": 1.1, "loss_end": 0.42, "steps": 300, "time_per_step_ms": 0.8, "accuracy": 0.97}
    # On the CPU (the item "cpu"), with no NVIDIA driver at all: the policy's bar, never ECC or a GPU reset.
    cpu = judge("train", trained, replace(judging(driver=None, gpus=0), item="cpu"))
    assert cpu.status is Status.FAIL
    assert cpu.reason == "below the policy's bar on the CPU: loss 0.4200 is not below smoke_loss_max 0.1"
    assert cpu.fix == ("printf '%s\\n' 'smoke_loss_max: 0.6' > envcheck-policy.yaml && envcheck smoke --policy "
                       "envcheck-policy.yaml  # or add these lines to the policy file you use")
    assert "nvidia-smi" not in cpu.fix
    both = judge("train", {**trained, "accuracy": 0.5}, replace(judging(driver=None, gpus=0), item="cpu"))
    assert "'smoke_loss_max: 0.6' 'smoke_accuracy_min: 0.5'" in both.fix
    # The same result on a GPU: the device is suspect first, and the bar is named as the other way out.
    gpu = judge("train", trained, replace(judging(), item="GPU 0 (GPU-0)"))
    assert gpu.reason == "the MLP did not learn the spirals on this GPU: loss 0.4200 is not below smoke_loss_max 0.1"
    assert gpu.fix.startswith("nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER")
    assert "smoke_loss_max: 0.6" in gpu.fix


def test_a_hang_at_the_default_limit_keeps_its_advice_and_a_cut_the_user_asked_for_is_unknown() -> None:
    hung = ChildTranscript(LOCAL, Ended.STEP_DEADLINE, hello={"version": "3.12.7"}, open_step=("import-torch", None),
                           open_for_s=120.2, timeout_s=120.0)
    default = next(r for r in steps.results(hung, judging()) if r.id == "smoke.import-torch")
    assert default.status is Status.FAIL
    assert default.reason == ("the step did not finish within the default limit of 120 s (--step-timeout sets "
                              "another). Importing torch stalls: a slow or hung filesystem under site-packages, or "
                              "a lock.")
    cut = replace(hung, open_for_s=0.5, timeout_s=0.5)
    asked = next(r for r in steps.results(cut, replace(judging(), step_timeout_s=0.5)) if r.id == "smoke.import-torch")
    assert (asked.status, asked.observed) == (Status.UNKNOWN, "still running after 0.5 s")
    assert asked.reason == ("cut at --step-timeout 0.5 s, which you set, before this step finished (its default "
                            "limit is 120 s)")
    assert asked.fix == "envcheck smoke --step-timeout 120  # a longer --step-timeout"
