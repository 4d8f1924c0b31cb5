"""--bench: throughput measured in the child (matrix products, device memory, host <-> device copies) and the
libraries it loaded; the parent holds the datasheet peaks and compares."""

from __future__ import annotations

import functools
import os
import time
from typing import Any, Callable

import smoke_host
from smoke_cuda import bf16_native
from smoke_protocol import Skip


def timed_rate(torch: Any, fn: Callable[[], None], work: float, device: Any, batch_s: float = 0.25) -> dict[str, Any]:
    """Best and median rate (work units per second) over 5 batches, each about ``batch_s`` long."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    start, iters = time.perf_counter(), 0
    while time.perf_counter() - start < batch_s / 2 or iters < 2:  # warm-up, also sizes a batch
        fn()
        sync()
        iters += 1
    per_iter_s = (time.perf_counter() - start) / iters
    count = max(1, int(batch_s / max(per_iter_s, 1e-9)))
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        sync()
        rates.append(work * count / (time.perf_counter() - start))
    rates.sort()
    return {"best": rates[-1], "median": rates[2], "iters_per_batch": count}


def bench_matmul(torch: Any, device: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if device.type == "cpu":
        n = 1024
        a, b = torch.randn(n, n), torch.randn(n, n)
        rate = timed_rate(torch, functools.partial(torch.mm, a, b), 2.0 * n**3 / 1e12, device)
        return {"n": n, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                "fp32_tflops": round(rate["best"], 4), "fp32_tflops_median": round(rate["median"], 4)}
    major, _ = torch.cuda.get_device_capability(device)
    n = 8192
    saved = torch.backends.cuda.matmul.allow_tf32
    try:
        for label, dtype, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True),
                                   ("bf16", torch.bfloat16, False), ("fp16", torch.float16, False)):
            if (label == "tf32" and major < 8) or (label == "bf16" and not bf16_native(torch, device)):
                facts[f"{label}_tflops"] = None  # not a feature of this GPU: n/a, not a failure
                continue
            torch.backends.cuda.matmul.allow_tf32 = tf32
            a = torch.randn(n, n, device=device, dtype=dtype)
            b = torch.randn(n, n, device=device, dtype=dtype)
            c = torch.empty(n, n, device=device, dtype=dtype)
            rate = timed_rate(torch, functools.partial(torch.mm, a, b, out=c), 2.0 * n**3 / 1e12, device)
            facts[f"{label}_tflops"] = round(rate["best"], 2)
            facts[f"{label}_tflops_median"] = round(rate["median"], 2)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    facts.update(n=n, name=torch.cuda.get_device_name(device),
                 capability=list(torch.cuda.get_device_capability(device)))
    return facts


def bench_memory(torch: Any, device: Any) -> dict[str, Any]:
    free, _ = torch.cuda.mem_get_info(device)
    size = int(min(2**30, free // 4))
    src = torch.empty(size, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    rate = timed_rate(torch, lambda: dst.copy_(src), 2.0 * size / 1e9, device)  # read + write
    return {"bytes": size, "gbs": round(rate["best"], 1), "gbs_median": round(rate["median"], 1),
            "name": torch.cuda.get_device_name(device)}


def pcie_link(torch: Any, device: Any) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(device)
    bus = getattr(props, "pci_bus_id", None)
    if bus is None:
        return {}
    address = f"{getattr(props, 'pci_domain_id', 0):04x}:{bus:02x}:{getattr(props, 'pci_device_id', 0):02x}.0"
    base = f"/sys/bus/pci/devices/{address}"
    return {"pci": address, **{key: (smoke_host.read_text(f"{base}/{key}") or "").strip() or None for key in
            ("current_link_speed", "current_link_width", "max_link_speed", "max_link_width")}}


def bench_transfer(torch: Any, device: Any) -> dict[str, Any]:
    size = 256 * 2**20
    host = torch.empty(size, dtype=torch.uint8, pin_memory=True).fill_(1)
    dev = torch.empty(size, dtype=torch.uint8, device=device)
    h2d = timed_rate(torch, lambda: dev.copy_(host, non_blocking=True), size / 1e9, device)
    d2h = timed_rate(torch, lambda: host.copy_(dev, non_blocking=True), size / 1e9, device)
    return {"bytes": size, "pinned": True, "h2d_gbs": round(h2d["best"], 2), "d2h_gbs": round(d2h["best"], 2),
            "h2d_gbs_median": round(h2d["median"], 2), "d2h_gbs_median": round(d2h["median"], 2),
            **pcie_link(torch, device)}


def bench_libraries(torch: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"torch_cuda": torch.version.cuda}
    if torch.version.cuda is None:
        raise Skip("CPU-only build: no CUDA, cuDNN or NCCL library to load")
    # Neither version needs a GPU (seen with torch 2.13.0+cu130 on a machine without a driver): report them
    # even when CUDA is not usable, since a mismatched library is one reason it is not.
    try:
        facts["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except Exception as exc:  # cuDNN present but not loadable: that is the finding
        facts["cudnn"] = None
        facts["cudnn_error"] = f"{type(exc).__name__}: {exc}"[:500]
    try:
        facts["nccl"] = ".".join(str(v) for v in torch.cuda.nccl.version())
    except Exception as exc:  # a build without NCCL: say so rather than fail the whole step
        facts["nccl"] = f"unavailable: {exc}"
    facts["driver"] = smoke_host.nvml_devices().get("driver")
    facts["libraries"] = smoke_host.loaded_libraries()
    return facts
