"""Verdicts about conda: installed, version, active env, every env, environments.txt, channels, the
`pytorch` channel, the ``__cuda`` virtual package, mamba and micromamba, and pixi and uv.

The envs are judged through whichever manager answered (conda, else mamba, else micromamba): a machine
with only micromamba gets the same checks, with fixes spelled for micromamba.
No manager at all is *not applicable* (skip) with the Miniforge install command, unless the policy
requires conda. Every check that needs `conda info --json` is unknown, with its reason, when that
call timed out or printed something unreadable.
"""

from __future__ import annotations

import re
import shlex

from envcheck.model import Outcome, Status
from envcheck.policy import Policy
from envcheck.probes.conda import CondaEnv, CondaFacts
from envcheck.units import CheckSpec

MINIFORGE_INSTALL = (
    'curl -fsSLo /tmp/Miniforge3.sh "https://github.com/conda-forge/miniforge/releases/latest/download/'
    'Miniforge3-$(uname)-$(uname -m).sh"\n'
    'bash /tmp/Miniforge3.sh -b -p "$HOME/miniforge3" && "$HOME/miniforge3/bin/conda" init bash'
)
# `defaults` resolves to these hosts; Anaconda's Terms of Service require a paid licence for
# organisations of 200 or more people using them (anaconda.com/legal/terms/terms-of-service, 2024).
_DEFAULTS = re.compile(r"://(repo\.anaconda\.com|repo\.continuum\.io)/|conda\.anaconda\.org/(main|r|msys2)/")
_PYTORCH_CHANNEL = re.compile(r"conda\.anaconda\.org/(?:t/[^/]+/)?pytorch(?:-nightly)?/")
_CONDA_FORGE = re.compile(r"conda\.anaconda\.org/(?:t/[^/]+/)?conda-forge/")


def _is_pytorch_channel(channel: str) -> bool:
    # conda-meta records name the channel by URL (conda >= 4.7) or, in older records, by name alone.
    return bool(_PYTORCH_CHANNEL.search(channel + "/")) or channel in ("pytorch", "pytorch-nightly")


def drop_entry(prefix: str) -> str:
    """A sed command that deletes exactly the line ``prefix`` from ~/.conda/environments.txt.

    The path is data in a regular expression inside a shell word: BRE metacharacters and the `|`
    delimiter are escaped (GNU sed: an escaped delimiter is literal), then the whole script is quoted,
    so a path with `.`, `'`, `|` or spaces still matches only itself."""
    pattern = re.sub(r"([\\.*\[\]^$|])", r"\\\1", prefix)
    script = "\\|^" + pattern + "$|d"  # \|...| : an address with | as its delimiter
    return f"sed -i {shlex.quote(script)} ~/.conda/environments.txt"


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def _no_info(facts: CondaFacts) -> Outcome | None:
    if facts.info_error:
        return Outcome(status=Status.UNKNOWN, reason=facts.info_error,
                       fix=f"{shlex.quote(facts.exe or 'conda')} info --json  # run it by hand to see what it does")
    return None


def _cli(facts: CondaFacts) -> str:
    """The command a fix starts with: the manager that is installed (`conda`, `mamba` or `micromamba`)."""
    return facts.manager or "conda"


def installed(facts: CondaFacts, policy: Policy) -> Outcome:
    if facts.exe is None:
        required = policy.requires_tool("conda")  # require_conda, or conda in tools_required (any of its relatives)
        status = Status.FAIL if required else Status.SKIP
        missing = "no conda, mamba or micromamba found"
        return Outcome(status=status, observed=missing,
                       expected="conda (Miniforge)" if required else "",
                       reason=missing + (": this policy requires conda" if required else
                                         " (optional; Miniforge installs conda and mamba: https://conda-forge.org/download/)"),
                       fix=MINIFORGE_INSTALL, evidence={"searched": list(facts.searched)})
    manager = _cli(facts)
    shown = f"{manager} {facts.version} at {facts.exe}" if facts.version else f"{manager} at {facts.exe}"
    if manager != "conda":
        shown += ", no conda"
    evidence = {"path": facts.exe, "found_via": facts.found_via, "root_prefix": facts.root_prefix}
    if manager != "conda":
        evidence["manager"] = manager
    if facts.stale_conda_exe:
        return Outcome(
            status=Status.WARN, observed=f"$CONDA_EXE={facts.stale_conda_exe} does not exist; using {facts.exe}",
            expected="$CONDA_EXE naming a conda that exists",
            reason="a shell set up by `conda init` for a conda that was moved or deleted",
            # micromamba and mamba 2 spell it `shell init` (micromamba/src/shell.cpp in mamba-org/mamba).
            fix=f"{shlex.quote(facts.exe)} {'init bash' if manager == 'conda' else 'shell init -s bash'}"
            "  # then open a new shell", evidence=evidence,
        )
    return Outcome(status=Status.PASS, observed=f"{shown} (via {facts.found_via})", evidence=evidence)


def version(facts: CondaFacts, policy: Policy) -> Outcome:
    if facts.version is None:
        return _no_info(facts) or Outcome(status=Status.UNKNOWN, reason="conda did not report its version",
                                          fix=f"{shlex.quote(facts.exe or 'conda')} --version")
    evidence = {"version": facts.version, "source": facts.version_source, "solver": facts.solver}
    if facts.manager != "conda":  # mamba 2 and micromamba solve with libmamba at every version: no solver advice
        return Outcome(status=Status.PASS, observed=f"{facts.manager} {facts.version}, libmamba solver",
                       evidence={**evidence, "manager": facts.manager})
    if facts.json_ignored:
        return Outcome(
            status=Status.WARN, observed=f"conda {facts.version} ignores --json: `conda info --json` printed text",
            expected="conda that answers in JSON", evidence={**evidence, "json_ignored": True},
            reason="conda 23.7.0-23.7.2 print text for `conda info --json` (conda/conda#12972, fixed in 23.7.3); "
            "envcheck read the text, but scripts and IDEs that parse the JSON fail",
            fix="conda update -n base conda",
        )
    update = "conda update -n base -c conda-forge conda"
    if _vtuple(facts.version) < _vtuple(policy.conda_warn_below):
        return Outcome(status=Status.WARN, observed=f"conda {facts.version}",
                       expected=f"conda >= {policy.conda_warn_below}",
                       reason="conda before 23.10 solves with the classic solver: slow, and often stuck on big envs",
                       fix=update, evidence=evidence)
    if facts.solver == "classic":
        return Outcome(status=Status.WARN, observed=f"conda {facts.version} with the classic solver",
                       expected="the libmamba solver", reason="the classic solver is many times slower",
                       fix="conda config --set solver libmamba", evidence=evidence)
    solver = f", {facts.solver} solver" if facts.solver else ""
    return Outcome(status=Status.PASS, observed=f"conda {facts.version}{solver}", evidence=evidence)


def active_env(facts: CondaFacts, policy: Policy) -> Outcome:
    if not facts.active_prefix:
        return Outcome(status=Status.SKIP, reason="no conda env is active in this shell")
    name = facts.active_name or facts.active_prefix
    if not facts.active_exists:
        return Outcome(status=Status.FAIL, observed=f"{name} at {facts.active_prefix}: folder does not exist",
                       expected="the active env exists", reason="this shell still has a deleted env activated",
                       fix=f"{_cli(facts)} deactivate")
    evidence = {"prefix": facts.active_prefix, "python_on_path": facts.python_on_path}
    on_path = facts.python_on_path
    if on_path and not on_path.startswith(facts.active_prefix.rstrip("/") + "/"):
        return Outcome(
            status=Status.WARN, observed=f"{name} is active, but `python` is {on_path}",
            expected=f"python from {facts.active_prefix}/bin",
            reason="something earlier on PATH (or an env without python) shadows the active env's interpreter",
            fix=f"{_cli(facts)} install -n {shlex.quote(name)} python  # if the env has no python; "
            "else fix PATH in ~/.bashrc",
            evidence=evidence,
        )
    return Outcome(status=Status.PASS, observed=f"{name} ({facts.active_prefix})", evidence=evidence)


def _env_outcome(env: CondaEnv, policy: Policy, cli: str) -> Outcome:
    evidence = {"prefix": env.prefix, "python": env.python_version, "torch": env.torch_version,
                "torch_source": env.torch_source}
    if not env.exists:
        return Outcome(status=Status.WARN, item=env.name, observed=f"{env.prefix} does not exist",
                       expected="the env's folder",
                       reason="conda lists an env whose folder is gone (deleted by hand, or an unmounted disk)",
                       fix=drop_entry(env.prefix), evidence=evidence)
    if not env.is_conda_env:
        return Outcome(status=Status.WARN, item=env.name, observed=f"{env.prefix} has no conda-meta",
                       expected="a conda env", reason="the folder exists but is not a conda env (a half-deleted env?)",
                       fix=f"rm -rf {shlex.quote(env.prefix)}  # after checking nothing in it is needed",
                       evidence=evidence)
    if env.python_version is None:
        return Outcome(status=Status.PASS, item=env.name, observed=f"{env.prefix}, no Python", evidence=evidence)
    observed = f"Python {env.python_version} at {env.prefix}"
    if _vtuple(env.python_version) < _vtuple(policy.python_min):
        return Outcome(status=Status.WARN, item=env.name, observed=observed, expected=f"Python >= {policy.python_min}",
                       reason="current PyTorch, numpy and friends no longer release for this Python",
                       fix=f"{cli} install -n {shlex.quote(env.name)} -c conda-forge 'python>={policy.python_min}'",
                       evidence=evidence)
    return Outcome(status=Status.PASS, item=env.name, observed=observed, evidence=evidence)


def envs(facts: CondaFacts, policy: Policy) -> list[Outcome]:
    blocked = _no_info(facts)
    if blocked:
        return [blocked]
    return [_env_outcome(env, policy, _cli(facts)) for env in facts.envs]  # none: the engine records a skip


def environments_txt(facts: CondaFacts, policy: Policy) -> Outcome:
    if facts.environments_txt_error:
        return Outcome(status=Status.UNKNOWN, reason=facts.environments_txt_error,
                       fix=f"ls -ld {shlex.quote(facts.environments_txt)}  # must be a file you can read")
    if not facts.environments_txt_entries:
        return Outcome(status=Status.SKIP, reason=f"no entries in {facts.environments_txt}")
    if facts.environments_txt_stale:
        lines = [drop_entry(p) for p in facts.environments_txt_stale]
        return Outcome(
            status=Status.WARN,
            observed=f"{len(facts.environments_txt_stale)} of {len(facts.environments_txt_entries)} "
            f"entries gone: {', '.join(facts.environments_txt_stale)}",
            expected="every entry an existing env", fix="\n".join(lines),
            reason="envs deleted without `conda env remove` stay listed; tools that read the list offer dead envs",
            evidence={"path": facts.environments_txt, "stale": list(facts.environments_txt_stale)},
        )
    return Outcome(status=Status.PASS, observed=f"{len(facts.environments_txt_entries)} entries, all exist",
                   evidence={"path": facts.environments_txt})


def channels(facts: CondaFacts, policy: Policy) -> Outcome:
    blocked = _no_info(facts)
    if blocked:
        return blocked
    evidence = {"channels": list(facts.channels)}
    defaults = [c for c in facts.channels if _DEFAULTS.search(c)]
    if defaults:
        mixed = " mixed with conda-forge" if any(_CONDA_FORGE.search(c) for c in facts.channels) else ""
        return Outcome(
            status=Status.WARN, observed=f"`defaults` in use{mixed} ({defaults[0]})", expected="conda-forge only",
            reason="repo.anaconda.com falls under Anaconda's Terms of Service: organisations of 200+ people need a "
            "paid licence" + ("; mixing it with conda-forge also mixes binary builds" if mixed else ""),
            fix="conda config --add channels conda-forge\nconda config --remove channels defaults"
            if _cli(facts) == "conda" else  # libmamba's `config` has prepend/remove (micromamba/src/config.cpp)
            f"{_cli(facts)} config prepend channels conda-forge\n{_cli(facts)} config remove channels defaults",
            evidence=evidence,
        )
    if not facts.channels:
        return Outcome(status=Status.UNKNOWN, reason="conda reported no channels",
                       fix=f"{shlex.quote(facts.exe or 'conda')} config --show channels")
    names = [re.sub(r"^.*conda\.anaconda\.org/(?:t/[^/]+/)?|/(linux|osx|win|noarch)[^/]*/?$", "", c)
             for c in facts.channels]
    return Outcome(status=Status.PASS, observed=", ".join(dict.fromkeys(names)), evidence=evidence)


def pytorch_channel(facts: CondaFacts, policy: Policy) -> Outcome:
    blocked = _no_info(facts)
    if blocked:
        return blocked
    configured = [c for c in facts.channels if _is_pytorch_channel(c)]
    pinned = [e for e in facts.envs if e.torch_source and _is_pytorch_channel(e.torch_source)]
    newer = [e for e in facts.envs if e.torch_version and _vtuple(e.torch_version)[:2] > (2, 5)]
    if not configured and not pinned:
        return Outcome(status=Status.PASS, observed="the `pytorch` channel is not used")
    parts = []
    if configured:
        parts.append("the `pytorch` channel is configured")
    if pinned:
        parts.append("torch from it in " + ", ".join(f"{e.name} ({e.torch_version})" for e in pinned))
    if newer:
        parts.append("torch > 2.5 in " + ", ".join(f"{e.name} ({e.torch_version})" for e in newer))
    cli = _cli(facts)
    fixes = [f"{cli} config --remove channels pytorch" if cli == "conda" else f"{cli} config remove channels pytorch"
             ] if configured else []
    fixes += [f"{cli} remove -n {shlex.quote(e.name)} pytorch pytorch-cuda torchvision torchaudio && "
              f"{cli} install -n {shlex.quote(e.name)} -c conda-forge pytorch" for e in pinned]
    return Outcome(
        status=Status.WARN, observed="; ".join(parts), expected="torch from conda-forge or pip",
        reason="the PyTorch team stopped publishing to the `pytorch` channel after 2.5 (pytorch/pytorch#138506): "
        "it can never give torch > 2.5 and pins envs to old builds",
        fix="\n".join(fixes), evidence={"channels": configured, "frozen_envs": [e.name for e in pinned]},
    )


def cuda_virtual_package(facts: CondaFacts, policy: Policy) -> Outcome:
    blocked = _no_info(facts)
    if blocked:
        return blocked
    cuda = next((p for p in facts.virtual_packages if p[0] == "__cuda"), None)
    evidence = {"virtual_packages": ["=".join(p) for p in facts.virtual_packages],
                "CONDA_OVERRIDE_CUDA": facts.cuda_override, "nvidia_driver_loaded": facts.nvidia_driver_loaded}
    if cuda:
        note = f" (set by CONDA_OVERRIDE_CUDA={facts.cuda_override})" if facts.cuda_override is not None else ""
        return Outcome(status=Status.PASS, observed=f"__cuda={cuda[1]}{note}", evidence=evidence)
    if facts.nvidia_driver_loaded:
        why = ("CONDA_OVERRIDE_CUDA is set to empty, which hides the GPU" if facts.cuda_override == ""
               else "conda could not load libcuda from the driver")
        return Outcome(status=Status.WARN, observed="no __cuda, though an NVIDIA driver is loaded",
                       expected="__cuda=<x.y>",
                       reason=f"{why}: conda-forge will install CPU-only builds of pytorch",
                       fix="nvidia-smi  # must list the GPU\n"
                       "export CONDA_OVERRIDE_CUDA=12.6  # the \"CUDA Version\" nvidia-smi prints",
                       evidence=evidence)
    return Outcome(status=Status.SKIP, reason="no NVIDIA driver, so no __cuda: conda installs CPU builds",
                   evidence=evidence)


def mamba(facts: CondaFacts, policy: Policy) -> list[Outcome]:
    outcomes = []
    for tool in facts.tools:
        evidence = {"path": tool.path, "version": tool.version}
        if tool.version is None:
            outcomes.append(Outcome(status=Status.UNKNOWN, item=tool.name, observed=tool.path, evidence=evidence,
                                    reason=tool.error or f"could not read {tool.name}'s version",
                                    fix=f"{shlex.quote(tool.path)} --version"))
        else:
            outcomes.append(Outcome(status=Status.PASS, item=tool.name,
                                    observed=f"{tool.name} {tool.version} at {tool.path}",
                                    evidence=evidence))
    return outcomes or [Outcome(status=Status.SKIP, reason="neither mamba nor micromamba found (optional)")]


def pixi_uv(facts: CondaFacts, policy: Policy) -> Outcome:
    """Information only: which of the env tools outside conda are here, and their versions."""
    if not facts.other_tools:
        return Outcome(status=Status.SKIP, reason="neither pixi nor uv is on PATH (optional)")
    shown = [f"{t.name} {t.version}" if t.version else f"{t.name} (version unreadable: {t.error or 'no output'})"
             for t in facts.other_tools]
    return Outcome(status=Status.PASS, observed=", ".join(shown),
                   evidence={t.name: {"path": t.path, "version": t.version} for t in facts.other_tools})


CHECKS = (
    CheckSpec("conda.installed", "conda installed", "conda", installed),
    CheckSpec("conda.version", "conda version", "conda", version, requires=("conda.installed",)),
    CheckSpec("conda.active-env", "active conda env", "conda", active_env, requires=("conda.installed",)),
    CheckSpec("conda.envs", "conda env", "conda", envs, requires=("conda.installed",)),
    CheckSpec("conda.environments-txt", "~/.conda/environments.txt entries exist", "conda", environments_txt,
              requires=("conda.installed",)),
    CheckSpec("conda.channels", "conda channels", "conda", channels, requires=("conda.installed",)),
    CheckSpec("conda.pytorch-channel", "no dead `pytorch` channel", "conda", pytorch_channel,
              requires=("conda.installed",)),
    CheckSpec("conda.cuda-virtual-package", "conda sees CUDA (__cuda)", "conda", cuda_virtual_package,
              requires=("conda.installed",)),
    CheckSpec("conda.mamba", "mamba / micromamba", "conda", mamba),
    CheckSpec("conda.pixi-uv", "pixi / uv", "conda", pixi_uv),
)
