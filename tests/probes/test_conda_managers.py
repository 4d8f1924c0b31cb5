"""The conda probe where conda is not the manager, or not a well-behaved one: micromamba only, mamba only,
conda 23.7.1 printing text for --json, and pixi and uv next to them.

None of these tools can run here (see tests/helpers/conda_helpers.py): STAND-INS replay the documents in
tests/data/conda/, whose README says which source file and line each shape comes from.
"""

from __future__ import annotations

from pathlib import Path

from helpers.conda_helpers import SYSTEM_PATH, ctx, make_env, replaying_micromamba, write_standin

from envcheck.checks import conda as checks
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.conda import collect

DATA = Path(__file__).parents[1] / "data" / "conda"
POLICY = default_policy()


def micromamba_machine(tmp_path: Path) -> tuple[Path, Path, Path]:
    """~/micromamba as micromamba-2.8-*.json describe it; micromamba itself in ~/.local/bin. (home, root, exe)"""
    home = tmp_path / "home"
    root = home / "micromamba"
    make_env(root, None)
    make_env(root / "envs" / "torch", "3.12.8", pip_torch="2.7.1")
    make_env(root / "envs" / "old-py38", "3.8.20")
    return home, root, replaying_micromamba(home / ".local" / "bin" / "micromamba", home)


def test_only_micromamba_answers_for_the_envs_channels_and_cuda(tmp_path: Path) -> None:
    home, root, exe = micromamba_machine(tmp_path)
    facts = collect(ctx(home, {"PATH": SYSTEM_PATH, "MAMBA_EXE": str(exe), "MAMBA_ROOT_PREFIX": str(root),
                               "CONDA_PREFIX": f"{root}/envs/torch", "CONDA_DEFAULT_ENV": "torch"}))
    assert facts.info_error == ""
    assert (facts.manager, facts.exe, facts.found_via, facts.version) == ("micromamba", str(exe), "$MAMBA_EXE",
                                                                            "2.8.1")
    assert (facts.root_prefix, facts.solver, facts.active_name) == (str(root), "libmamba", "torch")
    assert [(e.name, e.python_version, e.torch_version) for e in facts.envs] == [
        ("base", None, None), ("old-py38", "3.8.20", None), ("torch", "3.12.8", "2.7.1")]
    assert facts.channels == ("https://conda.anaconda.org/conda-forge/linux-64",
                              "https://conda.anaconda.org/conda-forge/noarch")
    assert facts.virtual_packages == (("__unix", "0", "0"), ("__linux", "6.8.0", "0"), ("__glibc", "2.39", "0"),
                                      ("__archspec", "1", "x86_64_v3"), ("__cuda", "12.4", "0"))

    installed = checks.installed(facts, POLICY)
    assert (installed.status, installed.observed) == (Status.PASS,
                                                      f"micromamba 2.8.1 at {exe}, no conda (via $MAMBA_EXE)")
    version = checks.version(facts, POLICY)
    assert (version.status, version.observed) == (Status.PASS, "micromamba 2.8.1, libmamba solver")
    old = next(o for o in checks.envs(facts, POLICY) if o.item == "old-py38")
    assert old.status is Status.WARN
    assert old.fix == f"micromamba install -n old-py38 -c conda-forge 'python>={POLICY.python_min}'"
    assert checks.cuda_virtual_package(facts, POLICY).observed == "__cuda=12.4"
    assert checks.channels(facts, POLICY).observed == "conda-forge"
    assert checks.active_env(facts, POLICY).status is Status.PASS


def test_mamba_on_path_comes_before_micromamba(tmp_path: Path) -> None:
    home, root, micromamba = micromamba_machine(tmp_path)
    mamba = replaying_micromamba(tmp_path / "bin" / "mamba", home, version="mamba 2.8.1")
    facts = collect(ctx(home, {"PATH": f"{mamba.parent}:{SYSTEM_PATH}", "MAMBA_EXE": str(micromamba)}))
    assert (facts.manager, facts.exe, facts.found_via) == ("mamba", str(mamba), "PATH")
    assert facts.version == "2.8.1"  # no "mamba version" key in this recording: libmamba's own version
    assert [e.name for e in facts.envs] == ["base", "old-py38", "torch"]
    assert [(t.name, t.version) for t in facts.tools] == [("mamba", "2.8.1"), ("micromamba", "2.8.1")]


def test_micromamba_without_env_list_still_names_its_base(tmp_path: Path) -> None:
    home, root, _ = micromamba_machine(tmp_path)
    exe = write_standin(tmp_path / "bin" / "micromamba", f"""case "$1" in
  info) sed 's#/home/demo#{home}#g' '{DATA / "micromamba-2.8-info.json"}' ;;
  *) exit 1 ;;
esac""")
    facts = collect(ctx(home, {"PATH": f"{exe.parent}:{SYSTEM_PATH}"}))
    assert (facts.manager, facts.info_error, [e.prefix for e in facts.envs]) == ("micromamba", "", [str(root)])


def test_conda_23_7_1_printing_text_for_json_is_read_and_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = home / "miniforge3"
    make_env(root, "3.11.4", records=("conda-23.7.1-py311h38be061_0",))
    make_env(root / "envs" / "torch", "3.11.9", pip_torch="2.3.1")
    exe = write_standin(root / "bin" / "conda", f"""case "$1" in
  info) sed 's#/home/demo#{home}#g' '{DATA / "conda-23.7.1-info-text.txt"}' ;;
  --version) echo "conda 23.7.1" ;;
  *) exit 2 ;;
esac""")
    facts = collect(ctx(home, {"PATH": SYSTEM_PATH, "CONDA_EXE": str(exe)}))
    assert (facts.info_error, facts.json_ignored, facts.version, facts.solver) == ("", True, "23.7.1", "libmamba")
    assert (facts.root_prefix, facts.active_prefix, facts.active_name) == (str(root), str(root), "base")
    assert [(e.name, e.python_version) for e in facts.envs] == [("base", "3.11.4"), ("torch", "3.11.9")]
    assert facts.channels == ("https://conda.anaconda.org/conda-forge/linux-64",
                              "https://conda.anaconda.org/conda-forge/noarch")
    assert ("__cuda", "12.4", "0") in facts.virtual_packages

    version = checks.version(facts, POLICY)
    assert version.status is Status.WARN and "conda/conda#12972" in version.reason
    assert version.fix == "conda update -n base conda"
    assert checks.cuda_virtual_package(facts, POLICY).observed == "__cuda=12.4"


def test_pixi_and_uv_are_named_with_their_versions(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_standin(bin_dir / "pixi", 'echo "pixi 0.49.0"')
    write_standin(bin_dir / "uv", 'echo "uv 0.8.3 (7e78f54e7 2025-07-24)"')
    facts = collect(ctx(tmp_path, {"PATH": f"{bin_dir}:{SYSTEM_PATH}"}))
    assert facts.exe is None
    assert [(t.name, t.path, t.version) for t in facts.other_tools] == [
        ("pixi", str(bin_dir / "pixi"), "0.49.0"), ("uv", str(bin_dir / "uv"), "0.8.3")]
    verdict = checks.pixi_uv(facts, POLICY)
    assert (verdict.status, verdict.observed) == (Status.PASS, "pixi 0.49.0, uv 0.8.3")


def test_a_hanging_uv_is_cut_short_and_named(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_standin(bin_dir / "uv", "exec sleep 30")
    facts = collect(ctx(tmp_path, {"PATH": f"{bin_dir}:{SYSTEM_PATH}"}, timeout=1.5))
    (uv,) = facts.other_tools
    assert uv.version is None and uv.error.startswith("`uv --version` did not answer within")
    verdict = checks.pixi_uv(facts, POLICY)
    assert verdict.status is Status.PASS and verdict.observed.startswith("uv (version unreadable: `uv --version`")
