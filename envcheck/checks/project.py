"""`project.drift`: has the machine changed since `envcheck scaffold` planned the project around the working
folder? A different driver or GPU is a warning; a driver that no longer runs the project's
CUDA build is a failure. Outside a scaffolded project the check is skipped.
"""

from __future__ import annotations

from envcheck import compat
from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.project import ProjectFacts
from envcheck.project_record import RECORD_PATH, ProjectRecord
from envcheck.units import CheckSpec


def _planned(record: ProjectRecord) -> tuple[str | None, str | None, str]:
    """The driver and GPU the project was planned for, and how to name that machine."""
    if record.planned_driver:
        return record.planned_driver, None, f"the --driver {record.planned_driver} target"
    return record.host.driver, record.host.gpu_name, "the machine it was scaffolded on"


def drift(facts: ProjectFacts, policy: Policy) -> Outcome:
    if facts.record_path is None:
        return Outcome(status=Status.SKIP, reason="not inside a project made by `envcheck scaffold`")
    if facts.record is None:
        return Outcome(status=Status.UNKNOWN, reason=facts.record_error or f"{facts.record_path} could not be read",
                       fix="Recreate it with `envcheck scaffold --dry-run .` to compare, or delete .envcheck/")
    record = facts.record
    now = facts.now
    if now.error:
        return Outcome(status=Status.UNKNOWN, reason=now.error)
    planned_driver, planned_gpu, whom = _planned(record)
    cuda, variant = record.cuda, record.variant
    gpus_now = ", ".join(now.gpu_names) or "none"
    evidence = {"record": facts.record_path, "planned_driver": planned_driver, "planned_gpu": planned_gpu,
                "driver": now.driver, "gpus": list(now.gpu_names), "variant": variant,
                "data_version": record.data_version, "data_version_now": compat.DATA_VERSION}
    observed = f"driver {now.driver or 'none'}, GPU {gpus_now}"
    expected = f"driver {planned_driver or 'none'}, GPU {planned_gpu or 'as planned'} ({whom})"
    regenerate = (f"envcheck scaffold --dry-run .   # this machine's plan, to compare with {RECORD_PATH}\n"
                  "envcheck generate environment . --force   # then rewrite environment.yml\n"
                  "envcheck generate dockerfile . --force    # and the Dockerfiles")
    # A project planned with --minor-compat accepted the family rule: the same driver must not be a failure now.
    minor = record.decided("minor_compat") is not None
    if cuda and now.driver and not compat.cuda_runs_on(now.driver, cuda, minor_compat=minor):
        return Outcome(
            status=Status.FAIL, observed=observed, expected=expected, evidence=evidence,
            reason=(f"the project installs torch {variant} (CUDA {cuda}), which needs driver >= "
                    f"{compat.cuda_min_driver(cuda)}; driver {now.driver} fully supports CUDA up to "
                    f"{compat.cuda_full_support(now.driver)}"),
            fix=f"{regenerate}\n# or install a driver >= {compat.cuda_min_driver(cuda)}",
        )
    changes: list[str] = []
    if planned_driver and now.driver != planned_driver:
        changes.append(f"driver {planned_driver} -> {now.driver or 'none'}")
    if planned_gpu and planned_gpu not in now.gpu_names:
        changes.append(f"GPU {planned_gpu} -> {gpus_now}")
    if not planned_driver and now.driver and cuda is None:
        changes.append(f"planned for the CPU; this machine now has driver {now.driver} ({gpus_now})")
    if changes:
        lead = ("this is not the machine the project was planned for" if record.planned_driver
                else "the machine changed since the project was planned")
        return Outcome(status=Status.WARN, observed=observed, expected=expected, evidence=evidence,
                       reason=f"{lead} ({whom}): {'; '.join(changes)}", fix=regenerate)
    return Outcome(status=Status.PASS, observed=observed, expected=expected, evidence=evidence)


CHECKS = (CheckSpec("project.drift", "project matches this machine", "project", drift),)
