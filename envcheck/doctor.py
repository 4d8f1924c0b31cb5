"""`envcheck doctor`: choose the checks, apply the policy, run the engine and, with ``--smoke``, add the smoke
steps to the same report (one envelope, one exit code). cli.py parses the options and renders the Report.
"""

from __future__ import annotations

import os
import socket
from dataclasses import field, replace
from typing import Callable, Sequence

from envcheck.frozen import frozen
from envcheck.model import Report, UsageError
from envcheck.policy_groups import EffectivePolicy, PolicySource, default_policy_source
from envcheck.units import ProbeOptions

# envcheck.smoke.smoke_test, or the CLI's wrapper of it that shows live progress; called with keywords only.
SmokeTest = Callable[..., Report]


@frozen
class DoctorRequest:
    only: tuple[str, ...] = ()  # check ids or subjects
    skip: tuple[str, ...] = ()
    policy: PolicySource = field(default_factory=default_policy_source)  # judged as effective for host and groups
    host: str | None = None  # the name the policy's host globs match and the report shows; None: this machine's
    groups: tuple[str, ...] = ()  # the inventory groups this host is judged as a member of
    strict: bool = False
    timeout_s: float | None = None  # each probe's deadline; None: the policy's probe_timeout_s
    with_smoke: bool = False
    with_torch: bool = False
    python: str | None = None  # judge this interpreter instead of the python3 on PATH


def check_list(only: tuple[str, ...] = (), skip: tuple[str, ...] = (),
               request: DoctorRequest | None = None) -> list[tuple[str, str]]:
    """(id, title) of the checks a run with this selection (and this request's policy) would run, in registry
    order; the requirement checks appear only where the effective policy states their requirement."""
    from envcheck.checks import CHECKS
    from envcheck.engine import select

    policy = effective(request or DoctorRequest()).policy
    return [(check.id, check.title) for check in select(CHECKS, only, skip, policy)]


def unknown_check_names(source: PolicySource) -> list[str]:
    """A warning for each name in skip or warnings_as_failures (the file's and every group's) that is no check or
    subject of this envcheck (nor a smoke step), with the closest names it has: a typo there leaves out nothing,
    and the check the admin meant to skip still runs. `policy check` and `policy show` say them, and so does the
    `envcheck fleet` controller; doctor and smoke run without a word, as that name matches nothing. A warning,
    not an error: a policy shared by hosts of several envcheck versions may name a check only the newer ones have,
    and the older ones judge by the rest of it rather than refuse it whole. Nor does doctor print it: a playbook
    may run doctor under a pseudo-terminal (ansible.builtin.script), where stderr joins stdout ahead of the report
    that envcheck.fleet.classify reads, and every host's report would be unreadable."""
    from envcheck.checks import CHECKS
    from envcheck.engine import close_names

    ids = {c.id for c in CHECKS}
    subjects = {c.id.split(".", 1)[0] for c in CHECKS} | {"smoke"}
    warnings: list[str] = []
    for where, values in [("the file", source.base), *((f"group {g.name}", g.overrides) for g in source.groups)]:
        for key, names in (("skip", [name for name, _ in values.get("skip", ())]),
                           ("warnings_as_failures", list(values.get("warnings_as_failures", ())))):
            for name in names:
                if name in ids or name in subjects or name.startswith("smoke."):
                    continue
                close = close_names(name, ids, subjects)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                warnings.append(f"policy: {where} names {name!r} in {key}, which is no check or subject of this "
                                f"envcheck{hint} (`envcheck doctor --list` shows them)")
    return warnings


def effective(request: DoctorRequest) -> EffectivePolicy:
    """The request's policy as it applies to its host (by default this machine's name) and groups."""
    return request.policy.effective(host_name(request.host), group_names(request.groups))


def host_name(host: str | None) -> str:
    if host is None:
        return socket.gethostname()
    if not host.strip() or any(ord(c) < 32 or ord(c) == 127 for c in host) or len(host) > 253:
        # 253: the longest DNS name (RFC 1035 section 2.3.4); a control character would rewrite a terminal line.
        raise UsageError(f"--host {host!r}: give a host name (at most 253 characters, no control characters)")
    return host


def group_names(groups: Sequence[str]) -> tuple[str, ...]:
    """``--group`` values: inventory group names, which every report and the fleet page show as text."""
    for group in groups:
        if not group.strip() or any(ord(c) < 32 or ord(c) == 127 for c in group) or len(group) > 255:
            # A control character would rewrite a terminal line, as in a host name (host_name above).
            raise UsageError(f"--group {group!r}: give an inventory group name (at most 255 characters, no control "
                             "characters)")
    return tuple(groups)


def diagnose(request: DoctorRequest, *, smoke: SmokeTest | None = None) -> Report:
    """The whole doctor run as one Report; bad input is a UsageError before any probe starts."""
    from envcheck.checks import CHECKS
    from envcheck.engine import examine, select
    from envcheck.probes import PROBES

    judged = effective(request)
    policy = judged.policy
    checks = select(CHECKS, request.only, request.skip, policy)
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
    report = replace(report, host=host_name(request.host), policy=judged.ref, groups=request.groups)
    if not request.with_smoke or policy.skip_reason("smoke") is not None:  # a policy may leave the smoke test out
        return report
    from envcheck.smoke import smoke_test

    smoked = (smoke or smoke_test)(policy=policy, strict=request.strict, python=python)
    from envcheck.engine import counted_by_policy

    return replace(report, results=report.results + counted_by_policy(smoked.results, policy),
                   duration_s=round(report.duration_s + smoked.duration_s, 4))
