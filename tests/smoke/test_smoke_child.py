"""The smoke child's GPU code, checked where no GPU is: against the real torch 2.13.0 API, and run on the CPU.

No GPU exists on the build machine or in CI, so the child's GPU paths cannot run there. Three things can:
1. every ``torch.*`` name the child uses resolves in the installed torch, and every call of a Python-level torch
   function binds to its real signature (a renamed argument or a removed function fails here, not on a GPU box);
2. the functions that take a device run with ``device="cpu"`` (mixed-precision training with autocast and the
   GradScaler, the fp32 product against the float64 reference, the forward-pass comparison, the rate arithmetic);
3. the walk's bookkeeping for GPUs, with real torch and two CUDA devices whose first step raises the error a GPU
   without kernels raises: every GPU still gets its own result for every step, pinned to the step that broke it.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from helpers.smoke_helpers import NONCE, Replay

from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.smoke import steps
from envcheck.smoke.driver import CHILD, drive
from envcheck.smoke.judging import Judging
from envcheck.smoke.targets import Target


def child_module(name: str) -> ModuleType:
    """One of the child's modules, imported by its plain name as the child's own modules import it."""
    if CHILD not in sys.path:
        sys.path.append(CHILD)  # last: nothing of this process's own can be shadowed by it
    return importlib.import_module(name)


protocol, cuda, training, bench, walk = (child_module(f"smoke_{name}") for name in
                                         ("protocol", "cuda", "training", "bench", "walk"))
SOURCES = sorted(Path(CHILD).glob("*.py"))
TREES = [ast.parse(path.read_text()) for path in SOURCES]
ROOTS = {"torch": torch, "nn": torch.nn, "dist": torch.distributed}  # the child's names for torch modules


def child_nodes() -> list[ast.AST]:
    return [node for tree in TREES for node in ast.walk(tree)]


def chain(node: ast.AST) -> tuple[str, tuple[str, ...]] | None:
    """`torch.cuda.nccl.version` -> ("torch", ("cuda", "nccl", "version"))."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in ROOTS and parts:
        return node.id, tuple(parts[::-1])
    return None


def resolve(root: str, parts: tuple[str, ...]) -> Any:
    obj: Any = ROOTS[root]
    for part in parts:
        obj = getattr(obj, part)
    return obj


def test_every_torch_name_the_child_uses_exists_in_torch_2_13() -> None:
    used = {c for node in child_nodes() if (c := chain(node)) is not None}
    names = {f"{root}.{'.'.join(parts)}" for root, parts in used}
    # The GPU paths' API, named here so that a change of the walk above cannot quietly skip them.
    assert {"torch.cuda.get_arch_list", "torch.cuda.get_device_properties", "torch.cuda.mem_get_info",
            "torch.cuda.nccl.version", "torch.backends.cudnn.version", "torch.amp.GradScaler", "torch.autocast",
            "torch.cuda.synchronize", "torch.cuda.set_device", "torch.cuda.get_device_capability",
            "dist.init_process_group", "dist.all_reduce", "torch.backends.cuda.matmul.allow_tf32"} <= names
    missing = []
    for root, parts in used:
        try:
            resolve(root, parts)
        except AttributeError:
            missing.append(f"{root}.{'.'.join(parts)}")
    assert missing == [], f"not in torch {torch.__version__}: {missing}"


def test_every_call_of_a_python_level_torch_function_binds_to_its_signature() -> None:
    checked, wrong = set(), []
    for node in child_nodes():
        if not isinstance(node, ast.Call) or (c := chain(node.func)) is None:
            continue
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            continue
        try:
            signature = inspect.signature(resolve(*c))
        except (TypeError, ValueError):  # a C function without a signature (torch.randn, torch.mm)
            continue
        name = f"{c[0]}.{'.'.join(c[1])}"
        try:
            signature.bind(*[None] * len(node.args), **{k.arg: None for k in node.keywords if k.arg})
        except TypeError as exc:
            wrong.append(f"line {node.lineno}: {name}: {exc}")
        checked.add(name)
    assert wrong == []
    assert {"torch.amp.GradScaler", "torch.autocast", "torch.load", "torch.cuda.mem_get_info",
            "torch.cuda.synchronize", "dist.init_process_group", "torch.optim.AdamW"} <= checked


def test_torch_says_bf16_where_it_is_only_emulated_so_the_child_asks_the_capability() -> None:
    # torch.cuda.is_bf16_supported() counts emulation by default: on a V100 or T4 it would pick bf16 over fp16.
    assert inspect.signature(torch.cuda.is_bf16_supported).parameters["including_emulation"].default is True
    calls = [c for node in child_nodes() if isinstance(node, ast.Call) and (c := chain(node.func)) is not None]
    assert ("torch", ("cuda", "is_bf16_supported")) not in calls


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled, but CUDA is not available")
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_training_runs_and_learns_on_the_cpu(dtype: str) -> None:
    out = io.StringIO()
    _, facts = training.train(torch, torch.device("cpu"), protocol.Emitter(out), "cpu", amp_dtype=getattr(torch, dtype))
    assert facts["amp_dtype"] == facts["logits_dtype"] == dtype  # autocast really ran the layers in it
    assert facts["grad_scaler"] is False  # the GradScaler path ran, disabled without CUDA (fp16 only creates one)
    outcome = steps.BY_NAME["amp"].judge(steps.BY_NAME["amp"].decode(facts), judging())
    assert outcome.status is Status.PASS, outcome
    progress = [json.loads(line) for line in out.getvalue().splitlines()]
    assert progress[-1]["step"] == "amp" and progress[-1]["done"] == progress[-1]["total"] == facts["steps"]


def test_the_product_and_forward_checks_run_with_a_cpu_device() -> None:
    cpu = torch.device("cpu")
    product = cuda.matmul(torch, cpu)
    assert product["tf32"] is False and 0 < product["max_rel_err"] < 1e-5
    assert steps.BY_NAME["matmul"].judge(steps.BY_NAME["matmul"].decode(product), judging()).status is Status.PASS
    forward = training.forward_consistency(torch, cpu)
    assert forward == {"max_abs_diff": 0.0, "outputs": 900}


def test_rates_are_work_over_wall_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # One unit of work per 20 ms sleep: at most 50 units per second, and a loaded machine only lowers it.
    rate = bench.timed_rate(torch, lambda: time.sleep(0.02), 1.0, torch.device("cpu"), batch_s=0.1)
    assert 10 < rate["median"] <= rate["best"] <= 50.5
    # The same arithmetic on a clock that moves 1/64 s per call and never else (powers of two: no rounding):
    # the warm-up ends after 4 calls (1/16 s, half of batch_s=1/8), so a batch is (1/8) / (1/64) = 8 calls and
    # every batch does 8 units of work 3.0 in 1/8 s: 192 units per second.
    now = [0.0]

    def work() -> None:
        now[0] += 1 / 64

    monkeypatch.setattr(bench, "time", argparse.Namespace(perf_counter=lambda: now[0]))
    exact = bench.timed_rate(torch, work, 3.0, torch.device("cpu"), batch_s=1 / 8)
    assert exact == {"best": 192.0, "median": 192.0, "iters_per_batch": 8}
    assert now[0] == (1 + 4 + 5 * 8) / 64  # the first call, the warm-up, five batches


# --- the walk with two CUDA devices that have no kernels for their architecture ----------------------------

TARGET = Target("python", "/usr/bin/python3", "--python /usr/bin/python3")


def judging() -> Judging:
    return Judging(default_policy(), TARGET, "570.133.20", (), python_version="3.11.7")


def test_a_gpu_broken_at_its_first_step_gets_every_later_step_pinned_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", "12.6")  # a CUDA build; the CPU work below is real torch
    monkeypatch.setattr(cuda, "cuda_available", lambda t: {"available": True, "device_count": 2, "cuda_build": "12.6"})
    uuids = ["GPU-aaaaaaaa-0000-0000-0000-000000000000", "GPU-bbbbbbbb-0000-0000-0000-000000000000"]
    monkeypatch.setattr(cuda, "device_count", lambda t: {
        "torch_devices": [{"index": i, "name": "NVIDIA GeForce RTX 5090", "uuid": u} for i, u in enumerate(uuids)],
        "nvml": {"error": None, "devices": [{"index": i, "uuid": u} for i, u in enumerate(uuids)]},
        "cuda_visible_devices": None})

    def no_kernels(t: Any, index: int) -> dict[str, Any]:
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(cuda, "arch_list", no_kernels)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", torch.backends.cudnn.allow_tf32)  # walk() sets it

    def no_collective(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("the all-reduce ran on GPUs that failed an earlier step")

    monkeypatch.setattr(child_module("smoke_allreduce"), "allreduce", no_collective)
    out = io.StringIO()
    walk.walk(protocol.Emitter(out), argparse.Namespace(bench=False, collective="nccl", ranks=2))
    out.write(json.dumps({"event": "done"}) + "\n")
    hello = {"event": "hello", "protocol": 1, "python": TARGET.python, "version": "3.11.7", "pid": 4242}
    run = drive(Replay(json.dumps(hello) + "\n" + out.getvalue()), TARGET, timeout_s_for=lambda s: 60.0,
                run_timeout_s=60.0, nonce=NONCE)
    results = steps.results(run, judging())
    for gpu in (f"GPU 0 ({uuids[0]})", f"GPU 1 ({uuids[1]})"):
        mine = {r.id: r for r in results if r.item == gpu}
        assert mine["smoke.arch-list"].status is Status.FAIL
        assert mine["smoke.arch-list"].reason == "torch has no kernels for this GPU's architecture"
        for step in ("context", "matmul", "train", "amp", "save-load", "forward-consistency"):
            assert mine[f"smoke.{step}"].status is Status.UNKNOWN, step
            assert mine[f"smoke.{step}"].caused_by == "smoke.arch-list", step
    (nccl,) = [r for r in results if r.id == "smoke.nccl"]
    assert nccl.status is Status.UNKNOWN and nccl.caused_by == "smoke.arch-list"
    cpu = {r.id: r for r in results if r.item == "cpu"}
    assert cpu["smoke.train"].status is Status.PASS and cpu["smoke.save-load"].status is Status.PASS


# --- how the child names NVML's errors (what it may import: tests/core/test_imports.py) --------------------------


def test_the_child_names_nvml_errors_as_the_rest_of_envcheck_does() -> None:
    # envcheck/probes/gpu_nvml_child.py reports nvidia-ml-py's NVMLError_<name> without the prefix, and
    # gpu_errors.py keys its causes on that name; the child, which reaches NVML through ctypes, keeps its own
    # code -> name table.
    import pynvml

    from envcheck.checks.gpu_errors import NVML_ERRORS

    table = child_module("smoke_host").NVML_ERRORS
    codes = {getattr(pynvml, name) for name in dir(pynvml) if name.startswith("NVML_ERROR_")}
    pynvml_names = {code: type(pynvml.NVMLError(code)).__name__.removeprefix("NVMLError_") for code in codes}
    assert set(table) <= set(pynvml_names)  # no code nvidia-ml-py does not know (a typo)
    assert {code: pynvml_names[code] for code in table} == table
    assert set(NVML_ERRORS) <= set(table.values())  # every error gpu_errors.py judges is named by the child too
    assert child_module("smoke_host").nvml_error(9) == "NVML error 9 (DriverNotLoaded)"
    assert child_module("smoke_host").nvml_error(12345) == "NVML error 12345"
