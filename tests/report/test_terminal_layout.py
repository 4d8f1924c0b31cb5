"""The terminal report's layout: the smoke figures without -v, lines wrapped under their label to the width,
fix lines that stay pasteable, and outside text that is never taken for markup."""

from __future__ import annotations

import io

import pytest

from envcheck.model import Outcome, Report, Result, Status
from envcheck.report.terminal import render_terminal
from envcheck.report.wrap import comment_start, fix_lines, hanging

TRAIN = {"loss_start": 1.10158, "loss_end": 0.00616, "accuracy": 1.0, "steps": 375, "time_per_step_ms": 40.0}


def _smoke(*results: Result) -> Report:
    return Report("smoke", "vm", "2026-12-01T12:00:00+00:00", 9.0, results)


def _pass(check_id: str, item: str, observed: str, evidence: dict[str, float] | None = None) -> Result:
    return Result(check_id, check_id, Outcome(status=Status.PASS, item=item, observed=observed,
                                              evidence=evidence or {}), duration_s=0.1)


GPU0, GPU1 = "GPU 0 (GPU-5c7e9a1f-2b3d-4c8e-9f01-a2b3c4d5e6f7)", "GPU 1 (GPU-8d1f0b2e-3c4a-4d5b-8e6f-b7c8d9e0f1a2)"
GPU_BENCH = _smoke(
    _pass("smoke.import-torch", "", "torch 2.13.0+cu130 (CUDA 13.0)"),
    _pass("smoke.train", "cpu", "loss 1.102 -> 0.0062 in 375 steps (40.00 ms/step); held-out accuracy 1.000", TRAIN),
    _pass("smoke.train", GPU0, "loss ...", {**TRAIN, "time_per_step_ms": 2.5, "accuracy": 0.99}),
    _pass("smoke.train", GPU1, "loss ...", {**TRAIN, "time_per_step_ms": "<t>"}),  # not a number: its words
    _pass("smoke.bench-matmul", GPU0, "TFLOP/s: fp32 51 (76% of 67), bf16 700 (71% of 989) [H200]"),
    _pass("smoke.bench-memory", GPU0, "device copy 3900 (81% of 4800) GB/s"),
    _pass("smoke.save-load", "cpu", "6 tensors, 20885 bytes; same output after loading: True"),
)


def test_smoke_figures_are_shown_per_device_without_verbose() -> None:
    lines = render_terminal(GPU_BENCH, width=120).splitlines()
    # Grouped by device, as the steps ran on them; a GPU by its index (its UUID is in the details).
    assert lines[3:8] == [
        "    cpu    train: loss 1.102 -> 0.0062, held-out accuracy 1.000, 25.0 steps/s",
        "    GPU 0  train: loss 1.102 -> 0.0062, held-out accuracy 0.990, 400.0 steps/s",
        "           matmul: TFLOP/s: fp32 51 (76% of 67), bf16 700 (71% of 989) [H200]",
        "           memory: device copy 3900 (81% of 4800) GB/s",
        "    GPU 1  train: loss ...",
    ]
    assert lines[8] == ""  # save-load is no figure; a verbose report shows every result in full instead
    assert "steps/s" not in render_terminal(GPU_BENCH, verbose=True)


def test_a_figure_without_its_evidence_falls_back_to_what_was_observed() -> None:
    report = _smoke(_pass("smoke.train", "cpu", "loss 1.1 -> 0.01 in 10 steps (1.00 ms/step); accuracy 1.000"))
    assert "    cpu  train: loss 1.1 -> 0.01 in 10 steps (1.00 ms/step); accuracy 1.000" in render_terminal(report)


WARNED = Report("doctor", "vm", "2026-12-01T12:00:00+00:00", 0.1, (
    Result("git.identity", "git identity set", Outcome(
        status=Status.WARN, observed="user.name and user.email not set", expected="user.name and user.email set",
        reason="git refuses to commit without an identity (none in any config file git reads, nor in "
               "GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL)",
        fix="sudo systemctl restart docker  # dockerd gives its socket to group docker at start, so a new group "
            "takes effect only then\ngit config --global user.name \"Your Name\"")),
))


@pytest.mark.parametrize("width", [80, 120])
def test_reason_lines_wrap_under_their_label_within_the_width(width: int) -> None:
    lines = render_terminal(WARNED, width=width).splitlines()
    assert max(len(line) for line in lines) <= width
    why = next(i for i, line in enumerate(lines) if line.startswith("        why:      git refuses"))
    assert lines[why + 1].startswith(" " * 18) and lines[why + 1][18] != " "
    # Put back together, the wrapped reason is the reason.
    continued = [line.strip() for line in lines[why + 1:] if line.startswith(" " * 18) and "fix:" not in line]
    text = " ".join([lines[why][18:], *continued[:1]])
    assert text.startswith("git refuses to commit without an identity (none in any config file")


def test_a_fix_keeps_its_command_whole_and_moves_the_comment_onto_lines_of_its_own() -> None:
    lines = render_terminal(WARNED, width=80).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("        fix:"))
    assert lines[start:start + 4] == [
        "        fix:      sudo systemctl restart docker",
        "                  # dockerd gives its socket to group docker at start, so a new",
        "                  # group takes effect only then",
        "                  git config --global user.name \"Your Name\"",
    ]
    # 120 columns hold the whole first line: it stays as it was written.
    assert ("        fix:      sudo systemctl restart docker  # dockerd gives its socket to group docker at start, "
            "so a new group takes effect only then") not in render_terminal(WARNED, width=120)  # 139 columns
    assert "                  git config --global user.name \"Your Name\"" in render_terminal(WARNED, width=120)


def test_fix_lines() -> None:
    assert fix_lines("apt-get install -y git", 10) == ["apt-get install -y git"]  # never cut: soft-wrapped instead
    assert fix_lines("echo '# not a comment' && ls  # a comment", 30) == ["echo '# not a comment' && ls", "# a comment"]
    assert fix_lines("# add the repository first: https://example.org/a/long/path", 30) == [
        "# add the repository first:", "# https://example.org/a/long/path"]
    assert fix_lines("Install the NVIDIA driver, then reboot", 20) == ["Install the NVIDIA", "driver, then reboot"]
    assert fix_lines("a\nb", 5) == ["a", "b"]
    assert comment_start("x=a#b # c") == 6 and comment_start('echo "#" x') == -1


def test_hanging() -> None:
    assert hanging("why: ", "one two three", 12) == ["why: one two", "     three"]
    assert hanging("why: ", "", 12) == ["why:"]
    assert hanging("p: ", "/a/very/long/path/that/does/not/fit", 10) == ["p: /a/very/long/path/that/does/not/fit"]


def test_the_subject_line_wraps_under_its_summary() -> None:
    long = _smoke(_pass("smoke.target", "", "--python /opt/x/bin/python: Python 3.11.7 at /opt/x/bin/python " * 2))
    lines = render_terminal(long, width=80).splitlines()
    assert lines[2].startswith("[✓] smoke  --python") and len(lines[2]) <= 80
    assert lines[3].startswith(" " * 11) and lines[3][11] != " "


def test_outside_text_is_printed_literally_never_as_markup() -> None:
    report = _smoke(_pass("smoke.target", "", "[red]not red[/red] 3.11 /usr/bin/python"))
    assert "[✓] smoke  [red]not red[/red] 3.11 /usr/bin/python" in render_terminal(report)
    coloured = render_terminal(report, color=True)
    assert "\x1b[31m" not in coloured and "[red]not red[/red] 3.11 /usr/bin/python" in coloured


def test_live_progress_prints_outside_text_literally_and_highlights_nothing() -> None:
    from rich.console import Console

    from envcheck.smoke.progress import LiveProgress

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=100)  # rich's default highlight
    with LiveProgress(console, header="envcheck smoke on vm") as live:
        live({"event": "hello", "version": "3.11.7", "python": "/opt/[red]x[/red]/python\x1b]0;title\x07"})
        live({"event": "start", "step": "train", "item": "cpu"})
        live({"event": "end", "step": "train", "item": "[bold]cpu", "state": "ok", "duration_s": 1.5})
    text = out.getvalue()
    assert "envcheck smoke on vm" in text.split("smoke: starting the target interpreter ...")[0]
    # One dim run, literally: rich's highlighter would split it ("\x1b[1;2;36m3.11"), markup would eat "[red]".
    assert "\x1b[2msmoke: Python 3.11.7 at /opt/[red]x[/red]/python\x1b[0m" in text
    assert "smoke: training a 2-hidden-layer MLP on spirals (cpu) ..." in text
    assert "smoke.train [[bold]cpu] 1.50 s" in text
    assert "title" not in text  # the child's escape sequence (a window title) was stripped
