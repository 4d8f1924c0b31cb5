"""One per-host file read as untrusted input (envcheck.fleet.hostreport): every bad file is one clear BadFile.

The good inputs come from the real `envcheck doctor --json --host H --group G` on this machine
(tests/helpers/host_reports.py); the bad ones are those copies broken in one place, or written by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.host_reports import edited, host_error, run_doctor, write

from envcheck.fleet.hostreport import MAX_FILE_BYTES, BadFile, HostErrorRecord, list_files, read_host_file
from envcheck.fleet.outcomes import HostError
from envcheck.model import Report, Status


def _bad(path: Path) -> str:
    with pytest.raises(BadFile) as caught:
        read_host_file(str(path))
    return str(caught.value)


def test_a_real_doctor_report_reads_back_whole(tmp_path: Path) -> None:
    document = run_doctor("gpu-01", ("lab-a",))
    report = read_host_file(str(write(tmp_path, "gpu-01.json", document)))
    assert isinstance(report, Report)
    assert report.host == "gpu-01"
    assert report.groups == ("lab-a",)
    assert report.policy is not None and report.policy.digest == document["policy"]["digest"]
    assert dict(report.facts) == document["facts"]
    assert report.overall.value == document["overall"]
    assert report.counts() == document["counts"]
    assert [r.id for r in report.results] == [r["id"] for r in document["results"]]


def test_a_host_error_record_reads_back(tmp_path: Path) -> None:
    path = write(tmp_path, "h.json", host_error("gpu-04", "timed-out", "no answer within 600 s", ["lab-a"]))
    assert read_host_file(str(path)) == HostErrorRecord(host="gpu-04", groups=("lab-a",), error=HostError.TIMED_OUT,
                                                        message="no answer within 600 s",
                                                        time="2026-12-02T00:00:00+00:00")


def test_not_json_and_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("<html>502 Bad Gateway</html>")
    assert _bad(tmp_path / "a.json") == "not JSON: Expecting value at line 1 column 1"
    (tmp_path / "b.json").write_bytes(b'{"host": "\xff"}')
    assert _bad(tmp_path / "b.json") == "not UTF-8 text (byte 10)"
    (tmp_path / "c.json").write_text("[1, 2]")
    assert _bad(tmp_path / "c.json") == "not an envcheck report: the JSON is a list, not an object"


def test_a_newer_schema_version_says_so(tmp_path: Path) -> None:
    document = {**run_doctor("gpu-01", ("lab-a",)), "schema_version": 2}
    assert _bad(write(tmp_path, "new.json", document)) == (
        "written by a newer envcheck (schema_version 2); this one reads 1")
    other = {**document, "schema": "envcheck.list", "schema_version": 1}
    assert _bad(write(tmp_path, "list.json", other)) == (
        "not an envcheck report (schema 'envcheck.list'; expected 'envcheck.report' or 'envcheck.host-error')")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as out:  # sparse: the size is what counts, nothing is read
        out.truncate(MAX_FILE_BYTES + 1)
    assert _bad(path) == f"{MAX_FILE_BYTES + 1} bytes: larger than the 16 MiB a report may have"


def test_a_fifo_or_folder_is_not_a_report(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.json")  # opening it must not wait for a writer
    assert _bad(tmp_path / "pipe.json") == "not a regular file"
    (tmp_path / "dir.json").mkdir()
    assert _bad(tmp_path / "dir.json") == "not a regular file"


def test_wrong_types_name_the_field(tmp_path: Path) -> None:
    good = run_doctor("gpu-01", ("lab-a",))
    cases = {
        "host": (["gpu-01"], "host must be a text, not a list"),
        "duration_s": ("fast", "duration_s must be a number, not a text"),
        "groups": ("lab-a", "groups must be a list, not a text"),
        "facts": ([], "facts must be an object, not a list"),
    }
    for key, (value, message) in cases.items():
        assert _bad(write(tmp_path, f"{key}.json", {**good, key: value})) == message
    broken = edited(good)
    broken["results"][2]["status"] = "great"
    assert _bad(write(tmp_path, "status.json", broken)) == (
        "results[2].status must be one of pass, warn, fail, unknown, skip, not 'great'")
    broken = edited(good)
    broken["results"][0]["observed"] = {"nested": True}
    assert _bad(write(tmp_path, "observed.json", broken)) == "results[0].observed must be a text, not an object"


def test_duplicate_keys_nan_and_a_lying_overall_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dup.json").write_text('{"schema": "envcheck.report", "schema": "envcheck.host-error"}')
    assert _bad(tmp_path / "dup.json") == "the key 'schema' appears twice in one object"
    (tmp_path / "nan.json").write_text('{"duration_s": NaN}')
    assert _bad(tmp_path / "nan.json") == "NaN is not JSON (RFC 8259 has no NaN or Infinity)"
    lying = {**edited(run_doctor("gpu-01", ("lab-a",)), fail="host.kernel"), "overall": "pass"}
    assert _bad(write(tmp_path, "lie.json", lying)) == "overall says 'pass' but its results give 'fail'"
    error = {**host_error("h", "exploded", "x")}
    assert _bad(write(tmp_path, "err.json", error)) == (
        "outcome must be one of unreachable, no-python, timed-out, invalid-report, run-failed, not 'exploded'")


def test_outside_texts_are_stripped_and_bounded(tmp_path: Path) -> None:
    document = edited(run_doctor("gpu-01", ("lab-a",)), host="\x1b]0;owned\x07gpu-\x1b[31m01\r",
                      fail="host.kernel", observed="x" * 10_000 + "\x1b[2J")
    report = read_host_file(str(write(tmp_path, "h.json", document)))
    assert isinstance(report, Report)
    assert report.host == "gpu-01"
    failed = next(r for r in report.results if r.id == "host.kernel")
    assert failed.status is Status.FAIL and failed.observed == "x" * 4096
    long_name = edited(document, host="h" * 1025)
    assert _bad(write(tmp_path, "long.json", long_name)) == "host is longer than 1024 characters"


def test_a_folder_gives_its_json_files_only_not_its_subfolders(tmp_path: Path) -> None:
    for name in ("b.json", "a.json", ".a.json.123.tmp", ".hidden.json", "notes.txt"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "c.json").write_text("{}")
    files, problems = list_files([str(tmp_path), str(tmp_path / "notes.txt")])
    assert files == [str(tmp_path / "a.json"), str(tmp_path / "b.json"), str(tmp_path / "notes.txt")]
    assert problems == []


def test_a_file_given_twice_is_read_once_and_evidence_texts_are_stripped(tmp_path: Path) -> None:
    document = edited(run_doctor("gpu-01", ("lab-a",)))
    document["results"][0]["evidence"] = {"pa\x1b[2Jth": ["/x\x1b]0;t\x07y", {"n": 1}]}
    path = write(tmp_path, "a.json", document)
    files, _problems = list_files([str(tmp_path), str(path), str(tmp_path / "." / "a.json")])
    assert files == [str(path)]
    report = read_host_file(str(path))
    assert isinstance(report, Report) and dict(report.results[0].evidence) == {"path": ["/xy", {"n": 1}]}
