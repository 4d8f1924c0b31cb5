"""What a person sees from the real `envcheck` process: colour through pipes and terminals, lines wrapped to the
terminal's width, whole command descriptions in --help, where --junit wrote, and the smoke header first."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path
from xml.etree import ElementTree

import pytest
from helpers.terminal_helpers import in_terminal

ENVCHECK = str(Path(sys.executable).with_name("envcheck"))
ESC = "\x1b["


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A home without a git identity (git.identity warns, with a long reason and a two-line fix), and none of the
    colour variables of whoever runs the tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")}
    return {**env, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "TERM": "xterm", **extra}


def _piped(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENVCHECK, *args], capture_output=True, text=True, env=env, timeout=120)


def _in_terminal(*args: str, env: dict[str, str], columns: int = 80) -> str:
    """What `envcheck args` writes to a real terminal (a pty ``columns`` wide), escape sequences kept."""
    return in_terminal([ENVCHECK, *args], env, columns)[1]


@pytest.mark.parametrize(("args", "extra", "coloured"), [
    (["--color"], {}, True),  # through a pipe (| less -R, a CI log): an explicit --color colours
    (["--color"], {"NO_COLOR": "1"}, True),  # and wins over NO_COLOR
    ([], {"FORCE_COLOR": "1"}, True),
    ([], {"FORCE_COLOR": "0"}, False),
    (["--no-color"], {"FORCE_COLOR": "1"}, False),
    ([], {}, False),  # a pipe by default
])
def test_colour_through_a_pipe(tmp_path: Path, args: list[str], extra: dict[str, str], coloured: bool) -> None:
    done = _piped("doctor", "--only", "git", *args, env=_env(tmp_path, **extra))
    assert done.returncode == 0, done.stderr
    assert (ESC in done.stdout) is coloured
    assert "[!] git" in re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)


@pytest.mark.parametrize(("extra", "coloured"), [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)])
def test_colour_on_a_terminal(tmp_path: Path, extra: dict[str, str], coloured: bool) -> None:
    shown = _in_terminal("doctor", "--only", "git", env=_env(tmp_path, **extra))
    assert "git.identity" in shown and (f"{ESC}33m[!]" in shown) is coloured


@pytest.mark.parametrize("columns", [80, 120])
def test_long_lines_wrap_under_their_label_at_the_terminal_width(tmp_path: Path, columns: int) -> None:
    shown = _in_terminal("doctor", "--only", "git", "--no-color", env=_env(tmp_path), columns=columns)
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= columns
    why = next(i for i, line in enumerate(lines) if line.startswith("        why:      git refuses to commit"))
    assert re.fullmatch(r" {18}\S.*", lines[why + 1])  # the rest of the reason, under its first line
    assert f"{lines[why][18:]} {lines[why + 1].strip()}".startswith(
        "git refuses to commit without an identity (none in any config file git reads, nor in GIT_AUTHOR_NAME")
    # The two commands of the fix stay whole, one a line.
    assert '        fix:      git config --global user.name "Your Name"' in lines
    assert '                  git config --global user.email "you@example.com"' in lines


def test_not_a_terminal_lays_out_in_80_columns_unless_columns_says(tmp_path: Path) -> None:
    narrow = _piped("doctor", "--only", "git", env=_env(tmp_path)).stdout.splitlines()
    assert max(len(line) for line in narrow) <= 80 and any(line.startswith(" " * 18) for line in narrow)
    wide = _piped("doctor", "--only", "git", env=_env(tmp_path, COLUMNS="200")).stdout
    assert ("        why:      git refuses to commit without an identity (none in any config file git reads, nor in "
            "GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL)\n") in wide


@pytest.mark.parametrize("columns", ["80", "120"])
def test_help_lists_every_command_with_its_whole_description(tmp_path: Path, columns: str) -> None:
    shown = _piped("--help", env=_env(tmp_path, COLUMNS=columns)).stdout
    listing = " ".join(shown.split("Commands:")[1].split())
    for line in (
        "doctor Check this machine: host, Python, git, conda, Jupyter, Docker, NVIDIA GPUs.",
        "generate Write one file of a scaffolded project into an existing folder, with the same decisions.",
        "scaffold Create a PyTorch project at PATH that fits this machine (or --driver's); never prompts.",
        "smoke Train a small MLP with PyTorch in the named environment, on the CPU and every GPU, step by step.",
        "verify Build a scaffolded project's images with the local Docker engine and run the smoke test inside them.",
    ):
        assert line in listing
    assert "..." not in shown.split("Commands:")[1]
    if columns == "120":  # a wide terminal fits each on one line
        assert "  doctor    Check this machine: host, Python, git, conda, Jupyter, Docker, NVIDIA GPUs.\n" in shown


def test_junit_says_where_it_wrote_on_stderr_and_a_warning_carries_its_reason(tmp_path: Path) -> None:
    written = tmp_path / "report.xml"
    done = _piped("doctor", "--only", "git", "--json", "--junit", str(written), env=_env(tmp_path))
    assert done.returncode == 0
    assert json.loads(done.stdout)["command"] == "doctor"  # stdout is the JSON document alone
    assert done.stderr == f"envcheck: wrote the JUnit report to {written}\n"
    suite = ElementTree.fromstring(written.read_text())
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")  # a warning stays a pass
    (identity,) = [case for case in suite if case.get("name") == "git.identity"]
    properties = {p.get("name"): p.get("value") for p in identity.iter("property")}
    assert properties["envcheck.status"] == "warn"
    assert properties["envcheck.reason"].startswith("git refuses to commit without an identity")
    assert properties["envcheck.fix"].startswith('git config --global user.name "Your Name"\n')
    assert (identity.findtext("system-out") or "").startswith("warning: git refuses to commit without an identity")


def test_generate_counts_one_file_in_the_singular(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    done = _piped("generate", "environment", str(folder), "--cuda", "cpu", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"Wrote 1 file into {folder}." in done.stdout


def test_smoke_header_comes_before_its_progress_and_the_first_line_says_what_runs(tmp_path: Path) -> None:
    bare = tmp_path / "bare"  # an interpreter without torch: the run ends at smoke.import-torch, in seconds
    venv.create(bare, with_pip=False)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _in_terminal("smoke", "--python", str(bare / "bin" / "python"),
                                                                env=_env(tmp_path)))
    header = shown.index("envcheck smoke on ")
    assert shown.count("envcheck smoke on ") == 1  # the report after the progress does not repeat it
    assert header < shown.index("smoke: starting the target interpreter ...") < shown.index("smoke: Python ")
    assert shown.index("smoke: Python ") < shown.index("smoke: importing torch ...")
    assert shown.index("error smoke.import-torch") < shown.index("[✗] smoke")
