"""The conda probe against a STAND-IN `conda` executable.

conda cannot be installed or run on this machine or in CI (no conda channel is reachable), so every
test here writes a stand-in: a small shell script named `conda` that prints a recorded
`conda info --json` (tests/data/conda/, see its README for where the recordings' shape comes from),
hangs, or prints garbage. Everything else is real: the subprocess seam, the env folders on disk
(conda-meta records, bin/, site-packages), ~/.conda/environments.txt, the engine and the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.conda_helpers import DATA, SYSTEM_PATH, conda_machine, ctx, write_standin

from envcheck import runner
from envcheck.checks import conda as checks
from envcheck.engine import examine
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.conda import SYSTEM_PREFIXES, collect, locate
from envcheck.units import ProbeContext

TOKEN = "tk-4b1c9e27-5d3a-4f6e-9a8b-0c2d1e3f4a5b"  # raw in anaconda-24.9-defaults-token.json's env_vars


@pytest.fixture
def miniforge(tmp_path: Path) -> Path:
    """~/miniforge3 as the 25.5 recording describes it, with `deleted-exp` left out on purpose."""
    home, _ = conda_machine("miniforge-25.5-active-env", tmp_path)
    return home


def test_locate_prefers_conda_exe_then_path_then_prefixes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    in_prefix = write_standin(home / "miniconda3" / "bin" / "conda", "exit 0")
    on_path = write_standin(tmp_path / "bin" / "conda", "exit 0")
    named = write_standin(tmp_path / "elsewhere" / "conda", "exit 0")
    assert locate({"CONDA_EXE": str(named), "PATH": str(on_path.parent)}, str(home), ())[:2] == (str(named),
                                                                                               "$CONDA_EXE")
    exe, via, _, stale = locate({"CONDA_EXE": str(tmp_path / "moved"), "PATH": str(on_path.parent)}, str(home), ())
    assert (exe, via, stale) == (str(on_path), "PATH", str(tmp_path / "moved"))
    assert locate({"PATH": SYSTEM_PATH}, str(home), ())[:2] == (str(in_prefix), "install prefix")
    exe, via, searched, _ = locate({"PATH": SYSTEM_PATH}, str(tmp_path / "nobody"), ())
    assert exe is None and via == "" and str(tmp_path / "nobody" / "miniforge3" / "bin" / "conda") in searched


def test_replayed_miniforge_envs_active_env_and_stale_entries(miniforge: Path) -> None:
    root = miniforge / "miniforge3"
    facts = collect(ctx(miniforge, {"PATH": f"{root}/envs/torch/bin:{root}/condabin:{SYSTEM_PATH}",
                                    "CONDA_PREFIX": f"{root}/envs/torch", "CONDA_DEFAULT_ENV": "torch"}))
    assert facts.info_error == ""
    assert (facts.exe, facts.found_via, facts.version) == (f"{root}/bin/conda", "install prefix", "25.5.1")
    assert facts.root_prefix == str(root) and facts.solver == "libmamba"
    by_name = {env.name: env for env in facts.envs}
    assert list(by_name) == ["base", "deleted-exp", "old-py38", "torch"]
    assert by_name["base"].python_version == "3.12.10"
    assert (by_name["torch"].python_version, by_name["torch"].torch_version, by_name["torch"].torch_source) == (
        "3.11.11", "2.6.0", "pip")
    assert not by_name["deleted-exp"].exists
    assert facts.environments_txt_stale == (f"{miniforge}/projects/gone-env",)
    assert facts.channels == ("https://conda.anaconda.org/conda-forge/linux-64",
                              "https://conda.anaconda.org/conda-forge/noarch")
    assert facts.tools == ()  # no mamba or micromamba in this install

    policy = default_policy()
    verdicts = {o.item: o for o in checks.envs(facts, policy)}
    assert verdicts["deleted-exp"].status is Status.WARN and "does not exist" in verdicts["deleted-exp"].observed
    assert verdicts["old-py38"].status is Status.WARN and verdicts["old-py38"].expected == "Python >= 3.10"
    assert verdicts["torch"].status is Status.PASS and verdicts["base"].status is Status.PASS
    stale = checks.environments_txt(facts, policy)
    assert stale.status is Status.WARN
    assert stale.fix == f"sed -i '\\|^{miniforge}/projects/gone-env$|d' ~/.conda/environments.txt"
    active = checks.active_env(facts, policy)
    assert active.status is Status.PASS and active.observed == f"torch ({root}/envs/torch)"
    assert checks.channels(facts, policy).observed == "conda-forge"
    assert checks.version(facts, policy).observed == "conda 25.5.1, libmamba solver"


def test_the_suggested_sed_fix_really_removes_only_the_stale_entry(miniforge: Path) -> None:
    facts = collect(ctx(miniforge, {"PATH": SYSTEM_PATH}))
    fix = checks.environments_txt(facts, default_policy()).fix
    subprocess.run(["sh", "-c", fix], env={"HOME": str(miniforge), "PATH": SYSTEM_PATH}, check=True)
    after = collect(ctx(miniforge, {"PATH": SYSTEM_PATH}))
    assert after.environments_txt_stale == ()
    assert len(after.environments_txt_entries) == 2
    assert checks.environments_txt(after, default_policy()).status is Status.PASS


def test_defaults_channel_warns_and_the_token_never_reaches_a_report(tmp_path: Path) -> None:
    home, machine_env = conda_machine("anaconda-24.9-defaults-token", tmp_path)
    conda = machine_env["CONDA_EXE"]
    facts = collect(ctx(home, machine_env))
    assert facts.found_via == "$CONDA_EXE" and facts.version == "24.9.2"
    assert facts.channels[0] == "https://conda.anaconda.org/t/***/acme-private/linux-64"
    verdict = checks.channels(facts, default_policy())
    assert verdict.status is Status.WARN and "defaults" in verdict.observed
    assert verdict.fix == "conda config --add channels conda-forge\nconda config --remove channels defaults"
    assert TOKEN not in repr(facts)

    # Through the real CLI: the JSON report and the --share markdown never hold the raw token.
    env = {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}:{SYSTEM_PATH}", "CONDA_EXE": conda}
    printed = {flag: subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--only", "conda", flag],
                                    env=env, capture_output=True, text=True, timeout=60).stdout
               for flag in ("--json", "--share")}
    (result,) = [r for r in json.loads(printed["--json"])["results"] if r["id"] == "conda.channels"]
    assert (result["observed"], result["evidence"]["channels"]) == (verdict.observed, list(facts.channels))
    assert f"| ! warn | `conda.channels` | {verdict.observed} |" in printed["--share"]  # --share prints no evidence
    for flag, text in printed.items():
        assert TOKEN not in text and "<TOKEN>" not in text, flag


def test_a_front_end_that_prints_the_raw_token_is_redacted_too(tmp_path: Path) -> None:
    # The recording with its masked channel replaced by the raw token, as an older or third-party front end
    # could print it: envcheck's own redaction must catch it (defence in depth).
    home = tmp_path / "home"
    recorded = json.loads((DATA / "anaconda-24.9-defaults-token.json").read_text())
    recorded["channels"] = [c.replace("<TOKEN>", TOKEN) for c in recorded["channels"]]
    recorded["channels"].append("https://alice:s3cret-pass@mirror.example.org/conda/linux-64")
    edited = tmp_path / "raw-token.json"
    edited.write_text(json.dumps(recorded))
    conda = write_standin(tmp_path / "bin" / "conda", f"cat '{edited}'")
    facts = collect(ctx(home, {"PATH": SYSTEM_PATH, "CONDA_EXE": str(conda)}))
    assert TOKEN not in repr(facts) and "s3cret-pass" not in repr(facts)
    assert "https://***@mirror.example.org/conda/linux-64" in facts.channels


def test_cuda_virtual_package_and_the_dead_pytorch_channel(tmp_path: Path) -> None:
    home, machine_env = conda_machine("miniforge-24.11-cuda-pytorch-channel", tmp_path)
    facts = collect(ctx(home, machine_env))
    assert facts.found_via == "PATH"
    policy = default_policy()
    cuda = checks.cuda_virtual_package(facts, policy)
    assert cuda.status is Status.PASS and cuda.observed == "__cuda=12.4"
    torch25 = next(e for e in facts.envs if e.name == "torch25")
    assert (torch25.torch_version, torch25.torch_source) == ("2.5.1", "https://conda.anaconda.org/pytorch/linux-64")
    dead = checks.pytorch_channel(facts, policy)
    assert dead.status is Status.WARN
    assert "torch from it in torch25 (2.5.1)" in dead.observed and "torch > 2.5 in torch26 (2.6.0)" in dead.observed
    assert dead.fix.splitlines()[0] == "conda config --remove channels pytorch"
    assert "conda install -n torch25 -c conda-forge pytorch" in dead.fix
    assert checks.active_env(facts, policy).status is Status.SKIP  # active_prefix is null in this recording
    assert checks.channels(facts, policy).observed == "pytorch, nvidia, conda-forge"


def test_a_hanging_conda_is_unknown_within_the_deadline(miniforge: Path) -> None:
    hanging = write_standin(miniforge.parent / "hang" / "conda", "exec sleep 30")
    start = time.monotonic()
    facts = collect(ctx(miniforge, {"PATH": SYSTEM_PATH, "CONDA_EXE": str(hanging)}, timeout=1.0))
    assert time.monotonic() - start < 1.0 + 1.0
    assert "did not answer within" in facts.info_error and "conda hangs" in facts.info_error
    for judge in (checks.channels, checks.cuda_virtual_package, checks.pytorch_channel):
        verdict = judge(facts, default_policy())
        assert verdict.status is Status.UNKNOWN and "did not answer within" in verdict.reason
    assert [o.status for o in checks.envs(facts, default_policy())] == [Status.UNKNOWN]


def test_a_hanging_conda_through_the_engine_never_holds_the_report(miniforge: Path) -> None:
    from dataclasses import replace

    from envcheck.probes import PROBES

    hanging = write_standin(miniforge.parent / "hang" / "conda", "exec sleep 30")
    env = {"HOME": str(miniforge), "PATH": SYSTEM_PATH, "CONDA_EXE": str(hanging)}
    policy = replace(default_policy(), probe_timeout_s=1.0)
    start = time.monotonic()
    report = examine(checks.CHECKS, PROBES, policy, ctx_for=lambda t: ProbeContext(
        env=env, home=str(miniforge), timeout_s=t, run=runner.run))
    assert time.monotonic() - start < 1.0 + 1.0
    status = {r.id: r.status for r in report.results}
    assert status["conda.installed"] is Status.PASS
    assert status["conda.channels"] is Status.UNKNOWN and status["conda.envs"] is Status.UNKNOWN
    # This stand-in lives outside any install, so no base conda-meta record can stand in for the version.
    assert status["conda.version"] is Status.UNKNOWN


def test_version_falls_back_to_the_base_record_when_info_hangs(miniforge: Path) -> None:
    conda = miniforge / "miniforge3" / "bin" / "conda"
    write_standin(conda, "exec sleep 30")
    facts = collect(ctx(miniforge, {"PATH": SYSTEM_PATH}, timeout=1.0))
    assert "did not answer within" in facts.info_error and "conda hangs" in facts.info_error
    assert facts.version == "25.5.1" and facts.version_source.endswith("conda-25.5.1-py312h7900ff3_0.json")
    assert checks.version(facts, default_policy()).status is Status.PASS


@pytest.mark.parametrize("body, reason", [
    ("echo 'Segmentation fault (core dumped)'", "printed no JSON: Segmentation fault (core dumped)"),
    ("printf '{\"conda_version\": \"25.'", "printed something that is not JSON"),
    ("echo '[1, 2, 3]'", "printed JSON that is not an object"),
    # An integer longer than Python converts (sys.get_int_max_str_digits), after a plugin's line; nesting deeper
    # than json's recursion allows: each an answer that cannot be read, never a probe that crashed.
    ("""exec python3 -c 'print("plugin: hi " + "{\\"n\\": " + "9" * 5000 + "}")'""",
     "printed JSON that cannot be read (ValueError: Exceeds the limit"),
    ("""exec python3 -c 'print("{\\"a\\": " + "[" * 200000)'""", "printed JSON that cannot be read (RecursionError"),
])
def test_garbage_output_is_unknown_with_the_reason(tmp_path: Path, body: str, reason: str) -> None:
    conda = write_standin(tmp_path / "bin" / "conda", body)
    facts = collect(ctx(tmp_path, {"PATH": f"{conda.parent}:{SYSTEM_PATH}"}))
    verdict = checks.channels(facts, default_policy())
    assert verdict.status is Status.UNKNOWN and reason in verdict.reason


def test_conda_reporting_its_own_error_in_json(tmp_path: Path) -> None:
    # With --json, conda prints its errors as a JSON object on stdout and exits 1.
    error = {"caused_by": "None", "error": "CondaError: Unable to parse ~/.condarc", "exception_name": "CondaError",
             "exception_type": "<class 'conda.exceptions.CondaError'>", "message": "Unable to parse ~/.condarc"}
    conda = write_standin(tmp_path / "bin" / "conda", f"echo '{json.dumps(error)}'; exit 1")
    facts = collect(ctx(tmp_path, {"PATH": f"{conda.parent}:{SYSTEM_PATH}"}))
    assert facts.info_error == "`conda info --json` exited 1: CondaError: Unable to parse ~/.condarc"


def test_mamba_from_the_base_record_and_micromamba_from_its_version_call(miniforge: Path) -> None:
    root = miniforge / "miniforge3"
    # If the probe ran this mamba, its version would be an error: the base record must be enough.
    write_standin(root / "bin" / "mamba", "exit 3")
    micromamba = write_standin(miniforge / ".local" / "bin" / "micromamba", 'echo "2.0.5"')
    facts = collect(ctx(miniforge, {"PATH": SYSTEM_PATH}))
    assert [(t.name, t.path, t.version) for t in facts.tools] == [
        ("mamba", f"{root}/bin/mamba", "2.1.1"), ("micromamba", str(micromamba), "2.0.5")]
    outcomes = checks.mamba(facts, default_policy())
    assert [(o.item, o.status) for o in outcomes] == [("mamba", Status.PASS), ("micromamba", Status.PASS)]


def test_a_hanging_micromamba_is_unknown_and_does_not_slow_conda_info(miniforge: Path) -> None:
    write_standin(miniforge / "bin" / "micromamba", "exec sleep 30")
    start = time.monotonic()
    facts = collect(ctx(miniforge, {"PATH": f"{miniforge}/bin:{SYSTEM_PATH}"}, timeout=1.0))
    assert time.monotonic() - start < 2.0
    assert facts.info_error == "" and facts.version == "25.5.1"
    [outcome] = checks.mamba(facts, default_policy())
    assert outcome.status is Status.UNKNOWN and "did not answer within" in outcome.reason


def _no_system_conda() -> bool:
    return not any(os.path.exists(os.path.join(p, "bin", "conda")) for p in SYSTEM_PREFIXES)


@pytest.mark.skipif(not _no_system_conda(), reason="a real conda is installed under /opt on this machine")
def test_no_conda_skips_unless_the_policy_requires_it(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": SYSTEM_PATH}
    base = [sys.executable, "-m", "envcheck", "doctor", "--only", "conda", "--json"]
    out = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    results = {r["id"]: r for r in json.loads(out.stdout)["results"]}
    assert out.returncode == 0
    assert results["conda.installed"]["status"] == "skip"
    assert results["conda.installed"]["reason"].startswith("no conda, mamba or micromamba found (optional")
    assert "Miniforge3-$(uname)-$(uname -m).sh" in results["conda.installed"]["fix"]
    assert results["conda.channels"]["status"] == "skip" and results["conda.channels"]["caused_by"] == "conda.installed"

    policy = tmp_path / "policy.json"
    policy.write_text('{"require_conda": true}')
    out = subprocess.run([*base, "--policy", str(policy)], env=env, capture_output=True, text=True, timeout=60)
    results = {r["id"]: r for r in json.loads(out.stdout)["results"]}
    assert out.returncode == 1 and results["conda.installed"]["status"] == "fail"
