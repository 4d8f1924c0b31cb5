"""The fix for each way a smoke step breaks: a command a person can paste.

The torch install line comes from the compatibility data (envcheck.compat): the newest torch whose
variant this host's driver fully supports and whose wheels cover the GPU, or the CPU wheel without a driver.
"""

from __future__ import annotations

import shlex

from envcheck.fixes import DRIVER_INSTALL_THEN_REBOOT, TOOLKIT_FOR_CONTAINER_DRIVER, UBUNTU_DRIVERS
from envcheck.smoke.events import ChildTranscript
from envcheck.smoke.judging import Judging
from envcheck.smoke.targets import Target

NO_DRIVER = DRIVER_INSTALL_THEN_REBOOT
NO_DRIVER_IN_CONTAINER = TOOLKIT_FOR_CONTAINER_DRIVER
CONTAINER_GPUS = "docker run --gpus all ...  # and check NVIDIA_VISIBLE_DEVICES in the image is unset or 'all'"
CUDA_INIT = (
    "nvidia-smi  # must list every GPU; then look for Xid errors: sudo dmesg | grep -i xid\n"
    "sudo nvidia-smi -pm 1  # persistence mode avoids slow or failing initialisation"
)
GPU_WRONG = "nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER  # then a reset (sudo nvidia-smi -r) or a reboot"
NCCL = "NCCL_DEBUG=INFO envcheck smoke  # shows the transport that fails; NCCL_P2P_DISABLE=1 tells P2P faults apart"

HANGS = {
    "import-torch": "Importing torch stalls: a slow or hung filesystem under site-packages, or a lock.",
    "cuda-available": "CUDA initialisation hangs (pytorch/pytorch#35754): the driver does not answer.",
    "device-count": "Asking the driver for its devices hangs: NVML or CUDA does not answer.",
    "context": "Creating a CUDA context hangs: the driver does not answer, or the GPU is in a bad state.",
    "nccl": "The all-reduce hangs: peer-to-peer or network transport between the GPUs is broken.",
}


def install(j: Judging, *, cuda: bool, capability: tuple[int, int] | None = None) -> str:
    """`<python> -m pip install torch==X --index-url ...`: the build this host can run (or a Dockerfile line)."""
    from envcheck import compat

    driver = j.driver if cuda else None
    choices = compat.torch_choices(driver, capability, python=j.python_version)
    if not choices and j.python_version:  # a Python no release in the data fits: leave the version to pip
        choices = compat.torch_choices(driver, capability)
    if choices:
        choice = choices[0]
        args = f"torch=={choice.release.latest_patch} --index-url {compat.pip_index_url(choice.variant.name)}"
        why = f"  # {choice.reason}"
    else:
        args, why = "torch", "  # no torch build in envcheck's data fits this driver and GPU"
    python = shlex.quote(j.target.python)
    if j.target.kind == "docker":
        # A distribution's Python in an image refuses pip (PEP 668) and may come without it (Debian's python3).
        pep668 = " --break-system-packages" if j.hello.get("externally_managed") else ""
        get_pip = ""
        if j.hello.get("pip") is False and "debian" in str(j.hello.get("os_like", "")).split():
            get_pip = "apt-get update && apt-get install -y --no-install-recommends python3-pip && "
        elif j.hello.get("pip") is False:
            get_pip = f"{python} -m ensurepip && "
        return (f"Add to the image's Dockerfile: RUN {get_pip}{python} -m pip install{pep668} --no-cache-dir "
                f"{args}{why}")
    if j.hello.get("externally_managed"):  # pip refuses the system Python (PEP 668): a venv of its own
        return (f"{python} -m venv ~/.venvs/torch && ~/.venvs/torch/bin/python -m pip install {args} && "
                f"envcheck smoke --python ~/.venvs/torch/bin/python{why}; the system Python refuses pip (PEP 668)"
                + (" (Debian/Ubuntu: sudo apt install python3-venv first)"
                   if "debian" in str(j.hello.get("os_like", "")).split() else ""))
    if j.hello.get("pip") is False:
        return f"{python} -m ensurepip --upgrade && {python} -m pip install {args}{why}"
    return f"{python} -m pip install {args}{why}"


def driver_too_old(j: Judging, cuda_build: str) -> str:
    """Either a newer driver for this torch, or a torch this driver runs (when the data has one)."""
    from envcheck import compat

    need = compat.cuda_min_driver(cuda_build)
    upgrade = f"Upgrade the NVIDIA driver to >= {need} (torch's CUDA {cuda_build} needs it): {UBUNTU_DRIVERS}"
    if j.driver and compat.torch_choices(j.driver, None, python=j.python_version):
        return upgrade + "\nor install a torch this driver runs:\n" + install(j, cuda=True)
    return upgrade


def for_error(step: str, kind: str, message: str, j: Judging) -> tuple[str, str]:
    """(reason, fix) for a step that raised."""
    text = message.lower()
    if step == "import-torch":
        if kind in ("ModuleNotFoundError", "ImportError") and "no module named 'torch'" in text:
            return "torch is not installed in this environment", install(j, cuda=j.driver is not None)
        return ("torch is installed but broken (a missing or mismatched library)",
                install(j, cuda=j.driver is not None).replace(" -m pip install ", " -m pip install --force-reinstall "))
    if "no kernel image" in text or "not compatible with the current pytorch installation" in text:
        return "torch has no kernels for this GPU's architecture", install(j, cuda=True)
    if "out of memory" in text:
        return "the GPU is out of memory: other processes hold it", "nvidia-smi  # see which processes hold memory"
    if "cudnn" in text:
        return "cuDNN failed", install(j, cuda=True).replace(" -m pip install ", " -m pip install --force-reinstall ")
    if step == "nccl" or "nccl" in text:
        return "the collective failed", NCCL
    if "cuda" in text or "device-side" in text:
        return "a CUDA error", CUDA_INIT
    return f"the step raised {kind}", "Run `envcheck smoke -v` and report the traceback in the evidence"


def target_python(target: Target) -> str:
    """The target's interpreter as a command to paste: the path, or a one-off container of the image.
    --init: as PID 1 python ignores SIGTERM, so `timeout` (or Ctrl-C) would leave a hung container running."""
    python = shlex.quote(target.python)
    if target.kind == "docker":
        return f"docker run --rm --init --entrypoint {python} {shlex.quote(target.image or '')}"
    return python


def hang(step: str, target: Target) -> str:
    if step == "import-torch":  # -X importtime prints each import as it finishes: the last lines precede the stall
        return (f"timeout 300 {target_python(target)} -X importtime -c 'import torch' 2>&1 | tail -n 5"
                "  # the last imports before it stalls")
    if step == "nccl":
        return NCCL
    if step in HANGS:
        return CUDA_INIT
    return "envcheck smoke --step-timeout 600  # if the step is only slow here"


def crash(step: str, target: Target) -> str:
    if step == "import-torch":
        return f"{target_python(target)} -c 'import torch'  # run it by hand to see the crash; then reinstall torch"
    if step in ("cuda-available", "device-count", "context"):
        return CUDA_INIT
    return "sudo dmesg | tail  # an OOM kill or an Xid error shows here"


def for_target(child: ChildTranscript) -> str:
    target = child.target
    if child.error_fix:
        return child.error_fix
    if target.kind == "docker":
        return f"docker image inspect {target.image}  # the image must exist locally and hold {target.python}"
    if target.error:
        return "envcheck smoke --python /path/to/python  # or activate the env first"
    return f"{target.python} -c 'import sys; print(sys.version)'  # the interpreter must run Python 3.8 or newer"
