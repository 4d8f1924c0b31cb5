"""The texts of per-host files as the merge keeps them (envcheck.fleet.hosttext): stripped, cut, masked, each
distinct text cleaned once and shared by every host that has it; evidence nested too deeply is refused after every
other field was checked, as it was when the whole report was walked last."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from helpers.host_reports import run_doctor, write

from envcheck.fleet.hostreport import BadFile, read_host_file
from envcheck.fleet.hosttext import TOO_DEEP, Texts, clean, clean_evidence
from envcheck.model import Report

TOKEN = "ghp_" + "a1B2" * 9


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth):
        value = {"d": value}
    return value


def test_a_text_is_stripped_cut_and_masked_in_that_order() -> None:
    assert clean(f"\x1b[31mred\x1b[0m\r\n{TOKEN}", masked=True) == "red ***"
    assert clean(f"abc {TOKEN}", 6, masked=True) == "abc gh"  # cut first: what is left is no token
    assert clean(f"fix\r\n{TOKEN}", multi_line=True) == f"fix\n{TOKEN}"  # not masked unless asked


def test_evidence_texts_and_keys_are_stripped_keeping_line_breaks_and_masked() -> None:
    raw = {"url": "https://ada:s3cr3t-pw@example.org/x", f"id\x1b[1m {TOKEN}": ["a\r\nb", 1, 2.5, None, True]}
    assert clean_evidence(raw) == {"url": "https://***@example.org/x", "id ***": ["a\nb", 1, 2.5, None, True]}


def test_evidence_keys_that_read_the_same_keep_the_value_strip_then_mask_keeps() -> None:
    # Stripping joins the first and last key (the last value in the first place), masking then joins that with
    # "***": the later of the two in that order wins, 2, where one step over the file's order would keep 3.
    assert clean_evidence({f"{TOKEN}\x00": 1, "***": 2, TOKEN: 3}) == {"***": 2}
    assert clean_evidence({"a\x00": 1, "b": 2, "a": 3}) == {"a": 3, "b": 2}


def test_evidence_nested_too_deeply_to_walk_is_marked() -> None:
    assert clean_evidence(_nested(2_000)) is TOO_DEEP


def test_hosts_share_one_string_for_each_text_they_have_alike(tmp_path: Path) -> None:
    document = run_doctor("gpu-01", ("lab",))
    first = read_host_file(str(write(tmp_path, "a.json", document)))
    second = read_host_file(str(write(tmp_path, "b.json", document)))
    assert isinstance(first, Report) and isinstance(second, Report)
    assert [a.title is b.title and a.fix is b.fix for a, b in zip(first.results, second.results, strict=True)] == [
        True] * len(first.results)


def test_past_its_budget_the_memo_starts_over_and_still_cleans() -> None:
    texts = Texts(budget_chars=64)
    cleaned = [texts.clean(f"text {n}\x00", masked=True) for n in range(100)]
    assert cleaned == [f"text {n}" for n in range(100)]
    assert texts.clean("y" * 100) == "y" * 100  # longer than an eighth of the budget: cleaned, not kept


def test_deep_evidence_is_refused_but_an_earlier_problem_of_the_file_is_named_first(tmp_path: Path) -> None:
    document = copy.deepcopy(run_doctor("gpu-01", ("lab",)))
    document["results"][0]["evidence"] = _nested(2_000 // 3)
    with pytest.raises(BadFile) as caught:
        read_host_file(str(write(tmp_path, "deep.json", document)))
    assert str(caught.value) == "not a report: its evidence is nested too deeply"
    document["results"][3]["status"] = "bogus"
    with pytest.raises(BadFile) as caught:
        read_host_file(str(write(tmp_path, "deep-and-bad.json", document)))
    assert str(caught.value) == "results[3].status must be one of pass, warn, fail, unknown, skip, not 'bogus'"
