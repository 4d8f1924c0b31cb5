"""The fleet page (envcheck.fleet.html) in a real headless Chromium (Debian's `chromium`, installed by scripts/test):
a screenshot taken, and the grid read back from the DOM Chromium dumps after the page's script ran.

Inputs: the real `envcheck doctor --json --host H --group G` on this machine, once per group, and copies edited as
other servers' reports (tests/helpers/host_reports.py): one with a failing check whose observed value is a script
tag, one host named with shell and HTML characters, and a host-error record as `envcheck fleet` writes it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers.host_reports import GPU_FACTS, edited, host_error, run_doctor, write

from envcheck.fleet.html import render_html, script_json
from envcheck.fleet.merge import FleetView, merge_paths

CHROMIUM_TIMEOUT_S = 60.0
SCRIPT = "<script>alert(1)</script>"
ODD_HOST = "cpu-$(reboot)<b>&'x'"


class _Dom(HTMLParser):
    """The grid's rows (host, outcome, hidden, {subject: cell text}) and every element's tag, from dumped HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, object]] = []
        self.tags: list[str] = []
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "tr" and "host-row" in (found.get("class") or ""):
            self.rows.append({"host": found["data-host"], "outcome": found["data-outcome"],
                              "hidden": "hidden" in found, "cells": {}})
        elif tag == "td" and found.get("data-subject") and self.rows:
            self._cell = found["data-subject"]
            self.rows[-1]["cells"][self._cell] = ""  # type: ignore[index]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self.rows[-1]["cells"][self._cell] += data.strip()  # type: ignore[index]


def _chromium(*args: str, profile: Path) -> str:
    """Run headless Chromium with ``args``; its stdout. Killed with its whole process group at the timeout."""
    binary = shutil.which("chromium")
    assert binary is not None, "chromium is not on PATH: scripts/test installs Debian's chromium package"
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
            "--no-first-run", "--disable-extensions", *args]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             start_new_session=True)
    try:
        out, _ = child.communicate(timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise
    assert child.returncode == 0, f"chromium exited {child.returncode}"
    return out


@pytest.fixture
def page(tmp_path: Path) -> tuple[Path, FleetView]:
    reports = tmp_path / "reports"
    reports.mkdir()
    lab_a = run_doctor("gpu-01", ("lab-a",))
    write(reports, "gpu-01.json", edited(lab_a, host="gpu-01", facts=GPU_FACTS))
    write(reports, "gpu-02.json", edited(lab_a, host="gpu-02", facts={**GPU_FACTS, "driver": "535.161.08"},
                                         fail="host.kernel", observed=SCRIPT, fix="sudo reboot"))
    write(reports, "gpu-03.json", edited(lab_a, host="gpu-03", facts=GPU_FACTS))
    write(reports, "cpu.json", edited(run_doctor("cpu-01", ("lab-b",)), host=ODD_HOST))
    write(reports, "gpu-04.json", host_error("gpu-04", "unreachable", "ssh: connection refused", ["lab-a"]))
    view = merge_paths([str(reports)])
    path = tmp_path / "fleet.html"
    path.write_text(render_html(view, time="2026-12-02T00:00:00+00:00"), encoding="utf-8")
    return path, view


def _dom(path: Path, fragment: str, profile: Path) -> _Dom:
    dom = _Dom()
    dom.feed(_chromium("--dump-dom", path.as_uri() + fragment, profile=profile))
    return dom


def test_screenshot_is_a_png_of_the_window_size(page: tuple[Path, FleetView], tmp_path: Path) -> None:
    shot = tmp_path / "fleet.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,900", page[0].as_uri(), profile=tmp_path / "profile")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR" and struct.unpack(">II", data[16:24]) == (1280, 900)


def test_the_grid_reads_back_from_the_rendered_dom(page: tuple[Path, FleetView], tmp_path: Path) -> None:
    path, view = page
    dom = _dom(path, "", tmp_path / "profile")
    assert [row["host"] for row in dom.rows] == [h.name for h in view.hosts]
    assert [row["outcome"] for row in dom.rows] == ["warn", "warn", "failed", "warn", "unreachable"]
    assert not any(row["hidden"] for row in dom.rows)
    symbols = {"pass": "✓", "warn": "!", "fail": "✗", "unknown": "?", "skip": "-"}
    for row, host in zip(dom.rows, view.hosts, strict=True):
        expected = {} if host.report is None else {
            s: symbols[host.cell(s).value] if host.cell(s) else "" for s in view.subjects()}  # type: ignore[union-attr]
        assert row["cells"] == expected
    assert dom.rows[2]["cells"]["host"] == "✗"  # type: ignore[index]


def test_report_texts_stay_text(page: tuple[Path, FleetView], tmp_path: Path) -> None:
    path, _view = page
    source = path.read_text(encoding="utf-8")
    dumped = _chromium("--dump-dom", path.as_uri(), profile=tmp_path / "profile")
    dom = _Dom()
    dom.feed(dumped)
    assert dom.tags.count("script") == 2  # the page's own: its counts (JSON) and its filter code
    assert "b" not in dom.tags  # the host named "...<b>..." made no element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dumped and SCRIPT not in dumped
    assert ODD_HOST not in source and "cpu-$(reboot)&lt;b&gt;&amp;&#x27;x&#x27;" in source
    # Nothing is fetched: no src or external href, and a policy that forbids it anyway.
    assert re.search(r"\ssrc=|href=\"(?!#)", source) is None
    assert '<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;;' in source


def test_filters_come_from_the_fragment(page: tuple[Path, FleetView], tmp_path: Path) -> None:
    path, _view = page
    visible = {fragment: [row["host"] for row in _dom(path, fragment, tmp_path / "profile").rows if not row["hidden"]]
               for fragment in ("#outcome=fail", "#group=lab-b", "#outcome=warn,unreachable&group=lab-a")}
    assert visible == {"#outcome=fail": ["gpu-02"], "#group=lab-b": [ODD_HOST],
                       "#outcome=warn,unreachable&group=lab-a": ["gpu-01", "gpu-03", "gpu-04"]}


def test_script_json_cannot_end_its_element() -> None:
    text = script_json({"observed": "</script><!-- & \u2028\u2029"})
    assert text == '{"observed": "\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028\\u2029"}'
