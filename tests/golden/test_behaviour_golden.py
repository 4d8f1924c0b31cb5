"""What envcheck decides for every machine the tests replay, compared with recorded golden files.

A refactor must not change what a user sees: same check ids, outcomes, texts and evidence. This test runs
every replayed machine (NVML recordings through the real NVML child, conda recordings through a stand-in
conda, os-release files through the host probe, deterministic Docker endpoints and hand-built Docker facts,
`scaffold --dry-run --json` for planned machines, smoke child output through the real driver, and one real
CPU smoke run with torch) and compares the results, field by field, with tests/data/golden/*.json.

A difference is a user-visible behaviour change. When it is intended, regenerate the files with
``ENVCHECK_GOLDEN_UPDATE=1 pytest tests/golden/test_behaviour_golden.py`` and review the diff;
tests/data/golden/README.md says what each file holds.

Layout: the ADAPTER section below is the only code here that touches envcheck's internal API (facts classes,
probe contexts and options, the engine's apply_checks, file locations). When internals move, adapt only that section;
never edit a golden file to make a refactor pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers.conda_helpers import SYSTEM_PATH, conda_machine
from helpers.conda_helpers import ctx as conda_ctx
from helpers.docker_helpers import HangingServer, stale_socket
from helpers.gpu_helpers import host_files
from helpers.smoke_helpers import Replay

# ==================================================================================================================
# ADAPTER: the only part of this file that uses envcheck's internal API (from these imports down to END OF ADAPTER).
# Each function returns plain JSON data: results as dicts with RESULT_FIELDS, or a printed JSON document. When
# internals move (facts classes, probe options, the engine, where the child scripts live), adapt only this part.
# ==================================================================================================================
import envcheck
from envcheck import runner
from envcheck.engine import Collected, apply_checks, examine, make_context
from envcheck.hostfs import HostFS
from envcheck.model import Result
from envcheck.policy import Policy, default_policy
from envcheck.units import ProbeContext, ProbeOptions

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
GOLDEN = DATA / "golden"
# Support dates (driver branches, Ubuntu releases) are judged on this day, not on the day the test runs.
TODAY = date(2026, 12, 1)
# The fields of a result as every report shows them; duration_s is left out (it is a timing).
RESULT_FIELDS = ("id", "title", "status", "observed", "expected", "reason", "fix", "caused_by", "item", "evidence")
NVML = DATA / "nvml"
NVML_FAKE = NVML / "fake"  # the stand-in pynvml that answers from a recording
OS_RELEASE = DATA / "os-release"
# The machines of tests/data/scaffold, by the name the golden cases give them: folders with a /proc/driver/nvidia.
PROC_NVIDIA = {"proc-nvidia-535-a100": DATA / "scaffold" / "host-535-a100",
               "proc-nvidia-open-570-h100": DATA / "scaffold" / "host-open-570-h100"}
SMOKE = DATA / "smoke"
PYTHON_XY = "3.11"  # the Python a scaffold plan's "this machine" has
# The checkout envcheck is imported from: the templates' folder lies in it, and normalised text names it <repo>.
REPO = Path(envcheck.__file__).resolve().parent.parent


def result_dict(result: Result) -> dict[str, Any]:
    data = {name: getattr(result, name) for name in RESULT_FIELDS}
    data["status"] = result.status.value
    data["evidence"] = dict(result.evidence)
    return data


def results_dicts(results: list[Result] | tuple[Result, ...]) -> list[dict[str, Any]]:
    return [result_dict(r) for r in results]


def policy_with(**values: Any) -> Policy:
    return Policy.from_mapping(values, base=default_policy()) if values else default_policy()


# --- gpu -----------------------------------------------------------------------------------------------------------


def _gpu_ctx(tmp: Path, recording: Path, timeout_s: float, options: ProbeOptions | None = None) -> ProbeContext:
    env = dict(os.environ, PYTHONPATH=str(NVML_FAKE), ENVCHECK_NVML_RECORDING=str(recording))
    return ProbeContext(env=env, home=str(tmp), timeout_s=timeout_s, run=runner.run, options=options or ProbeOptions(),
                        fs=host_files(tmp, json.loads(recording.read_text()).get("host", {})))


def gpu_facts(recording: Path, tmp: Path, timeout_s: float = 5.0) -> Any:
    """The gpu probe's facts for a recording (replayed through the real NVML child), with today pinned to TODAY."""
    from envcheck.probes.gpu import collect

    facts = collect(_gpu_ctx(tmp, recording, timeout_s))
    return replace(facts, today=TODAY.isoformat())


def _gpu_judge(facts: Any, torch_build: Any) -> list[dict[str, Any]]:
    from envcheck.checks.gpu import CHECKS
    from envcheck.probes.gpu import TorchBuildFacts

    build = torch_build if torch_build is not None else TorchBuildFacts(asked=False)
    runs = {"gpu": Collected("gpu", facts=facts), "gpu-torch": Collected("gpu-torch", facts=build)}
    return results_dicts(apply_checks(CHECKS, runs, default_policy()))


def gpu_results(recording: Path, tmp: Path, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """A recording replayed through the real NVML child (with the stand-in pynvml), judged by every gpu check."""
    return _gpu_judge(gpu_facts(recording, tmp, timeout_s), None)


def nvml_init_error_recording(error: str, folder: Path) -> Path:
    """nvmlInit raising ``error`` on a machine whose kernel module is loaded (the no-permission host)."""
    host = json.loads((NVML / "no-permission.json").read_text())["host"]
    path = folder / f"init-{error}.json"
    path.write_text(json.dumps({"nvmlInit": {"error": error}, "host": host,
                                "system": {"nvmlSystemGetNVMLVersion": "12.550.127.05"}}))
    return path


# The torch builds the gpu.torch-build check judges (tests/checks/test_gpu_checks.py's cases), by name.
TORCH_BUILDS: dict[str, dict[str, Any]] = {
    "cpu": {"version": "2.13.0+cpu", "cuda": None, "available": False},
    "cu130-sm90-not-initialised": {"version": "2.13.0+cu130", "cuda": "13.0", "arch_list": ("sm_90",),
                                   "available": False},
    "cu130-sm90-initialised": {"version": "2.13.0+cu130", "cuda": "13.0", "arch_list": ("sm_90", "compute_90"),
                               "available": True},
    "cu126-sm80-sm90": {"version": "2.6.0+cu126", "cuda": "12.6", "arch_list": ("sm_80", "sm_90"),
                        "available": True},
    "cu124-initialised": {"version": "2.5.1+cu124", "cuda": "12.4", "arch_list": ("sm_80", "sm_90"),
                          "available": True},
    "cu124-not-initialised": {"version": "2.5.1+cu124", "cuda": "12.4", "arch_list": ("sm_80", "sm_90"),
                              "available": False},
    "missing": {"missing": True, "error": "ModuleNotFoundError: No module named 'torch'"},
    "child-timeout": {"error": "timed out after 29.7 s"},
}


def gpu_torch_build_results(facts: Any, build: str) -> list[dict[str, Any]]:
    """The gpu.torch-build verdict for a hand-built torch build (TORCH_BUILDS) beside gpu facts (gpu_facts)."""
    from envcheck.probes.gpu import TorchBuildFacts
    from envcheck.probes.gpu_torch import TorchFacts

    torch = TorchFacts(python="/opt/venv/bin/python", **TORCH_BUILDS[build])
    results = _gpu_judge(facts, TorchBuildFacts(asked=True, gpu=facts, torch=torch))
    return [r for r in results if r["id"] == "gpu.torch-build"]


def gpu_real_torch_results(recording: Path, tmp: Path) -> list[dict[str, Any]]:
    """`doctor --torch` on a replayed machine: the real torch child in this interpreter beside the NVML child."""
    from envcheck.probes.gpu import collect_torch_build

    build = collect_torch_build(_gpu_ctx(tmp, recording, 60.0, ProbeOptions(torch_check=True)))
    assert build.gpu is not None, build
    gpu = replace(build.gpu, today=TODAY.isoformat())
    return _gpu_judge(gpu, replace(build, gpu=gpu))


# --- conda ---------------------------------------------------------------------------------------------------------


CONDA_CASES = ("miniforge-25.5-active-env", "anaconda-24.9-defaults-token", "miniforge-24.11-cuda-pytorch-channel",
               "no-conda", "no-conda-required")


def conda_results(case: str, tmp: Path) -> list[dict[str, Any]]:
    """The conda probe on the case's machine (a stand-in conda replaying a recording), judged by the conda checks."""
    from envcheck.checks.conda import CHECKS
    from envcheck.probes.conda import collect

    home, env = conda_machine(case, tmp)
    ctx = conda_ctx(home, env)
    policy = policy_with(require_conda=True) if case == "no-conda-required" else default_policy()
    return results_dicts(apply_checks(CHECKS, {"conda": Collected("conda", facts=collect(ctx))}, policy))


# --- host ----------------------------------------------------------------------------------------------------------


def host_results(os_release: Path | None, tmp: Path, where: str = "etc/os-release") -> list[dict[str, Any]]:
    """The host probe reading a tree that holds one recorded os-release file (``None``: no os-release at all),
    judged by every host check. What the probe measures live on this machine (kernel, CPUs, disks, tools on PATH)
    is replaced by fixed values, so only what the tree holds (and the fixed day) decides."""
    from envcheck.checks.host import CHECKS
    from envcheck.probes.host import Disk, collect

    root = tmp / "root"
    root.mkdir()
    if os_release is not None:
        target = root / where
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os_release, target)
    ctx = replace(make_context(default_policy(), fs=HostFS(str(root)))(5.0),
                  env={"PATH": SYSTEM_PATH, "HOME": "/home/alice"})
    facts = collect(ctx)
    gib = 1024**3
    tools = {tool: f"/usr/bin/{tool}" for tool in facts.tools}
    facts = replace(facts, today=TODAY, kernel="6.1.0-28-amd64", arch="x86_64", cpu_logical=8, cpu_usable=8,
                    disks=(Disk("home", "/home/alice", 200 * gib, 500 * gib, 2049, "$HOME"),
                           Disk("tmp", "/tmp", 20 * gib, 50 * gib, 2050, "/tmp")),
                    tools={**tools, "unzip": None})
    return results_dicts(apply_checks(CHECKS, {"host": Collected("host", facts=facts)}, default_policy()))


# --- docker --------------------------------------------------------------------------------------------------------


def _docker_machine(facts: Any) -> Any:
    """Replace what the docker probe reads from this machine (binaries, processes, groups, daemon.json, /proc,
    disk space, the toolkit) with fixed values; keep what the endpoint decides (where, socket, error)."""
    from envcheck.probes.docker import AccessFacts, DiskFacts

    gib = 1024**3
    sock = facts.socket
    if sock is not None and sock.exists:
        sock = replace(sock, mode="0660", owner="root", group="docker", gid=999)
    return replace(
        facts, dockerd="/usr/bin/dockerd", cli="/usr/bin/docker", dockerd_pids=(), snap=(), systemd=True, socket=sock,
        access=AccessFacts("alice", 1000, 999, docker_listed=True, docker_effective=True, socket_group_listed=True,
                           socket_group_effective=True),
        elapsed_s=0.0,
        disk=DiskFacts("/var/lib/docker", free_bytes=200 * gib, total_bytes=500 * gib,
                       source="default (/var/lib/docker exists)"),
        tcp=replace(facts.tcp, daemon_json=(), cmdline=(), listening=(), errors=()),
        cdi_specs=(), cdi_errors=(), toolkit=(("nvidia-ctk", None), ("nvidia-container-cli", None),
                                              ("nvidia-container-runtime", None)),
        nvidia_device=False,
    )


DOCKER_PROBE_CASES = ("no-socket", "stale-socket", "wedged-daemon", "tcp-refused", "ssh-unsupported",
                      "unknown-scheme", "missing-context", "broken-context")


def docker_probe_results(case: str, tmp: Path) -> list[dict[str, Any]]:
    """The real docker probe against an endpoint that answers the same everywhere, judged by every docker check."""
    from envcheck.checks.docker import CHECKS
    from envcheck.probes.docker import collect

    env = {"PATH": SYSTEM_PATH}
    timeout_s = 2.0
    server = None
    if case == "no-socket":
        env["DOCKER_HOST"] = f"unix://{tmp}/absent.sock"
    elif case == "stale-socket":
        env["DOCKER_HOST"] = f"unix://{stale_socket(tmp / 'stale.sock')}"
    elif case == "wedged-daemon":
        server = HangingServer(tmp / "wedged.sock")
        env["DOCKER_HOST"] = f"unix://{tmp}/wedged.sock"
        timeout_s = 1.0
    elif case == "tcp-refused":  # port 1 (tcpmux): nothing listens there
        env["DOCKER_HOST"] = "tcp://127.0.0.1:1"
    elif case == "ssh-unsupported":
        env["DOCKER_HOST"] = "ssh://me@gpu-box"
    elif case == "unknown-scheme":
        env["DOCKER_HOST"] = "npipe:////./pipe/docker_engine"
    elif case in ("missing-context", "broken-context"):
        config = tmp / "docker-config"
        config.mkdir()
        env.update(DOCKER_CONFIG=str(config), DOCKER_CONTEXT="lab")
        if case == "broken-context":
            import hashlib

            meta = config / "contexts" / "meta" / hashlib.sha256(b"lab").hexdigest()
            meta.mkdir(parents=True)
            (meta / "meta.json").write_text('{"Name": "lab", "Endpoints": {}}')
    else:
        raise KeyError(case)
    ctx = ProbeContext(env=env, home=str(tmp / "home"), timeout_s=timeout_s, run=runner.run,
                       options=ProbeOptions(docker_client="http"))
    try:
        facts = _docker_machine(collect(ctx))
    finally:
        if server is not None:
            server.close()
    return results_dicts(apply_checks(CHECKS, {"docker": Collected("docker", facts=facts)}, default_policy()))


def docker_facts_cases() -> dict[str, tuple[Any, Policy]]:
    """Hand-built Docker machines (tests/checks/test_docker_checks.py's failure modes), each with its policy."""
    from helpers.docker_facts import ENGINE, GIB, down, facts

    from envcheck import dockerapi
    from envcheck.dockerapi import Endpoint
    from envcheck.probes.docker import AccessFacts, DiskFacts, SocketFacts
    from envcheck.probes.docker_host import TcpFacts

    policy = default_policy()
    no_sock = SocketFacts("/var/run/docker.sock", exists=False)
    root_sock = SocketFacts("/var/run/docker.sock", True, True, "0660", "root", "root", 0)
    outsider = AccessFacts("bob", 1001, 999, docker_listed=False, docker_effective=False)
    rootless = Endpoint("unix:///run/user/1000/docker.sock", "rootless socket", "a rootless daemon's socket")
    moved = Endpoint("unix:///tmp/old.sock", "DOCKER_HOST", "DOCKER_HOST is set")
    gone_env = Endpoint("", "context", "DOCKER_CONTEXT names docker context 'gone' (meta)", context="gone",
                        error="docker context 'gone' does not exist")
    gone_cfg = replace(gone_env, why="currentContext in ~/.docker/config.json names docker context 'gone'")
    running = down(dockerapi.NO_SOCKET, dockerd_pids=(4242,), socket=no_sock)
    nvidia = replace(ENGINE, runtimes=(("nvidia", "nvidia-container-runtime"), ("runc", "runc")))
    gpu = facts(nvidia_device=True, toolkit=(("nvidia-ctk", None), ("nvidia-container-cli", None)))
    return {
        "healthy": (facts(), policy),
        "healthy-shared-server": (facts(), replace(policy, shared_server=True)),
        "outsider-shared-server": (facts(access=outsider), replace(policy, shared_server=True)),
        "no-engine": (down(dockerapi.NO_SOCKET, dockerd=None, cli=None, dockerd_pids=(), socket=no_sock), policy),
        "no-engine-required": (down(dockerapi.NO_SOCKET, dockerd=None, cli=None, dockerd_pids=(), socket=no_sock),
                               replace(policy, require_docker=True)),
        "cli-only-required": (down(dockerapi.NO_SOCKET, dockerd=None, dockerd_pids=(), socket=no_sock),
                              replace(policy, require_docker=True)),
        "daemon-stopped": (down(dockerapi.NO_SOCKET, dockerd_pids=(), socket=no_sock), policy),
        "daemon-stopped-no-systemd": (down(dockerapi.NO_SOCKET, systemd=False, dockerd_pids=()), policy),
        "dockerd-runs-socket-missing": (running, policy),
        "docker-host-socket-missing": (replace(running, endpoint=moved), policy),
        "docker-host-stale": (replace(running, endpoint=moved, error_kind=dockerapi.REFUSED), policy),
        "context-env-missing": (replace(running, endpoint=gone_env), policy),
        "context-config-missing": (replace(running, endpoint=gone_cfg), policy),
        "context-missing-bad-endpoint": (down("bad-endpoint", endpoint=gone_cfg, socket=None), policy),
        "stale-socket": (down(dockerapi.REFUSED), policy),
        "permission-not-in-group": (down(dockerapi.PERMISSION, access=outsider), policy),
        "permission-session-predates-group": (down(dockerapi.PERMISSION, access=AccessFacts(
            "bob", 1001, 999, docker_listed=True, docker_effective=False, socket_group_listed=True)), policy),
        "permission-no-docker-group": (down(dockerapi.PERMISSION, access=AccessFacts(
            "bob", 1001, None, docker_listed=False, docker_effective=False), socket=root_sock), policy),
        "permission-root-owned-socket": (down(dockerapi.PERMISSION, access=AccessFacts(
            "bob", 1001, 999, docker_listed=True, docker_effective=True), socket=root_sock), policy),
        "daemon-timeout": (down(dockerapi.TIMEOUT, timeout_s=2.0), policy),
        "rootless-socket": (facts(endpoint=rootless), policy),
        "rootless-refused": (down(dockerapi.REFUSED, endpoint=rootless), policy),
        "snap": (facts(snap=("/snap/bin/docker exists",)), policy),
        "snap-gpu": (facts(snap=("/snap/bin/docker exists",), nvidia_device=True), policy),
        "api-1.39": (facts(engine=replace(ENGINE, api_version="1.39")), policy),
        "storage-vfs": (facts(engine=replace(ENGINE, storage_driver="vfs")), policy),
        "storage-devicemapper": (facts(engine=replace(ENGINE, storage_driver="devicemapper")), policy),
        "storage-unknown": (facts(engine=replace(ENGINE, storage_driver=None)), policy),
        "cgroup-v1": (facts(engine=replace(ENGINE, cgroup_version="1")), policy),
        "cgroup-unknown": (facts(engine=replace(ENGINE, cgroup_version=None)), policy),
        "disk-1gib": (facts(disk=DiskFacts("/var/lib/docker", free_bytes=1 * GIB, total_bytes=500 * GIB)), policy),
        "disk-10gib": (facts(disk=DiskFacts("/var/lib/docker", free_bytes=10 * GIB, total_bytes=500 * GIB)), policy),
        "disk-unreadable": (facts(disk=DiskFacts("/var/lib/docker", error="PermissionError: Permission denied")),
                            policy),
        "disk-no-data-root": (facts(disk=None, engine=None), policy),
        "nvidia-runtime": (facts(engine=nvidia), policy),
        "gpu-no-nvidia-runtime": (facts(nvidia_device=True), policy),
        "gpu-no-toolkit": (gpu, policy),
        "gpu-toolkit-and-cdi": (replace(gpu, toolkit=(("nvidia-ctk", "/usr/bin/nvidia-ctk"),),
                                        cdi_specs=(("/etc/cdi/nvidia.yaml", "nvidia.com/gpu"),)), policy),
        "tcp-without-tls": (facts(tcp=TcpFacts(daemon_json=("/etc/docker/daemon.json hosts: tcp://0.0.0.0:2375",))),
                            policy),
        "tcp-unreadable": (facts(tcp=TcpFacts(errors=("/proc/net/tcp: denied",))), policy),
    }


def docker_facts_results(facts: Any, policy: Policy) -> list[dict[str, Any]]:
    from envcheck.checks.docker import CHECKS

    return results_dicts(apply_checks(CHECKS, {"docker": Collected("docker", facts=facts)}, policy))


# --- scaffold and project.drift ------------------------------------------------------------------------------------


def _proc_machine(tree: str | None, ubuntu: str | None) -> Any:
    """The facts `scaffold` would probe on a machine whose /proc/driver/nvidia is ``tree`` (None: no driver)."""
    from envcheck.probes.project import read_gpu_now
    from envcheck.scaffold.facts import PlanFacts

    if tree is None:
        return PlanFacts(python=PYTHON_XY, ubuntu=ubuntu)
    now = read_gpu_now(HostFS(str(PROC_NVIDIA[tree])))
    return PlanFacts(driver=now.driver, gpu_name=now.gpu_names[0], python=PYTHON_XY, ubuntu=ubuntu)


def envcheck_cli(args: list[str], machine: tuple[str | None, str | None]) -> tuple[int, str, str]:
    """`envcheck ARGS` through the real CLI edge, in process, with the scaffold's host probe answering for
    ``machine`` (a /proc/driver/nvidia tree under tests/data/scaffold, or None, and an Ubuntu release)."""
    from unittest import mock

    from click.testing import CliRunner

    from envcheck.cli import main

    cli = CliRunner()
    with mock.patch("envcheck.scaffold.command.collect_plan_facts", lambda *a, **k: _proc_machine(*machine)), \
            cli.isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")


def project_drift_results(project: Path, tree: str | None, cwd: Path | None = None) -> list[dict[str, Any]]:
    """`doctor --only project` in ``cwd`` (default: the project) on a machine whose /proc/driver/nvidia is
    ``tree`` under tests/data/scaffold (None: a tree that does not exist, no driver)."""
    from envcheck.checks.project import CHECKS
    from envcheck.probes.project import PROBES

    machine = PROC_NVIDIA[tree] if tree is not None else project.parent / "no-driver"
    policy = default_policy()
    report = examine(CHECKS, {p.name: p for p in PROBES}, policy, ctx_for=make_context(
        policy, ProbeOptions(cwd=str(cwd or project)), fs=HostFS(str(machine))))
    return results_dicts(report.results)


# --- smoke ---------------------------------------------------------------------------------------------------------


_NONCE = "golden-replay"


def smoke_replay_results(recording: Path, driver: str | None, gpus: int) -> list[dict[str, Any]]:
    """A recorded smoke child's output through the real driver and judges (as tests/smoke/test_smoke_steps.py does)."""
    from envcheck.probes.nvidia_proc import HostGpu
    from envcheck.smoke import steps
    from envcheck.smoke.driver import drive
    from envcheck.smoke.judging import Judging
    from envcheck.smoke.targets import Target

    target = Target("python", "/opt/conda/envs/ml/bin/python", "--python /opt/conda/envs/ml/bin/python")
    replay = Replay(recording, nonce=_NONCE)
    run = drive(replay, target, timeout_s_for=lambda step: 60.0, run_timeout_s=60.0, nonce=_NONCE,
                bench=replay.bench)
    host = tuple(HostGpu(f"0000:{i:02x}:00.0", "NVIDIA H100 80GB HBM3", f"GPU-{i}") for i in range(gpus))
    judging = Judging(default_policy(), target, driver, host, python_version="3.12.7")
    return results_dicts(steps.results(run, judging))


# ==================================================================================================================
# END OF ADAPTER. Below: the cases, the normalisation and the comparison, through plain JSON only.
# ==================================================================================================================


def real_smoke_results() -> list[dict[str, Any]]:
    """One real `envcheck smoke --python THIS --json` on the CPU, as a user types it (torch 2.13.0+cpu here).

    One OpenMP thread: the 2-core build machine shared with other work trains about 10x faster that way, and no
    timing is compared; the losses and the accuracy are the same either way (checked with 1 and 2 threads)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "envcheck", "smoke", "--python", sys.executable, "--json"],
                          capture_output=True, text=True, timeout=240, env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [{name: r[name] for name in RESULT_FIELDS} for r in json.loads(done.stdout)["results"]]


def scaffold_plan(tmp: Path, args: list[str], machine: tuple[str | None, str | None]) -> dict[str, Any]:
    """The exit code, the printed plan (JSON) and what went to stderr (a refusal says why there)."""
    code, out, err = envcheck_cli(["scaffold", str(tmp / "demo"), *args, "--dry-run", "--json"], machine)
    return {"exit_code": code, "plan": json.loads(out) if code == 0 else out, "stderr": err}


# --- normalisation: each replacement names exactly what varies between runs and machines, nothing more --------------


# What names this run's folders; a family replaces only those that can appear in its results.
TMP, CHECKOUT, INTERPRETER = "tmp", "checkout", "interpreter"


def _substitutions(tmp: Path, kinds: tuple[str, ...], recorded: Mapping[str, str] = {}) -> list[tuple[str, str]]:
    subs = {str(tmp): "<tmp>", **recorded}
    if CHECKOUT in kinds:  # the templates' folder in a scaffold plan
        subs[str(REPO) + "/"] = "<repo>/"
    if INTERPRETER in kinds:  # the interpreter a child ran in, and where its packages are
        subs.update({sys.executable: "<python>", sys.prefix + "/": "<prefix>/", sys.prefix: "<prefix>"})
    subs.update({os.path.realpath(k.rstrip("/")) + k[len(k.rstrip("/")):]: v for k, v in subs.items()})
    return sorted(subs.items(), key=lambda kv: -len(kv[0]))  # the longest first: the venv may lie in the checkout


def _replace_text(text: str, subs: list[tuple[str, str]]) -> str:
    for old, new in subs:
        text = text.replace(old, new)
    return text


def normalise(value: Any, subs: list[tuple[str, str]], volatile: Mapping[str, str] = {}) -> Any:
    """Plain JSON with paths of this run replaced; ``volatile`` maps a key (anywhere) to its placeholder."""
    if isinstance(value, dict):
        return {_replace_text(str(k), subs): (volatile[k] if k in volatile else normalise(v, subs, volatile))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v, subs, volatile) for v in value]
    if isinstance(value, str):
        return _replace_text(value, subs)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _replace_text(str(value), subs)  # a date, an enum: as the JSON report writes it (default=str)


def normalised(cases: dict[str, Any], tmp: Path, volatile: Mapping[str, str] = {},
               kinds: tuple[str, ...] = (TMP,), recorded: Mapping[str, str] = {}) -> dict[str, Any]:
    out: dict[str, Any] = normalise(cases, _substitutions(tmp, kinds, recorded), volatile)
    return out


# Timings and process ids in results, by key: the NVML child's run time (gpu.driver and gpu.nvml evidence) and the
# torch child's (gpu.torch-build evidence); the smoke child's pid and training times (observed text carries ms/step
# too, replaced by SMOKE_TIMING).
GPU_VOLATILE = {"nvml_child_seconds": "<t>", "child_seconds": "<t>", "seconds": "<t>"}
SMOKE_VOLATILE = {"pid": "<pid>", "time_per_step_ms": "<t>", "train_s": "<t>"}
SMOKE_TIMING = re.compile(r"\(\d+(?:\.\d+)? ms/step\)")


# --- the families ----------------------------------------------------------------------------------------------------


def nvml_recordings() -> list[Path]:
    return sorted(NVML.glob("*.json"))


def family_gpu(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for recording in nvml_recordings():
        folder = tmp / recording.stem
        # hang.json: NVML never answers; the probe's deadline (as tests/probes/test_gpu_replay.py uses) ends it.
        cases[recording.stem] = gpu_results(recording, folder, 1.0 if recording.stem == "hang" else 5.0)
    for error in ("Unknown", "GpuIsLost", "ResetRequired", "FunctionNotFound", "Uninitialized"):
        folder = tmp / f"init-{error}"
        folder.mkdir()
        cases[f"nvml-init-error-{error}"] = gpu_results(nvml_init_error_recording(error, folder), folder / "run")
    return normalised(cases, tmp, GPU_VOLATILE)


TORCH_MACHINES = ("h100x8-healthy", "a100-r450-function-not-found", "mismatch", "rtx3090x2-geforce",
                  "driver-not-loaded")


def family_gpu_torch(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for machine in TORCH_MACHINES:
        facts = gpu_facts(NVML / f"{machine}.json", tmp / machine)
        for build in TORCH_BUILDS:
            cases[f"{machine}+{build}"] = gpu_torch_build_results(facts, build)
    cases["h100x8-healthy+real-cpu-torch"] = gpu_real_torch_results(NVML / "h100x8-healthy.json", tmp / "real")
    return normalised(cases, tmp, GPU_VOLATILE, (TMP, INTERPRETER))


def family_conda(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for case in CONDA_CASES:
        (tmp / case).mkdir()
        cases[case] = conda_results(case, tmp / case)
    return normalised(cases, tmp)


def family_host(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for path in sorted(p for p in OS_RELEASE.iterdir() if p.suffix != ".md"):
        (tmp / path.name).mkdir()
        cases[path.name] = host_results(path, tmp / path.name)
    (tmp / "usr-lib-only").mkdir()
    cases["ubuntu-24.04-in-usr-lib"] = host_results(OS_RELEASE / "ubuntu-24.04", tmp / "usr-lib-only",
                                                    "usr/lib/os-release")
    (tmp / "none").mkdir()
    cases["no-os-release"] = host_results(None, tmp / "none")
    return normalised(cases, tmp)


def family_docker(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for case in DOCKER_PROBE_CASES:
        (tmp / case).mkdir()
        cases[f"probe:{case}"] = docker_probe_results(case, tmp / case)
    for name, (facts, policy) in docker_facts_cases().items():
        cases[f"facts:{name}"] = docker_facts_results(facts, policy)
    return normalised(cases, tmp)


# (args, the machine the host probe sees: a /proc/driver/nvidia tree under tests/data/scaffold and an Ubuntu)
SCAFFOLD_CASES: dict[str, tuple[list[str], tuple[str | None, str | None]]] = {
    "cpu-only": ([], (None, None)),
    "cpu-only--cuda-cpu": (["--cuda", "cpu"], (None, "24.04")),
    "cpu-only--name-no-jupyter": (["--name", "cifar-lab", "--no-jupyter", "--no-docker"], (None, "22.04")),
    "proc-nvidia-535-a100": ([], ("proc-nvidia-535-a100", "22.04")),
    "proc-nvidia-open-570-h100": ([], ("proc-nvidia-open-570-h100", "22.04")),
    "proc-nvidia-open-570-h100--route-conda-forge": (["--route", "conda-forge"],
                                                     ("proc-nvidia-open-570-h100", "24.04")),
    "proc-nvidia-open-570-h100--route-conda-forge--minor-compat": (["--route", "conda-forge", "--minor-compat"],
                                                                   ("proc-nvidia-open-570-h100", "24.04")),
    "refused--name-os": (["--name", "os"], (None, None)),
    "refused--torch-2.13--python-3.8": (["--torch", "2.13", "--python", "3.8"], (None, None)),
    "planned--driver-535.104.05": (["--driver", "535.104.05"], (None, None)),
    "planned--driver-535.104.05--minor-compat": (["--driver", "535.104.05", "--minor-compat"], (None, None)),
    "planned--driver-570.86.15": (["--driver", "570.86.15"], (None, None)),
    "planned--driver-580.65.06--torch-2.13--python-3.12": (
        ["--driver", "580.65.06", "--torch", "2.13", "--python", "3.12"], (None, None)),
}


def family_scaffold(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for name, (args, machine) in SCAFFOLD_CASES.items():
        (tmp / name).mkdir()
        cases[name] = scaffold_plan(tmp / name, args, machine)
    return normalised(cases, tmp, kinds=(TMP, CHECKOUT))


def family_project(tmp: Path) -> dict[str, Any]:
    """project.drift: projects written by the real `envcheck scaffold`, judged on the /proc/driver/nvidia trees."""
    planned = tmp / "planned-535"
    code, out, err = envcheck_cli(["scaffold", str(planned), "--driver", "535.104.05", "--no-git"], (None, None))
    assert code == 0, out + err
    cpu = tmp / "cpu"
    code, out, err = envcheck_cli(["scaffold", str(cpu), "--cuda", "cpu", "--no-git", "--no-docker"], (None, None))
    assert code == 0, out + err
    cases = {
        "planned-535+proc-nvidia-535-a100": project_drift_results(planned, "proc-nvidia-535-a100"),
        "planned-535+proc-nvidia-open-570-h100": project_drift_results(planned, "proc-nvidia-open-570-h100"),
        "planned-535+no-driver": project_drift_results(planned, None),
        "cpu+proc-nvidia-535-a100-from-a-subfolder": project_drift_results(cpu, "proc-nvidia-535-a100",
                                                                           cwd=cpu / "src" / "cpu"),
        "outside-a-project": project_drift_results(planned, "proc-nvidia-535-a100", cwd=tmp),
    }
    return normalised(cases, tmp)


SMOKE_REPLAYS = {  # recording -> (the host's driver, its GPU count), as tests/smoke/test_smoke_steps.py judges each
    "cpu-torch2.13-bench-recorded": (None, 0),
    "cu130-cvd-empty-recorded": (None, 0),
    "cu130-nodriver-bench-recorded": (None, 0),
    "h100x2-bench-constructed": ("570.133.20", 2),
}


def family_smoke(tmp: Path) -> dict[str, Any]:
    cases: dict[str, Any] = {f"replay:{name}": smoke_replay_results(SMOKE / f"{name}.jsonl", *host)
                             for name, host in SMOKE_REPLAYS.items()}
    cases["real:cpu-torch"] = real_smoke_results()
    for result in cases["real:cpu-torch"]:
        result["observed"] = SMOKE_TIMING.sub("(<t> ms/step)", result["observed"])
    return normalised(cases, tmp, SMOKE_VOLATILE, (TMP, INTERPRETER), _recorded_interpreter())


def _recorded_interpreter() -> dict[str, str]:
    """The CPU recording was made with the venv of an envcheck checkout (tests/data/smoke/README.md), the same kind
    of interpreter as this run's: its hello line's interpreter and prefix get the same placeholders, wherever that
    checkout lay. The other recordings name interpreters of other machines, kept as they are."""
    hello = json.loads((SMOKE / "cpu-torch2.13-bench-recorded.jsonl").read_text().splitlines()[0])
    prefix = str(hello["prefix"])
    return {str(hello["python"]): "<python>", prefix + "/": "<prefix>/", prefix: "<prefix>"}


FAMILIES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "gpu": family_gpu,
    "gpu-torch": family_gpu_torch,
    "conda": family_conda,
    "host": family_host,
    "docker": family_docker,
    "scaffold": family_scaffold,
    "project": family_project,
    "smoke": family_smoke,
}


# --- comparison ------------------------------------------------------------------------------------------------------


def golden_text(cases: Mapping[str, Any]) -> str:
    return json.dumps(cases, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def differences(expected: Any, actual: Any, where: str) -> Iterator[str]:
    """Every place the two differ, named by case, result (index and id) and field."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                yield f"{where}.{key}: missing now (was {json.dumps(expected[key])[:200]})"
            elif key not in expected:
                yield f"{where}.{key}: new (now {json.dumps(actual[key])[:200]})"
            else:
                yield from differences(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            was = [r.get("id") if isinstance(r, dict) else r for r in expected]
            now = [r.get("id") if isinstance(r, dict) else r for r in actual]
            yield f"{where}: {len(expected)} entries were {json.dumps(was)[:300]}, now {len(actual)}: " \
                  f"{json.dumps(now)[:300]}"
        for index, (old, new) in enumerate(zip(expected, actual, strict=False)):
            label = f"[{index} {old.get('id')}{' ' + str(old['item']) if old.get('item') else ''}]" \
                if isinstance(old, dict) and "id" in old else f"[{index}]"
            yield from differences(old, new, where + label)
    elif expected != actual:
        yield f"{where}: was {json.dumps(expected)[:300]}, now {json.dumps(actual)[:300]}"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_behaviour_matches_the_golden_files(family: str, tmp_path: Path) -> None:
    cases = FAMILIES[family](tmp_path)
    text = golden_text(cases)
    path = GOLDEN / f"{family}.json"
    if os.environ.get("ENVCHECK_GOLDEN_UPDATE") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: ENVCHECK_GOLDEN_UPDATE=1 pytest {Path(__file__).name} writes it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    found = list(differences(expected, json.loads(text), family))
    assert not found, (f"{len(found)} difference(s) from {path.relative_to(TESTS.parent)}: a user-visible "
                       "behaviour change. If intended, regenerate with ENVCHECK_GOLDEN_UPDATE=1 and review the "
                       "diff.\n" + "\n".join(found[:60]))
    assert text == path.read_text(encoding="utf-8")  # same content, same bytes: the files stay stable
