"""Renderers: the whole JSON envelope, the terminal layout, markdown for sharing, JUnit."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from envcheck import __version__
from envcheck.model import Outcome, Report, Result, Status
from envcheck.redact import Redactor
from envcheck.report.jsonreport import envelope, render_json
from envcheck.report.junit import render_junit
from envcheck.report.markdown import render_markdown
from envcheck.report.terminal import render_terminal

REPORT = Report(
    command="doctor",
    host="gpu-01",
    started_at="2026-11-27T12:00:00+00:00",
    duration_s=0.42,
    results=(
        Result("git.installed", "git installed", Outcome(status=Status.PASS, observed="git 2.39.5"), duration_s=0.01),
        Result("docker.daemon-reachable", "Docker daemon answers",
               Outcome(status=Status.FAIL, observed="permission denied", reason="user ada is not in group docker",
                       fix="sudo usermod -aG docker $USER"), duration_s=0.02),
        Result("docker.runtime-nvidia", "nvidia runtime registered",
               Outcome(status=Status.UNKNOWN, reason="could not check because docker.daemon-reachable is fail",
                       caused_by="docker.daemon-reachable"), duration_s=0.02),
        Result("gpu.temperature", "GPU temperature",
               Outcome(status=Status.WARN, observed="88 C", expected="< 83 C", item="GPU 1", fix="check the airflow",
                       evidence={"temp_c": 88}), duration_s=0.1),
        Result("conda.installed", "conda found", Outcome(status=Status.SKIP, reason="conda not found")),
    ),
)


def test_whole_json_envelope() -> None:
    data = json.loads(render_json(REPORT))
    assert data == {
        "schema": "envcheck.report",
        "schema_version": 1,
        "envcheck_version": __version__,
        "command": "doctor",
        "host": "gpu-01",
        "time": "2026-11-27T12:00:00+00:00",
        "duration_s": 0.42,
        "strict": False,
        "overall": "fail",
        "exit_code": 1,
        "counts": {"pass": 1, "warn": 1, "fail": 1, "unknown": 1, "skip": 1},
        "facts": {},
        "policy": None,
        "groups": [],
        "results": [
            {"id": "git.installed", "subject": "git", "item": None, "title": "git installed", "status": "pass",
             "observed": "git 2.39.5", "expected": "", "reason": "", "fix": "", "caused_by": None,
             "duration_s": 0.01, "evidence": {}},
            {"id": "docker.daemon-reachable", "subject": "docker", "item": None, "title": "Docker daemon answers",
             "status": "fail", "observed": "permission denied", "expected": "",
             "reason": "user ada is not in group docker", "fix": "sudo usermod -aG docker $USER",
             "caused_by": None, "duration_s": 0.02, "evidence": {}},
            {"id": "docker.runtime-nvidia", "subject": "docker", "item": None, "title": "nvidia runtime registered",
             "status": "unknown", "observed": "", "expected": "",
             "reason": "could not check because docker.daemon-reachable is fail", "fix": "",
             "caused_by": "docker.daemon-reachable", "duration_s": 0.02, "evidence": {}},
            {"id": "gpu.temperature", "subject": "gpu", "item": "GPU 1", "title": "GPU temperature", "status": "warn",
             "observed": "88 C", "expected": "< 83 C", "reason": "", "fix": "check the airflow",
             "caused_by": None, "duration_s": 0.1, "evidence": {"temp_c": 88}},
            {"id": "conda.installed", "subject": "conda", "item": None, "title": "conda found", "status": "skip",
             "observed": "", "expected": "", "reason": "conda not found", "fix": "", "caused_by": None,
             "duration_s": 0.0, "evidence": {}},
        ],
    }


def test_json_masks_secret_values() -> None:
    passed = Outcome(status=Status.PASS, observed="token hf_secret12345")
    report = Report("doctor", "h", "t", 0.1, (Result("x.y", "t", passed),))
    assert "hf_secret12345" not in render_json(Redactor(secrets=("hf_secret12345",)).report(report))


def test_terminal_one_line_per_subject_details_under_problems_and_closing_line() -> None:
    text = render_terminal(REPORT, color=False)
    lines = text.splitlines()
    subject_lines = [line for line in lines if line.startswith("[")]
    assert [line.split()[1] for line in subject_lines] == ["git", "docker", "gpu", "conda"]
    assert subject_lines[1].startswith("[✗] docker")
    assert "fix:      sudo usermod -aG docker $USER" in text
    assert "(blocked by docker.daemon-reachable)" in text
    # The blocked result is not counted as a problem of its own.
    assert lines[-1] == (
        "2 problems: 1 failed, 1 warning (1 passed, 1 skipped, 1 blocked by the above) in 0.42 s; exit code 1."
    )
    assert "\x1b[" not in text


def test_terminal_colour_only_when_asked_and_verbose_shows_every_check() -> None:
    assert "\x1b[31m" in render_terminal(REPORT, color=True)
    verbose = render_terminal(REPORT, verbose=True)
    assert "git.installed" in verbose and "took 10 ms" in verbose and '"temp_c": 88' in verbose
    assert "git.installed" not in render_terminal(REPORT)


def test_markdown_share_masks_home_and_secrets() -> None:
    report = Report("doctor", "h", "t", 0.1, (
        Result("conda.channels", "channels",
               Outcome(status=Status.WARN, observed="/home/ada/miniforge3 https://u:pw@x.org/c",
                       fix="conda config --remove channels defaults")),
    ))
    text = render_markdown(Redactor(home="/home/ada").report(report))
    assert "~/miniforge3" in text and "/home/ada" not in text
    assert "pw@" not in text and "https://***@x.org/c" in text
    assert "| ! warn | `conda.channels` |" in text
    assert "conda config --remove channels defaults" in text


def test_junit_maps_outcomes() -> None:
    root = ET.fromstring(render_junit(REPORT))
    assert root.get("tests") == "5" and root.get("failures") == "1" and root.get("errors") == "1"
    # One testcase per result, in order: fail is a failure, unknown an error, skip skipped, a warning a pass with
    # properties and output.
    cases = [(case.get("name"), [(child.tag, child.attrib) for child in case]) for case in root.iter("testcase")]
    assert cases == [
        ("git.installed", []),
        ("docker.daemon-reachable", [("failure", {"message": "user ada is not in group docker", "type": "fail"})]),
        ("docker.runtime-nvidia",
         [("error", {"message": "could not check because docker.daemon-reachable is fail", "type": "unknown"})]),
        ("gpu.temperature[GPU 1]", [("properties", {}), ("system-out", {})]),
        ("conda.installed", [("skipped", {"message": "conda not found"})]),
    ]


def test_junit_warning_is_a_pass_that_carries_its_reason_and_fix() -> None:
    warned = Result("gpu.clocks", "GPU clocks", Outcome(status=Status.WARN, observed="1200 MHz", reason="power capped",
                                                          fix="nvidia-smi -q -d PERFORMANCE\nsudo reboot"))
    root = ET.fromstring(render_junit(Report("doctor", "h", "t", 0.1, (warned,))))
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    (case,) = root.iter("testcase")
    assert [(p.get("name"), p.get("value")) for p in case.iter("property")] == [
        ("envcheck.status", "warn"), ("envcheck.reason", "power capped"),
        ("envcheck.fix", "nvidia-smi -q -d PERFORMANCE\nsudo reboot")]
    assert case.findtext("system-out") == ("warning: power capped\nfound: 1200 MHz\nexpected: \n"
                                           "fix: nvidia-smi -q -d PERFORMANCE\nsudo reboot")


def test_envelope_strict_counts_warnings() -> None:
    strict = Report("doctor", "h", "t", 0.1, (Result("a.b", "t", Outcome(status=Status.WARN)),), strict=True)
    assert envelope(strict)["exit_code"] == 1 and envelope(strict)["overall"] == "fail"


def test_markdown_fixes_stay_pasteable_multi_line_and_unescaped() -> None:
    # Inline code in a list would fold a two-line fix into one broken command and show `\|` literally.
    sed = "sed -i '\\|^/opt/conda/envs/a|b$|d' ~/.conda/environments.txt"
    report = Report("doctor", "h", "t", 0.1, (
        Result("git.identity", "identity", Outcome(
            status=Status.WARN, observed="not set",
            fix='git config --global user.name "Your Name"\ngit config --global user.email "you@example.com"')),
        Result("conda.envs", "env", Outcome(status=Status.WARN, item="old", observed="gone", fix=sed)),
        Result("jupyter.kernelspecs", "kernel", Outcome(status=Status.FAIL, item="dead", fix="echo `date`")),
    ))
    text = render_markdown(report)
    assert '```sh\ngit config --global user.name "Your Name"\ngit config --global user.email' in text
    assert f"```sh\n{sed}\n```" in text
    assert "`conda.envs` (old):" in text and "`jupyter.kernelspecs` (dead):" in text
    # Every fenced block closes, so the closing line is plain text again.
    assert text.count("```") % 2 == 0 and text.rstrip().endswith("exit code 1.")


def test_subject_line_names_its_worst_problem_first() -> None:
    report = Report("doctor", "h", "t", 0.1, (
        Result("jupyter.packages", "jupyter packages", Outcome(status=Status.WARN, observed="no ipykernel")),
        Result("jupyter.kernelspecs", "kernelspec interpreter exists",
               Outcome(status=Status.FAIL, item="dead", observed="/gone/python does not exist")),
    ))
    line = render_terminal(report, width=120).splitlines()[2]
    assert line.startswith("[✗] jupyter  kernelspec interpreter exists (dead): /gone/python does not exist")
    assert line.endswith("(+1 more)")


def test_markdown_cells_keep_angle_brackets_visible() -> None:
    report = Report("doctor", "h", "t", 0.1, (
        Result("git.identity", "identity", Outcome(status=Status.PASS, observed="Ada <ada@example.org>")),
    ))
    assert "| Ada &lt;ada@example.org> |" in render_markdown(report)


def test_a_troubled_subject_shows_where_it_ran_first() -> None:
    """smoke.target passes (the interpreter ran), import-torch fails: the person needs to know WHICH python
    lacks torch, so the passing target line is shown under a subject with a problem, and only then."""
    target = Result("smoke.target", "The target environment runs the smoke child",
                    Outcome(status=Status.PASS, observed="python3 on PATH (/usr/bin/python3): Python 3.12.3"))
    broken = Result("smoke.import-torch", "PyTorch imports",
                    Outcome(status=Status.FAIL, observed="ModuleNotFoundError",
                            fix="/usr/bin/python3 -m pip install torch"))
    fine = Result("smoke.import-torch", "PyTorch imports", Outcome(status=Status.PASS, observed="torch 2.13.0+cpu"))
    text = render_terminal(Report("smoke", "vm", "2026-11-27T12:00:00+00:00", 1.0, (target, broken)))
    lines = text.splitlines()
    assert lines.index("    [✓] smoke.target: The target environment runs the smoke child") < lines.index(
        "    [✗] smoke.import-torch: PyTorch imports")
    assert "        found:    python3 on PATH (/usr/bin/python3): Python 3.12.3" in lines
    quiet = render_terminal(Report("smoke", "vm", "2026-11-27T12:00:00+00:00", 1.0, (target, fine)))
    assert "smoke.target" not in quiet and "python3 on PATH" in quiet  # the subject line alone says it
