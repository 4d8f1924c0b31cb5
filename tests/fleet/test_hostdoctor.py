"""The fleet artifact's doctor entry (envcheck/fleet/hostdoctor.py): the few arguments a host run takes, read
without click, and the errors the CLI would give for them; and output's writes where click is not installed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck import output
from envcheck.fleet.hostdoctor import request
from envcheck.model import UsageError


def test_host_groups_and_policy_are_read_in_both_spellings(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("groups:\n  gpu:\n    inventory_groups: [gpu]\n    overrides: {gpu_count: 1}\n")
    asked = request(["--policy", str(policy), "--host=node-1", "--group", "gpu,lab", "--group=a100", "--group", ""])
    assert (asked.host, asked.groups, asked.policy.path) == ("node-1", ("gpu", "lab", "a100"), str(policy))
    assert [group.name for group in asked.policy.groups] == ["gpu"]
    bare = request([])
    assert (bare.host, bare.groups, bare.policy.path) == (None, (), None)


@pytest.mark.parametrize(("argv", "said"), [
    (["--only", "docker"], "no such option: '--only'"),
    (["node-1"], "no such option: 'node-1'"),
    (["--host"], "--host needs a value"),
    (["--host", " "], "--host: give a value"),
    (["--host", "a", "--host", "b"], "--host is given twice"),
    (["--host", "a", "--timeout", "5"], "--timeout comes first"),
    (["--policy", "/nonexistent/policy.yaml"], "/nonexistent/policy.yaml"),
])
def test_a_wrong_argument_is_a_usage_error_naming_it(argv: list[str], said: str) -> None:
    with pytest.raises(UsageError, match=said.replace("(", r"\(")):
        request(argv)


def test_a_usage_error_ends_the_run_with_exit_2_and_the_json_error_envelope() -> None:
    done = subprocess.run([sys.executable, "-c", "from envcheck.fleet.hostdoctor import main; main()", "--bogus"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    envelope = json.loads(done.stdout)
    assert (envelope["schema"], envelope["exit_code"]) == ("envcheck.error", 2)
    assert "--bogus" in envelope["error"] and "--bogus" in done.stderr


def test_a_host_run_reports_with_its_name_and_groups() -> None:
    done = subprocess.run([sys.executable, "-c", "from envcheck.fleet.hostdoctor import main; main()",
                           "--host", "lab<1>", "--group", "gpu"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode in (0, 1, 3), done.stderr
    report = json.loads(done.stdout)
    assert (report["schema"], report["command"], report["host"], report["exit_code"]) == (
        "envcheck.report", "doctor", "lab<1>", done.returncode)


def test_without_click_text_the_stream_cannot_encode_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "click", None)  # `import click` raises ImportError, as in the fleet artifact
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stderr", stream)
    output.say("envcheck: error: caf\u00e9 \u2713")
    assert raw.getvalue() == b"envcheck: error: caf? ?\n"
    monkeypatch.setattr(sys, "stdout", stream)
    output.echo("{}")  # plain ASCII never needs click
    assert raw.getvalue().endswith(b"{}\n")
