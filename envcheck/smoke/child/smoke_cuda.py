"""The steps from `import torch` to a working device: the import, CUDA's availability, the devices torch and
NVML list, the architecture's kernels, a context with an allocation, and an fp32 product against float64."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import smoke_host
from smoke_training import SEED


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
        **smoke_host.driver_facts(),
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
    return {"torch_devices": devices, "nvml": smoke_host.nvml_devices(),
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
    """bf16 in hardware (sm_80 and newer): "bf16 where supported, else fp16".
    Not torch.cuda.is_bf16_supported(): its ``including_emulation`` defaults to True (torch 2.13), so it says
    True on a V100 or T4, where bf16 is emulated, slow, and has no datasheet figure; it also asks the current
    device, not this one."""
    if getattr(torch.version, "hip", None):
        return True
    return bool(torch.cuda.get_device_capability(device)[0] >= 8)
