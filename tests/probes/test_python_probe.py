"""The python probe against real interpreters: the python3 on PATH, real venvs made here with and without pip,
a PATH with no python3, a dangling link into a deleted env, a hanging interpreter, a pyenv layout."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envcheck import compat
from envcheck.checks import python as checks
from envcheck.engine import make_context
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.python import collect, pyenv_target, shebang
from envcheck.units import ProbeContext, ProbeOptions

POLICY = default_policy()
SYSTEM_BIN = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if os.path.isdir(p))


def _ctx(path: str, timeout: float = 10.0, python: str | None = None) -> ProbeContext:
    ctx: ProbeContext = make_context(POLICY)(timeout)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYENV", "CONDA", "VIRTUAL_ENV"))}
    return dataclasses.replace(ctx, env={**env, "PATH": path}, timeout_s=timeout, options=ProbeOptions(python=python))


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real venvs: one with pip (ensurepip), one made with --without-pip."""
    base = tmp_path_factory.mktemp("venvs")
    with_pip, without_pip = base / "with-pip", base / "without-pip"
    subprocess.run([sys.executable, "-m", "venv", str(with_pip)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(without_pip)], check=True, timeout=60)
    return with_pip, without_pip


def test_real_python3_on_path_is_what_it_says() -> None:
    path = os.environ["PATH"]
    python3 = shutil.which("python3", path=path)
    if python3 is None:
        pytest.skip("no python3 on this PATH")
    facts = collect(_ctx(path))
    assert facts.info, facts.error
    truth = subprocess.run([facts.interpreter or "", "-c", "import sys; print(sys.executable, *sys.version_info[:3])"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert facts.info["executable"] == truth[0]
    assert facts.info["version"] == [int(p) for p in truth[1:]]
    verdict = checks.version(facts, POLICY)
    assert verdict.evidence["envcheck_python"] == sys.executable  # envcheck's own interpreter is reported too
    via = f" (via {facts.via})" if facts.via else ""
    assert verdict.observed == f"Python {'.'.join(truth[1:])} at {truth[0]}{via}"
    # That version against the default policy's lines and the newest torch release's Python range.
    version = (int(truth[1]), int(truth[2]))
    newest = compat.torch_releases()[-1]
    assert verdict.status is (
        Status.FAIL if version < compat.parse_version(POLICY.python_min) else
        Status.WARN if version < compat.parse_version(POLICY.python_warn_below)
        or version > compat.parse_version(newest.python_max) else Status.PASS)


def test_venv_with_pip_passes_everything(venvs: tuple[Path, Path]) -> None:
    with_pip, _ = venvs
    facts = collect(_ctx(f"{with_pip}/bin{os.pathsep}{SYSTEM_BIN}"))
    assert facts.interpreter == str(with_pip / "bin/python3")
    assert facts.info["prefix"] == str(with_pip)
    env = checks.environment(facts, POLICY)
    assert env.status is Status.PASS and env.observed == f"venv at {with_pip}"
    pip = checks.pip(facts, POLICY)
    assert pip.status is Status.PASS, pip
    assert f"`pip` on PATH ({with_pip}/bin/pip) matches" in pip.observed
    assert facts.info["pip_version"] == subprocess.run(
        [str(with_pip / "bin/python3"), "-c", "import importlib.metadata as m; print(m.version('pip'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    res = checks.path_resolution(facts, POLICY)
    assert res.status is Status.PASS
    assert f"python -> {with_pip}/bin/python" in res.observed


def test_venv_without_pip_and_anothers_pip_on_path_is_a_mismatch(venvs: tuple[Path, Path]) -> None:
    with_pip, without_pip = venvs
    facts = collect(_ctx(os.pathsep.join([f"{without_pip}/bin", f"{with_pip}/bin", SYSTEM_BIN])))
    assert facts.info["executable"] == str(without_pip / "bin/python3")
    assert facts.info["pip_version"] is None
    verdict = checks.pip(facts, POLICY)
    assert verdict.status is Status.WARN
    pip_shebang = (with_pip / "bin/pip").read_text().splitlines()[0][2:]  # what pip wrote: python3 or python3.X
    assert verdict.observed == (f"`pip` on PATH ({with_pip}/bin/pip) installs into {pip_shebang}, "
                                f"not into {without_pip}/bin/python3")
    assert "has no pip either" in verdict.reason
    assert verdict.fix == f"{without_pip}/bin/python3 -m ensurepip --upgrade"


def test_venv_without_pip_alone_warns_with_ensurepip(venvs: tuple[Path, Path], tmp_path: Path) -> None:
    _, without_pip = venvs
    facts = collect(_ctx(f"{without_pip}/bin"))
    verdict = checks.pip(facts, POLICY)
    assert verdict.status is Status.WARN and verdict.observed == f"no pip module in {without_pip}/bin/python3"
    assert "ensurepip" in verdict.fix


def test_python_option_overrides_path(venvs: tuple[Path, Path]) -> None:
    with_pip, without_pip = venvs
    facts = collect(_ctx(f"{with_pip}/bin", python=str(without_pip / "bin/python3")))
    assert facts.requested == str(without_pip / "bin/python3")
    assert facts.info["prefix"] == str(without_pip)


def test_no_python3_on_path(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    facts = collect(_ctx(str(empty)))
    assert facts.interpreter is None
    verdict = checks.version(facts, POLICY)
    assert verdict.status is Status.FAIL and "python3" in verdict.fix
    for judge in (checks.environment, checks.pip, checks.user_site):
        moot = judge(facts, POLICY)
        assert moot.status is Status.UNKNOWN and moot.caused_by == "python.version"
    assert "python3: not found" in checks.path_resolution(facts, POLICY).observed


def test_dangling_link_into_a_deleted_env_is_reported(venvs: tuple[Path, Path], tmp_path: Path) -> None:
    with_pip, _ = venvs
    stale = tmp_path / "stale-bin"
    stale.mkdir()
    os.symlink(tmp_path / "deleted-env/bin/python3", stale / "python3")
    facts = collect(_ctx(os.pathsep.join([str(stale), f"{with_pip}/bin"])))
    assert facts.info["prefix"] == str(with_pip)  # which() skips the dead link, as the shell does
    verdict = checks.path_resolution(facts, POLICY)
    assert verdict.status is Status.WARN and f"rm {stale}/python3" == verdict.fix


def test_hanging_interpreter_is_unknown_within_the_deadline(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    fake.chmod(0o755)
    start = time.monotonic()
    facts = collect(_ctx(str(tmp_path), timeout=0.5))
    assert time.monotonic() - start < 1.5
    assert checks.version(facts, POLICY).status is Status.UNKNOWN
    assert "did not finish" in facts.error


def test_interpreter_printing_nonsense_is_unknown(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'Python 3.12.1 (main) [GCC]'\n")
    fake.chmod(0o755)
    facts = collect(_ctx(str(tmp_path)))
    assert checks.version(facts, POLICY).status is Status.UNKNOWN
    assert "unexpected output" in facts.error


def test_pyenv_shim_resolved_without_running_pyenv(tmp_path: Path) -> None:
    """A pyenv layout made here (the shim text is pyenv's own form; pyenv itself is absent and never runs):
    the probe reads $PYENV_ROOT/version and runs the selected version's real interpreter directly."""
    root = tmp_path / ".pyenv"
    (root / "shims").mkdir(parents=True)
    (root / "versions/3.99.0/bin").mkdir(parents=True)
    os.symlink(sys.executable, root / "versions/3.99.0/bin/python3")
    for name in ("python3", "pip"):
        shim = root / "shims" / name
        shim.write_text(f'#!/usr/bin/env bash\nset -e\nexport PYENV_ROOT="{root}"\n'
                        f'exec "{root}/libexec/pyenv" exec "$program" "$@"\n')
        shim.chmod(0o755)
    (root / "version").write_text("3.99.0\n")
    facts = collect(_ctx(f"{root}/shims{os.pathsep}{SYSTEM_BIN}"))
    assert facts.interpreter == str(root / "versions/3.99.0/bin/python3")
    assert facts.via == f"pyenv shim {root}/shims/python3"
    assert facts.info, facts.error
    # $PYENV_VERSION wins over the version file; "system" means the next python3 on PATH after the shims.
    env = {"PATH": f"{root}/shims{os.pathsep}{SYSTEM_BIN}", "PYENV_VERSION": "system"}
    assert pyenv_target(str(root / "shims/python3"), env, str(tmp_path)) == shutil.which("python3", path=SYSTEM_BIN)
    # A .python-version in the working directory wins over $PYENV_ROOT/version.
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/.python-version").write_text("3.98.0\n3.99.0\n")  # 3.98.0 is not installed: next one
    env = {"PATH": env["PATH"], "PYENV_ROOT": str(root)}
    assert pyenv_target(str(root / "shims/python3"), env, str(tmp_path / "proj")) == str(
        root / "versions/3.99.0/bin/python3")
    assert pyenv_target(str(root / "shims/pip"), env, str(tmp_path)) is None  # no pip in 3.99.0: run the shim


def test_shebang_forms(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("#!/opt/env/bin/python3.12\nimport sys\n")
    via_env = tmp_path / "via-env"
    via_env.write_text("#!/usr/bin/env -S python3 -u\n")
    long_path = tmp_path / "long"  # pip's launcher when the interpreter path is too long for a shebang
    long_path.write_text("#!/bin/sh\n'''exec' \"/very/long/path with space/bin/python\" \"$0\" \"$@\"\n' '''\n")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x7fELF\x02\x01")
    assert shebang(str(plain), None) == "/opt/env/bin/python3.12"
    assert shebang(str(via_env), SYSTEM_BIN) == shutil.which("python3", path=SYSTEM_BIN)
    assert shebang(str(long_path), None) == "/very/long/path with space/bin/python"
    assert shebang(str(binary), None) is None


@pytest.mark.skipif(not os.path.isfile("/usr/lib/python3/dist-packages/pip/__init__.py")
                    or not any(Path("/usr/lib").glob("python3.*/EXTERNALLY-MANAGED")),
                    reason="needs Debian's python3-pip and an EXTERNALLY-MANAGED system Python (Debian 12+)")
def test_externally_managed_system_python_really_refuses_bare_pip() -> None:
    facts = collect(_ctx(SYSTEM_BIN, python="/usr/bin/python3"))
    verdict = checks.environment(facts, POLICY)
    assert verdict.status is Status.WARN and "externally-managed-environment" in verdict.reason
    assert "python3 -m venv" in verdict.fix
    # The claim holds: pip refuses before touching the network.
    refused = subprocess.run(["/usr/bin/python3", "-m", "pip", "install", "--no-index", "envcheck-no-such-pkg"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr
