"""conda verdicts as pure functions of hand-built facts: no stand-in, no disk."""

from __future__ import annotations

from dataclasses import replace

from envcheck.checks import conda as checks
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.conda import CondaEnv, CondaFacts, Tool

POLICY = default_policy()
BASE = CondaFacts(
    exe="/opt/conda/bin/conda", found_via="PATH", version="25.5.1", version_source="conda info",
    root_prefix="/opt/conda", solver="libmamba",
    channels=("https://conda.anaconda.org/conda-forge/linux-64", "https://conda.anaconda.org/conda-forge/noarch"),
)


def test_not_found_is_a_skip_with_the_miniforge_hint_or_a_fail_when_required() -> None:
    missing = CondaFacts(exe=None, searched=("PATH", "/root/miniforge3/bin/conda"))
    verdict = checks.installed(missing, POLICY)
    assert verdict.status is Status.SKIP and verdict.observed == "no conda, mamba or micromamba found"
    assert "Miniforge3-$(uname)-$(uname -m).sh" in verdict.fix
    assert verdict.evidence["searched"] == ["PATH", "/root/miniforge3/bin/conda"]
    required = checks.installed(missing, replace(POLICY, require_conda=True))
    assert required.status is Status.FAIL
    assert required.reason == "no conda, mamba or micromamba found: this policy requires conda"


def test_a_stale_conda_exe_warns_and_names_the_conda_in_use() -> None:
    verdict = checks.installed(replace(BASE, stale_conda_exe="/old/miniconda3/bin/conda"), POLICY)
    assert verdict.status is Status.WARN
    assert verdict.observed == "$CONDA_EXE=/old/miniconda3/bin/conda does not exist; using /opt/conda/bin/conda"
    assert verdict.fix.startswith("/opt/conda/bin/conda init bash")


def test_old_conda_and_the_classic_solver_warn() -> None:
    old = checks.version(replace(BASE, version="23.3.1", solver="classic"), POLICY)
    assert old.status is Status.WARN and old.expected == "conda >= 23.10"
    classic = checks.version(replace(BASE, solver="classic"), POLICY)
    assert classic.status is Status.WARN and classic.fix == "conda config --set solver libmamba"
    assert checks.version(replace(BASE, version="23.10.0"), POLICY).status is Status.PASS
    unknown = checks.version(replace(BASE, version=None, info_error="`conda info --json` did not finish"), POLICY)
    assert unknown.status is Status.UNKNOWN and "did not finish" in unknown.reason


def test_active_env() -> None:
    assert checks.active_env(BASE, POLICY).status is Status.SKIP
    gone = replace(BASE, active_prefix="/opt/conda/envs/exp", active_name="exp", active_exists=False)
    verdict = checks.active_env(gone, POLICY)
    assert verdict.status is Status.FAIL and verdict.fix == "conda deactivate"
    shadowed = replace(gone, active_exists=True, python_on_path="/usr/bin/python")
    verdict = checks.active_env(shadowed, POLICY)
    assert verdict.status is Status.WARN and verdict.observed == "exp is active, but `python` is /usr/bin/python"
    fine = replace(shadowed, python_on_path="/opt/conda/envs/exp/bin/python")
    assert checks.active_env(fine, POLICY).status is Status.PASS
    # A sibling env whose name starts the same is not "inside" the active one.
    sibling = replace(shadowed, python_on_path="/opt/conda/envs/exp2/bin/python")
    assert checks.active_env(sibling, POLICY).status is Status.WARN


def test_envs_one_outcome_each() -> None:
    facts = replace(BASE, envs=(
        CondaEnv("/opt/conda", "base", True, True, "3.12.10"),
        CondaEnv("/opt/conda/envs/r", "r", True, True, None),
        CondaEnv("/opt/conda/envs/half", "half", True, False, None),
        CondaEnv("/opt/conda/envs/py39", "py39", True, True, "3.9.19"),
    ))
    outcomes = {o.item: o for o in checks.envs(facts, POLICY)}
    assert outcomes["base"].status is Status.PASS and outcomes["base"].observed == "Python 3.12.10 at /opt/conda"
    assert outcomes["r"].status is Status.PASS and outcomes["r"].observed == "/opt/conda/envs/r, no Python"
    assert outcomes["half"].status is Status.WARN and "conda-meta" in outcomes["half"].observed
    assert outcomes["py39"].status is Status.WARN
    assert outcomes["py39"].fix == "conda install -n py39 -c conda-forge 'python>=3.10'"
    assert checks.envs(replace(BASE, envs=()), POLICY) == []  # the engine records "nothing to check"


def test_environments_txt() -> None:
    assert checks.environments_txt(BASE, POLICY).status is Status.SKIP
    ok = replace(BASE, environments_txt_entries=("/a",))
    assert checks.environments_txt(ok, POLICY).status is Status.PASS
    unreadable = replace(BASE, environments_txt_error="cannot read ~/.conda/environments.txt: Permission denied")
    assert checks.environments_txt(unreadable, POLICY).status is Status.UNKNOWN


def test_defaults_detected_by_url_and_mixing_named() -> None:
    mixed = replace(BASE, channels=(*BASE.channels, "https://repo.anaconda.com/pkgs/main/linux-64"))
    verdict = checks.channels(mixed, POLICY)
    assert verdict.status is Status.WARN and "mixed with conda-forge" in verdict.observed
    assert "Terms of Service" in verdict.reason
    assert checks.channels(BASE, POLICY).status is Status.PASS


def test_pytorch_channel_from_an_old_record_that_names_the_channel_only() -> None:
    facts = replace(BASE, envs=(CondaEnv("/opt/conda/envs/t", "t", True, True, "3.10.14", "2.1.0", "pytorch"),))
    verdict = checks.pytorch_channel(facts, POLICY)
    assert verdict.status is Status.WARN and verdict.observed == "torch from it in t (2.1.0)"
    assert "conda config --remove channels" not in verdict.fix  # the channel is not configured any more
    assert checks.pytorch_channel(BASE, POLICY).status is Status.PASS
    # torch > 2.5 from conda-forge alone is fine.
    modern = replace(BASE, envs=(CondaEnv("/e", "e", True, True, "3.12.1", "2.7.1",
                                          "https://conda.anaconda.org/conda-forge/linux-64"),))
    assert checks.pytorch_channel(modern, POLICY).status is Status.PASS


def test_cuda_virtual_package() -> None:
    no_gpu = checks.cuda_virtual_package(BASE, POLICY)
    assert no_gpu.status is Status.SKIP
    hidden = checks.cuda_virtual_package(replace(BASE, nvidia_driver_loaded=True), POLICY)
    assert hidden.status is Status.WARN and "CPU-only" in hidden.reason
    emptied = checks.cuda_virtual_package(replace(BASE, nvidia_driver_loaded=True, cuda_override=""), POLICY)
    assert "CONDA_OVERRIDE_CUDA is set to empty" in emptied.reason
    overridden = replace(BASE, virtual_packages=(("__cuda", "12.6", "0"),), cuda_override="12.6")
    assert checks.cuda_virtual_package(overridden, POLICY).observed == "__cuda=12.6 (set by CONDA_OVERRIDE_CUDA=12.6)"


def test_mamba_tools() -> None:
    assert checks.mamba(BASE, POLICY)[0].status is Status.SKIP
    broken = Tool("micromamba", "/usr/local/bin/micromamba", error="`micromamba --version` exited 1")
    facts = replace(BASE, tools=(Tool("mamba", "/opt/conda/bin/mamba", "1.5.8"), broken))
    first, second = checks.mamba(facts, POLICY)
    assert first.status is Status.PASS and first.observed == "mamba 1.5.8 at /opt/conda/bin/mamba"
    assert second.status is Status.UNKNOWN and second.item == "micromamba" and "exited 1" in second.reason


def test_the_drop_entry_fix_removes_exactly_odd_paths_with_real_sed(tmp_path) -> None:
    """Paths with a quote, the `|` delimiter and regex characters: each fix removes its own line and
    none of the look-alikes a naive pattern would also match."""
    import os
    import subprocess

    stale = [f"{tmp_path}/it's gone", f"{tmp_path}/a|b", f"{tmp_path}/a.b[1]*", f"{tmp_path}/back\\slash"]
    kept = [f"{tmp_path}/aXb[1]*", f"{tmp_path}/a.b[1]", f"{tmp_path}/aZb", f"{tmp_path}/backslash"]
    listing = tmp_path / ".conda" / "environments.txt"
    listing.parent.mkdir()
    listing.write_text("".join(f"{p}\n" for p in kept + stale))
    facts = replace(BASE, environments_txt=str(listing), environments_txt_entries=tuple(kept + stale),
                    environments_txt_stale=tuple(stale))
    fix = checks.environments_txt(facts, POLICY).fix
    subprocess.run(["sh", "-c", fix], env={"HOME": str(tmp_path), "PATH": os.defpath}, check=True, timeout=30)
    assert listing.read_text().splitlines() == kept


def test_micromamba_as_the_manager_spells_its_fixes_for_micromamba() -> None:
    facts = replace(BASE, manager="micromamba", exe="/home/a/.local/bin/micromamba", found_via="$MAMBA_EXE",
                    version="2.8.1", channels=("https://repo.anaconda.com/pkgs/main/linux-64",),
                    active_prefix="/home/a/micromamba/envs/gone", active_name="gone", active_exists=False)
    installed = checks.installed(facts, POLICY)
    assert installed.observed == "micromamba 2.8.1 at /home/a/.local/bin/micromamba, no conda (via $MAMBA_EXE)"
    assert installed.evidence["manager"] == "micromamba"
    stale = checks.installed(replace(facts, stale_conda_exe="/gone/bin/conda"), POLICY)
    assert (stale.status, stale.fix) == (Status.WARN, "/home/a/.local/bin/micromamba shell init -s bash  # then open "
                                                      "a new shell")
    assert checks.version(facts, POLICY).observed == "micromamba 2.8.1, libmamba solver"
    assert checks.active_env(facts, POLICY).fix == "micromamba deactivate"
    assert checks.channels(facts, POLICY).fix == ("micromamba config prepend channels conda-forge\n"
                                                  "micromamba config remove channels defaults")


def test_conda_that_ignored_json_warns_with_the_update() -> None:
    verdict = checks.version(replace(BASE, version="23.7.1", json_ignored=True), POLICY)
    assert (verdict.status, verdict.observed, verdict.fix) == (
        Status.WARN, "conda 23.7.1 ignores --json: `conda info --json` printed text", "conda update -n base conda")
    assert "conda/conda#12972" in verdict.reason


def test_pixi_uv_is_information_only() -> None:
    skipped = checks.pixi_uv(BASE, POLICY)
    assert (skipped.status, skipped.reason) == (Status.SKIP, "neither pixi nor uv is on PATH (optional)")
    facts = replace(BASE, other_tools=(Tool("uv", "/usr/local/bin/uv", "0.8.3"),))
    shown = checks.pixi_uv(facts, POLICY)
    assert (shown.status, shown.observed) == (Status.PASS, "uv 0.8.3")
    assert shown.evidence == {"uv": {"path": "/usr/local/bin/uv", "version": "0.8.3"}}
