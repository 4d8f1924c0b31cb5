"""The command line as a user meets it: real processes, real exit codes (README's table)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

GIT = shutil.which("git")


def envcheck(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envcheck", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def _home(tmp_path: Path, *, identity: bool, path: str | None = None) -> dict[str, str]:
    env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    if path is not None:
        env["PATH"] = path
    if identity:
        assert GIT
        subprocess.run([GIT, "config", "--global", "user.name", "Ada"], env=env, check=True)
        subprocess.run([GIT, "config", "--global", "user.email", "ada@example.org"], env=env, check=True)
    return env


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_exit_0_when_nothing_failed(tmp_path: Path) -> None:
    done = envcheck("doctor", "--only", "git", env=_home(tmp_path, identity=True))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[✓] git" in done.stdout
    assert "No problems found" in done.stdout


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_warning_is_exit_0_and_strict_makes_it_1(tmp_path: Path) -> None:
    env = _home(tmp_path, identity=False)
    assert envcheck("doctor", "--only", "git.identity,git.installed", env=env).returncode == 0
    strict = envcheck("doctor", "--only", "git", "--strict", env=env)
    assert strict.returncode == 1
    assert 'git config --global user.name "Your Name"' in strict.stdout


def test_exit_1_when_something_failed(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = envcheck("doctor", "--only", "git", env=_home(tmp_path, identity=False, path=str(empty)))
    assert done.returncode == 1
    assert "sudo apt-get install -y git" in done.stdout


def test_exit_3_when_something_could_not_be_checked(tmp_path: Path) -> None:
    # A real `git` that never answers: the probe's deadline turns it into "unknown", never "pass".
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "git"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    done = envcheck("doctor", "--only", "git", "--timeout", "0.5", "--json",
                    env=_home(tmp_path, identity=False, path=f"{bindir}:/usr/bin:/bin"))
    assert done.returncode == 3, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["exit_code"] == 3 and data["overall"] == "unknown"
    assert data["results"][0]["status"] == "unknown"
    assert "did not finish" in data["results"][0]["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doctor", "--only", "nonexistent"], "no check or subject named 'nonexistent'"),
        (["doctor", "--json", "--share"], "choose one"),
        (["doctor", "--timeout", "-1"], "Invalid value for '--timeout'"),
        (["doctor", "--bogus"], "No such option"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    done = envcheck(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    if "--json" in args:  # --json means JSON on stdout, for an error too: the error envelope
        error = "--json and --share each print the report their own way: choose one"
        assert json.loads(done.stdout) == {"schema": "envcheck.error", "schema_version": 1, "error": error,
                                           "exit_code": 2}
    else:
        assert done.stdout == ""


def test_bad_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("python_min: '3.10'\nram_min_gib: lots\n")
    done = envcheck("doctor", "--policy", str(policy))
    assert done.returncode == 2
    assert done.stderr == "envcheck: error: policy: ram_min_gib must be a number from 0 to 1048576 (GiB), got 'lots'\n"
    unknown = tmp_path / "p.json"
    unknown.write_text('{"no_such_key": 1}')
    assert "unknown key 'no_such_key'" in envcheck("doctor", "--policy", str(unknown)).stderr
    assert "cannot read" in envcheck("doctor", "--policy", str(tmp_path / "missing.yaml")).stderr


def test_policy_file_changes_a_threshold(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("probe_timeout_s: 0.5\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "git").write_text("#!/bin/sh\nsleep 30\n")
    (bindir / "git").chmod(0o755)
    env = _home(tmp_path, identity=False, path=f"{bindir}:/usr/bin:/bin")
    done = envcheck("doctor", "--only", "git", "--policy", str(policy), "--json", env=env)
    assert json.loads(done.stdout)["results"][0]["reason"].endswith("did not finish within 0.5 s")


def test_list_prints_every_id_with_its_title() -> None:
    from envcheck.checks import CHECKS
    from envcheck.policy import default_policy

    done = envcheck("doctor", "--list")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    # The policy's requirement checks (gpu.count, ...) are listed only where a policy states them.
    listed = [check for check in CHECKS if check.applies_to(default_policy())]
    assert len(lines) == len(listed)
    for line, check in zip(lines, listed, strict=True):
        assert line.split()[0] == check.id
        assert line.endswith(check.title)
    assert len({c.id for c in CHECKS}) == len(CHECKS), "check ids must be unique"


def test_check_ids_are_stable_kebab_case() -> None:
    import re

    from envcheck.checks import CHECKS

    for check in CHECKS:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*", check.id), check.id


def test_a_check_id_says_where_its_judge_and_its_probe_are_defined() -> None:
    # From `gpu.temperature` a newcomer opens envcheck/checks/gpu.py (or a split of it, checks/gpu_*.py) for the
    # verdict and envcheck/probes/gpu.py (or probes/gpu_*.py) for the facts. Every subject uses its own probe
    # today; a subject that came to judge another subject's facts would be named here, with the reason.
    import inspect
    import re
    from collections.abc import Callable

    from envcheck.checks import CHECKS
    from envcheck.probes import PROBES

    root = Path(__file__).resolve().parents[2]

    def where(function: Callable[..., object]) -> str:
        return Path(inspect.getsourcefile(function) or "").resolve().relative_to(root).as_posix()

    misplaced = []
    for check in CHECKS:
        subject = check.id.split(".")[0]
        for kind, function in (("checks", check.judge), ("probes", PROBES[check.probe].collect)):
            path = where(function)
            if not re.fullmatch(rf"envcheck/{kind}/{subject}(_[a-z0-9_]+)?\.py", path):
                misplaced.append(f"{check.id}: {kind[:-1]} {function.__qualname__} is in {path}")
    assert misplaced == [], "; ".join(misplaced)


def test_json_prints_only_the_envelope() -> None:
    done = envcheck("doctor", "--json")
    data = json.loads(done.stdout)
    assert data["schema"] == "envcheck.report"
    assert data["exit_code"] == done.returncode


def test_share_masks_home_and_secret_env_values(tmp_path: Path) -> None:
    env = _home(tmp_path, identity=False)
    env["HF_TOKEN"] = "hf_" + "x" * 30
    done = envcheck("doctor", "--share", env=env)
    assert done.stdout.startswith("### envcheck doctor report")
    assert "hf_xxxx" not in done.stdout
    assert str(tmp_path) not in done.stdout


def test_version_and_python_m() -> None:
    done = envcheck("--version")
    assert done.returncode == 0 and "envcheck, version" in done.stdout


def test_python_option_judges_that_interpreter(tmp_path: Path) -> None:
    import venv

    target = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(target)
    done = envcheck("doctor", "--only", "python", "--python", str(target / "bin" / "python"), "--json")
    results = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    assert str(target) in results["python.environment"]["observed"]
    missing = envcheck("doctor", "--python", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not an executable file" in missing.stderr


def test_junit_to_a_missing_folder_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    done = envcheck("doctor", "--only", "git", "--junit", str(tmp_path / "no" / "report.xml"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"folder {tmp_path / 'no'} does not exist" in done.stderr and done.stdout == ""
    written = tmp_path / "report.xml"
    # An empty PATH: no git, so git.installed fails (exit 1) and its failure reaches the file.
    empty = tmp_path / "bin"
    empty.mkdir()
    no_git = _home(tmp_path, identity=False, path=str(empty))
    assert envcheck("doctor", "--only", "git", "--junit", str(written), env=no_git).returncode == 1
    suite = ElementTree.fromstring(written.read_text())
    assert (suite.tag, suite.get("name"), suite.get("failures"), suite.get("errors")) == (
        "testsuite", "envcheck.doctor", "1", "1")
    # git.installed fails; git.identity, blocked by it, could not be checked (JUnit's "error").
    assert [(case.get("name"), [(child.tag, child.get("type")) for child in case])
            for case in suite.iter("testcase")] == [
        ("git.installed", [("failure", "fail")]), ("git.identity", [("error", "unknown")])]


@pytest.mark.parametrize("command", [["smoke", "--python", "/nonexistent/python3"], ["verify", "."]])
def test_every_command_with_junit_checks_it_before_its_own_work(tmp_path: Path, command: list[str]) -> None:
    # smoke would first find that the interpreter is missing, verify that "." is no scaffolded project: the
    # --junit message instead shows the file was checked before either started.
    done = envcheck(*command, "--junit", str(tmp_path / "no" / "report.xml"))
    assert done.returncode == 2 and done.stdout == ""
    assert f"--junit {tmp_path / 'no' / 'report.xml'}: folder {tmp_path / 'no'} does not exist" in done.stderr
    both = envcheck(*command, "--json", "--share")
    assert both.returncode == 2 and "--json and --share each print the report their own way: choose one" in both.stderr


def test_the_report_options_are_the_same_on_every_reporting_command() -> None:
    from envcheck.cli import cli

    def report_params(name: str) -> list[tuple[str | None, tuple[str, ...], str | None]]:
        command = cli.commands[name]
        wanted = {"as_json", "share", "junit", "verbose", "color"}
        return sorted((p.name, tuple(p.opts + p.secondary_opts), getattr(p, "help", None))
                      for p in command.params if p.name in wanted)

    doctor = report_params("doctor")
    assert [name for name, _, _ in doctor] == ["as_json", "color", "junit", "share", "verbose"]
    assert report_params("smoke") == doctor and report_params("verify") == doctor


def test_only_and_skip_that_leave_nothing_and_list_with_a_selection() -> None:
    done = envcheck("doctor", "--only", "git", "--skip", "git")
    assert done.returncode == 2 and "leaves no check to run" in done.stderr and done.stdout == ""
    listed = envcheck("doctor", "--list", "--only", "git", "--skip", "git.identity")
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == ["git.installed"]


def _readme_table(heading: str) -> list[list[str]]:
    """The rows of the first markdown table after ``heading`` in README.md, cells stripped."""
    text = (Path(__file__).parents[2] / "README.md").read_text()
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_readme_json_table_names_exactly_the_envelope_and_result_fields() -> None:
    import re

    from envcheck.model import Outcome, Report, Result, Status
    from envcheck.report.jsonreport import envelope

    data = envelope(Report("doctor", "h", "t", 0.1, (Result("a.b", "t", Outcome(status=Status.PASS)),)))
    rows = _readme_table("### The JSON report")
    assert [row[0].strip("`") for row in rows] == list(data)
    results_row = next(row for row in rows if row[0] == "`results`")
    documented = re.findall(r"`([a-z_]+)`", results_row[1].split(":", 1)[1])
    assert documented == list(data["results"][0])


def test_readme_exit_code_table_matches_the_code() -> None:
    from envcheck.model import (
        EXIT_BROKEN_PIPE,
        EXIT_FAILED,
        EXIT_OK,
        EXIT_OUTPUT,
        EXIT_UNKNOWN,
        EXIT_UNREACHABLE,
        EXIT_USAGE,
    )

    codes = [int(row[0]) for row in _readme_table("### Exit codes")]
    assert codes == [EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNKNOWN, EXIT_OUTPUT, EXIT_UNREACHABLE, EXIT_BROKEN_PIPE]


def test_readme_error_envelope_table_names_exactly_its_fields() -> None:
    from envcheck.output import error_envelope

    rows = _readme_table("### The error envelope")
    assert [row[0].strip("`") for row in rows] == list(json.loads(error_envelope("m", 2)))
