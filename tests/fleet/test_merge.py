"""Merging per-host files into one fleet view (envcheck.fleet.merge), drift within groups, and the outputs of
`envcheck report merge` (table, fleet JSON, JUnit testsuites, exit codes).

Inputs: the real `envcheck doctor --json --host H --group G` run on this machine, once per group, and copies of
it edited as other servers' reports (tests/helpers/host_reports.py: other GPU facts, a failing check); host-error
records as `envcheck fleet` writes them; and broken files written here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from helpers.host_reports import GPU_FACTS, edited, host_error, run_doctor, write

from envcheck.fleet.expect import inventory_hosts, read_expect_file
from envcheck.fleet.fleetjson import fleet_envelope, render_fleet_json
from envcheck.fleet.junit import render_fleet_junit
from envcheck.fleet.merge import MISSING_MESSAGE, Drift, FileError, merge_paths
from envcheck.fleet.outcomes import HostOutcome, outcome_of_overall
from envcheck.fleet.table import render_table

SHELL_HTML_HOST = "gpu-$(reboot)<b>&'x'"


def _lab_a(host: str, **changes: Any) -> dict[str, Any]:
    return edited(run_doctor("gpu-01", ("lab-a",)), host=host, facts={**GPU_FACTS, **changes.pop("facts", {})},
                  **changes)


def _fleet(folder: Path) -> None:
    write(folder, "gpu-01.json", _lab_a("gpu-01"))
    write(folder, "gpu-02.json", _lab_a("gpu-02"))
    write(folder, "gpu-03.json", _lab_a("gpu-03", facts={"driver": "535.161.08", "gpu_count": "7"},
                                        fail="host.kernel", observed="<script>alert(1)</script>",
                                        fix="sudo apt install linux-generic\nsudo reboot"))
    write(folder, "cpu-01.json", edited(run_doctor("cpu-01", ("lab-b",)), host=SHELL_HTML_HOST))
    write(folder, "gpu-04.json", host_error("gpu-04", "unreachable", "ssh: connect to host gpu-04 port 22: refused",
                                            ["lab-a"]))
    write(folder, "gpu-05.json", host_error("gpu-05", "timed-out", "no answer within 600 s", ["lab-a"]))
    (folder / "junk.json").write_text("not json")


def test_merge_gives_each_host_its_outcome_and_each_bad_file_a_row(tmp_path: Path) -> None:
    _fleet(tmp_path)
    write(tmp_path, "zz-copy.json", _lab_a("gpu-01"))  # a second file for gpu-01
    view = merge_paths([str(tmp_path)], expect_hosts=["gpu-01", "gpu-09"])
    assert {h.name: h.outcome for h in view.hosts} == {
        "gpu-01": HostOutcome.WARN, "gpu-02": HostOutcome.WARN, "gpu-03": HostOutcome.FAILED,
        SHELL_HTML_HOST: HostOutcome.WARN, "gpu-04": HostOutcome.UNREACHABLE, "gpu-05": HostOutcome.UNJUDGED,
        "gpu-09": HostOutcome.UNREACHABLE,
    }
    assert view.missing == ("gpu-09",)
    assert next(h for h in view.hosts if h.name == "gpu-09").message == MISSING_MESSAGE
    assert view.file_errors == (
        FileError(str(tmp_path / "junk.json"), "not JSON: Expecting value at line 1 column 1"),
        FileError(str(tmp_path / "zz-copy.json"),
                  f"a second file for host 'gpu-01': {tmp_path / 'gpu-01.json'} was kept"),
    )
    assert view.exit_code == 1
    assert next(h for h in view.hosts if h.name == "gpu-03").cell("host").value == "fail"  # type: ignore[union-attr]


def test_file_names_are_outside_data_too_stripped_and_masked_in_every_view(tmp_path: Path) -> None:
    token = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789AB"  # a GitHub token's shape
    write(tmp_path, f"{token}.json", _lab_a("gpu-01"))
    (tmp_path / "bad\x1b[31m-red.json").write_text("not json")
    write(tmp_path, "zz-copy.json", _lab_a("gpu-01"))
    view = merge_paths([str(tmp_path)])
    assert [h.source for h in view.hosts] == [f"{tmp_path}/***.json"]
    assert [(e.path, e.message) for e in view.file_errors] == [
        (f"{tmp_path}/bad-red.json", "not JSON: Expecting value at line 1 column 1"),
        (f"{tmp_path}/zz-copy.json", f"a second file for host 'gpu-01': {tmp_path}/***.json was kept"),
    ]
    for text in (render_table(view, color=False, width=200), render_fleet_json(view), render_fleet_junit(view)):
        assert token not in text and "\x1b" not in text and "\\u001b" not in text


def test_exit_code_is_the_worst_host_in_the_documented_order(tmp_path: Path) -> None:
    write(tmp_path, "a.json", _lab_a("a"))
    assert merge_paths([str(tmp_path)]).exit_code == 0
    assert merge_paths([str(tmp_path)], expect_hosts=["b"]).exit_code == 5  # expected and missing: unreachable
    write(tmp_path, "c.json", host_error("c", "no-python", "no python3 >= 3.10"))
    assert merge_paths([str(tmp_path)], expect_hosts=["b"]).exit_code == 3
    (tmp_path / "d.json").write_text("{}")  # a file that gives no host is unjudged too
    assert merge_paths([str(tmp_path / "a.json"), str(tmp_path / "d.json")]).exit_code == 3
    write(tmp_path, "e.json", _lab_a("e", fail="host.kernel"))
    assert merge_paths([str(tmp_path)], expect_hosts=["b"]).exit_code == 1


def test_drift_names_the_odd_ones_out_within_each_group(tmp_path: Path) -> None:
    _fleet(tmp_path)
    write(tmp_path, "gpu-06.json", _lab_a("gpu-06", facts={"driver": None}))
    view = merge_paths([str(tmp_path)])
    lab_a = {d.fact: d for d in view.drift if d.group == "lab-a"}
    assert lab_a["driver"] == Drift(group="lab-a", fact="driver", common="550.54.15", common_hosts=2,
                                    odd=(("gpu-03", "535.161.08"),), unknown=("gpu-06",))
    assert lab_a["gpu_count"] == Drift(group="lab-a", fact="gpu_count", common="8", common_hosts=3,
                                       odd=(("gpu-03", "7"),), unknown=())
    assert set(lab_a) == {"driver", "gpu_count"}  # the same kernel, docker and policy everywhere: no drift
    assert [d for d in view.drift if d.group == "lab-b"] == []  # one host: nothing to differ from


def test_a_tie_has_no_most_common_value_and_hosts_without_groups_are_all(tmp_path: Path) -> None:
    base = run_doctor("h1")
    write(tmp_path, "h1.json", edited(base, host="h1", facts={"kernel": "6.1.0-18-amd64"}))
    write(tmp_path, "h2.json", edited(base, host="h2", facts={"kernel": "6.1.0-21-amd64"}))
    view = merge_paths([str(tmp_path)])
    assert view.drift == (Drift(group="all", fact="kernel", common=None, common_hosts=1,
                                odd=(("h1", "6.1.0-18-amd64"), ("h2", "6.1.0-21-amd64")), unknown=()),)
    text = render_table(view, width=200)
    assert "  all: kernel: no most common value (1 host(s) each): h1=6.1.0-18-amd64, h2=6.1.0-21-amd64" in text


def test_hosts_judged_by_different_policies_are_drift_too(tmp_path: Path) -> None:
    base = run_doctor("gpu-01", ("lab-a",))
    other = edited(base, host="gpu-02")
    other["policy"] = {**base["policy"], "digest": "sha256:" + "0" * 64}
    write(tmp_path, "a.json", edited(base, host="gpu-01"))
    write(tmp_path, "b.json", edited(base, host="gpu-03"))
    write(tmp_path, "c.json", other)
    (found,) = merge_paths([str(tmp_path)]).drift
    assert (found.fact, found.common, found.odd) == ("policy", base["policy"]["digest"],
                                                     (("gpu-02", "sha256:" + "0" * 64),))


def test_the_table_has_symbols_without_colour_and_colour_when_asked(tmp_path: Path) -> None:
    _fleet(tmp_path)
    view = merge_paths([str(tmp_path)])
    plain = render_table(view, color=False, width=200)
    assert "\x1b[" not in plain
    row = next(line for line in plain.splitlines() if line.startswith("gpu-03"))
    assert row.split()[2:5] == ["✗", "failed", "✗"]  # the outcome, then the host subject's column
    assert "  gpu-03  [✗] host.kernel: <script>alert(1)</script>" in plain
    assert "      fix: sudo apt install linux-generic …" in plain
    assert "  gpu-04  ~ unreachable: ssh: connect to host gpu-04 port 22: refused" in plain  # whole, not cut
    assert plain.splitlines()[-1] == ("6 hosts: 0 pass, 3 warn, 1 failed, 1 unjudged, 1 unreachable; "
                                      "1 file gave no host")
    coloured = render_table(view, color=True, width=200)
    assert f"\x1b[31m{'✗ failed':13}\x1b[0m" in coloured and "\x1b[31m✗\x1b[0m" in coloured
    narrow = render_table(view, width=60).splitlines()
    assert narrow[0].split()[3:] == [str(i + 1) for i in range(len(view.subjects()))]
    assert "1=host" in narrow[len(view.hosts) + 1]


def test_fleet_json_keeps_hosts_as_data(tmp_path: Path) -> None:
    _fleet(tmp_path)
    envelope = json.loads(json.dumps(fleet_envelope(merge_paths([str(tmp_path)]), time="T")))
    assert (envelope["schema"], envelope["schema_version"], envelope["exit_code"]) == ("envcheck.fleet", 1, 1)
    assert envelope["counts"] == {"pass": 0, "warn": 3, "failed": 1, "unjudged": 1, "unreachable": 1}
    hosts = {h["host"]: h for h in envelope["hosts"]}
    assert hosts[SHELL_HTML_HOST]["groups"] == ["lab-b"]
    assert hosts["gpu-03"]["report"]["cells"]["host"] == "fail"
    assert hosts["gpu-03"]["report"]["facts"]["driver"] == "535.161.08"
    assert hosts["gpu-04"] == {"host": "gpu-04", "groups": ["lab-a"], "outcome": "unreachable",
                               "source": str(tmp_path / "gpu-04.json"), "error": "unreachable",
                               "message": "ssh: connect to host gpu-04 port 22: refused", "report": None}
    assert envelope["file_errors"] == [{"path": str(tmp_path / "junk.json"),
                                        "message": "not JSON: Expecting value at line 1 column 1"}]


def test_the_fleet_json_text_is_the_envelope_as_json_dumps_indents_it(tmp_path: Path) -> None:
    # render_fleet_json encodes a host at a time (envcheck.report.jsontext): byte for byte the documented envelope.
    _fleet(tmp_path)
    for expect_hosts in (None, ["gpu-09"]):
        view = merge_paths([str(tmp_path)], expect_hosts=expect_hosts)
        assert render_fleet_json(view, time="T") == json.dumps(fleet_envelope(view, time="T"), indent=2) + "\n"
    empty = merge_paths([])
    assert render_fleet_json(empty, time="T") == json.dumps(fleet_envelope(empty, time="T"), indent=2) + "\n"


def test_junit_has_one_uniquely_named_suite_per_host(tmp_path: Path) -> None:
    _fleet(tmp_path)
    root = ET.fromstring(render_fleet_junit(merge_paths([str(tmp_path)], expect_hosts=["gpu-09"])))
    assert root.tag == "testsuites"
    names = [suite.get("name") for suite in root]
    assert names == [f"envcheck.doctor@{SHELL_HTML_HOST}", "envcheck.doctor@gpu-01", "envcheck.doctor@gpu-02",
                     "envcheck.doctor@gpu-03", "envcheck.doctor@gpu-04", "envcheck.doctor@gpu-05",
                     "envcheck.doctor@gpu-09", "envcheck.merge"]
    cases = [(case.get("classname"), case.get("name")) for case in root.iter("testcase")]
    assert len(cases) == len(set(cases))
    gpu03 = root[3]
    failed = [case for case in gpu03 if case.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("gpu-03.host", "host.kernel")]
    unreachable = root[4]
    (case,) = list(unreachable)
    error = case.find("error")
    assert error is not None and error.get("message") == "unreachable: ssh: connect to host gpu-04 port 22: refused"
    assert root[6][0].find("error").get("message") == f"unreachable: {MISSING_MESSAGE}"  # type: ignore[union-attr]
    assert int(root.get("errors", "")) == sum(int(s.get("errors", "")) for s in root)


def _envcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envcheck", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})


def test_report_merge_command_end_to_end(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    _fleet(reports)
    (tmp_path / "expected.txt").write_text("# the inventory\ngpu-01\n\ngpu-09\n")
    done = _envcheck("report", "merge", str(reports), "--expect-hosts", "expected.txt", "--junit", "fleet.xml",
                     "--prometheus", "fleet.prom", "--html", "fleet.html", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[-1] == ("7 hosts: 0 pass, 3 warn, 1 failed, 1 unjudged, 2 unreachable; "
                                            "1 file gave no host")
    assert done.stderr.splitlines() == ["envcheck: wrote the JUnit report to fleet.xml",
                                        "envcheck: wrote the Prometheus metrics to fleet.prom",
                                        "envcheck: wrote the fleet page to fleet.html"]
    assert ET.parse(tmp_path / "fleet.xml").getroot().tag == "testsuites"
    as_json = _envcheck("report", "merge", str(reports), "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["exit_code"] == as_json.returncode == 1


def test_report_merge_usage_errors_come_before_any_work(tmp_path: Path) -> None:
    write(tmp_path, "a.json", _lab_a("a"))
    done = _envcheck("report", "merge", str(tmp_path), "--junit", str(tmp_path / "no" / "f.xml"), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert f"--junit {tmp_path / 'no' / 'f.xml'}: folder {tmp_path / 'no'} does not exist" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _envcheck("report", "merge", str(empty), cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (2, f"envcheck: error: no report file (*.json) in {empty}")


def test_an_inventory_names_the_expected_hosts_and_their_groups(tmp_path: Path) -> None:
    # ansible-inventory comes with the fleet extra, which the test extra installs too (pyproject.toml).
    (tmp_path / "lab.ini").write_text("[lab_a]\ngpu-01\ngpu-09\n[lab_b]\ncpu-01\n[gpu:children]\nlab_a\n")
    expected = inventory_hosts(str(tmp_path / "lab.ini"))
    assert expected == {"gpu-01": ("gpu", "lab_a"), "gpu-09": ("gpu", "lab_a"), "cpu-01": ("lab_b",)}
    reports = tmp_path / "reports"
    reports.mkdir()
    write(reports, "gpu-01.json", _lab_a("gpu-01"))
    view = merge_paths([str(reports)], expect_hosts=expected)
    assert [(h.name, h.groups, h.outcome, h.error) for h in view.hosts] == [
        ("cpu-01", ("lab_b",), HostOutcome.UNREACHABLE, "missing"),
        ("gpu-01", ("lab-a",), outcome_of_overall(run_doctor("gpu-01", ("lab-a",))["overall"]), None),
        ("gpu-09", ("gpu", "lab_a"), HostOutcome.UNREACHABLE, "missing"),
    ]
    (tmp_path / "hosts.txt").write_text("# lab\n gpu-01 \n\ngpu-01\ngpu-02\n")
    assert read_expect_file(str(tmp_path / "hosts.txt")) == {"gpu-01": (), "gpu-02": ()}
