"""Verdicts about the user's Python: version, kind of environment, whose `pip` that is, what PATH resolves.

The floor and warning line come from the policy; the newest Python PyTorch ships wheels for
comes from envcheck.compat.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.python import PythonFacts, Resolution
from envcheck.units import CheckSpec

_VENV_FIX = "python3 -m venv ~/.venvs/dl && . ~/.venvs/dl/bin/activate  # then pip install inside it"


def _xy(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2])


def same_interpreter(a: str, b: str) -> bool:
    """Two paths name one interpreter when they sit in the same folder and lead to the same file.

    Comparing resolved files alone is wrong: a venv's bin/python3 is a symlink to the base interpreter,
    yet it is another environment. Comparing folders alone is wrong too (python2 and python3 in /usr/bin).
    """
    real = os.path.realpath
    return real(os.path.dirname(a)) == real(os.path.dirname(b)) and real(a) == real(b)


def _no_interpreter(facts: PythonFacts) -> Outcome | None:
    if facts.interpreter is None:
        return Outcome(status=Status.UNKNOWN, reason=f"no interpreter: {facts.requested} not found",
                       caused_by="python.version")
    if facts.error or not facts.info:
        return Outcome(status=Status.UNKNOWN, reason=facts.error or "the interpreter said nothing",
                       caused_by="python.version")
    return None


def version(facts: PythonFacts, policy: Policy) -> Outcome:
    from envcheck import compat  # data file read once, only when this check runs

    evidence: dict[str, Any] = {"requested": facts.requested, "interpreter": facts.interpreter, "via": facts.via,
                                "envcheck_python": facts.own_executable, "envcheck_python_version": facts.own_version}
    if facts.interpreter is None:
        return Outcome(status=Status.FAIL, observed=f"{facts.requested}: not found",
                       expected=f"Python >= {policy.python_min}",
                       reason="no Python to install packages into or to run training code",
                       fix="sudo apt-get install -y python3 python3-venv python3-pip", evidence=evidence)
    if facts.error or not facts.info:
        return Outcome(status=Status.UNKNOWN, observed=facts.interpreter, evidence=evidence,
                       reason=facts.error or "the interpreter said nothing",
                       fix=f"{shlex.quote(facts.interpreter)} -c 'import sys; print(sys.version)'")
    info = facts.info
    evidence.update(executable=info.get("executable"), prefix=info.get("prefix"))
    ver = tuple(int(p) for p in info.get("version", [0, 0, 0]))
    text = ".".join(str(p) for p in ver)
    observed = f"Python {text} at {info.get('executable')}" + (f" (via {facts.via})" if facts.via else "")
    upgrade = "conda create -n dl python=3.12 && conda activate dl  # or: uv venv --python 3.12 ~/.venvs/dl"
    if ver[:2] < _xy(policy.python_min):
        return Outcome(status=Status.FAIL, observed=observed, expected=f">= {policy.python_min}", evidence=evidence,
                       fix=upgrade, reason=f"current PyTorch releases need Python {policy.python_min} or newer")
    if ver[:2] < _xy(policy.python_warn_below):
        return Outcome(status=Status.WARN, observed=observed, expected=f">= {policy.python_warn_below}",
                       evidence=evidence,
                       fix=upgrade, reason="works today, but the next PyTorch releases will drop it")
    newest = compat.torch_releases()[-1]
    if ver[:2] > _xy(newest.python_max):
        return Outcome(status=Status.WARN, observed=observed, expected=f"<= {newest.python_max}", evidence=evidence,
                       fix=upgrade, reason=f"PyTorch {newest.version} ships wheels up to Python {newest.python_max}")
    return Outcome(status=Status.PASS, observed=observed, expected=f">= {policy.python_warn_below}", evidence=evidence)


def _kind(info: Any) -> str:
    if info.get("prefix") != info.get("base_prefix"):
        return "venv"
    if info.get("conda_meta"):
        return "conda"
    return "system"


def environment(facts: PythonFacts, policy: Policy) -> Outcome:
    blocked = _no_interpreter(facts)
    if blocked is not None:
        return blocked
    info = facts.info
    prefix = str(info.get("prefix"))
    evidence = {k: info.get(k) for k in ("prefix", "base_prefix", "conda_prefix", "conda_env", "externally_managed")}
    kind = _kind(info)
    if kind == "venv":
        return Outcome(status=Status.PASS, observed=f"venv at {prefix}", evidence=evidence)
    if kind == "conda":
        if info.get("conda_base"):
            return Outcome(status=Status.WARN, observed=f"conda base environment at {prefix}",
                           expected="a named conda env",
                           evidence=evidence, fix="conda create -n dl python=3.12 && conda activate dl",
                           reason="packages installed into base can break conda itself; keep projects in their own env")
        name = info.get("conda_env") if info.get("conda_prefix") == prefix else os.path.basename(prefix)
        return Outcome(status=Status.PASS, observed=f"conda env {name} at {prefix}", evidence=evidence)
    if ".pyenv/versions/" in prefix + "/":
        return Outcome(status=Status.PASS, observed=f"pyenv Python at {prefix}", evidence=evidence)
    if info.get("externally_managed"):
        return Outcome(
            status=Status.WARN, observed=f"system Python at {prefix}, externally managed (PEP 668)",
            expected="a venv or conda env", evidence=evidence, fix=_VENV_FIX,
            reason="a bare `pip install` fails here with error: externally-managed-environment; install into a venv",
        )
    return Outcome(status=Status.PASS, observed=f"system Python at {prefix}", evidence=evidence,
                   reason="pip installs go to ~/.local and are shared by every project; a venv keeps them apart")


def _pip_fix(info: Any) -> str:
    kind = _kind(info)
    if kind == "conda":
        return "conda install -y pip"
    if kind == "system" and str(info.get("prefix")) == "/usr":
        return "sudo apt-get install -y python3-pip"
    return f"{info.get('executable')} -m ensurepip --upgrade"


def pip(facts: PythonFacts, policy: Policy) -> Outcome:
    blocked = _no_interpreter(facts)
    if blocked is not None:
        return blocked
    info = facts.info
    exe = str(info.get("executable"))
    res = next(r for r in facts.resolutions if r.name == "pip")
    owner = res.interpreter
    evidence = {"pip_module": info.get("pip_path"), "pip_version": info.get("pip_version"), "pip_on_path": res.path,
                "pip_target": res.target, "pip_interpreter": owner, "interpreter": exe}
    if res.path is not None and owner is not None and not same_interpreter(owner, exe):
        return Outcome(
            status=Status.WARN, observed=f"`pip` on PATH ({res.path}) installs into {owner}, not into {exe}",
            expected="pip of the same interpreter", evidence=evidence,
            reason="packages you pip install will not be importable from this python3"
                   + ("; this interpreter has no pip either" if not info.get("pip_version") else ""),
            fix=f"{exe} -m pip install <package>  # always the right pip; after activating a venv also run: hash -r"
            if info.get("pip_version") else _pip_fix(info),
        )
    if not info.get("pip_version"):
        return Outcome(status=Status.WARN, observed=f"no pip module in {exe}", expected="pip installed",
                       evidence=evidence,
                       reason="without pip nothing can be installed into this interpreter", fix=_pip_fix(info))
    observed = f"pip {info.get('pip_version')} of {exe}"
    if res.path is None:
        return Outcome(status=Status.PASS, observed=observed + "; no `pip` on PATH: use python3 -m pip",
                       evidence=evidence)
    if owner is None:
        return Outcome(status=Status.UNKNOWN, observed=f"`pip` on PATH is {res.path}", evidence=evidence,
                       reason="could not read which interpreter it runs; `python3 -m pip` is always the right one")
    return Outcome(status=Status.PASS, observed=f"{observed}; `pip` on PATH ({res.path}) matches", evidence=evidence)


def _describe(res: Resolution) -> str:
    if res.path is None:
        return f"{res.name}: not found"
    text = f"{res.name} -> {res.path}"
    if res.kind == "pyenv shim":
        text += f" (pyenv shim -> {res.target or 'unresolved'})"
    elif res.realpath and res.realpath != res.path:
        text += f" -> {res.realpath}"
    if res.interpreter and res.name in ("pip", "jupyter"):
        text += f" [runs {res.interpreter}]"
    return text


def _identity(res: Resolution) -> str | None:
    return res.target if res.kind == "pyenv shim" else res.path


def path_resolution(facts: PythonFacts, policy: Policy) -> Outcome:
    by_name = {r.name: r for r in facts.resolutions}
    observed = "; ".join(_describe(r) for r in facts.resolutions)
    evidence = {r.name: {"path": r.path, "realpath": r.realpath, "kind": r.kind, "target": r.target,
                         "interpreter": r.interpreter, "broken": list(r.broken)} for r in facts.resolutions}
    broken = [b for r in facts.resolutions for b in r.broken]
    if broken:
        return Outcome(status=Status.WARN, observed=observed, expected="no dangling links on PATH", evidence=evidence,
                       reason=f"PATH holds links into a deleted environment: {', '.join(broken)}",
                       fix="rm " + " ".join(b.split(" -> ")[0] for b in broken))
    py, py3 = _identity(by_name["python"]), _identity(by_name["python3"])
    if py and py3 and not same_interpreter(py, py3):
        real_py, real_py3 = os.path.realpath(py), os.path.realpath(py3)
        return Outcome(status=Status.WARN, observed=observed, expected="python and python3 the same interpreter",
                       evidence=evidence, reason=f"`python` runs {real_py} but `python3` runs {real_py3}: "
                                                 "scripts and notebooks may see different packages",
                       fix="use python3 explicitly, or activate the intended env first")
    if py3 and not py:
        return Outcome(status=Status.WARN, observed=observed, expected="`python` on PATH", evidence=evidence,
                       reason="many READMEs and scripts call `python`", fix="sudo apt-get install -y python-is-python3")
    jupyter = by_name["jupyter"].interpreter
    reason = ""
    if jupyter and facts.info.get("executable") and not same_interpreter(jupyter, str(facts.info["executable"])):
        reason = (f"jupyter runs on {jupyter}: notebooks use this python3 only through a kernelspec "
                  "(python3 -m ipykernel install --user --name dl)")
    return Outcome(status=Status.PASS, observed=observed, evidence=evidence, reason=reason)


def user_site(facts: PythonFacts, policy: Policy) -> Outcome:
    blocked = _no_interpreter(facts)
    if blocked is not None:
        return blocked
    info = facts.info
    site_dir, entries = info.get("user_site"), int(info.get("user_site_entries") or 0)
    if _kind(info) != "conda":
        return Outcome(status=Status.SKIP, reason="only conda envs see ~/.local packages (venvs exclude them)")
    if not site_dir or entries == 0:
        return Outcome(status=Status.PASS, observed="no packages in the user site")
    return Outcome(
        status=Status.WARN, observed=f"{entries} entries in {site_dir}", expected="an empty user site",
        evidence={"user_site": site_dir, "entries": entries},
        reason="conda envs import packages from ~/.local before their own: a stale torch or numpy there wins",
        fix=f"export PYTHONNOUSERSITE=1  # or move them away: mv {site_dir} {site_dir}.bak",
    )


CHECKS = (
    CheckSpec("python.version", "Python version", "python", version),
    CheckSpec("python.environment", "venv, conda env or system Python", "python", environment),
    CheckSpec("python.pip", "pip belongs to this Python", "python", pip),
    CheckSpec("python.path-resolution", "where python, python3, pip, jupyter resolve", "python", path_resolution),
    CheckSpec("python.user-site", "no ~/.local packages leaking into a conda env", "python", user_site),
)
