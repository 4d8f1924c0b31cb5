"""The Prometheus textfile (envcheck.report.prometheus; envcheck.fleet.metrics for a merge), checked by Prometheus'
own `promtool check metrics` (Debian's prometheus package, installed by scripts/test).

Inputs: reports built here, the real `envcheck doctor --prometheus FILE` on this machine, and for the fleet the
real `envcheck doctor --json --host H --group G` edited as other servers' reports (tests/helpers/host_reports.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.host_reports import edited, host_error, run_doctor, write

from envcheck.fleet.merge import merge_paths
from envcheck.fleet.metrics import render_fleet_prometheus
from envcheck.fleet.outcomes import outcome_of_overall
from envcheck.model import Outcome, Report, Result, Status
from envcheck.report.prometheus import escape_label_value, render_prometheus

REPORT = Report(
    command="doctor", host="gpu-01", started_at="2026-12-02T00:00:00+00:00", duration_s=0.25,
    results=(
        Result("gpu.temperature", "GPU temperature", Outcome(status=Status.PASS, item='GPU "0" \\ A100\nx')),
        Result("gpu.temperature", "GPU temperature", Outcome(status=Status.WARN, item="GPU 1")),
        Result("gpu.temperature", "GPU temperature", Outcome(status=Status.FAIL, item="GPU 1")),
        Result("host.kernel", "kernel", Outcome(status=Status.PASS)),
    ),
)


def _promtool(text: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is not on PATH: scripts/test installs Debian's prometheus package"
    return subprocess.run([binary, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)


def test_one_report_exactly() -> None:
    assert render_prometheus(REPORT) == (
        "# HELP envcheck_check_outcome One series per check and item of the last run; its outcome is the label "
        "(pass, warn, fail, unknown, skip), the value always 1.\n"
        "# TYPE envcheck_check_outcome gauge\n"
        'envcheck_check_outcome{command="doctor",check="gpu.temperature",subject="gpu",'
        'item="GPU \\"0\\" \\\\ A100\\nx",outcome="pass"} 1\n'
        # The same check and item twice would make node_exporter drop the file: the worst is kept.
        'envcheck_check_outcome{command="doctor",check="gpu.temperature",subject="gpu",item="GPU 1",'
        'outcome="fail"} 1\n'
        'envcheck_check_outcome{command="doctor",check="host.kernel",subject="host",item="",outcome="pass"} 1\n'
        "# HELP envcheck_checks Results of the last run by outcome.\n"
        "# TYPE envcheck_checks gauge\n"
        'envcheck_checks{command="doctor",outcome="pass"} 2\n'
        'envcheck_checks{command="doctor",outcome="warn"} 1\n'
        'envcheck_checks{command="doctor",outcome="fail"} 1\n'
        'envcheck_checks{command="doctor",outcome="unknown"} 0\n'
        'envcheck_checks{command="doctor",outcome="skip"} 0\n'
        "# HELP envcheck_run_outcome The last run's overall outcome (the worst of its results) as the label, "
        "the value always 1.\n"
        "# TYPE envcheck_run_outcome gauge\n"
        'envcheck_run_outcome{command="doctor",outcome="fail"} 1\n'
        "# HELP envcheck_last_run_timestamp_seconds When the last run started, in seconds since the epoch.\n"
        "# TYPE envcheck_last_run_timestamp_seconds gauge\n"
        'envcheck_last_run_timestamp_seconds{command="doctor"} 1796169600\n'
        "# HELP envcheck_run_duration_seconds How long the last run took.\n"
        "# TYPE envcheck_run_duration_seconds gauge\n"
        'envcheck_run_duration_seconds{command="doctor"} 0.25\n'
    )


def test_label_values_are_escaped_as_the_format_says_and_promtool_agrees() -> None:
    assert escape_label_value('a"b\\c\r\nd\x1b[31m') == 'a\\"b\\\\c\\nd'
    done = _promtool(render_prometheus(REPORT))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_doctor_writes_a_textfile_promtool_accepts(tmp_path: Path) -> None:
    target = tmp_path / "envcheck.prom"
    done = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--prometheus", str(target)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode in (0, 1, 3), done.stderr
    assert done.stderr.splitlines()[-1] == f"envcheck: wrote the Prometheus metrics to {target}"
    text = target.read_text()
    assert text.count("# TYPE ") == 5 and 'envcheck_check_outcome{command="doctor",check="host.kernel"' in text
    assert [p.name for p in tmp_path.iterdir()] == ["envcheck.prom"]  # no temporary file left beside it
    checked = _promtool(text)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


def test_doctor_refuses_an_unwritable_textfile_before_any_work(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--prometheus", str(tmp_path / "no" / "x")],
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert f"--prometheus {tmp_path / 'no' / 'x'}: folder {tmp_path / 'no'} does not exist" in done.stderr


def test_fleet_textfile_has_a_host_label_and_the_fleet_families(tmp_path: Path) -> None:
    base = run_doctor("gpu-01", ("lab-a",))
    write(tmp_path, "a.json", edited(base, host='gpu-"01"\\', facts={"driver": "550.54.15"}))
    write(tmp_path, "b.json", edited(base, host="gpu-02", facts={"driver": "535.161.08"}, fail="host.kernel"))
    write(tmp_path, "c.json", edited(base, host="gpu-03", facts={"driver": "550.54.15"}))
    write(tmp_path, "d.json", host_error("gpu-04", "unreachable", "refused"))
    text = render_fleet_prometheus(merge_paths([str(tmp_path)]), now=1796169600.0)
    checked = _promtool(text)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert families == ["envcheck_check_outcome", "envcheck_checks", "envcheck_run_outcome",
                        "envcheck_last_run_timestamp_seconds", "envcheck_run_duration_seconds",
                        "envcheck_fleet_host_outcome", "envcheck_fleet_hosts", "envcheck_fleet_drift_hosts",
                        "envcheck_fleet_file_errors", "envcheck_fleet_merge_timestamp_seconds"]
    lines = text.splitlines()
    odd = [line for line in lines if line.startswith('envcheck_fleet_host_outcome{host="gpu-\\"01\\"\\\\",')]
    assert len(odd) == 1 and odd[0].endswith(f'outcome="{outcome_of_overall(base["overall"]).value}"}} 1')
    assert 'envcheck_fleet_host_outcome{host="gpu-04",outcome="unreachable"} 1' in lines
    assert 'envcheck_fleet_drift_hosts{group="lab-a",fact="driver"} 1' in lines
    assert 'envcheck_run_outcome{host="gpu-02",command="doctor",outcome="fail"} 1' in lines
    assert "envcheck_fleet_merge_timestamp_seconds 1796169600" in lines
