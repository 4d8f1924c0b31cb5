"""``envcheck doctor --json`` as a fleet host runs it (envcheck/fleet/artifact_main.py), without click.

The artifact's arguments are few and written by envcheck's own task (envcheck/fleet/ansible_action.py) or by an
admin following its usage line, so they are read here, and the artifact leaves click out: click was a fifth of what
a host imported at every run and a fifth of the bytes every host received. The run itself is doctor's
(envcheck.doctor.diagnose, the JSON report of envcheck.output.emit_report), and its errors end it as the CLI's do
(envcheck.output.run_guarded): a usage error is exit 2 with the JSON error envelope on stdout.

    ARTIFACT [--policy FILE] [--host NAME] [--group GROUP]...

``--group`` repeats or takes a comma-separated list, as doctor's does; ``--policy`` is the policy the artifact
carries (the controller's ``--policy``), which artifact_main passes.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn, Sequence

# Imported where used: run as the artifact's program, this module is loaded before envcheck's signal handling is
# in place (envcheck/__main__.py), which must come before the imports that take time.
if TYPE_CHECKING:
    from envcheck.doctor import DoctorRequest

OPTIONS = ("--policy", "--host", "--group")
USAGE = "usage: envcheck-fleet.sh [--timeout SECONDS] [--host NAME] [--group GROUP]..."


def request(argv: Sequence[str]) -> DoctorRequest:
    """The doctor request the arguments ask for; a UsageError naming the first one that is wrong."""
    from envcheck.doctor import DoctorRequest
    from envcheck.model import UsageError
    from envcheck.policy_groups import default_policy_source, load_policy_source

    given: dict[str, str] = {}
    groups: list[str] = []
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        name, equals, value = word.partition("=")
        if name == "--timeout":  # the artifact's prologue reads it, and only as its first argument
            raise UsageError(f"--timeout comes first, before --host and --group ({USAGE})")
        if name not in OPTIONS:
            raise UsageError(f"no such option: {word!r} ({USAGE})")
        if not equals:
            if not rest:
                raise UsageError(f"{name} needs a value ({USAGE})")
            value = rest.pop(0)
        if name == "--group":
            groups += [part.strip() for part in value.split(",") if part.strip()]
            continue
        if not value.strip():
            raise UsageError(f"{name}: give a value; the value was empty")
        if name in given:
            raise UsageError(f"{name} is given twice")
        given[name] = value
    policy = load_policy_source(given["--policy"]) if "--policy" in given else default_policy_source()
    return DoctorRequest(policy=policy, host=given.get("--host"), groups=tuple(groups))


def _doctor(argv: Sequence[str]) -> int:
    from envcheck.doctor import diagnose
    from envcheck.output import ReportOptions, emit_report

    return emit_report(diagnose(request(argv)), ReportOptions(as_json=True))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run doctor with the JSON report on stdout and exit with its code."""
    from envcheck.output import run_guarded

    args = list(sys.argv[1:] if argv is None else argv)
    run_guarded(lambda: _doctor(args), as_json=True)


if __name__ == "__main__":  # the artifact's program (envcheck/fleet/artifact_main.py) runs this module
    from envcheck.__main__ import main as start

    start("envcheck.fleet.hostdoctor")  # signal handling first, as for the console script, then main()
