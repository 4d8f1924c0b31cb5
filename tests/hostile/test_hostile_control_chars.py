"""Control characters from outside (a cloned project's .envcheck/project.json, a device name, a path) never reach
a terminal or markdown raw, JUnit is always well-formed XML written whole, and JSON stays valid JSON that keeps
the data (escaped, not stripped)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envcheck.model import Outcome, Report, Result, Status
from envcheck.project_record import RECORD_PATH
from envcheck.report.jsonreport import render_json
from envcheck.report.junit import render_junit, write_junit
from envcheck.report.markdown import render_markdown
from envcheck.report.safetext import printable, xml_text
from envcheck.report.terminal import render_terminal

# What a terminal must never get from outside: C0 but tab and newline, DEL, C1, and the bidi overrides/isolates.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
FAKE = "\r\x1b[2K\x1b]0;owned\x07\x1b]8;;http://evil.example\x1b\\[✓] all good\x9b31m\u202eevil\x00"


def report_with(text: str) -> Report:
    outcome = Outcome(status=Status.FAIL, observed=text, expected=text, reason=text, fix=f"echo {text}\necho 2",
                      item=text, evidence={"v": text, text: [text]})
    return Report("doctor", text, "2026-11-27T12:00:00+00:00", 0.5, (Result("project.drift", text, outcome),))


@pytest.mark.parametrize(("text", "shown"), [
    ("a\x1b[31mred\x1b[0m", "ared"),
    ("title\x1b]0;owned\x07 after", "title after"),
    ("link\x1b]8;;http://x\x1b\\text\x1b]8;;\x1b\\", "linktext"),
    ("bad\r[✓] all good", "bad [✓] all good"),
    ("a\x00b\x7fc\x85d\x9b1me", "abc de"),
    ("tab\tkept\u202eevil\u2066", "tab\tkeptevil"),
    ("lone \udcff byte", "lone \ufffd byte"),
    ("open \x1b]0;no end\nnext", "open  next"),
])
def test_printable_strips_sequences_and_controls(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_multi_line_field_keeps_its_lines_and_folds_carriage_returns() -> None:
    assert printable("one\r\ntwo\rthree\x1b[1m", multi_line=True) == "one\ntwo\nthree"


def test_xml_text_keeps_exactly_what_xml_allows_of_every_code_point() -> None:
    # XML 1.0's Char production, https://www.w3.org/TR/xml/#charsets; lone surrogates become U+FFFD.
    def allowed(c: int) -> bool:
        return c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or 0x10000 <= c <= 0x10FFFF

    every = "".join(map(chr, range(0x110000)))
    expected = "".join(chr(c) if allowed(c) else "\ufffd" for c in range(0x110000)
                       if allowed(c) or 0xD800 <= c <= 0xDFFF)
    assert xml_text(every) == expected


HOSTILE = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF,
                                         categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Lu", "Ll", "Nd", "Po", "Zs")),
                  max_size=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(HOSTILE, st.sampled_from([FAKE, "\x1b", "\x9d0;t\x9c", "\ufffe\uffff", "\ud800x"])))
def test_every_rendering_of_any_string_is_safe_and_parses(text: str) -> None:
    report = report_with(text)
    for shown in (render_terminal(report, verbose=True), render_markdown(report, masked="m")):
        assert not UNSAFE.search(shown), ascii(shown)
        shown.encode("utf-8")  # what click.echo does: no surrogate left to fail on
    coloured = render_terminal(report, color=True)
    # The only escapes left are envcheck's own colours.
    assert not UNSAFE.search(re.sub(r"\x1b\[[0-9;]*m", "", coloured))
    root = ET.fromstring(render_junit(report).encode("utf-8"))
    assert root.find("testcase") is not None
    # JSON keeps the data: the same string comes back, lone surrogates (undecodable bytes) as U+FFFD.
    data = json.loads(render_json(report))
    assert data["results"][0]["observed"] == re.sub(r"[\ud800-\udfff]", "\ufffd", text)


def test_junit_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.xml"
    write_junit(report_with("ok \udcff \x1b[31m"), str(path))
    before = path.read_bytes()
    ET.fromstring(before)
    assert os.stat(path).st_mode & 0o777 == 0o644
    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_junit(report_with("second"), str(path))
    assert path.read_bytes() == before  # the old report, not a truncated one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xml"]  # and no temporary file left behind


def test_doctor_with_a_hostile_project_record(tmp_path: Path) -> None:
    """A cloned project whose record names a planned driver and GPU with escapes: doctor's real outputs."""
    from envcheck.scaffold.decide import Request
    from envcheck.scaffold.facts import PlanFacts
    from envcheck.scaffold.plan import plan_project

    facts = PlanFacts(driver="535.104.05", cuda="12.2", capability=(8, 0), gpu_name="NVIDIA A100-SXM4-80GB",
                      ubuntu="22.04", python="3.11", notes=())
    text = plan_project(str(tmp_path), Request(name="lab", package="lab"), facts,
                        created="2026-11-27T12:00:00+00:00").files[RECORD_PATH]
    record = json.loads(text)
    record["host"]["driver"] = "535" + FAKE
    record["host"]["gpu_name"] = "A100\x1b]0;title\x07\udcff"
    (tmp_path / ".envcheck").mkdir()
    (tmp_path / RECORD_PATH).write_text(json.dumps(record), "utf-8")
    junit = tmp_path / "r.xml"
    env = {**os.environ, "NO_COLOR": "1"}
    outputs = {}
    for name, flags in (("terminal", ["-v", "--junit", str(junit)]), ("json", ["--json"]), ("share", ["--share"])):
        done = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--only", "project", *flags],
                              capture_output=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode in (0, 1, 3), done.stderr
        outputs[name] = done.stdout.decode("utf-8")
    for name in ("terminal", "share"):
        assert not UNSAFE.search(outputs[name]), ascii(outputs[name])
        # The carriage return is gone, so the fake line stays inside the real one instead of printing over it.
        assert "driver 535 [✓] all goodevil" in outputs[name], outputs[name]
        assert not any(line.startswith("[✓] all good") for line in outputs[name].splitlines())
    result = json.loads(outputs["json"])["results"][0]
    assert result["id"] == "project.drift"
    assert "535" + FAKE in result["expected"]  # the data itself, escaped by json.dumps
    assert "\\u001b" in outputs["json"] and "\x1b" not in outputs["json"]
    root = ET.fromstring(junit.read_bytes())
    assert [case.get("name") for case in root.iter("testcase")] == ["project.drift"]
