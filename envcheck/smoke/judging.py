"""What the smoke judges may read besides a step's facts: the policy, the target, and what the host and the
child's hello showed. Its own module so that the judges (``steps``, ``bench``) and the fixes they name all
import it, and none of them has to import another to name this type.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Mapping

from envcheck.frozen import frozen
from envcheck.policy import Policy
from envcheck.probes.nvidia_proc import HostGpu
from envcheck.smoke.targets import Target


@frozen
class Judging:
    """What judges may read besides the step's facts."""

    policy: Policy
    target: Target
    driver: str | None = None  # the host's NVIDIA driver, from /proc
    host_gpus: tuple[HostGpu, ...] = ()
    python_version: str | None = None  # the target's, from the child's hello
    hello: Mapping[str, Any] = field(default_factory=dict)  # the rest of it: pip, PEP 668 marker, distribution
    step_timeout_s: float | None = None  # the user's --step-timeout; None: each step's own default limit
    item: str | None = None  # the device the judged step ran on: "cpu", a GPU's label, or None for the whole run

    @property
    def on_gpu(self) -> bool:
        """Whether the judged step ran on a GPU, so that a GPU's fixes (ECC, reset) can apply to it."""
        return self.item is not None and self.item != "cpu"
