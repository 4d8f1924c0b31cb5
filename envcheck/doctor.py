"""`envcheck doctor`: choose the checks, apply the policy, run the engine and, with ``--smoke``, add the smoke
steps to the same report (one envelope, one exit code). cli.py parses the options and renders the Report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Callable

from envcheck.model import Report, UsageError
from envcheck.policy import Policy, default_policy
from envcheck.units import ProbeOptions

# envcheck.smoke.smoke_test, or the CLI's wrapper of it that shows live progress; called with keywords only.
SmokeTest = Callable[..., Report]


@dataclass(frozen=True)
class DoctorRequest:
    only: tuple[str, ...] = ()  # check ids or subjects
    skip: tuple[str, ...] = ()
    policy: Policy = field(default_factory=default_policy)
    strict: bool = False
    timeout_s: float | None = None  # each probe's deadline; None: the policy's probe_timeout_s
    with_smoke: bool = False
    with_torch: bool = False
    python: str | None = None  # judge this interpreter instead of the python3 on PATH


def check_list(only: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(id, title) of the checks a run with this selection would run, in registry order."""
    from envcheck.checks import CHECKS
    from envcheck.engine import select

    return [(check.id, check.title) for check in select(CHECKS, only, skip)]


def diagnose(request: DoctorRequest, *, smoke: SmokeTest | None = None) -> Report:
    """The whole doctor run as one Report; bad input is a UsageError before any probe starts."""
    from envcheck.checks import CHECKS
    from envcheck.engine import examine, select
    from envcheck.probes import PROBES

    checks = select(CHECKS, request.only, request.skip)
    policy = request.policy
    if request.timeout_s is not None:
        policy = replace(policy, probe_timeout_s=request.timeout_s)
    python = None
    if request.python is not None:
        if not os.path.isfile(request.python) or not os.access(request.python, os.X_OK):
            raise UsageError(f"--python {request.python}: not an executable file")
        python = os.path.abspath(request.python)
    # Importing torch costs about 2 s, so gpu.torch-build runs only when asked (--torch, or --smoke, which
    # imports it anyway).
    options = ProbeOptions(python=python, torch_check=request.with_torch or request.with_smoke)
    report = examine(checks, PROBES, policy, command="doctor", strict=request.strict, options=options)
    if not request.with_smoke:
        return report
    from envcheck.smoke import smoke_test

    smoked = (smoke or smoke_test)(policy=policy, strict=request.strict, python=python)
    return replace(report, results=report.results + smoked.results,
                   duration_s=round(report.duration_s + smoked.duration_s, 4))
