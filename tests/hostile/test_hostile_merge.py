"""`envcheck report merge` on hostile per-host files: a report written by anything but this envcheck may hold
secrets in its texts, and every output of the merge (table, fleet JSON, JUnit, Prometheus, HTML) is shown to
more people than the host's own report was; an expect file is written by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.host_reports import edited, host_error, run_doctor, write

from envcheck.fleet.expect import read_expect_file
from envcheck.fleet.hostreport import HostErrorRecord, read_host_file
from envcheck.fleet.merge import merge_paths

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
# Three kinds the redactor knows (envcheck/redact.py): a token shape, a NAME=value secret, a URL's credentials.
TOKEN = "ghp_" + "a1B2" * 9
SECRETS = (TOKEN, "hunter2hunter2", "s3cr3t-pw")
LEAKY = f"</script><script>alert(1)</script> {TOKEN} PASSWORD=hunter2hunter2 https://ada:s3cr3t-pw@example.org/x"


def _envcheck(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENVCHECK, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


def test_secrets_in_a_hosts_file_are_masked_in_every_output_of_the_merge(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    write(reports, "gpu-01.json", edited(run_doctor("gpu-01", ("lab",)), fail="host.kernel", observed=LEAKY,
                                         fix=f"export TOKEN={TOKEN}"))
    write(reports, "gpu-02.json", host_error("gpu-02", "run-failed", f"envcheck exited 2: {LEAKY}", ["lab"]))
    out = {name: tmp_path / name for name in ("fleet.xml", "fleet.prom", "fleet.html")}
    done = _envcheck("report", "merge", str(reports), "--json", "--junit", str(out["fleet.xml"]),
                     "--prometheus", str(out["fleet.prom"]), "--html", str(out["fleet.html"]))
    table = _envcheck("report", "merge", str(reports))
    assert (done.returncode, table.returncode) == (1, 1), done.stderr  # gpu-01 failed: the worst
    texts = {"fleet JSON": done.stdout, "table": table.stdout,
             **{name: path.read_text("utf-8") for name, path in out.items()}}
    leaked = {name: [s for s in SECRETS if s in text] for name, text in texts.items()}
    assert leaked == {name: [] for name in texts}
    assert "alert(1)" in texts["fleet JSON"]  # the rest of the text is kept: only the secrets go


def test_secrets_in_a_hosts_facts_are_masked_where_drift_shows_them(tmp_path: Path) -> None:
    # A fact's value is shown beside other hosts' in the drift lines of the table, the fleet JSON and the page.
    document = run_doctor("gpu-01", ("lab",))
    write(tmp_path, "gpu-01.json", document)
    write(tmp_path, "gpu-02.json", edited(document, host="gpu-02", facts={"kernel": f"6.8.0 {TOKEN}",
                                                                          f"x_{TOKEN}": "PASSWORD=hunter2hunter2"}))
    view = merge_paths([str(tmp_path)])
    report = view.hosts[1].report
    assert report is not None
    assert (report.facts["kernel"], report.facts["x_***"]) == ("6.8.0 ***", "PASSWORD=***")
    kernel = [dict(d.odd) for d in view.drift if d.fact == "kernel"]  # a tie of two hosts: both are listed
    assert [odd["gpu-02"] for odd in kernel] == ["6.8.0 ***"]


def test_what_an_error_row_quotes_from_a_bad_file_is_masked_too(tmp_path: Path) -> None:
    # Each file gives no host, and its error row quotes what was wrong: a schema, a key, an outcome, a status.
    document = run_doctor("gpu-01", ("lab",))
    write(tmp_path, "schema.json", {"schema": f"x {TOKEN} \x1b[2J"})
    write(tmp_path, "outcome.json", {**host_error("h", "run-failed", "m"), "outcome": "PASSWORD=hunter2hunter2"})
    results = [dict(document["results"][0], status="https://ada:s3cr3t-pw@example.org/x")]
    write(tmp_path, "status.json", {**document, "results": results})
    (tmp_path / "key.json").write_text(f'{{"schema": "envcheck.report", "{TOKEN}": 1, "{TOKEN}": 2}}')
    view = merge_paths([str(tmp_path)])
    messages = {Path(e.path).name: e.message for e in view.file_errors}
    assert sorted(messages) == ["key.json", "outcome.json", "schema.json", "status.json"]
    assert [name for name, message in messages.items() if any(s in message for s in SECRETS)] == []
    assert "\x1b" not in messages["schema.json"] and "***" in messages["schema.json"]


def test_a_host_error_message_is_masked_when_read(tmp_path: Path) -> None:
    record = read_host_file(str(write(tmp_path, "h.json", host_error("h", "run-failed", f"token {TOKEN}"))))
    assert isinstance(record, HostErrorRecord)
    assert record.message == "token ***"


def test_a_host_name_longer_than_dns_allows_reads_back_as_the_fleet_wrote_it(tmp_path: Path) -> None:
    # An inventory name is an alias, not a DNS name: `envcheck fleet` writes a record for it, the merge reads it.
    name = "n" * 300
    write(tmp_path, "long.json", host_error(name, "run-failed", "envcheck exited 2"))
    view = merge_paths([str(tmp_path)], expect_hosts=[name])
    assert ([h.name for h in view.hosts], view.file_errors, view.exit_code) == ([name], (), 3)


def test_an_expect_file_takes_comments_blank_lines_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    path.write_text("# the lab\n\ngpu-01   # rack 3\n  gpu-01\ngpu-02\n\t\n#gpu-03\n", encoding="utf-8")
    assert read_expect_file(str(path)) == {"gpu-01": (), "gpu-02": ()}


def test_a_number_of_thousands_of_digits_is_one_error_row_not_a_traceback(tmp_path: Path) -> None:
    # Python refuses to read an integer of more than 4300 digits (ValueError, not JSONDecodeError).
    (tmp_path / "big.json").write_text('{"schema": "envcheck.report", "schema_version": 1' + "0" * 5000 + "}")
    write(tmp_path, "gpu-01.json", run_doctor("gpu-01", ("lab",)))
    done = _envcheck("report", "merge", str(tmp_path))
    assert (done.returncode, done.stderr) == (3, "")
    view = merge_paths([str(tmp_path)])
    assert [(e.path, e.message) for e in view.file_errors] == [
        (str(tmp_path / "big.json"), "not a report: it holds a number of thousands of digits")]
    assert [h.name for h in view.hosts] == ["gpu-01"]


def test_an_output_onto_a_report_being_merged_is_refused_and_the_report_kept(tmp_path: Path) -> None:
    report = write(tmp_path, "gpu-01.json", run_doctor("gpu-01", ("lab",)))
    before = report.read_bytes()
    for argv, option in (((str(tmp_path), "--html", str(report)), "--html"),
                         ((str(report), "--prometheus", str(tmp_path / "." / "gpu-01.json")), "--prometheus")):
        done = _envcheck("report", "merge", *argv)
        assert (done.returncode, done.stderr) == (
            2, f"envcheck: error: {option} {argv[-1]}: that is one of the reports being merged; give another file\n")
    done = _envcheck("report", "html", str(tmp_path), "-o", str(report))
    assert done.returncode == 2, done.stderr
    assert report.read_bytes() == before
