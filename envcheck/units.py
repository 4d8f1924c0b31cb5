"""The units the engine runs: probes (facts) and checks (verdicts), and what a probe is handed.

These live here rather than in model.py because they are typed by the run's Policy and by the two seams a
probe reads the machine through (runner.run for commands, HostFS for files): model.py is the bottom of
the import order and imports nothing of envcheck, while policy.py already stands on model.py. So this
module sits beside policy.py, importing model, policy and the stdlib-only seams, and probes, checks and
the engine all import it.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Callable, Mapping, Sequence

from envcheck.dockerapi import Transport
from envcheck.frozen import frozen
from envcheck.hostfs import HOST, HostFS
from envcheck.model import Outcome
from envcheck.policy import Policy, default_policy


@frozen
class ProbeOptions:
    """What the user asked of this run beyond the policy: the few probes that take an argument read it here."""

    python: str | None = None  # `doctor --python`: the interpreter the python and gpu-torch probes examine
    torch_check: bool = False  # `doctor --torch` / `--smoke`: import torch in a child (~2 s), so only when asked
    docker_host: str | None = None  # an endpoint URL that wins over $DOCKER_HOST and the docker CLI's context
    docker_client: Transport = "http"  # how the docker probe talks to the engine
    cwd: str | None = None  # where the project probe starts looking for its record; None: the working folder


@frozen
class ProbeContext:
    """What a probe may read: the environment, the home folder, its time budget, the user's options, and
    the machine through two seams.

    ``run`` is the subprocess seam (``envcheck.runner.run`` or a remote runner with its signature); ``fs``
    is the file seam: every host file a probe reads (/proc, /sys, /dev, /etc, /var/run) goes through it,
    so a replayed machine is a folder. ``policy`` is there for probes whose *scope* is policy data, such
    as host's list of basic tools to look up; verdicts still belong to the checks.
    """

    env: Mapping[str, str]
    home: str
    timeout_s: float
    run: Callable[..., Any]
    options: ProbeOptions = ProbeOptions()
    policy: Policy = field(default_factory=default_policy)
    fs: HostFS = HOST


# The machine facts every report carries (Report.facts), each a short text or None when unknown: what a fleet view
# compares across the hosts of a group. Each is named by exactly one probe's ``summarize``, next to its facts.
FACT_NAMES = ("driver", "cuda", "kernel", "os", "python", "docker", "torch", "gpu_model", "gpu_count")


@frozen
class ProbeSpec:
    """A named fact-finder: ``collect(ctx)`` returns a frozen dataclass of facts, never a verdict.
    ``summarize(facts)`` gives the few of FACT_NAMES this probe knows, as short texts (None: unknown)."""

    name: str
    collect: Callable[[ProbeContext], Any]
    timeout_s: float | None = None  # None: the policy's probe_timeout_s
    summarize: Callable[[Any], Mapping[str, str | None]] | None = None


@frozen
class CheckSpec:
    """A named verdict: ``judge(facts, policy)`` is pure and returns one Outcome or several
    (one per GPU, per env, ...). ``requires`` names checks whose failure makes this one moot.

    The facts stay ``Any`` here: each check takes its own probe's dataclass, which the registry pairs by name.
    """

    id: str
    title: str
    probe: str
    judge: Callable[[Any, Policy], Outcome | Sequence[Outcome]]
    requires: tuple[str, ...] = ()
    # None: always runs. A requirement check (gpu.count, host.os-allowed, ...) runs only where the policy states
    # its requirement, so a policy without one gets no result for it, not a pass.
    applies: Callable[[Policy], bool] | None = None

    def applies_to(self, policy: Policy) -> bool:
        return self.applies is None or self.applies(policy)
