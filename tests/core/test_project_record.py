"""The project record (``.envcheck/project.json``): written by scaffold, read back by drift, generate and verify.

The file travels with the project, so the reader gets arbitrary bytes: every case below must come back as an
UnreadableRecord with a reason naming the file, never an exception.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envcheck.project_record import (
    MAX_RECORD_BYTES,
    RECORD_PATH,
    ProjectRecord,
    RecordedDecision,
    RecordedHost,
    UnreadableRecord,
    read_record,
)
from envcheck.scaffold.decide import Request
from envcheck.scaffold.facts import PlanFacts
from envcheck.scaffold.plan import plan_project

A100 = PlanFacts(driver="535.104.05", cuda="12.2", capability=(8, 0), gpu_name="NVIDIA A100-SXM4-80GB",
                 ubuntu="22.04", python="3.11", notes=("a note",))


def _planned_text(facts: PlanFacts = A100, **request: object) -> str:
    req = Request(**{"name": "lab", "package": "lab", **request})  # type: ignore[arg-type]
    return plan_project("/t", req, facts, created="2026-11-27T12:00:00+00:00").files[RECORD_PATH]


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "project.json"
    path.write_bytes(data)
    return path


def test_the_written_text_reads_back_to_the_same_record_and_the_same_bytes(tmp_path: Path) -> None:
    text = _planned_text(driver="535.104.05", minor_compat=True)
    record = read_record(_write(tmp_path, text.encode()))
    assert isinstance(record, ProjectRecord)
    assert record.to_text() == text
    assert record.name == "lab" and record.planned_driver == "535.104.05" and record.cuda == "12.6"
    minor = record.decided("minor_compat")
    assert minor is not None and minor.value == "used"
    assert record.decided("no-such-key") is None
    assert record.decisions[0] == RecordedDecision("target", record.planned_for, "--driver names another machine")


def test_the_host_is_exactly_the_scaffold_facts_json() -> None:
    # The record's typed host must not drop or reorder a field of the facts the plan was made from.
    data = json.loads(_planned_text())
    assert data["host"] == A100.to_json()
    assert list(data["host"]) == list(A100.to_json())
    assert list(data) == ["schema", "schema_version", "envcheck_version", "data_version", "created", "name",
                          "package", "planned_for", "planned_driver", "host", "torch", "variant", "cuda", "decisions"]


def _valid() -> dict[str, object]:
    data = json.loads(_planned_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"schema": "other"}, "is not an envcheck project record"),
        ({"schema_version": 2}, "was written by a newer envcheck (schema_version 2; this one reads 1): upgrade"),
        ({"schema_version": "1"}, "schema_version must be a positive integer, not str"),
        ({"name": 7}, "is not a valid envcheck project record: name must be a string, not int"),
        ({"name": None}, "name must be a string, not null"),
        ({"cuda": ["12.1"]}, "cuda must be a string or null, not list"),
        ({"host": "gpu"}, "host must be an object, not str"),
        ({"host": {"driver": 535, "python": "3.11", "notes": []}}, "host.driver must be a string or null, not int"),
        ({"decisions": {}}, "decisions must be a list, not dict"),
        ({"decisions": [{"key": "a", "value": 1, "reason": ""}]}, "decisions[0].value must be a string, not int"),
        ({"decisions": ["a"]}, "decisions[0] must be an object, not str"),
    ],
)
def test_wrong_types_are_a_reason_naming_the_field(tmp_path: Path, change: dict[str, object], reason: str) -> None:
    path = _write(tmp_path, json.dumps({**_valid(), **change}).encode())
    got = read_record(path)
    assert isinstance(got, UnreadableRecord)
    assert got.reason.startswith(f"{path} ") and reason in got.reason


def test_a_missing_field_is_named_missing(tmp_path: Path) -> None:
    data = _valid()
    del data["package"]
    got = read_record(_write(tmp_path, json.dumps(data).encode()))
    assert isinstance(got, UnreadableRecord) and got.reason.endswith("package must be a string, not missing")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "could not read"),
        (b"[]", "is not an envcheck project record"),
        (b'{"schema": "envcheck.project", "name": "\xff"}', "could not read"),  # not UTF-8
        (b"[" * 200_000 + b"]" * 200_000, "could not read"),  # nesting deeper than the parser's recursion limit
        (b" " * (MAX_RECORD_BYTES + 1), f"is larger than {MAX_RECORD_BYTES // 1024} KiB"),
    ],
)
def test_bytes_that_are_not_a_record_are_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    path = _write(tmp_path, data)
    got = read_record(path)
    assert isinstance(got, UnreadableRecord) and reason in got.reason and str(path) in got.reason


def test_a_fifo_a_folder_or_nothing_there_is_a_reason_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert read_record(fifo) == UnreadableRecord(f"{fifo} is not a regular file")
    assert read_record(tmp_path) == UnreadableRecord(f"{tmp_path} is not a regular file")
    missing = read_record(tmp_path / "absent.json")
    assert isinstance(missing, UnreadableRecord) and missing.reason.startswith(f"could not read {tmp_path}/absent")


def test_unknown_keys_are_ignored_so_adding_a_field_is_free(tmp_path: Path) -> None:
    got = read_record(_write(tmp_path, json.dumps({**_valid(), "new_field": [1, 2]}).encode()))
    assert isinstance(got, ProjectRecord) and got.host == RecordedHost.from_json(A100.to_json())
