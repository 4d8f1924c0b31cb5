"""`envcheck smoke` against real interpreters and the real torch 2.13.0 CPU build.

Nothing is mocked: the child runs in .venv's Python (torch installed), in a fresh venv without torch, and in
.venv's Python with a sitecustomize on PYTHONPATH that makes `import torch` hang or kills the process in the
middle of training. The hang and crash are real: the parent must pin them to their step within the deadline.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

import pytest
from helpers.process_helpers import gone_within
from helpers.terminal_helpers import in_terminal

from envcheck.checks import CHECKS
from envcheck.model import Report, Status
from envcheck.smoke import smoke_test
from envcheck.smoke.driver import CHILD

PYTHON = sys.executable  # .venv's interpreter: torch 2.13.0+cpu is installed there
ENVCHECK = str(Path(sys.executable).with_name("envcheck"))


def _child_module(name: str) -> Any:
    """One of the smoke child's modules, imported by its plain name as the child's own modules import it."""
    if CHILD not in sys.path:
        sys.path.append(CHILD)  # last: nothing of this process's own can be shadowed by it
    return importlib.import_module(name)


def _by_id(report: Report | dict[str, Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    results = report["results"] if isinstance(report, dict) else report.results
    for r in results:
        out.setdefault(r["id"] if isinstance(r, dict) else r.id, []).append(r)
    return out


@pytest.fixture(scope="module")
def cpu_run() -> tuple[dict[str, Any], str, float]:
    """One full run through the real CLI, as a user would type it: the JSON envelope and stderr."""
    start = time.monotonic()
    proc = subprocess.run([ENVCHECK, "smoke", "--python", PYTHON, "--json"], capture_output=True, text=True,
                          timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout), proc.stderr, elapsed


@pytest.mark.slow
def test_full_cpu_run_trains_and_passes(cpu_run: tuple[dict[str, Any], str, float]) -> None:
    envelope, _, _ = cpu_run
    assert envelope["schema"] == "envcheck.report" and envelope["command"] == "smoke"
    assert envelope["overall"] == "pass" and envelope["exit_code"] == 0
    by_id = _by_id(envelope)
    train = by_id["smoke.train"]
    assert [r["item"] for r in train] == ["cpu"] and train[0]["status"] == "pass"
    facts = train[0]["evidence"]
    assert facts["accuracy"] >= 0.95 and facts["loss_end"] < 0.1 < facts["loss_start"]
    # Every epoch of the fp32 run covers the train set in batches (the last one partial).
    epochs = _child_module("smoke_training").EPOCHS
    assert facts["steps"] == epochs * -(-facts["train_points"] // facts["batch"])
    assert facts["time_per_step_ms"] == pytest.approx(1000 * facts["train_s"] / facts["steps"], abs=1e-3)
    assert "held-out accuracy" in train[0]["observed"] and "ms/step" in train[0]["observed"]
    assert by_id["smoke.import-torch"][0]["observed"] == "torch 2.13.0+cpu (CPU-only build)"
    assert by_id["smoke.save-load"][0]["status"] == "pass" and by_id["smoke.save-load"][0]["item"] == "cpu"
    target = by_id["smoke.target"][0]
    assert target["status"] == "pass" and PYTHON in target["observed"]


@pytest.mark.slow
def test_cpu_only_build_skips_every_gpu_step_with_the_reason(cpu_run: tuple[dict[str, Any], str, float]) -> None:
    by_id = _by_id(cpu_run[0])
    assert by_id["smoke.cuda-available"][0]["status"] == "skip"
    assert by_id["smoke.cuda-available"][0]["reason"] == "CPU-only build"
    for step in ("device-count", "arch-list", "context", "matmul", "amp", "forward-consistency", "nccl"):
        (result,) = by_id[f"smoke.{step}"]
        assert result["status"] == "skip", step
        assert result["reason"] == "no usable GPU: CPU-only build"
        assert result["caused_by"] == "smoke.cuda-available"


@pytest.mark.slow
def test_json_prints_only_the_envelope(cpu_run: tuple[dict[str, Any], str, float]) -> None:
    envelope, stderr, _ = cpu_run
    assert set(envelope) >= {"schema_version", "results", "counts", "overall"}
    assert "loss" not in stderr  # no progress anywhere when stdout is not a terminal


def test_interpreter_without_torch_fails_at_import_with_the_install_command(tmp_path: Path) -> None:
    env_dir = tmp_path / "bare"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    report = smoke_test(python=python, run_timeout_s=60)
    by_id = _by_id(report)
    (imp,) = by_id["smoke.import-torch"]
    assert imp.status is Status.FAIL
    assert imp.observed == "ModuleNotFoundError: No module named 'torch'"
    # A venv made without pip: `-m pip` alone would fail, so the fix gets pip first. Run that part for real.
    get_pip, install = imp.fix.split(" && ")
    assert get_pip == f"{python} -m ensurepip --upgrade"
    assert install.startswith(f"{python} -m pip install torch==")
    assert "--index-url https://download.pytorch.org/whl/" in imp.fix
    assert subprocess.run(shlex.split(get_pip), capture_output=True, timeout=120).returncode == 0
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True, timeout=60).returncode == 0
    train = by_id["smoke.train"][0]
    assert train.status is Status.UNKNOWN and train.caused_by == "smoke.import-torch"
    assert report.exit_code == 1


def test_the_system_python_gets_a_venv_to_install_into_not_a_pip_it_refuses() -> None:
    # No env active, python3 on PATH is Debian's: pip refuses it (PEP 668), so the fix makes a venv first.
    if not Path("/usr/lib/python3.11/EXTERNALLY-MANAGED").exists():
        pytest.skip("/usr/bin/python3 here is not an externally managed (PEP 668) Python")
    report = smoke_test(run_timeout_s=60, env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")})
    by_id = _by_id(report)
    assert by_id["smoke.target"][0].evidence["externally_managed"] is True
    (imp,) = by_id["smoke.import-torch"]
    assert imp.status is Status.FAIL
    assert imp.fix.startswith("/usr/bin/python3 -m venv ~/.venvs/torch && ~/.venvs/torch/bin/python -m pip install "
                              "torch==")


HANG = """
import builtins, sys, time
_real = builtins.__import__
def _import(name, *args, **kwargs):
    if name == "torch" and "torch" not in sys.modules:
        sys.stderr.write("sitecustomize: import torch hangs now\\n")
        sys.stderr.flush()
        time.sleep(3600)
    return _real(name, *args, **kwargs)
builtins.__import__ = _import
"""

CRASH = """
import builtins, os, sys
_real = builtins.__import__
def _import(name, *args, **kwargs):
    module = _real(name, *args, **kwargs)
    torch = sys.modules.get("torch")
    optim = getattr(torch, "optim", None)
    if optim is not None and hasattr(optim, "AdamW") and not getattr(optim.AdamW, "_doomed", False):
        def doomed(self, *a, **k):
            sys.stderr.write("sitecustomize: the optimizer kills the process\\n")
            sys.stderr.flush()
            os.kill(os.getpid(), 9)
        optim.AdamW.__init__ = doomed
        optim.AdamW._doomed = True
    return module
builtins.__import__ = _import
"""


def _with_site(tmp_path: Path, code: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(code)
    return {**os.environ, "PYTHONPATH": str(site)}


def test_a_hang_is_cut_off_at_its_step_within_the_deadline(tmp_path: Path) -> None:
    step_timeout_s = 3.0
    start = time.monotonic()
    report = smoke_test(python=PYTHON, step_timeout_s=step_timeout_s, run_timeout_s=120, env=_with_site(tmp_path, HANG))
    elapsed = time.monotonic() - start
    by_id = _by_id(report)
    (imp,) = by_id["smoke.import-torch"]
    # Cut at a --step-timeout the user set: unknown (a slower machine than the limit, or a hang: not told).
    assert imp.status is Status.UNKNOWN
    assert imp.observed.startswith("still running after 3.")
    assert imp.reason == "cut at --step-timeout 3 s, which you set, before this step finished (its default limit is " \
                         "120 s)"
    assert step_timeout_s <= imp.evidence["open_for_s"] <= step_timeout_s + 1.0
    assert "import torch hangs now" in imp.evidence["stderr_tail"]
    assert elapsed <= step_timeout_s + 3.0  # the deadline, interpreter start-up and the kill
    assert by_id["smoke.train"][0].caused_by == "smoke.import-torch"


def test_ctrl_c_in_envcheck_does_not_leave_the_child_running(tmp_path: Path) -> None:
    # The child runs in a session of its own (so a timeout can kill its group), so the terminal's Ctrl-C
    # reaches only envcheck: envcheck must end the child itself. KeyboardInterrupt arrives at the first line.
    seen: dict[str, Any] = {}

    def interrupt(event: Any) -> None:
        seen.update(event)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        smoke_test(python=PYTHON, run_timeout_s=120, env=_with_site(tmp_path, HANG), on_event=interrupt)
    pid = int(seen["pid"])
    assert gone_within(pid, 5), f"the child {pid} outlived envcheck's KeyboardInterrupt"


def test_sigterm_to_envcheck_ends_the_child_too(tmp_path: Path) -> None:
    proc = subprocess.Popen([ENVCHECK, "smoke", "--python", PYTHON, "--json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_with_site(tmp_path, HANG))
    children: list[int] = []
    deadline = time.monotonic() + 30
    while not children and time.monotonic() < deadline:  # the child, hung in `import torch`
        time.sleep(0.2)
        found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, timeout=10)
        children = [int(pid) for pid in found.stdout.split()]
    assert children, "envcheck did not start the child"
    proc.terminate()
    rc = proc.wait(timeout=10)
    for pid in children:
        assert gone_within(pid, 5), f"the child {pid} outlived envcheck's SIGTERM"
    assert rc == 128 + 15  # SIGTERM's exit status, after the child was ended


def test_the_whole_run_deadline_is_unknown_not_a_failure(tmp_path: Path) -> None:
    report = smoke_test(python=PYTHON, run_timeout_s=2.0, env=_with_site(tmp_path, HANG))
    (imp,) = _by_id(report)["smoke.import-torch"]
    assert imp.status is Status.UNKNOWN
    assert imp.reason == "cut at --timeout 2 s (the whole run's limit), before this step finished (its default " \
                         "limit is 120 s)"
    assert imp.fix == "envcheck smoke --timeout 1200  # a longer --timeout"
    assert report.duration_s <= 2.0 + 2.0


@pytest.mark.slow
def test_a_child_that_dies_mid_run_is_reported_with_its_stderr(tmp_path: Path) -> None:
    report = smoke_test(python=PYTHON, run_timeout_s=120, env=_with_site(tmp_path, CRASH))
    by_id = _by_id(report)
    assert by_id["smoke.import-torch"][0].status is Status.PASS  # it got that far
    (train,) = by_id["smoke.train"]
    assert train.status is Status.FAIL and train.item == "cpu"
    # Its own SIGKILL: not envcheck's (no deadline ran out), and not the OOM killer's (the kernel log, where
    # that names its victims, does not name this pid; or could not be read by this user).
    assert train.observed.startswith("the interpreter died during this step (killed by SIGKILL, not by envcheck")
    pid = by_id["smoke.target"][0].evidence["pid"]
    assert (f"and the kernel log names no out-of-memory kill of pid {pid})" in train.observed
            or "the kernel log, which names out-of-memory kills, could not be read: " in train.observed)
    assert "the optimizer kills the process" in train.reason
    assert by_id["smoke.save-load"][0].status is Status.UNKNOWN
    assert by_id["smoke.save-load"][0].caused_by == "smoke.train"
    assert report.exit_code == 1


def test_the_all_reduce_path_runs_for_real_on_cpu_ranks() -> None:
    # The NCCL step's spawn / rendezvous / queue code, with gloo on two CPU ranks instead of NCCL on GPUs.
    proc = subprocess.run([PYTHON, CHILD, "--collective", "gloo", "--ranks", "2"], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    (nccl,) = [e for e in events if e["event"] == "end" and e["step"] == "nccl"]
    assert nccl["state"] == "ok", nccl
    assert nccl["facts"]["world_size"] == 2 and all(r["ok"] for r in nccl["facts"]["ranks"])
    assert nccl["facts"]["exit_codes"] == [0, 0]


def test_list_names_every_step() -> None:
    proc = subprocess.run([ENVCHECK, "smoke", "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    ids = [line.split()[0] for line in proc.stdout.splitlines()]
    assert ids[:3] == ["smoke.target", "smoke.import-torch", "smoke.cuda-available"]
    assert {"smoke.train", "smoke.amp", "smoke.nccl", "smoke.bench-matmul", "smoke.bench-transfer"} <= set(ids)
    titles = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert titles["smoke.nccl"].endswith("(once, across two or more GPUs)")  # one result, not one per GPU
    assert titles["smoke.train"].endswith("(CPU, then per GPU)") and titles["smoke.context"].endswith("(per GPU)")


def test_a_python_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([ENVCHECK, "smoke", "--python", str(tmp_path / "nope")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "no executable interpreter" in proc.stderr


@pytest.mark.slow
def test_doctor_smoke_appends_the_steps_to_the_same_report() -> None:
    # The active venv is the default target: envcheck's own .venv, named as a user's shell would after activate.
    venv_dir = str(Path(PYTHON).parent.parent)
    env = {**os.environ, "VIRTUAL_ENV": venv_dir}
    env.pop("CONDA_PREFIX", None)
    proc = subprocess.run([ENVCHECK, "doctor", "--smoke", "--json"], capture_output=True, text=True, env=env,
                          timeout=300)
    envelope = json.loads(proc.stdout)
    assert envelope["command"] == "doctor"
    subjects = [r["subject"] for r in envelope["results"]]
    # The doctor's subjects in the registry's order, then smoke's results, all together at the end.
    doctor_subjects = list(dict.fromkeys(check.id.split(".")[0] for check in CHECKS))
    assert list(dict.fromkeys(subjects)) == [*doctor_subjects, "smoke"]
    assert subjects[subjects.index("smoke"):] == ["smoke"] * (len(subjects) - subjects.index("smoke"))
    by_id = _by_id(envelope)
    assert by_id["smoke.target"][0]["observed"].startswith(f"the active venv {venv_dir}: Python 3.11")
    assert by_id["smoke.train"][0]["status"] == "pass"
    assert envelope["counts"]["pass"] == sum(r["status"] == "pass" for r in envelope["results"])
    assert proc.returncode == envelope["exit_code"]


@pytest.mark.slow
def test_a_terminal_gets_live_progress_with_the_loss(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    code, shown = in_terminal([ENVCHECK, "smoke", "--python", PYTHON, "--no-color"], env)
    assert code == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    assert "loss 0." in screen  # the training bar shows the loss as it falls
    assert "done smoke.train [cpu]" in screen and "skipped smoke.matmul" in screen
    assert "No problems found" in screen  # then the report itself
    # The header first, once; then what runs, as it runs; then, without -v, what the training measured.
    assert screen.count("envcheck smoke on ") == 1
    assert screen.index("envcheck smoke on ") < screen.index("smoke: training a 2-hidden-layer MLP on spirals (cpu)")
    figure = r"\n    cpu  train: loss 1\.\d+ -> 0\.\d+, held-out accuracy (0\.9[5-9]\d|1\.000), [\d.]+ steps/s\n"
    assert re.search(figure, screen)


def test_the_childs_own_folder_does_not_shadow_what_torch_imports(tmp_path: Path) -> None:
    # Run by path, the child's folder heads sys.path; a module there named like one torch imports must not win.
    child = tmp_path / "child"
    shutil.copytree(CHILD, child, ignore=shutil.ignore_patterns("__pycache__"))
    (child / "typing_extensions.py").write_text("raise RuntimeError('shadowed: the wrong typing_extensions')\n")
    proc = subprocess.run([PYTHON, str(child)], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    ends = [json.loads(line) for line in proc.stdout.splitlines() if '"end"' in line]
    assert ends[0]["step"] == "import-torch" and ends[0]["state"] == "ok", ends[0]
