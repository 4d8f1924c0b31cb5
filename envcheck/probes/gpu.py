"""Facts about NVIDIA GPUs: NVML (in a child process), the kernel module, device nodes, Xid errors, pending resets.

NVML is only ever called in ``gpu_nvml_child.py`` beside this module, run by path through the runner seam with
a deadline: in-process NVML calls cannot be interrupted (NVIDIA/open-gpu-kernel-modules#971), so a hung driver
costs this probe its deadline, never the report. Everything else here reads files through ``ctx.fs``
(``/proc/driver/nvidia``, ``/dev``, ``/dev/kmsg``, ``/var/run/reboot-required``), which is cheap and works even
when NVML does not; a test replays a machine by laying those files out under a folder.

A second probe, ``gpu-torch``, runs only with ``ctx.options.torch_check`` (``doctor --torch``) or a policy that
requires torch (tools_required, torch_min): a child that imports torch in the checked interpreter (about 2 s),
beside its own NVML child. It is a probe of its own so that it has its own, longer deadline and a plain doctor
never waits on torch.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
import threading
from dataclasses import field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Mapping

from envcheck import xid
from envcheck.frozen import frozen
from envcheck.hostfs import HostFS
from envcheck.probes import nvidia_proc
from envcheck.probes.gpu_device import GpuDevice, device_from_child, throttle_names
from envcheck.probes.gpu_torch import TorchFacts, collect_torch
from envcheck.probes.reboot import PendingReboot, read_pending_reboot
from envcheck.units import ProbeContext, ProbeSpec

__all__ = ["ChildState", "GpuDevice", "GpuFacts", "NodeState", "TorchBuildFacts", "TorchFacts", "XidFacts",
           "collect", "collect_torch_build", "kernel_log", "throttle_names"]

# Run by path. The fleet artifact imports envcheck from a zip, where this path is no file: it unpacks the child
# and sets CHILD to that copy (envcheck/fleet/artifact_main.py).
CHILD = Path(__file__).resolve().parent / "gpu_nvml_child.py"
NVIDIA_MODPROBE = "/usr/bin/nvidia-modprobe"
# How the NVML child ended: "ok" (it printed its JSON; NVML itself may still have failed: init_error),
# "timeout" (killed at the deadline), "crashed", "no-pynvml" (nvidia-ml-py missing) or "bad-output".
ChildState = Literal["ok", "timeout", "crashed", "no-pynvml", "bad-output"]
NodeState = Literal["ok", "missing", "no access"]


@frozen
class XidFacts:
    source: str
    readable: bool
    error: str = ""
    needs_root: bool = False
    wrapped: bool = False
    events: tuple[xid.XidEvent, ...] = ()


@frozen
class GpuFacts:
    child: ChildState
    child_error: str = ""
    child_duration_s: float = 0.0
    init_error: str | None = None  # NVML error name: "LibraryNotFound", "DriverNotLoaded", ...
    init_error_code: int | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # "12.4", from nvmlSystemGetCudaDriverVersion_v2 = 12040
    nvml_version: str | None = None  # "12.550.54.15"
    device_count: int | None = None
    devices: tuple[GpuDevice, ...] = ()
    system_errors: Mapping[str, str] = field(default_factory=dict)
    fallbacks: tuple[str, ...] = ()
    module_version: str | None = None  # from /proc/driver/nvidia/version; None when no module is loaded
    module_error: str = ""
    proc_gpus: tuple[str, ...] = ()  # PCI addresses the kernel module knows
    device_nodes: Mapping[str, NodeState] = field(default_factory=dict)  # "/dev/nvidiactl" -> "ok"
    nvidia_modprobe: bool = False
    xid: XidFacts | None = None  # None: not read (no driver)
    reboot: PendingReboot = PendingReboot()
    today: str = ""  # ISO date, for end-of-life verdicts

    @property
    def library_version(self) -> str | None:
        """The NVML library's driver version: "12.550.54.15" -> "550.54.15" (the leading part is the CUDA major)."""
        if not self.nvml_version:
            return None
        parts = self.nvml_version.split(".")
        cuda_prefixed = len(parts) >= 3 and parts[0].isdigit() and int(parts[0]) < 100
        return ".".join(parts[1:]) if cuda_prefixed else self.nvml_version

    @property
    def driver_present(self) -> bool:
        """Any trace of an NVIDIA driver: a loaded module, device nodes, or an NVML library that loads."""
        library = self.child == "ok" and self.init_error != "LibraryNotFound"
        nodes = self.device_nodes.get("/dev/nvidiactl", "missing") != "missing"
        return library or self.module_version is not None or nodes


def collect(ctx: ProbeContext) -> GpuFacts:
    child = _run_child(ctx)
    module = nvidia_proc.read_module(ctx.fs)
    proc_gpus = tuple(sorted(bus.lower() for bus in nvidia_proc.bus_ids(ctx.fs)))
    count = child.get("device_count")
    expected = count if isinstance(count, int) else len(proc_gpus)
    nodes = _device_nodes(ctx.fs, expected)
    facts = GpuFacts(
        child=child["state"],
        child_error=child.get("error", ""),
        child_duration_s=child.get("seconds", 0.0),
        init_error=child.get("init_error"),
        init_error_code=child.get("init_error_code"),
        driver_version=child.get("driver_version"),
        cuda_driver_version=child.get("cuda_driver_version"),
        nvml_version=child.get("nvml_version"),
        device_count=count if isinstance(count, int) else None,
        devices=tuple(child.get("devices", ())),
        system_errors=child.get("system_errors", {}),
        fallbacks=tuple(child.get("fallbacks", ())),
        module_version=module.version,
        module_error=module.error,
        proc_gpus=proc_gpus,
        device_nodes=nodes,
        nvidia_modprobe=ctx.fs.exists(NVIDIA_MODPROBE),
        reboot=read_pending_reboot(ctx.fs),
        today=datetime.now(timezone.utc).date().isoformat(),
    )
    if facts.driver_present:
        log = kernel_log(ctx)
        facts = replace(facts, xid=XidFacts(
            source=log.source, readable=not log.error, error=log.error, needs_root=log.needs_root,
            wrapped=log.wrapped, events=tuple(xid.parse(log.lines)),
        ))
    return facts


@frozen
class TorchBuildFacts:
    asked: bool
    gpu: GpuFacts | None = None  # the driver and GPUs the build is judged against
    torch: TorchFacts | None = None  # None: not asked


TORCH_TIMEOUT_S = 30.0  # import torch (~2 s here) plus CUDA initialisation on a busy GPU node


def collect_torch_build(ctx: ProbeContext) -> TorchBuildFacts:
    # The policy's torch requirement (tools_required, torch_min) needs torch's version: asked for by the policy.
    if not (ctx.options.torch_check or ctx.policy.torch_min or ctx.policy.requires_tool("torch")):
        return TorchBuildFacts(asked=False)
    # Imported even without a driver: the user asked which torch is installed, and whether that build
    # would run once a driver is installed is worth knowing before installing one.
    python = ctx.options.python or sys.executable
    box: list[TorchFacts] = []
    thread = threading.Thread(target=lambda: box.append(collect_torch(ctx, python, max(0.5, ctx.timeout_s - 0.3))),
                              daemon=True)
    thread.start()  # in parallel with this probe's own NVML child
    # NVML keeps the run's usual deadline: only the torch child gets the long one.
    nvml_timeout_s = min(ctx.timeout_s, ctx.policy.probe_timeout_s)
    facts = collect(replace(ctx, timeout_s=nvml_timeout_s))
    thread.join(max(0.0, ctx.timeout_s - 0.2))
    torch = box[0] if box else TorchFacts(python=python, error="the torch child did not report in time")
    return TorchBuildFacts(asked=True, gpu=facts, torch=torch)


def kernel_log(ctx: ProbeContext) -> xid.KernelLog:
    """The kernel log as this context sees it (a replayed machine keeps its own /dev/kmsg)."""
    return xid.kernel_log(ctx.run, kmsg=ctx.fs.path(xid.KMSG), read_timeout_s=max(0.2, ctx.timeout_s / 4),
                          dmesg_timeout_s=max(0.5, ctx.timeout_s / 4), env=ctx.env)


def _run_child(ctx: ProbeContext) -> dict[str, Any]:
    """Run the NVML child and turn its JSON into plain values; every way it can go wrong is a state."""
    # A little under the probe's deadline, so this probe reports "timeout" itself before the engine gives up on it.
    timeout_s = max(0.5, ctx.timeout_s - 0.3)
    # `-S` skips site (and every .pth hook, such as the FutureWarning of the deprecated `pynvml` dist): about
    # 15 ms of the child's ~80 ms. The child needs only the stdlib and pynvml, whose folder it appends to
    # sys.path itself (ENVCHECK_PYNVML_DIR): on PYTHONPATH that folder would come BEFORE the stdlib, and any
    # module there named like a stdlib one (an `enum34` install's enum/) would shadow it. The caller's own
    # PYTHONPATH (the tests' stand-in) is left as it is.
    env = dict(ctx.env)
    where = _pynvml_dir()
    if where:
        env["ENVCHECK_PYNVML_DIR"] = where
    result = ctx.run([sys.executable, "-S", str(CHILD)], timeout_s=timeout_s, env=env)
    duration_s = round(result.duration_s, 4)
    if result.timed_out:
        return {"state": "timeout", "seconds": duration_s,
                "error": f"NVML did not answer within {timeout_s:.1f} s (a hung driver; the child was killed)"}
    if not result.ok:
        return {"state": "crashed", "seconds": duration_s, "error": result.describe()}
    try:
        doc = json.loads(result.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        error = f"unreadable NVML child output: {result.out[:200]!r}"
        return {"state": "bad-output", "seconds": duration_s, "error": error}
    if doc.get("import_error"):
        return {"state": "no-pynvml", "seconds": duration_s, "error": doc["import_error"]}
    out: dict[str, Any] = {"state": "ok", "seconds": duration_s}
    init = doc.get("init") or {}
    if not init.get("ok"):
        failure = init.get("error") or {}
        out["init_error"] = str(failure.get("error", "Unknown"))
        out["init_error_code"] = failure.get("code")
    system = doc.get("system") or {}
    out["nvml_version"] = _str(system.get("nvml_version"))
    out["driver_version"] = _str(system.get("driver_version"))
    cuda = system.get("cuda_driver_version")
    if isinstance(cuda, int) and cuda > 0:  # 12040 -> "12.4" (NVML_CUDA_DRIVER_VERSION_MAJOR/MINOR)
        out["cuda_driver_version"] = f"{cuda // 1000}.{(cuda % 1000) // 10}"
    if isinstance(system.get("device_count"), int):
        out["device_count"] = system["device_count"]
    out["system_errors"] = {k: str(v.get("error")) for k, v in (doc.get("system_errors") or {}).items()}
    out["fallbacks"] = [str(f) for f in doc.get("fallbacks") or ()]
    out["devices"] = [device_from_child(d) for d in doc.get("devices") or ()]
    return out


@functools.lru_cache(maxsize=1)
def _pynvml_dir() -> str | None:
    """Where nvidia-ml-py's pynvml.py lies for this interpreter (found, not imported: --help stays light)."""
    try:
        spec = importlib.util.find_spec("pynvml")
    except (ImportError, ValueError):
        return None
    return os.path.dirname(spec.origin) if spec is not None and spec.origin else None


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _device_nodes(fs: HostFS, expected: int) -> dict[str, NodeState]:
    """/dev/nvidiactl, /dev/nvidia-uvm and one /dev/nvidiaN per GPU (N is the minor number, not the NVML index)."""
    def state(path: str) -> NodeState:
        if not fs.exists(path):
            return "missing"
        return "ok" if fs.access(path, os.R_OK | os.W_OK) else "no access"

    nodes = {path: state(path) for path in ("/dev/nvidiactl", "/dev/nvidia-uvm")}
    try:
        numbered = sorted((name for name in fs.listdir("/dev") if re.fullmatch(r"nvidia\d+", name)),
                          key=lambda n: int(n[6:]))
    except OSError:
        numbered = []
    for name in numbered:
        nodes[f"/dev/{name}"] = state(f"/dev/{name}")
    for missing in range(len(numbered), expected):  # fewer nodes than GPUs: name the gap
        nodes[f"/dev/nvidia? (GPU {missing})"] = "missing"
    return nodes


def summarize(facts: GpuFacts) -> dict[str, str | None]:
    """The driver (NVML's, else the loaded module's), the CUDA version it supports, the GPU model (distinct names
    joined by " + " on a mixed machine) and the GPU count. Without a driver that answers, the count is what the
    kernel module lists, and unknown when no module is loaded either."""
    names = list(dict.fromkeys(d.name for d in facts.devices if d.name))
    if facts.device_count is not None:
        count: str | None = str(facts.device_count)
    elif facts.module_version is not None:
        count = str(len(facts.proc_gpus))
    else:
        count = None
    return {"driver": facts.driver_version or facts.module_version, "cuda": facts.cuda_driver_version,
            "gpu_model": " + ".join(names) or None, "gpu_count": count}


def summarize_torch(facts: TorchBuildFacts) -> dict[str, str | None]:
    """The torch version of the examined interpreter, only when it was asked for (`doctor --torch`)."""
    return {"torch": facts.torch.version if facts.torch is not None else None}


PROBES = (ProbeSpec("gpu", collect, summarize=summarize),
          ProbeSpec("gpu-torch", collect_torch_build, timeout_s=TORCH_TIMEOUT_S, summarize=summarize_torch))
