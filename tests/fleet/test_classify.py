"""What Ansible says about a host's run -> its outcome and file (envcheck/fleet/classify.py). The messages are
ansible-core's and OpenSSH's own, as a run of ansible-runner reports them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from envcheck.fleet.artifact import OUTPUT_CAP_BYTES
from envcheck.fleet.classify import MAX_OUTPUT_CHARS, HostResult, classify
from envcheck.fleet.outcomes import HostOutcome

ENVELOPE = {"schema": "envcheck.report", "schema_version": 1, "command": "doctor", "host": "h1", "overall": "fail",
            "results": [], "policy": {"path": "/tmp/envcheck.abc/policy/policy.yaml", "digest": "sha256:0",
                                      "groups": []}}


def _pty(text: str) -> str:
    return text.replace("\n", "\r\n")  # what ssh -tt does to every line the host prints


def _error(res: dict[str, Any], *, unreachable: bool = False) -> tuple[HostOutcome, str, str]:
    result = classify("h1", ["lab"], res, unreachable=unreachable)
    assert result.record["schema"] == "envcheck.host-error"
    assert (result.record["host"], result.record["groups"]) == ("h1", ["lab"])
    return result.outcome, result.record["outcome"], result.record["message"]


def test_a_valid_report_under_a_pty_with_stderr_after_it_is_the_hosts_report() -> None:
    stdout = _pty(json.dumps(ENVELOPE, indent=2) + "\n") + "envcheck: warning: something on stderr\r\n"
    result = classify("h1", ["lab"], {"rc": 1, "stdout": stdout}, unreachable=False,
                      policy_path="/etc/envcheck/lab.yaml")
    assert result.outcome is HostOutcome.FAILED
    assert result.error is None
    assert result.record == {**ENVELOPE, "policy": {**ENVELOPE["policy"], "path": "/etc/envcheck/lab.yaml"}}


@pytest.mark.parametrize(("res", "reason", "message"), [
    ({"rc": 0, "stdout": "Traceback (most recent call last):\r\n"}, "invalid-report",
     "envcheck exited 0 but the output is not a JSON report"),
    ({"rc": 0, "stdout": json.dumps({**ENVELOPE, "schema_version": 2})}, "invalid-report",
     "envcheck exited 0 but the report's schema_version is 2; this envcheck reads 1"),
    ({"rc": 0, "stdout": json.dumps({"schema": "other"})}, "invalid-report",
     "envcheck exited 0 but the output is JSON but not an envcheck report envelope"),
    ({"rc": 0, "stdout": ""}, "invalid-report", "envcheck exited 0 but it printed no report"),
    ({"rc": 0, "stdout": "x" * (MAX_OUTPUT_CHARS + 1)}, "invalid-report",
     "the host printed more than the 2 MiB envcheck accepts and was cut there (exit 0): xxxx"),
    ({"rc": 90, "stdout": "envcheck: no usable Python on this host: envcheck needs CPython 3.10 or newer\r\n",
      "stderr": "Shared connection to 127.0.0.1 closed.\r\n", "msg": "non-zero return code"}, "no-python",
     "envcheck: no usable Python on this host: envcheck needs CPython 3.10 or newer"),
    # Under the PTY the host's stderr comes on stdout, and OpenSSH adds its own line: the artifact's line is kept.
    ({"rc": 90, "stdout": "envcheck: no usable Python on this host: envcheck needs CPython 3.10 or newer\r\n"
                          "Shared connection to 127.0.0.1 closed.\r\n", "stderr": "", "msg": "non-zero return code"},
     "no-python", "envcheck: no usable Python on this host: envcheck needs CPython 3.10 or newer"),
    ({"rc": 92, "stdout": "Traceback (most recent call last):\r\n  File \"x\", line 1\r\nenvcheck: did not finish "
                          "within this host's 15 s deadline (--timeout): ended after 9 s here, with everything it "
                          "started\r\nConnection to 127.0.0.1 closed.\r\n", "msg": "non-zero return code"},
     "timed-out", "envcheck: did not finish within this host's 15 s deadline (--timeout): ended after 9 s here, "
                  "with everything it started"),
    ({"rc": 91, "stdout": "", "stderr": "envcheck: cannot unpack the fleet artifact into /tmp/x: No space left"},
     "run-failed", "envcheck: cannot unpack the fleet artifact into /tmp/x: No space left"),
    ({"rc": 153, "stdout": "flood-line\r\n" * 1000, "msg": "non-zero return code"}, "invalid-report",
     "the host printed more than the 2 MiB envcheck accepts and was cut there (exit 153): flood-line flood-line"),
    ({"rc": 4, "stdout": "x" * OUTPUT_CAP_BYTES, "msg": "non-zero return code"}, "invalid-report",
     "the host printed more than the 2 MiB envcheck accepts and was cut there (exit 4): xxxx"),
    ({}, "invalid-report", "Ansible passed on no result for the host"),
    ({"rc": 137, "stdout": "", "msg": "non-zero return code"}, "run-failed",
     "envcheck exited 137: non-zero return code"),
    ({"timedout": {"period": 3}, "msg": "Task failed: Timed out after 3 second(s)."}, "timed-out",
     "Timed out after 3 second(s)."),
    ({"msg": "The script action failed to execute in the expected time frame (3) and was terminated"}, "timed-out",
     "The script action failed to execute in the expected time frame (3) and was terminated"),
])
def test_a_host_without_a_valid_report_gets_its_reason(res: dict[str, Any], reason: str, message: str) -> None:
    outcome, found, said = _error(res)
    assert (outcome, found) == (HostOutcome.UNJUDGED, reason)
    assert said.startswith(message), said


def test_refused_is_unreachable_and_a_silent_sshd_is_timed_out() -> None:
    refused = {"unreachable": True, "msg": "Task failed: Failed to connect to the host via ssh: ssh: connect to "
                                           "host 127.0.0.1 port 1: Connection refused"}
    assert _error(refused, unreachable=True) == (HostOutcome.UNREACHABLE, "unreachable",
                                                 refused["msg"].removeprefix("Task failed: "))
    silent = {"unreachable": True, "msg": "Failed to connect to the host via ssh: Connection timed out during "
                                          "banner exchange"}
    assert _error(silent)[:2] == (HostOutcome.UNJUDGED, "timed-out")


def test_progress_counts_hosts_as_they_finish() -> None:
    from envcheck.fleet.command import Progress

    lines: list[str] = []
    progress = Progress(3, lines.append)
    for outcome in (HostOutcome.FAILED, HostOutcome.UNREACHABLE):
        progress(HostResult("h", outcome, {}))
    assert lines == ["hosts done 0/3, failed 0, unjudged 0, unreachable 0",
                     "hosts done 1/3, failed 1, unjudged 0, unreachable 0",
                     "hosts done 2/3, failed 1, unjudged 0, unreachable 1"]


def test_inventory_groups_include_parents_as_ansibles_group_names_do() -> None:
    from envcheck.fleet.ansible import InventoryHost, hosts_of

    listing = {"_meta": {"hostvars": {"a": {}, "b": {}, "c": {}}},
               "all": {"children": ["ungrouped", "gpu"]}, "ungrouped": {"hosts": ["c"]},
               "gpu": {"children": ["h100"], "hosts": ["a"]}, "h100": {"hosts": ["b", "a"]}}
    assert hosts_of(listing) == [InventoryHost("c", ("ungrouped",)), InventoryHost("a", ("gpu", "h100")),
                                 InventoryHost("b", ("gpu", "h100"))]
