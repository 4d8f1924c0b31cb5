"""Jupyter verdicts as pure functions of hand-built facts."""

from __future__ import annotations

from dataclasses import replace

from envcheck.checks import jupyter as checks
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.jupyter import JupyterFacts, Kernelspec

POLICY = default_policy()
FULL = JupyterFacts(
    path="/opt/venv/bin/jupyter", interpreter="/opt/venv/bin/python", interpreter_exists=True,
    packages=(("jupyter_core", "5.7.2"), ("jupyter_client", "8.6.3"), ("jupyterlab", "4.3.4"), ("ipykernel", "6.29.5")),
    site_dirs=("/opt/venv/lib/python3.12/site-packages",),
)


def test_not_on_path_is_a_skip_with_the_install_command() -> None:
    verdict = checks.installed(JupyterFacts(path=None), POLICY)
    assert verdict.status is Status.SKIP and verdict.fix.startswith("python3 -m pip install jupyterlab ipykernel")


def test_a_launcher_that_is_not_a_python_script_still_counts_as_installed() -> None:
    wrapper = JupyterFacts(path="/usr/local/bin/jupyter", launcher_error="/usr/local/bin/jupyter is not a script")
    assert checks.installed(wrapper, POLICY).status is Status.PASS
    assert checks.packages(wrapper, POLICY).status is Status.SKIP


def test_packages() -> None:
    verdict = checks.packages(FULL, POLICY)
    assert verdict.status is Status.PASS
    assert verdict.observed == "jupyter_core 5.7.2, jupyter_client 8.6.3, jupyterlab 4.3.4, ipykernel 6.29.5"
    core_only = checks.packages(replace(FULL, packages=(("jupyter_core", "5.9.1"),)), POLICY)
    assert core_only.status is Status.WARN
    assert core_only.fix == "/opt/venv/bin/python -m pip install jupyterlab ipykernel"
    notebook = replace(FULL, packages=(("jupyter_core", "5.7.2"), ("notebook", "7.3.2"), ("ipykernel", "6.29.5")))
    assert checks.packages(notebook, POLICY).status is Status.PASS
    unreadable = checks.packages(replace(FULL, packages=()), POLICY)
    assert unreadable.status is Status.UNKNOWN and "/opt/venv/lib/python3.12/site-packages" in unreadable.reason


def test_kernelspecs_one_outcome_each_and_the_fix_depends_on_jupyter_client() -> None:
    specs = (
        Kernelspec("ok", "/k/ok", argv0="/opt/venv/bin/python", interpreter="/opt/venv/bin/python",
                   interpreter_exists=True, resolved_via="absolute path", display_name="Python 3",
                   uses_ipykernel=True, ipykernel_found=True),
        Kernelspec("dead", "/k/dead", argv0="/gone/bin/python", interpreter="/gone/bin/python", display_name="Old"),
        Kernelspec("bad", "/k/bad", error="kernel.json has no argv list"),
    )
    facts = replace(FULL, kernelspecs=specs)
    ok, dead, bad = checks.kernelspecs(facts, POLICY)
    assert (ok.item, ok.status, ok.observed) == ("ok", Status.PASS, "Python 3: /opt/venv/bin/python")
    assert dead.status is Status.FAIL and dead.fix == "jupyter kernelspec remove -f dead"
    assert bad.status is Status.FAIL and bad.observed == "kernel.json has no argv list"
    without_client = replace(facts, packages=(("jupyter_core", "5.7.2"),))
    assert checks.kernelspecs(without_client, POLICY)[1].fix == "rm -r /k/dead"
    [none] = checks.kernelspecs(replace(FULL, data_dirs=("/x/kernels",)), POLICY)
    assert none.status is Status.SKIP and none.evidence["searched"] == ["/x/kernels"]


def test_fixes_quote_odd_names() -> None:
    odd = Kernelspec("my kernel", "/k/My Kernel", argv0="/gone/python", interpreter="/gone/python")
    [verdict] = checks.kernelspecs(replace(FULL, kernelspecs=(odd,)), POLICY)
    assert verdict.fix == "jupyter kernelspec remove -f 'my kernel'"
