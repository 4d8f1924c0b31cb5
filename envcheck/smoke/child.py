"""The smoke test's child: run BY PATH in the target interpreter (a venv, a conda env, a container).

Standard library and torch only, and nothing from envcheck: the target may not have envcheck installed,
may be another Python version, or may live in an image. It walks the chain from `import torch` to a
trained model and writes one JSON object per line on stdout (issue #4, item 2):

  {"event": "hello", "python": "/usr/bin/python3", "version": "3.11.2", ...}
  {"event": "start", "step": "train", "item": "cpu", "deadline_s": 120}
  {"event": "progress", "step": "train", "item": "cpu", "done": 100, "total": 600, "loss": 0.41}
  {"event": "end", "step": "train", "item": "cpu", "state": "ok", "facts": {...}, "duration_s": 0.9}
  {"event": "done", "duration_s": 4.2}

``state`` is "ok" (facts to judge), "error" (the step raised: type, message, traceback tail) or "skip"
(the step does not apply: ``reason``). The child reports facts; the parent judges them. Because each step
announces itself before it starts, a hang or a crash is pinned to the step where it happened by the
parent, which holds the deadlines. Warnings and tracebacks go to stderr, which the parent keeps a tail of.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import io
import json
import os
import platform
import sys
import sysconfig
import time
import traceback
import warnings
from typing import Any, Callable

# Run by path, Python puts this file's folder first on sys.path: envcheck's own smoke modules (driver, steps,
# progress, ...) would then shadow same-named packages for everything torch imports. Take it off again.
if __name__ == "__main__" and sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]

PROTOCOL = 1
SEED = 20240601
# The MLP task (item 4): 3 interleaved spirals, 400 points each, a fixed 25% held out.
CLASSES, PER_CLASS, HIDDEN, BATCH, EPOCHS = 3, 400, 64, 64, 25


class Skip(Exception):
    """The step does not apply here; the message says why."""


class Emitter:
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __call__(self, event: str, **fields: Any) -> None:
        fields = {"event": event, **fields}
        self.stream.write(json.dumps(fields, default=str) + "\n")
        self.stream.flush()


def run_step(emit: Emitter, step: str, item: str | None, fn: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """Announce, run and report one step; return its facts, or None when it failed or was skipped."""
    emit("start", step=step, item=item)
    start = time.perf_counter()
    try:
        facts = fn()
    except Skip as exc:
        emit("end", step=step, item=item, state="skip", reason=str(exc), duration_s=_since(start))
        return None
    except BaseException as exc:  # every failure, including SystemExit from a library, is this step's result
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        emit(
            "end", step=step, item=item, state="error", duration_s=_since(start),
            error={"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": tb[-4000:]},
        )
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None
    emit("end", step=step, item=item, state="ok", facts=facts, duration_s=_since(start))
    return facts


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 4)


# --- what the machine shows without torch: driver, devices (file reads and NVML through ctypes) ------------


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def driver_facts() -> dict[str, Any]:
    """The kernel driver and GPUs as /proc shows them, and whether the CUDA driver library loads."""
    version = read_text("/proc/driver/nvidia/version")
    gpus_dir = "/proc/driver/nvidia/gpus"
    try:
        proc_gpus = sorted(os.listdir(gpus_dir))
    except OSError:
        proc_gpus = []
    try:
        ctypes.CDLL("libcuda.so.1")
        libcuda = ""
    except OSError as exc:
        libcuda = str(exc)
    return {
        "proc_driver_version": (version or "").strip().splitlines()[0] if version else None,
        "proc_gpus": proc_gpus,
        "libcuda_error": libcuda or None,
        "dev_nvidia_uvm": os.path.exists("/dev/nvidia-uvm"),
        "dev_nvidiactl": os.path.exists("/dev/nvidiactl"),
    }


def nvml_devices() -> dict[str, Any]:
    """Every GPU NVML sees (it ignores CUDA_VISIBLE_DEVICES), by UUID, through ctypes: no pynvml needed."""
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError as exc:
        return {"error": f"libnvidia-ml.so.1 not loadable: {exc}", "devices": []}
    rc = lib.nvmlInit_v2()
    if rc != 0:
        return {"error": f"nvmlInit_v2 returned NVML error {rc}", "devices": []}
    try:
        buf = ctypes.create_string_buffer(96)
        driver = lib.nvmlSystemGetDriverVersion(buf, 96) == 0 and buf.value.decode() or None
        count = ctypes.c_uint(0)
        rc = lib.nvmlDeviceGetCount_v2(ctypes.byref(count))
        if rc != 0:
            return {"error": f"nvmlDeviceGetCount_v2 returned NVML error {rc}", "devices": [], "driver": driver}
        devices = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            rc = lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle))
            if rc != 0:
                devices.append({"index": index, "error": f"NVML error {rc}"})
                continue
            uuid = lib.nvmlDeviceGetUUID(handle, buf, 96) == 0 and buf.value.decode() or None
            name = lib.nvmlDeviceGetName(handle, buf, 96) == 0 and buf.value.decode() or None
            devices.append({"index": index, "uuid": uuid, "name": name})
        return {"error": None, "devices": devices, "driver": driver}
    finally:
        lib.nvmlShutdown()


def loaded_libraries() -> list[dict[str, str]]:
    """CUDA, cuDNN, NCCL, cuBLAS libraries actually mapped into this process (item 6)."""
    maps = read_text("/proc/self/maps") or ""
    wanted = ("libcuda.so", "libcudart", "libcudnn", "libnccl", "libcublas", "libnvrtc", "libcufft", "libcusparse",
              "libnvJitLink", "libtorch_cuda", "libc10_cuda")
    seen: dict[str, None] = {}
    for line in maps.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and any(w in os.path.basename(parts[5]) for w in wanted):
            seen.setdefault(parts[5].strip(), None)
    return [{"path": p, "real": os.path.realpath(p), "name": os.path.basename(os.path.realpath(p))} for p in seen]


# --- the steps ------------------------------------------------------------------------------------------


def import_torch() -> tuple[Any, dict[str, Any]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import torch  # the whole point: does it import here?
    return torch, {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "hip_build": getattr(torch.version, "hip", None),
        "git_version": getattr(torch.version, "git_version", None),
        "file": torch.__file__,
        "warnings": [str(w.message)[:300] for w in caught],
    }


def cuda_available(torch: Any) -> dict[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = bool(torch.cuda.is_available())
        count = int(torch.cuda.device_count()) if available else 0
    return {
        "cuda_build": torch.version.cuda,
        "available": available,
        "device_count": count,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "warnings": [str(w.message)[:500] for w in caught],
        **driver_facts(),
    }


def torch_uuid(props: Any) -> str | None:
    uuid = getattr(props, "uuid", None)
    if uuid is None:
        return None
    text = str(uuid)
    return text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def device_count(torch: Any) -> dict[str, Any]:
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append({"index": index, "name": props.name, "uuid": torch_uuid(props)})
    return {"torch_devices": devices, "nvml": nvml_devices(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def arch_list(torch: Any, index: int) -> dict[str, Any]:
    major, minor = torch.cuda.get_device_capability(index)
    return {"capability": [major, minor], "arch_list": list(torch.cuda.get_arch_list()),
            "name": torch.cuda.get_device_name(index)}


def context(torch: Any, index: int) -> dict[str, Any]:
    device = torch.device("cuda", index)
    start = time.perf_counter()
    torch.cuda.set_device(device)
    torch.zeros(1, device=device)
    torch.cuda.synchronize(device)
    init_s = time.perf_counter() - start
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device=device)
    block.fill_(1)
    torch.cuda.synchronize(device)
    free, total = torch.cuda.mem_get_info(device)
    checksum = int(block[:1024].sum().item())
    del block
    return {"init_s": round(init_s, 4), "allocated_mib": 256, "checksum_ok": checksum == 1024,
            "free_gib": round(free / 2**30, 2), "total_gib": round(total / 2**30, 2)}


def matmul(torch: Any, device: Any) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(SEED)
    a = torch.randn(1024, 1024, generator=gen)
    b = torch.randn(1024, 1024, generator=gen)
    ref = a.double() @ b.double()
    got = (a.to(device) @ b.to(device)).cpu().double()
    scale = float(ref.abs().max())
    return {"n": 1024, "dtype": "float32", "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "max_rel_err": float((got - ref).abs().max()) / scale,
            "cpu_max_rel_err": float(((a @ b).double() - ref).abs().max()) / scale}


def bf16_native(torch: Any, device: Any) -> bool:
    """bf16 in hardware (sm_80 and newer): "bf16 where supported, else fp16" (issue #4, item 3).
    Not torch.cuda.is_bf16_supported(): its ``including_emulation`` defaults to True (torch 2.13), so it says
    True on a V100 or T4, where bf16 is emulated, slow, and has no datasheet figure; it also asks the current
    device, not this one."""
    if getattr(torch.version, "hip", None):
        return True
    return bool(torch.cuda.get_device_capability(device)[0] >= 8)


def spirals(torch: Any) -> tuple[Any, Any, Any, Any]:
    """Interleaved spirals (the CS231n toy problem), fixed seed; 75% train, 25% held out."""
    gen = torch.Generator().manual_seed(SEED)
    xs, ys = [], []
    for cls in range(CLASSES):
        radius = torch.linspace(0.05, 1.0, PER_CLASS)
        theta = torch.linspace(cls * 4.0, cls * 4.0 + 4.0, PER_CLASS) + 0.15 * torch.randn(PER_CLASS, generator=gen)
        xs.append(torch.stack([radius * torch.sin(theta), radius * torch.cos(theta)], dim=1))
        ys.append(torch.full((PER_CLASS,), cls, dtype=torch.long))
    x, y = torch.cat(xs), torch.cat(ys)
    order = torch.randperm(len(y), generator=gen)
    cut = len(y) * 3 // 4
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def make_model(torch: Any) -> Any:
    torch.manual_seed(SEED)
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(2, HIDDEN), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(HIDDEN, CLASSES),
    )


def train(torch: Any, device: Any, emit: Emitter, item: str, *, amp_dtype: Any = None) -> tuple[Any, dict[str, Any]]:
    """Mini-batch AdamW with weight decay on cross-entropy; the loss is measured on the whole train set."""
    x_train, y_train, x_test, y_test = (t.to(device) for t in spirals(torch))
    model = make_model(torch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = None
    if amp_dtype is torch.float16:  # torch.amp.GradScaler("cuda") from 2.3; torch.cuda.amp before that
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    gen = torch.Generator().manual_seed(SEED + 1)
    batches = (len(y_train) + BATCH - 1) // BATCH
    total = EPOCHS * batches if amp_dtype is None else 10 * batches

    def full_loss() -> float:
        model.eval()
        with torch.no_grad():
            value = float(loss_fn(model(x_train).float(), y_train))
        model.train()
        return value

    loss_start = full_loss()
    done, logits_dtype, start = 0, None, time.perf_counter()
    while done < total:
        order = torch.randperm(len(y_train), generator=gen).to(device)
        for first in range(0, len(y_train), BATCH):
            idx = order[first:first + BATCH]
            opt.zero_grad(set_to_none=True)
            if amp_dtype is not None:
                with torch.autocast(device_type=device.type, dtype=amp_dtype):
                    logits = model(x_train[idx])
                    loss = loss_fn(logits, y_train[idx])
                logits_dtype = str(logits.dtype).replace("torch.", "")
            else:
                loss = loss_fn(model(x_train[idx]), y_train[idx])
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            done += 1
            if done % 50 == 0 or done == total:
                emit("progress", step="amp" if amp_dtype is not None else "train", item=item,
                     done=done, total=total, loss=round(loss.item(), 5))
            if done == total:
                break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(dim=1) == y_test).float().mean())
    facts = {"loss_start": round(loss_start, 5), "loss_end": round(full_loss(), 5), "accuracy": round(accuracy, 4),
             "steps": done, "time_per_step_ms": round(1000 * elapsed / max(done, 1), 4), "train_s": round(elapsed, 4),
             "batch": BATCH, "train_points": len(y_train), "held_out_points": len(y_test),
             "optimizer": "AdamW(lr=0.01, weight_decay=1e-4)",
             "model": f"2-{HIDDEN}-{HIDDEN}-{CLASSES} ReLU MLP, dropout 0.1"}
    if amp_dtype is not None:
        facts.update(amp_dtype=str(amp_dtype).replace("torch.", ""), logits_dtype=logits_dtype,
                     grad_scaler=bool(scaler is not None and scaler.is_enabled()))
    return model, facts


def save_load(torch: Any, model: Any, device: Any) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    size = buffer.tell()
    buffer.seek(0)
    state = torch.load(buffer, map_location=device, weights_only=True)
    twin = make_model(torch).to(device)
    twin.load_state_dict(state)
    model.eval()
    twin.eval()
    x = spirals(torch)[2].to(device)
    with torch.no_grad():
        same = bool(torch.equal(model(x), twin(x)))
    return {"bytes": size, "tensors": len(state), "identical_output": same}


def forward_consistency(torch: Any, device: Any) -> dict[str, Any]:
    model = make_model(torch).eval()
    x = spirals(torch)[2]
    with torch.no_grad():
        ref = model(x)
        got = model.to(device)(x.to(device)).cpu()
    return {"max_abs_diff": float((got - ref).abs().max()), "outputs": int(ref.numel())}


# --- all-reduce over NCCL, one process per GPU ------------------------------------------------------------


def _allreduce_rank(rank: int, world: int, port: int, backend: str, queue: Any) -> None:
    """One rank (spawned; module level so it pickles). Sums rank+1 over every rank and checks the total."""
    try:
        from datetime import timedelta

        import torch
        import torch.distributed as dist

        device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=timedelta(seconds=60))
        tensor = torch.full((1 << 22,), float(rank + 1), device=device)  # 16 MiB of float32
        dist.all_reduce(tensor)  # warm-up: the first collective builds the communicator
        tensor.fill_(float(rank + 1))
        start = time.perf_counter()
        dist.all_reduce(tensor)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
        ok = bool((tensor == world * (world + 1) / 2).all())
        dist.destroy_process_group()
        queue.put({"rank": rank, "ok": ok, "seconds": round(elapsed, 6), "error": None})
    except BaseException as exc:  # reported through the queue: the parent of the ranks judges
        queue.put({"rank": rank, "ok": False, "seconds": None, "error": f"{type(exc).__name__}: {exc}"[:1000]})


def allreduce(torch: Any, world: int, backend: str, timeout_s: float = 90.0) -> dict[str, Any]:
    import multiprocessing
    import queue as queue_module
    import socket

    with socket.socket() as probe:  # a free loopback port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    results: Any = ctx.Queue()
    ranks = [ctx.Process(target=_allreduce_rank, args=(r, world, port, backend, results), daemon=True)
             for r in range(world)]
    for proc in ranks:
        proc.start()
    deadline = time.monotonic() + timeout_s
    reports: list[dict[str, Any]] = []
    try:
        while len(reports) < world:
            try:
                reports.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue_module.Empty:
                break
    finally:
        for proc in ranks:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    version = None
    if backend == "nccl":
        version = ".".join(str(v) for v in torch.cuda.nccl.version())
    return {"backend": backend, "world_size": world, "bytes": 4 << 22, "nccl_version": version,
            "ranks": sorted(reports, key=lambda r: r["rank"]), "exit_codes": [p.exitcode for p in ranks]}


# --- --bench: throughput against the datasheet (the parent holds the peaks) ---------------------------------


def timed_rate(torch: Any, fn: Callable[[], None], work: float, device: Any, seconds: float = 0.25) -> dict[str, Any]:
    """Best and median rate (work units per second) over 5 batches, each about ``seconds`` long."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    start, iters = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 2 or iters < 2:  # warm-up, also sizes a batch
        fn()
        sync()
        iters += 1
    per_iter = (time.perf_counter() - start) / iters
    count = max(1, int(seconds / max(per_iter, 1e-9)))
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
    return {"pci": address, **{key: (read_text(f"{base}/{key}") or "").strip() or None for key in
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
    facts["driver"] = nvml_devices().get("driver")
    facts["libraries"] = loaded_libraries()
    return facts


# --- the walk ------------------------------------------------------------------------------------------------

GPU_STEPS = ("arch-list", "context", "matmul", "amp", "forward-consistency", "nccl")
BENCH_GPU_STEPS = ("bench-memory", "bench-transfer")


def protocol_stream() -> Any:
    """A private duplicate of stdout for the JSON lines; fd 1 then points at stderr, so whatever a library
    prints to stdout (NCCL_DEBUG, a C++ printf) lands in the stderr tail instead of corrupting the protocol."""
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)
    return stream


def walk(emit: Emitter, args: argparse.Namespace) -> None:
    held: dict[str, Any] = {}

    def do_import() -> dict[str, Any]:
        held["torch"], facts = import_torch()
        return facts

    if run_step(emit, "import-torch", None, do_import) is None:
        return
    torch = held["torch"]
    torch.backends.cuda.matmul.allow_tf32 = False  # the reference comparisons are about fp32
    torch.backends.cudnn.allow_tf32 = False
    avail = run_step(emit, "cuda-available", None, lambda: cuda_available(torch))
    usable = bool(avail and avail["available"] and avail["device_count"] > 0)

    count = None
    if not usable:
        # CUDA does not work here, so torch lists no device and comparing with NVML says nothing new:
        # cuda-available has the reason (CPU-only build, no driver, CUDA_VISIBLE_DEVICES, ...), once.
        emit("end", step="device-count", item=None, state="skip", reason="no usable GPU", gpu_skip=True,
             duration_s=0.0)
    else:
        count = run_step(emit, "device-count", None, lambda: device_count(torch))
    gpus: list[tuple[str, Any]] = []
    if usable and count:
        for dev in count["torch_devices"]:
            gpus.append((f"GPU {dev['index']} ({dev['uuid'] or 'no uuid'})", torch.device("cuda", dev["index"])))
    broken: dict[str, str] = {}  # item -> the step that broke it; its later steps are blocked, not re-failed

    def no_gpus(step: str) -> bool:
        """With no GPU to test, say why once for the step and return True."""
        if gpus:
            return False
        if usable:  # CUDA works but the devices could not be listed: that step is the cause
            emit("end", step=step, item=None, state="skip", reason="blocked by device-count",
                 blocked_by="device-count", duration_s=0.0)
        else:
            emit("end", step=step, item=None, state="skip", reason="no usable GPU", gpu_skip=True, duration_s=0.0)
        return True

    def blocked(step: str, item: str) -> None:
        emit("end", step=step, item=item, state="skip", reason=f"blocked by {broken[item]}",
             blocked_by=broken[item], duration_s=0.0)

    def per_gpu(step: str, fn: Callable[[str, Any], dict[str, Any]]) -> None:
        if no_gpus(step):
            return
        for item, device in gpus:
            if item in broken:
                blocked(step, item)
            elif run_step(emit, step, item, functools.partial(fn, item, device)) is None:
                broken.setdefault(item, step)

    per_gpu("arch-list", lambda _, d: arch_list(torch, d.index))
    per_gpu("context", lambda _, d: context(torch, d.index))
    per_gpu("matmul", lambda _, d: matmul(torch, d))
    models: dict[str, Any] = {}

    def trained(item: str, device: Any) -> dict[str, Any]:
        models[item], facts = train(torch, device, emit, item)
        return facts

    run_step(emit, "train", "cpu", lambda: trained("cpu", torch.device("cpu")))
    for item, device in gpus:  # every GPU gets a train result, a blocked one too
        if item in broken:
            blocked("train", item)
        elif run_step(emit, "train", item, functools.partial(trained, item, device)) is None:
            broken.setdefault(item, "train")

    def amp(item: str, device: Any) -> dict[str, Any]:
        dtype = torch.bfloat16 if bf16_native(torch, device) else torch.float16
        return train(torch, device, emit, item, amp_dtype=dtype)[1]

    per_gpu("amp", amp)
    run_step(emit, "save-load", "cpu",
             lambda: _needs(models, "cpu", lambda m: save_load(torch, m, torch.device("cpu"))))
    for item, device in gpus:
        if item in models:
            run_step(emit, "save-load", item, functools.partial(save_load, torch, models[item], device))
        else:
            blocked("save-load", item)
    per_gpu("forward-consistency", lambda _, d: forward_consistency(torch, d))

    def collective() -> dict[str, Any]:
        if args.collective == "gloo":  # the same code path on CPU ranks: how the tests exercise it
            return allreduce(torch, args.ranks, "gloo")
        if len(gpus) < 2:
            raise Skip(f"needs two or more GPUs (torch sees {len(gpus)})")
        return allreduce(torch, len(gpus), "nccl")

    if args.collective == "gloo":
        run_step(emit, "nccl", None, collective)
    elif not no_gpus("nccl"):
        if broken:  # a GPU that failed a step before cannot join the collective: that step is the cause
            first = broken[next(item for item, _ in gpus if item in broken)]
            emit("end", step="nccl", item=None, state="skip", reason=f"blocked by {first}", blocked_by=first,
                 duration_s=0.0)
        else:
            run_step(emit, "nccl", None, collective)
    if not args.bench:
        return
    run_step(emit, "bench-libraries", None, lambda: bench_libraries(torch))
    run_step(emit, "bench-matmul", "cpu", lambda: bench_matmul(torch, torch.device("cpu")))
    per_gpu("bench-matmul", lambda _, d: bench_matmul(torch, d))
    per_gpu("bench-memory", lambda _, d: bench_memory(torch, d))
    per_gpu("bench-transfer", lambda _, d: bench_transfer(torch, d))


def _needs(models: dict[str, Any], item: str, fn: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    if item not in models:
        raise Skip("blocked by train")
    return fn(models[item])


def installer_facts() -> dict[str, Any]:
    """What a pasteable `pip install` needs to know: is pip there, and does this Python refuse it (PEP 668:
    an EXTERNALLY-MANAGED marker in the stdlib folder, ignored inside a venv), on which distribution."""
    import importlib.util

    marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
    os_release = read_text("/etc/os-release") or ""
    ids = [line.split("=", 1)[1].strip().strip('"') for line in os_release.splitlines()
           if line.startswith(("ID=", "ID_LIKE="))]
    return {"pip": importlib.util.find_spec("pip") is not None,
            "externally_managed": sys.prefix == sys.base_prefix and os.path.exists(marker),
            "os_like": " ".join(ids)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="envcheck smoke child: one JSON line per step on stdout")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--collective", choices=("nccl", "gloo"), default="nccl",
                        help="gloo: run the all-reduce step on CPU ranks (how the tests exercise it)")
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args(argv)
    emit = Emitter(protocol_stream())
    start = time.perf_counter()
    emit("hello", protocol=PROTOCOL, python=sys.executable, version=platform.python_version(), pid=os.getpid(),
         machine=platform.machine(), prefix=sys.prefix, argv=sys.argv[1:], **installer_facts())
    walk(emit, args)
    emit("done", duration_s=_since(start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
