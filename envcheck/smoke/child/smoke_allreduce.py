"""The all-reduce step: one spawned process per GPU (or CPU rank, with gloo), a rendezvous on a loopback
port, and a sum every rank checks. Each rank reports through a queue; the ranks still running at the step's
own timeout are killed, and the parent judges the reports that came (a missing one is a failure)."""

from __future__ import annotations

import time
from typing import Any


def _allreduce_rank(rank: int, world: int, port: int, backend: str, queue: Any) -> None:
    """One rank. Spawned: a new interpreter imports this module by name (its folder is on the sys.path it
    inherits) to find this function. Sums rank+1 over every rank and checks the total."""
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
        elapsed_s = time.perf_counter() - start
        ok = bool((tensor == world * (world + 1) / 2).all())
        dist.destroy_process_group()
        queue.put({"rank": rank, "ok": ok, "seconds": round(elapsed_s, 6), "error": None})
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
