"""From what Ansible said about one host's run of the artifact to that host's file in the out folder.

One function for both ways the playbook runs: `envcheck fleet` reads the result from ansible-runner's events,
and the playbook `envcheck fleet playbook` writes hands the registered result to the artifact's record mode
(envcheck/fleet/artifact_main.py). Either way the same file comes out: the host's own report envelope when it
gave a valid one, otherwise a host-error record (envcheck/fleet/outcomes.py). Pure Python, standard library and
envcheck.model only: the record mode runs it from inside the artifact's zip.

What arrives is untrusted: the output is size-capped before it is parsed, and anything but a report envelope
of a schema version this envcheck reads is an invalid report. The report is the first JSON value in stdout; what
follows it is not read. A playbook that runs the artifact under a PTY (``ansible.builtin.script``, ssh -tt) gets
the host's stderr appended to its stdout, with lines ending in \\r\\n: JSON allows \\r and \\n between its tokens,
and never inside a string, so the same report is read.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from envcheck.fleet.artifact import EXIT_CANNOT_START, EXIT_NO_PYTHON, EXIT_TIMED_OUT, OUTPUT_CAP_BYTES
from envcheck.fleet.outcomes import HostError, HostOutcome, host_error_record, outcome_of_overall
from envcheck.frozen import frozen

REPORT_SCHEMA = "envcheck.report"
REPORT_SCHEMA_VERSION = 1
# The artifact caps what doctor writes (OUTPUT_CAP_BYTES); its stderr tail adds at most 4 KiB.
MAX_OUTPUT_CHARS = OUTPUT_CAP_BYTES + 8192
# 128 + SIGXFSZ (25): what the shell reports for a program killed for writing past `ulimit -f`, the artifact's cap.
EXIT_CUT = 128 + 25
VERDICT_CODES = (0, 1, 3)  # doctor's: pass or warn, failed, unknown
_MESSAGE_CHARS = 500
# The artifact's own messages (its prologue's, and envcheck's on stderr) start with this.
ARTIFACT_SAYS = "envcheck: "
# ansible-core 2.19 starts a failed task's msg with this; the rest is what happened.
_ANSIBLE_PREFIX = "Task failed: "


@frozen
class HostResult:
    host: str
    outcome: HostOutcome
    record: dict[str, Any]  # the report envelope, or the host-error record

    @property
    def error(self) -> str | None:
        """The host-error reason ("no-python", ...), or None when the host gave a valid report."""
        value = self.record.get("outcome") if self.record.get("schema") != REPORT_SCHEMA else None
        return value if isinstance(value, str) else None

    def to_json(self) -> bytes:
        return (json.dumps(self.record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _short(text: str) -> str:
    text = " ".join(text.replace("\r", "").split())
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_report(stdout: str) -> tuple[dict[str, Any] | None, str]:
    """(the envelope, "") when ``stdout`` starts with a valid report envelope, else (None, why not)."""
    if len(stdout) > MAX_OUTPUT_CHARS:
        return None, f"the output is larger than {MAX_OUTPUT_CHARS} characters"
    text = stdout.lstrip()
    if not text:
        return None, "it printed no report"
    try:
        envelope, _ = json.JSONDecoder().raw_decode(text)
    except ValueError as exc:
        return None, f"the output is not a JSON report ({exc}): {_short(text[:200])}"
    if not isinstance(envelope, dict) or envelope.get("schema") != REPORT_SCHEMA:
        return None, "the output is JSON but not an envcheck report envelope"
    version = envelope.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version != REPORT_SCHEMA_VERSION:
        return None, f"the report's schema_version is {version!r}; this envcheck reads {REPORT_SCHEMA_VERSION}"
    if not isinstance(envelope.get("overall"), str) or not isinstance(envelope.get("results"), list):
        return None, "the report envelope has no overall or no results"
    return envelope, ""


def _chatter(line: str) -> bool:
    """OpenSSH's own "Shared connection to HOST closed." (ssh -tt, on a multiplexed connection) or "Connection to
    HOST closed.", which say nothing about the host's run."""
    return line.endswith(" closed.") and line.startswith(("Shared connection to ", "Connection to "))


def _said(stdout: str, stderr: str) -> str:
    """What the host said about a failure, in one line: the artifact's own last message when it gave one (on stdout
    under a PTY, else on stderr), else its last lines less OpenSSH's chatter."""
    lines = [line.strip() for line in (stdout[-2000:] + "\n" + stderr[-2000:]).splitlines()]
    own = [line for line in lines if line.startswith(ARTIFACT_SAYS)]
    if own:
        return _short(own[-1])
    return _short(" ".join([line for line in lines if line and not _chatter(line)][-5:]))


def _is_timeout(res: Mapping[str, Any], message: str) -> bool:
    # A task cut by its `timeout` keyword: ansible-core 2.19 says "Timed out after N second(s)." and adds a
    # "timedout" field; earlier releases say "The script action failed to execute in the expected time frame
    # (N) and was terminated" (ansible/executor/task_executor.py). An sshd that accepts and never answers,
    # when the connect timeout comes first: OpenSSH's "Connection timed out during banner exchange".
    lowered = message.lower()
    return bool(res.get("timedout")) or any(text in lowered for text in (
        "timed out after", "expected time frame", "timed out during banner exchange"))


def classify(host: str, groups: Sequence[str], res: Mapping[str, Any], *, unreachable: bool,
             policy_path: str | None = None) -> HostResult:
    """One host's outcome and file from Ansible's result for its script task (``res``: rc, stdout, stderr,
    msg, as in a runner_on_* event's ``event_data.res`` or the task's registered variable). ``policy_path``:
    the controller's policy file, recorded in the report instead of where the artifact unpacked it."""

    def error(kind: HostError, message: str) -> HostResult:
        return HostResult(host, kind.outcome, host_error_record(host, groups, kind, message))

    message = _short(_text(res.get("msg")))
    message = message[len(_ANSIBLE_PREFIX):] if message.startswith(_ANSIBLE_PREFIX) else message
    if unreachable or res.get("unreachable") is True:
        if _is_timeout(res, message):
            return error(HostError.TIMED_OUT, f"the host accepted the connection and did not answer: {message}")
        return error(HostError.UNREACHABLE, message or "Ansible could not reach the host")
    if _is_timeout(res, message):
        return error(HostError.TIMED_OUT, message)
    rc = res.get("rc")
    stdout, stderr = _text(res.get("stdout")), _text(res.get("stderr"))
    said = _said(stdout, stderr) or message
    if rc == EXIT_CUT or len(stdout.encode("utf-8", "surrogatepass")) >= OUTPUT_CAP_BYTES:
        return error(HostError.INVALID_REPORT, f"the host printed more than the {OUTPUT_CAP_BYTES >> 20} MiB "
                     f"envcheck accepts and was cut there (exit {rc}): {_short(stdout[:200])}")
    if rc == EXIT_NO_PYTHON:
        return error(HostError.NO_PYTHON, said or "no CPython 3.10 or newer on the host")
    if rc == EXIT_TIMED_OUT:
        return error(HostError.TIMED_OUT, said or "envcheck did not finish before the host's deadline")
    if rc == EXIT_CANNOT_START:
        return error(HostError.RUN_FAILED, said or "envcheck could not start on the host")
    if not res:
        # ansible-runner empties a result larger than MAX_EVENT_RES (set above the cap in envcheck/fleet/ansible.py)
        return error(HostError.INVALID_REPORT, "Ansible passed on no result for the host (larger than it keeps?)")
    if rc not in VERDICT_CODES:
        detail = f"exited {rc}" if isinstance(rc, int) else "did not run"
        return error(HostError.RUN_FAILED, f"envcheck {detail}: {said}" if said else f"envcheck {detail}")
    envelope, why = parse_report(stdout)
    if envelope is None:
        return error(HostError.INVALID_REPORT, f"envcheck exited {rc} but {why}")
    policy = envelope.get("policy")
    if policy_path is not None and isinstance(policy, dict) and policy.get("path") is not None:
        policy["path"] = policy_path
    return HostResult(host, outcome_of_overall(envelope.get("overall")), envelope)


def missing(host: str, groups: Sequence[str], why: str) -> HostResult:
    """A host Ansible gave no result for (the run ended early, or was cut by its overall deadline)."""
    kind = HostError.TIMED_OUT if "deadline" in why else HostError.RUN_FAILED
    return HostResult(host, kind.outcome, host_error_record(host, groups, kind, why))
