"""The walk: every step in order, from `import torch` to the all-reduce (and --bench), once on the CPU where it
applies and once per GPU. A GPU that fails a step is not tested further: each of its later steps is reported
as blocked by the step that broke it, so every GPU still gets one result per step."""

from __future__ import annotations

import argparse
import functools
from typing import Any, Callable

import smoke_allreduce
import smoke_bench
import smoke_cuda
import smoke_training
from smoke_protocol import Emitter, Skip, perform_step


def walk(emit: Emitter, args: argparse.Namespace) -> None:
    held: dict[str, Any] = {}

    def do_import() -> dict[str, Any]:
        held["torch"], facts = smoke_cuda.import_torch()
        return facts

    if perform_step(emit, "import-torch", None, do_import) is None:
        return
    torch = held["torch"]
    torch.backends.cuda.matmul.allow_tf32 = False  # the reference comparisons are about fp32
    torch.backends.cudnn.allow_tf32 = False
    steps = Walk(emit, torch)
    steps.devices()
    steps.per_gpu("arch-list", lambda _, d: smoke_cuda.arch_list(torch, d.index))
    steps.per_gpu("context", lambda _, d: smoke_cuda.context(torch, d.index))
    steps.per_gpu("matmul", lambda _, d: smoke_cuda.matmul(torch, d))
    steps.training()
    steps.per_gpu("forward-consistency", lambda _, d: smoke_training.forward_consistency(torch, d))
    steps.collective(args.collective, args.ranks)
    if args.bench:
        steps.bench()


class Walk:
    """The steps after the import, and what they learnt on the way: the GPUs to test, the item (GPU) each
    failed step broke, and the trained models that save-load reuses."""

    def __init__(self, emit: Emitter, torch: Any) -> None:
        self.emit, self.torch = emit, torch
        self.usable = False  # torch.cuda works here
        self.gpus: list[tuple[str, Any]] = []  # (item, device)
        self.broken: dict[str, str] = {}  # item -> the step that broke it; its later steps are blocked, not re-failed
        self.models: dict[str, Any] = {}  # item -> the model trained there

    def devices(self) -> None:
        """cuda-available, then device-count: the GPUs the later steps test."""
        torch = self.torch
        avail = perform_step(self.emit, "cuda-available", None, lambda: smoke_cuda.cuda_available(torch))
        self.usable = bool(avail and avail["available"] and avail["device_count"] > 0)
        count = None
        if not self.usable:
            # CUDA does not work here, so torch lists no device and comparing with NVML says nothing new:
            # cuda-available has the reason (CPU-only build, no driver, CUDA_VISIBLE_DEVICES, ...), once.
            self.emit("end", step="device-count", item=None, state="skip", reason="no usable GPU", gpu_skip=True,
                      duration_s=0.0)
        else:
            count = perform_step(self.emit, "device-count", None, lambda: smoke_cuda.device_count(torch))
        if self.usable and count:
            for dev in count["torch_devices"]:
                self.gpus.append((f"GPU {dev['index']} ({dev['uuid'] or 'no uuid'})",
                                  torch.device("cuda", dev["index"])))

    def no_gpus(self, step: str) -> bool:
        """With no GPU to test, say why once for the step and return True."""
        if self.gpus:
            return False
        if self.usable:  # CUDA works but the devices could not be listed: that step is the cause
            self.emit("end", step=step, item=None, state="skip", reason="blocked by device-count",
                      blocked_by="device-count", duration_s=0.0)
        else:
            self.emit("end", step=step, item=None, state="skip", reason="no usable GPU", gpu_skip=True,
                      duration_s=0.0)
        return True

    def blocked(self, step: str, item: str) -> None:
        self.emit("end", step=step, item=item, state="skip", reason=f"blocked by {self.broken[item]}",
                  blocked_by=self.broken[item], duration_s=0.0)

    def on_each_gpu(self, step: str, fn: Callable[[str, Any], dict[str, Any]]) -> None:
        """The step on every GPU not broken yet; one that fails is broken by it."""
        for item, device in self.gpus:
            if item in self.broken:
                self.blocked(step, item)
            elif perform_step(self.emit, step, item, functools.partial(fn, item, device)) is None:
                self.broken.setdefault(item, step)

    def per_gpu(self, step: str, fn: Callable[[str, Any], dict[str, Any]]) -> None:
        if not self.no_gpus(step):
            self.on_each_gpu(step, fn)

    def training(self) -> None:
        """train (CPU, then every GPU, a blocked one too), amp, then save-load of each trained model."""
        torch, emit = self.torch, self.emit

        def trained(item: str, device: Any) -> dict[str, Any]:
            self.models[item], facts = smoke_training.train(torch, device, emit, item)
            return facts

        def amp(item: str, device: Any) -> dict[str, Any]:
            dtype = torch.bfloat16 if smoke_cuda.bf16_native(torch, device) else torch.float16
            return smoke_training.train(torch, device, emit, item, amp_dtype=dtype)[1]

        perform_step(emit, "train", "cpu", lambda: trained("cpu", torch.device("cpu")))
        self.on_each_gpu("train", trained)
        self.per_gpu("amp", amp)
        perform_step(emit, "save-load", "cpu",
                 lambda: _needs(self.models, "cpu", lambda m: smoke_training.save_load(torch, m, torch.device("cpu"))))
        for item, device in self.gpus:
            if item in self.models:
                perform_step(emit, "save-load", item,
                         functools.partial(smoke_training.save_load, torch, self.models[item], device))
            else:
                self.blocked("save-load", item)

    def collective(self, backend: str, ranks: int) -> None:
        """The all-reduce: over NCCL across the GPUs, or (``backend`` "gloo") over CPU ranks, which is how the
        tests run the same spawn / rendezvous / queue code without a GPU."""
        torch = self.torch

        def allreduce() -> dict[str, Any]:
            if backend == "gloo":
                return smoke_allreduce.allreduce(torch, ranks, "gloo")
            if len(self.gpus) < 2:
                raise Skip(f"needs two or more GPUs (torch sees {len(self.gpus)})")
            return smoke_allreduce.allreduce(torch, len(self.gpus), "nccl")

        if backend == "gloo":
            perform_step(self.emit, "nccl", None, allreduce)
        elif not self.no_gpus("nccl"):
            if self.broken:  # a GPU that failed a step before cannot join the collective: that step is the cause
                first = self.broken[next(item for item, _ in self.gpus if item in self.broken)]
                self.emit("end", step="nccl", item=None, state="skip", reason=f"blocked by {first}", blocked_by=first,
                          duration_s=0.0)
            else:
                perform_step(self.emit, "nccl", None, allreduce)

    def bench(self) -> None:
        torch = self.torch
        perform_step(self.emit, "bench-libraries", None, lambda: smoke_bench.bench_libraries(torch))
        perform_step(self.emit, "bench-matmul", "cpu", lambda: smoke_bench.bench_matmul(torch, torch.device("cpu")))
        self.per_gpu("bench-matmul", lambda _, d: smoke_bench.bench_matmul(torch, d))
        self.per_gpu("bench-memory", lambda _, d: smoke_bench.bench_memory(torch, d))
        self.per_gpu("bench-transfer", lambda _, d: smoke_bench.bench_transfer(torch, d))


def _needs(models: dict[str, Any], item: str, fn: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    if item not in models:
        raise Skip("blocked by train")
    return fn(models[item])
