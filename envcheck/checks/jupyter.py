"""Verdicts about Jupyter: the launcher and its interpreter, the packages, and every kernelspec.

A kernelspec whose interpreter is gone (its env was deleted) is the classic dead-kernel cause: the
notebook opens, the kernel never starts. Kernelspecs are judged even without `jupyter` on PATH,
because editors (VS Code's Jupyter extension) read the same folders.
"""

from __future__ import annotations

import shlex

from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.jupyter import JupyterFacts, Kernelspec
from envcheck.units import CheckSpec

INSTALL = "python3 -m pip install jupyterlab ipykernel  # inside the venv or conda env you work in"


def installed(facts: JupyterFacts, policy: Policy) -> Outcome:
    if facts.path is None:
        if policy.requires_tool("jupyter"):
            return Outcome(status=Status.FAIL, observed="jupyter not found on PATH", expected="jupyter on PATH",
                           reason="jupyter not found on PATH: the policy requires it (tools_required)", fix=INSTALL)
        return Outcome(status=Status.SKIP, observed="jupyter not found on PATH", reason="jupyter not found on PATH",
                       fix=INSTALL)
    evidence = {"path": facts.path, "interpreter": facts.interpreter, "site_dirs": list(facts.site_dirs)}
    if facts.interpreter is None:
        # Not a Python console script (a wrapper, a binary): it exists, its versions cannot be read from files.
        return Outcome(status=Status.PASS, observed=f"jupyter at {facts.path}", reason=facts.launcher_error,
                       evidence=evidence)
    if not facts.interpreter_exists:
        return Outcome(
            status=Status.FAIL, observed=f"{facts.path} runs {facts.interpreter}, which does not exist",
            expected="a launcher whose interpreter exists",
            reason="a launcher left behind by a deleted env or an upgraded Python: `jupyter` fails with "
            "'bad interpreter'",
            fix=f"rm {shlex.quote(facts.path)}\n{INSTALL}", evidence=evidence,
        )
    return Outcome(status=Status.PASS, observed=f"jupyter at {facts.path}, run by {facts.interpreter}",
                   evidence=evidence)


def packages(facts: JupyterFacts, policy: Policy) -> Outcome:
    if facts.interpreter is None or not facts.interpreter_exists:
        return Outcome(status=Status.SKIP, reason="jupyter's interpreter is not known, so neither are its packages")
    found = dict(facts.packages)
    evidence = {"packages": found, "site_dirs": list(facts.site_dirs)}
    if "jupyter_core" not in found:
        where = ", ".join(facts.site_dirs) or f"any site-packages of {facts.interpreter}"
        return Outcome(status=Status.UNKNOWN, reason=f"no jupyter_core metadata found in {where}", evidence=evidence,
                       fix=f"{shlex.quote(facts.interpreter)} -m pip show jupyter_core")
    shown = ", ".join(f"{name} {version}" for name, version in found.items())
    missing = []
    if "notebook" not in found and "jupyterlab" not in found:
        missing.append("jupyterlab")
    if "ipykernel" not in found:
        missing.append("ipykernel")
    if missing:
        return Outcome(
            status=Status.WARN, observed=shown, expected="jupyterlab (or notebook) and ipykernel",
            reason="without " + " and ".join(missing) + (", `jupyter lab` / `jupyter notebook` do not exist"
                                                         if "jupyterlab" in missing else "")
            + (", there is no Python kernel for this interpreter" if "ipykernel" in missing else ""),
            fix=f"{shlex.quote(facts.interpreter)} -m pip install {' '.join(missing)}", evidence=evidence,
        )
    return Outcome(status=Status.PASS, observed=shown, evidence=evidence)


def _remove(spec: Kernelspec, facts: JupyterFacts) -> str:
    # `jupyter kernelspec remove -f` (force: no prompt) needs jupyter_client; without jupyter, remove the folder.
    if facts.path and dict(facts.packages).get("jupyter_client"):
        return f"jupyter kernelspec remove -f {shlex.quote(spec.name)}"
    return f"rm -r {shlex.quote(spec.resource_dir)}"


def _kernel(spec: Kernelspec, facts: JupyterFacts) -> Outcome:
    evidence = {"resource_dir": spec.resource_dir, "argv0": spec.argv0, "interpreter": spec.interpreter,
                "resolved_via": spec.resolved_via, "display_name": spec.display_name}
    if spec.error:
        return Outcome(status=Status.FAIL, item=spec.name, observed=spec.error, expected="a valid kernel.json",
                       reason="Jupyter skips this kernelspec", fix=_remove(spec, facts), evidence=evidence)
    label = f"{spec.display_name or spec.name}: {spec.argv0}"
    if not spec.interpreter_exists:
        where = spec.interpreter if spec.interpreter else f"{spec.argv0} (not on PATH)"
        return Outcome(
            status=Status.FAIL, item=spec.name, observed=f"{label} -> {where} does not exist",
            expected="the kernel's interpreter exists",
            reason="its env was deleted or moved: the kernel dies on start (a dead kernel)",
            fix=_remove(spec, facts), evidence=evidence,
        )
    if spec.ipykernel_found is False and spec.interpreter:
        return Outcome(
            status=Status.WARN, item=spec.name, observed=f"{label}: no ipykernel next to {spec.interpreter}",
            expected="ipykernel installed for the kernel's interpreter",
            reason="the kernel would fail with 'No module named ipykernel_launcher'",
            fix=f"{shlex.quote(spec.interpreter)} -m pip install ipykernel", evidence=evidence,
        )
    via = f" (via {spec.resolved_via})" if spec.resolved_via != "absolute path" else ""
    return Outcome(status=Status.PASS, item=spec.name, observed=f"{label}{via}", evidence=evidence)


def kernelspecs(facts: JupyterFacts, policy: Policy) -> list[Outcome]:
    if not facts.kernelspecs:
        return [Outcome(status=Status.SKIP, reason="no kernelspecs found",
                        evidence={"searched": list(facts.data_dirs)})]
    return [_kernel(spec, facts) for spec in facts.kernelspecs]


CHECKS = (
    CheckSpec("jupyter.installed", "jupyter installed", "jupyter", installed),
    CheckSpec("jupyter.packages", "jupyter packages", "jupyter", packages, requires=("jupyter.installed",)),
    CheckSpec("jupyter.kernelspecs", "kernelspec interpreter exists", "jupyter", kernelspecs),
)
