"""Fix texts that more than one verdict gives, and every NVIDIA Container Toolkit command: each written once,
so they cannot drift apart (and a change of ``nvidia-ctk``'s syntax is one edit).

Checks (``checks/docker.py``, ``checks/gpu*.py``, ``checks/host.py``), the smoke test (``smoke/fixes.py``,
``smoke/container.py``) and ``envcheck verify`` take these commands from here; a fix that only one verdict
gives stays next to that verdict. Standard library only, importing nothing of envcheck.
"""

from __future__ import annotations

# --- the NVIDIA driver --------------------------------------------------------------------------------

# ubuntu-drivers picks the recommended branch; --gpgpu picks the headless server driver for compute
# (https://documentation.ubuntu.com/server/how-to/graphics/install-nvidia-drivers/).
UBUNTU_DRIVERS = "sudo ubuntu-drivers install"
UBUNTU_DRIVERS_GPGPU = f"{UBUNTU_DRIVERS} --gpgpu"
DRIVER_INSTALL = f"{UBUNTU_DRIVERS_GPGPU}  # Ubuntu; or NVIDIA's CUDA repository: sudo apt-get install -y cuda-drivers"
DRIVER_INSTALL_THEN_REBOOT = (f"Install the NVIDIA driver (Ubuntu: `{UBUNTU_DRIVERS}`), then reboot; "
                              "`nvidia-smi` must answer")

REBOOT = "sudo reboot"
# An upgraded driver's new library cannot talk to the old kernel module until the module is reloaded.
REBOOT_OR_RELOAD = (f"{REBOOT}  # or, with no process using a GPU: "
                    "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia")

# --- the Docker engine ---------------------------------------------------------------------------------

DOCKER_DIAGNOSE = "envcheck doctor --only docker"


def docker_service(action: str, *, rootless: bool = False, systemd: bool = True) -> str:
    """Start or restart dockerd: the user's systemd for a rootless daemon, else systemctl, else SysV service."""
    if rootless:
        return f"systemctl --user {action} docker"
    return f"sudo systemctl {action} docker" if systemd else f"sudo service docker {action}"


def join_group(group: str) -> str:
    """Add the current user to ``group`` (it takes effect in new logins, or after `newgrp`)."""
    return f"sudo usermod -aG {group} $USER"


def docker_run(image: str, command: str, *, gpus: bool) -> str:
    """Run ``command`` in ``image`` by hand, with every GPU when ``gpus``."""
    return f"docker run --rm {'--gpus all ' if gpus else ''}{image} {command}"


# --- the NVIDIA Container Toolkit ----------------------------------------------------------------------

TOOLKIT_INSTALL = (
    "# add NVIDIA's apt repository first: "
    "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html\n"
    "sudo apt-get install -y nvidia-container-toolkit"
)


def toolkit_configure(restart: str = docker_service("restart")) -> str:
    """Register the nvidia runtime in /etc/docker/daemon.json, then restart dockerd so it reads it (the install
    guide's "Configuring Docker" step)."""
    return f"sudo nvidia-ctk runtime configure --runtime=docker && {restart}"


TOOLKIT_THEN_CONFIGURE = f"Install the NVIDIA Container Toolkit, then: {toolkit_configure()}"
TOOLKIT_FOR_CONTAINER_DRIVER = ("Give the container the driver: install the NVIDIA Container Toolkit on the host, "
                                f"then\n{toolkit_configure()}")
TOOLKIT_CDI = "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
# GPU device nodes lost after `systemctl daemon-reload` with systemd cgroups (NVIDIA/nvidia-container-toolkit#48).
TOOLKIT_DEV_SYMLINKS = "sudo nvidia-ctk system create-dev-char-symlinks --create-all"
