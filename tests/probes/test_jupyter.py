"""The jupyter probe against real parts: the jupyter-core and jupyter-client installed in this venv,
real venvs made with `python -m venv`, launchers written by pip's own script maker (distlib), and
`jupyter kernelspec list --json` / `jupyter kernelspec remove` as cross-checks. HOME and JUPYTER_PATH
point into tmp_path, so the user's own kernels are never read or touched.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envcheck import runner
from envcheck.checks import jupyter as checks
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.jupyter import collect, read_shebang
from envcheck.units import ProbeContext

BIN = Path(sys.executable).parent
JUPYTER = BIN / "jupyter"
SYSTEM_PATH = "/usr/bin:/bin"
POLICY = default_policy()
pytestmark = pytest.mark.skipif(not JUPYTER.exists(), reason="jupyter-core is not installed in this venv")


def env_for(home: Path, path: str = f"{BIN}:{SYSTEM_PATH}", **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "PATH": path, **extra}


def ctx(env: dict[str, str]) -> ProbeContext:
    return ProbeContext(env=env, home=env["HOME"], timeout_s=5.0, run=runner.run)


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    return path / "bin" / "python"


def write_kernel(kernels: Path, name: str, argv: list[str], display: str = "") -> Path:
    """A kernelspec as `python -m ipykernel install --user --name NAME` writes it."""
    folder = kernels / name
    folder.mkdir(parents=True)
    spec = {"argv": argv, "display_name": display or name, "language": "python", "metadata": {"debugger": True}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def real_kernelspecs(env: dict[str, str]) -> dict[str, str]:
    """What jupyter_client itself finds: name -> resource_dir."""
    out = subprocess.run([str(JUPYTER), "kernelspec", "list", "--json"], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    return {name: spec["resource_dir"] for name, spec in json.loads(out.stdout)["kernelspecs"].items()}


def test_the_real_launcher_and_package_versions() -> None:
    facts = collect(ctx(env_for(Path("/nonexistent-home"))))
    assert facts.path == str(JUPYTER)
    assert facts.interpreter is not None and facts.interpreter_exists
    assert Path(facts.interpreter).parent == BIN
    found = dict(facts.packages)
    assert found["jupyter_core"] == importlib.metadata.version("jupyter_core")
    assert found["jupyter_client"] == importlib.metadata.version("jupyter_client")
    assert checks.installed(facts, POLICY).status is Status.PASS


@pytest.mark.parametrize("extra", [{}, {"JUPYTER_PREFER_ENV_PATH": "0"}, {"XDG_DATA_HOME": "@/xdg"},
                                   {"JUPYTER_DATA_DIR": "@/data", "JUPYTER_PATH": "@/a:@/b"}])
def test_kernel_folders_are_searched_in_jupyter_cores_own_order(tmp_path: Path, extra: dict[str, str]) -> None:
    extra = {k: v.replace("@", str(tmp_path)) for k, v in extra.items()}
    env = env_for(tmp_path, **extra)
    code = "import json; from jupyter_core.paths import jupyter_path; print(json.dumps(jupyter_path('kernels')))"
    out = subprocess.run([str(JUPYTER.parent / "python"), "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    ours = [d for d in collect(ctx(env)).data_dirs if not d.endswith(os.path.join(".ipython", "kernels"))]
    assert ours == json.loads(out.stdout)


def test_a_kernel_whose_venv_was_deleted_fails_and_the_fix_removes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    python = make_venv(tmp_path / "envs" / "exp")
    kernels = home / ".local" / "share" / "jupyter" / "kernels"
    folder = write_kernel(kernels, "exp", [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          "Python (exp)")
    env = env_for(home)
    assert real_kernelspecs(env)["exp"] == str(folder)

    live = {s.name: s for s in collect(ctx(env)).kernelspecs}["exp"]
    assert live.interpreter == str(python) and live.interpreter_exists
    # Honest about the live venv too: it was made without ipykernel, so the kernel could not start.
    assert live.ipykernel_found is False
    verdict = checks.kernelspecs(collect(ctx(env)), POLICY)[0]
    assert verdict.status is Status.WARN and verdict.fix == f"{python} -m pip install ipykernel"

    shutil.rmtree(tmp_path / "envs" / "exp")
    facts = collect(ctx(env))
    [dead] = [o for o in checks.kernelspecs(facts, POLICY) if o.item == "exp"]
    assert dead.status is Status.FAIL
    assert dead.observed == f"Python (exp): {python} -> {python} does not exist"
    assert dead.fix == "jupyter kernelspec remove -f exp"

    # The fix, pasted as is, really removes it: jupyter_client agrees and the check has nothing left to fail.
    subprocess.run(["sh", "-c", dead.fix], env=env, check=True, timeout=60, capture_output=True)
    assert not folder.exists() and "exp" not in real_kernelspecs(env)
    assert all(o.item != "exp" for o in checks.kernelspecs(collect(ctx(env)), POLICY))


def test_shadowing_bare_python_broken_json_and_odd_names_match_jupyter_client(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = tmp_path / "jupyter-path" / "kernels"
    user = home / ".local" / "share" / "jupyter" / "kernels"
    write_kernel(first, "shared", ["python3", "-m", "my_kernel", "-f", "{connection_file}"])
    write_kernel(user, "shared", ["/gone/bin/python", "-m", "ipykernel_launcher"])  # shadowed: never used
    write_kernel(user, "nowhere", ["no-such-kernel-binary-xyz", "-f", "{connection_file}"])
    write_kernel(user, "Bad Name", ["/bin/sh"])  # jupyter_client warns about the name but lower-cases and uses it
    broken = user / "broken"
    broken.mkdir()
    (broken / "kernel.json").write_text("{not json")
    env = env_for(home, JUPYTER_PATH=str(tmp_path / "jupyter-path"))

    facts = collect(ctx(env))
    specs = {s.name: s for s in facts.kernelspecs}
    assert facts.shadowed == (f"shared at {user / 'shared'}",)
    # jupyter_client skips a kernel.json it cannot load; everything else it lists, we list, from the same folder.
    assert {n: s.resource_dir for n, s in specs.items() if not s.error} == real_kernelspecs(env)

    outcomes = {o.item: o for o in checks.kernelspecs(facts, POLICY)}
    assert outcomes["shared"].status is Status.PASS
    assert specs["shared"].interpreter == facts.interpreter  # bare python3 runs as jupyter's own sys.executable
    assert outcomes["shared"].observed.endswith("(via jupyter's own interpreter)")
    assert outcomes["nowhere"].status is Status.FAIL and "(not on PATH)" in outcomes["nowhere"].observed
    assert outcomes["broken"].status is Status.FAIL and outcomes["broken"].observed.startswith("kernel.json unreadable")
    assert outcomes["bad name"].status is Status.PASS


def test_launchers_written_by_pips_script_maker(tmp_path: Path) -> None:
    distlib = pytest.importorskip("pip._vendor.distlib.scripts")
    long_dir = tmp_path / ("deep" * 40) / "bin"
    for executable in (str(long_dir / "python"), str(tmp_path / "with space" / "bin" / "python"), "/usr/bin/python3"):
        maker = distlib.ScriptMaker(None, str(tmp_path / "out"), add_launchers=False)
        maker.clobber = True
        maker.executable = executable
        [launcher, *_] = maker.make("jupyter = jupyter_core.command:main")
        assert read_shebang(launcher) == (executable, "")
    assert Path(tmp_path / "out" / "jupyter").read_text().startswith("#!/usr/bin/python3")


def test_a_launcher_whose_interpreter_was_deleted(tmp_path: Path) -> None:
    distlib = pytest.importorskip("pip._vendor.distlib.scripts")
    python = make_venv(tmp_path / "old-env")
    maker = distlib.ScriptMaker(None, str(tmp_path / "bin"), add_launchers=False)
    maker.executable = str(python)
    maker.make("jupyter = jupyter_core.command:main")
    shutil.rmtree(tmp_path / "old-env")
    launcher = tmp_path / "bin" / "jupyter"
    # What the user sees: the launcher cannot even start (the kernel reports its missing interpreter as ENOENT).
    ran = runner.run([str(launcher), "--version"], timeout_s=30)
    assert ran.missing and "FileNotFoundError" in ran.error
    facts = collect(ctx(env_for(tmp_path, path=f"{tmp_path / 'bin'}:{SYSTEM_PATH}")))
    verdict = checks.installed(facts, POLICY)
    assert verdict.status is Status.FAIL and verdict.observed == f"{launcher} runs {python}, which does not exist"
    assert verdict.fix.startswith(f"rm {launcher}\n")
    assert checks.packages(facts, POLICY).status is Status.SKIP


def test_env_shebang_is_resolved_on_path(tmp_path: Path) -> None:
    launcher = tmp_path / "bin" / "jupyter"
    launcher.parent.mkdir()
    launcher.write_text("#!/usr/bin/env python3\nimport sys\n")
    launcher.chmod(0o755)
    facts = collect(ctx(env_for(tmp_path, path=f"{launcher.parent}:{BIN}:{SYSTEM_PATH}")))
    assert facts.interpreter == shutil.which("python3", path=f"{launcher.parent}:{BIN}:{SYSTEM_PATH}")


@pytest.mark.skipif(shutil.which("jupyter", path=SYSTEM_PATH) is not None, reason="a system jupyter is installed")
def test_without_jupyter_kernels_are_still_judged_through_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    python = make_venv(tmp_path / "env")
    folder = write_kernel(home / ".local" / "share" / "jupyter" / "kernels", "env", [str(python), "-m", "x"])
    shutil.rmtree(tmp_path / "env")
    out = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--only", "jupyter", "--json"],
                         env=env_for(home, path=SYSTEM_PATH), capture_output=True, text=True, timeout=60)
    results = {r["id"]: r for r in json.loads(out.stdout)["results"]}
    assert out.returncode == 1
    assert results["jupyter.installed"]["status"] == "skip"
    assert results["jupyter.packages"]["caused_by"] == "jupyter.installed"
    assert results["jupyter.kernelspecs"]["status"] == "fail" and results["jupyter.kernelspecs"]["item"] == "env"
    assert results["jupyter.kernelspecs"]["fix"] == f"rm -r {folder}"  # no jupyter to run `kernelspec remove`
