"""Every report names the policy that judged it: JSON, JUnit, the markdown share and the terminal."""

from __future__ import annotations

import json
from dataclasses import replace
from xml.etree import ElementTree as ET

from envcheck.model import Outcome, PolicyRef, Report, Result, Status
from envcheck.redact import Redactor
from envcheck.report.jsonreport import render_json
from envcheck.report.junit import render_junit
from envcheck.report.markdown import render_markdown
from envcheck.report.terminal import render_terminal

DIGEST = "sha256:" + "ab12" * 16
REF = PolicyRef(path="/etc/envcheck/lab.yaml", digest=DIGEST, groups=("a100", "big"))
REPORT = Report(command="doctor", host="gpu-a1", started_at="2026-11-27T12:00:00+00:00", duration_s=0.5,
                results=(Result("gpu.count", "GPU count the policy requires",
                                Outcome(status=Status.PASS, observed="8 GPUs", expected="exactly 8 GPUs")),),
                policy=REF, groups=("gpu_servers", "rack3"))


def test_json_envelope_carries_the_policy_and_the_groups() -> None:
    data = json.loads(render_json(REPORT))
    assert data["policy"] == {"path": "/etc/envcheck/lab.yaml", "digest": DIGEST, "groups": ["a100", "big"]}
    assert data["groups"] == ["gpu_servers", "rack3"]
    built_in = json.loads(render_json(replace(REPORT, policy=PolicyRef(None, DIGEST), groups=())))
    assert (built_in["policy"], built_in["groups"]) == ({"path": None, "digest": DIGEST, "groups": []}, [])


def test_junit_suite_properties_name_the_policy() -> None:
    suite = ET.fromstring(render_junit(REPORT))
    assert suite[0].tag == "properties"  # first in a testsuite, as the JUnit schema orders them
    assert {p.get("name"): p.get("value") for p in suite[0]} == {
        "envcheck.policy.path": "/etc/envcheck/lab.yaml", "envcheck.policy.digest": DIGEST,
        "envcheck.groups": "gpu_servers,rack3"}
    built_in = ET.fromstring(render_junit(replace(REPORT, policy=PolicyRef(None, DIGEST), groups=())))
    assert {p.get("name"): p.get("value") for p in built_in[0]}["envcheck.policy.path"] == "(built-in)"


def test_markdown_share_names_the_policy_path_and_digest() -> None:
    text = render_markdown(REPORT)
    assert f"Policy: `/etc/envcheck/lab.yaml`, digest `{DIGEST}`, groups a100, big\n" in text
    assert "Policy: built-in defaults" in render_markdown(replace(REPORT, policy=PolicyRef(None, DIGEST)))


def test_terminal_shows_a_short_policy_line_only_for_a_file() -> None:
    assert "policy: /etc/envcheck/lab.yaml (sha256:ab12ab12ab12, groups a100, big)\n" in render_terminal(REPORT)
    assert "policy:" not in render_terminal(replace(REPORT, policy=PolicyRef(None, DIGEST)))


def test_the_share_masks_home_in_the_policy_path() -> None:
    masked = Redactor(home="/home/ada").report(replace(REPORT, policy=replace(REF, path="/home/ada/lab.yaml")))
    assert masked.policy is not None and masked.policy.path == "~/lab.yaml"
    assert masked.policy.digest == DIGEST
