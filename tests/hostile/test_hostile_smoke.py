"""A smoke report cannot be talked into a pass, and says who ended the child.

Three kinds of hostile child, each through the real driver and judges:
- interpreters that are not the smoke child (shell scripts standing in for python): a greeting and "done", garbage,
  a closed stdout, a hang before the hello, a crash, a SIGKILL of its own;
- a recorded healthy run (tests/data/smoke/cpu-torch2.13-bench-recorded.jsonl) with one record broken, dropped,
  duplicated, reordered, or carrying facts of the wrong type;
- hypothesis-made lines and records thrown into that run.
A hostile input "ends cleanly" when no exception escapes and the report does not pass; every test here counts
its inputs in HOSTILE (printed by the last test).
"""

from __future__ import annotations

import copy
import json
import math
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers.smoke_helpers import NONCE, Replay
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envcheck.model import EXIT_OK, Report, Result, Status
from envcheck.policy import default_policy
from envcheck.smoke import oom, records, smoke_test, steps
from envcheck.smoke.driver import drive
from envcheck.smoke.events import ChildTranscript, Ended
from envcheck.smoke.judging import Judging
from envcheck.smoke.oom import OomFinding
from envcheck.smoke.targets import Target

DATA = Path(__file__).parents[1] / "data" / "smoke"
RECORDING = [json.loads(line) for line in (DATA / "cpu-torch2.13-bench-recorded.jsonl").read_text().splitlines()]
LOCAL = Target("python", "/opt/conda/envs/ml/bin/python", "--python /opt/conda/envs/ml/bin/python")
HOSTILE = {"tried": 0, "clean": 0}


def report_of(results: list[Result]) -> Report:
    return Report(command="smoke", host="h", started_at="t", duration_s=0.0, results=tuple(results))


def judged(child: ChildTranscript) -> list[Result]:
    return steps.results(child, Judging(default_policy(), LOCAL, None, (), python_version="3.11.7"))


def replayed(lines: list[str], bench: bool = True, **kw: Any) -> tuple[ChildTranscript, list[Result]]:
    child = drive(Replay("\n".join(lines), nonce=None), LOCAL, timeout_s_for=lambda s: 60.0, run_timeout_s=60.0,
                  nonce=NONCE, bench=bench, **kw)
    return child, judged(child)


def signed(record: dict[str, Any]) -> str:
    return json.dumps({**record, "nonce": NONCE})


def refused(results: list[Result]) -> bool:
    """The hostile run ended cleanly: it reached a verdict, and the verdict is not a pass."""
    return report_of(results).exit_code != EXIT_OK


def count(clean: bool) -> bool:
    HOSTILE["tried"] += 1
    HOSTILE["clean"] += clean
    return clean


def test_the_recorded_run_passes_as_the_baseline() -> None:
    child, results = replayed([signed(r) for r in RECORDING])
    assert child.ended is Ended.DONE and child.rejected_count == 0 and child.noise == ()
    assert report_of(results).exit_code == EXIT_OK


# --- interpreters that are not the smoke child ---------------------------------------------------------------


def fake_python(tmp_path: Path, body: str) -> str:
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


HELLO = '{"event": "hello", "protocol": 1, "python": "/x/python", "version": "3.11.7", "pid": 7'
FAKES: dict[str, tuple[str, str]] = {  # name -> (script, what smoke.target's reason must hold)
    "greeting-and-done": (f"echo '{HELLO}}}'; echo '{{\"event\": \"done\"}}'",
                          "the interpreter did not start the child (exit code 0)"),
    "greeting-and-done-with-the-nonce": (
        f"echo '{HELLO}, \"nonce\": \"'$ENVCHECK_SMOKE_NONCE'\"}}'; "
        "echo '{\"event\": \"done\", \"nonce\": \"'$ENVCHECK_SMOKE_NONCE'\"}'",
        "the child said it was done after 0 of 11 steps"),
    "a-forged-import-pass": (
        f"echo '{HELLO}}}'; echo '{{\"event\": \"end\", \"step\": \"import-torch\", \"state\": \"ok\", "
        "\"facts\": {\"version\": \"9\"}, \"duration_s\": 0}'; echo '{\"event\": \"done\"}'",
        "the interpreter did not start the child (exit code 0)"),
    "garbage": ("printf 'garbage\\n\\x00\\xff{\"event\"\\n[1,2]\\nnull\\n'", "(exit code 0)"),
    "nothing-and-exit-3": ("echo boom >&2; exit 3", "(exit code 3): boom"),
    "a-segfault": ("kill -SEGV $$", "(killed by SIGSEGV)"),
}


@pytest.mark.parametrize("name", sorted(FAKES))
def test_an_interpreter_that_is_not_the_child_never_passes(tmp_path: Path, name: str) -> None:
    script, reason = FAKES[name]
    report = smoke_test(python=fake_python(tmp_path, script), run_timeout_s=30, step_timeout_s=5.0)
    target = report.results[0]
    assert count(target.status is Status.FAIL and report.exit_code != EXIT_OK)
    assert reason in target.reason
    assert not [r for r in report.results if r.status is Status.PASS]


def test_the_start_up_limit_follows_step_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    report = smoke_test(python=fake_python(tmp_path, "exec sleep 60"), run_timeout_s=120, step_timeout_s=1.0)
    assert time.monotonic() - start < 1.0 + 3.0  # not the 30 s a start-up gets without --step-timeout
    target = report.results[0]
    # A limit the user set cut it: unknown (as a --timeout cut is), never a verdict on the interpreter.
    assert count(target.status is Status.UNKNOWN)
    assert target.reason.startswith("no hello within 1 s: cut at --step-timeout 1 s, which you set;")
    assert target.fix == "envcheck smoke --step-timeout 30  # a longer --step-timeout"


def test_a_child_that_closes_its_stdout_is_cut_off_by_envcheck_and_said_so(tmp_path: Path) -> None:
    nonce = "\"nonce\": \"'$ENVCHECK_SMOKE_NONCE'\""
    script = (f"echo '{HELLO}, {nonce}}}'; echo '{{\"event\": \"start\", \"step\": \"import-torch\", {nonce}}}'; "
              "exec 1>&-; exec sleep 60")
    report = smoke_test(python=fake_python(tmp_path, script), run_timeout_s=60, step_timeout_s=1.5)
    (imp,) = [r for r in report.results if r.id == "smoke.import-torch"]
    assert count(imp.status is Status.UNKNOWN)
    assert imp.observed.startswith("its output ended but it kept running: cut off after 1.")
    assert imp.reason.startswith("cut at --step-timeout 1.5 s, which you set, before this step finished")
    assert "out of memory" not in imp.observed + imp.reason


def test_a_sigkill_envcheck_did_not_send_is_told_apart_by_the_kernel_log(tmp_path: Path) -> None:
    from envcheck.runner import stream

    nonce = "\"nonce\": \"" + NONCE + "\""
    script = (f"echo '{{\"event\": \"hello\", \"protocol\": 1, \"python\": \"p\", \"version\": \"3\", \"pid\": '$$', "
              f"{nonce}}}'; echo '{{\"event\": \"start\", \"step\": \"import-torch\", {nonce}}}'; kill -KILL $$")
    seen: list[int] = []

    def oom_killed(pid: int) -> OomFinding:
        seen.append(pid)
        return OomFinding(pid, line=f"Out of memory: Killed process {pid} (python) total-vm:9000kB", source="k")

    for finder, expected in ((oom_killed, "killed by the kernel's out-of-memory killer: Out of memory: Killed "
                                          "process {pid} (python) total-vm:9000kB"),
                             (lambda pid: OomFinding(pid, source="k"),
                              "killed by SIGKILL, not by envcheck, and the kernel log names no out-of-memory kill "
                              "of pid {pid}"),
                             (lambda pid: OomFinding(pid, error="/dev/kmsg: Operation not permitted"),
                              "killed by SIGKILL, not by envcheck; the kernel log, which names out-of-memory kills, "
                              "could not be read: /dev/kmsg: Operation not permitted")):
        child = drive(stream(["sh", "-c", script]), LOCAL, timeout_s_for=lambda s: 30.0, run_timeout_s=30.0,
                      nonce=NONCE, find_oom=finder)
        pid = int((child.hello or {})["pid"])
        (imp,) = [r for r in judged(child) if r.id == "smoke.import-torch"]
        assert count(imp.status is Status.FAIL and child.ended is Ended.EXIT)
        assert imp.observed == f"the interpreter died during this step ({expected.format(pid=pid)})"
    assert seen and seen[0] > 0


def test_the_oom_killers_lines_name_their_pid_only() -> None:
    lines = ["6,1234,99,-;Out of memory: Killed process 4242 (python) total-vm:1kB, anon-rss:1kB",
             "6,1235,99,-;Memory cgroup out of memory: Killed process 77 (python) total-vm:1kB",
             "6,1236,99,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
             "oom_memcg=/a,task_memcg=/a,task=python,pid=5150,uid=1000"]
    assert oom.victim_line(lines, 4242).startswith("Out of memory: Killed process 4242")
    assert oom.victim_line(lines, 77).startswith("Memory cgroup out of memory: Killed process 77")
    assert oom.victim_line(lines, 5150).startswith("oom-kill:constraint=CONSTRAINT_MEMCG")
    assert [oom.victim_line(lines, pid) for pid in (42, 424, 7, 515, 1000)] == [""] * 5


def test_a_hung_conda_is_reported_as_hung_not_as_no_env(tmp_path: Path) -> None:
    from envcheck.model import UsageError
    from envcheck.runner import run
    from envcheck.smoke import targets

    conda = fake_python(tmp_path, "exec sleep 30")
    start = time.monotonic()
    with pytest.raises(UsageError) as raised:
        targets.conda_prefix("ml", env={"CONDA_EXE": conda, "PATH": "/usr/bin:/bin"}, home=str(tmp_path), run=run,
                             timeout_s=1.0)
    assert time.monotonic() - start < 1.0 + 2.0
    assert count(str(raised.value).startswith(f"--conda-env ml: `{conda} info --json` did not answer within 1 s "
                                              "(conda hangs)"))
    assert "no conda env found at all" not in str(raised.value)


# --- one record broken in a recorded healthy run -------------------------------------------------------------


def ends_at(step: str, item: str | None = None) -> int:
    return next(i for i, r in enumerate(RECORDING) if r["event"] == "end" and r["step"] == step
                and r.get("item") == item)


def mutated(change: Callable[[list[dict[str, Any]]], None]) -> list[str]:
    run = copy.deepcopy(RECORDING)
    change(run)
    return [signed(r) for r in run]


def set_field(index: int, key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(run: list[dict[str, Any]]) -> None:
        run[index][key] = value
    return change


def set_fact(step: str, item: str | None, key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(run: list[dict[str, Any]]) -> None:
        run[ends_at(step, item)]["facts"][key] = value
    return change


def drop(index: int) -> Callable[[list[dict[str, Any]]], None]:
    def change(run: list[dict[str, Any]]) -> None:
        del run[index]
    return change


def insert(index: int, record: dict[str, Any]) -> Callable[[list[dict[str, Any]]], None]:
    def change(run: list[dict[str, Any]]) -> None:
        run.insert(index, record)
    return change


def swap(first: int, second: int) -> Callable[[list[dict[str, Any]]], None]:
    def change(run: list[dict[str, Any]]) -> None:
        a, b = first, second
        run[a], run[b] = run[b], run[a]
    return change


# Where records stand in the recording (each change below is made to a fresh copy of it).
IMPORT_END, TRAIN_END, SAVE_END = ends_at("import-torch"), ends_at("train", "cpu"), ends_at("save-load", "cpu")
HELLO_AT, DONE_AT = 0, len(RECORDING) - 1
BROKEN: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "state-not-a-state": set_field(IMPORT_END, "state", "passed"),
    "duration-a-string": set_field(IMPORT_END, "duration_s", "0.1"),
    "duration-nan": set_field(IMPORT_END, "duration_s", math.nan),
    "duration-infinite": set_field(IMPORT_END, "duration_s", math.inf),
    "duration-negative": set_field(IMPORT_END, "duration_s", -1),
    "duration-a-bool": set_field(IMPORT_END, "duration_s", True),
    "item-a-number": set_field(TRAIN_END, "item", 5),
    "item-unprintable": set_field(TRAIN_END, "item", "cpu\x1b[2J"),
    "item-huge": set_field(TRAIN_END, "item", "x" * 5000),
    "step-unknown": set_field(IMPORT_END, "step", "import-tensorflow"),
    "step-a-list": set_field(IMPORT_END, "step", ["import-torch"]),
    "facts-a-list": set_field(IMPORT_END, "facts", [1]),
    "facts-missing": set_field(IMPORT_END, "facts", None),
    "error-not-an-object": insert(DONE_AT, {"event": "end", "step": "bench-transfer", "item": "GPU 9", "state": "error",
                                            "error": "boom", "duration_s": 0.1}),
    "blocked-by-a-later-step": insert(ends_at("amp"), {"event": "end", "step": "train", "item": "GPU 0",
                                                               "state": "skip", "blocked_by": "nccl",
                                                               "duration_s": 0}),
    "gpu-skip-a-string": set_field(ends_at("amp"), "gpu_skip", "yes"),
    "event-unknown": insert(DONE_AT, {"event": "pass", "step": "train"}),
    "hello-twice": insert(DONE_AT, dict(RECORDING[0])),
    "record-before-hello": swap(HELLO_AT, 1),
    "protocol-2": set_field(HELLO_AT, "protocol", 2),
    "pid-a-string": set_field(HELLO_AT, "pid", "1"),
    "pid-a-bool": set_field(HELLO_AT, "pid", True),
    "version-missing": set_field(HELLO_AT, "version", None),
    "end-reported-twice": insert(SAVE_END, {**RECORDING[ends_at("import-torch")]}),
    "train-reported-twice": insert(DONE_AT, {**RECORDING[ends_at("train", "cpu")]}),
    "out-of-order": swap(TRAIN_END, SAVE_END),
    "end-of-another-step-while-one-runs": insert(ends_at("train", "cpu"), {
        "event": "end", "step": "amp", "item": None, "state": "skip", "duration_s": 0}),
    "start-while-one-runs": insert(ends_at("train", "cpu"), {"event": "start", "step": "amp", "item": None}),
    "done-while-one-runs": insert(ends_at("train", "cpu"), {"event": "done"}),
    "progress-with-a-string-loss": insert(TRAIN_END, {"event": "progress", "step": "train", "item": "cpu",
                                                      "done": 1, "total": 2, "loss": "low"}),
    "progress-of-a-step-not-running": insert(DONE_AT, {"event": "progress", "step": "train", "item": "cpu",
                                                       "done": 1, "total": 2, "loss": 0.1}),
    "a-bench-step-in-a-plain-run": lambda run: None,  # the --bench recording, replayed as a run without --bench
    "import-end-dropped": drop(IMPORT_END),
    "train-end-dropped": drop(TRAIN_END),
    "nccl-end-dropped": drop(ends_at("nccl")),
    "done-dropped": drop(DONE_AT),
    "everything-but-hello-and-done": lambda run: run.__delitem__(slice(1, -1)),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_one_broken_record_fails_the_run_and_says_why(name: str) -> None:
    child, results = replayed(mutated(BROKEN[name]), bench=name != "a-bench-step-in-a-plain-run")
    assert count(refused(results))
    target = results[0]
    if child.rejected_count:
        assert target.status is Status.FAIL
        assert target.reason.startswith(f"{child.rejected_count} of the child's records broke the smoke protocol")
        assert target.evidence["rejected"] == list(child.rejected) and len(child.rejected) <= records.MAX_REJECTED
    else:  # a dropped record: the run is short of a step, or it never said done
        assert target.status is Status.FAIL and " of 15 steps" in target.reason


FACTS: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "import-version-missing": lambda run: run[ends_at("import-torch")]["facts"].pop("version"),
    "import-facts-empty": set_field(IMPORT_END, "facts", {}),
    "import-version-a-number": set_fact("import-torch", None, "version", 2.13),
    "train-steps-a-bool": set_fact("train", "cpu", "steps", True),
    "train-steps-negative": set_fact("train", "cpu", "steps", -600),
    "train-accuracy-nan": set_fact("train", "cpu", "accuracy", math.nan),
    "train-accuracy-above-one": set_fact("train", "cpu", "accuracy", 7),
    "train-loss-a-string": set_fact("train", "cpu", "loss_end", "0.01"),
    "train-loss-negative": set_fact("train", "cpu", "loss_end", -1.0),
    "train-time-nan": set_fact("train", "cpu", "time_per_step_ms", math.nan),
    "save-tensors-a-bool": set_fact("save-load", "cpu", "tensors", True),
    "save-identical-a-string": set_fact("save-load", "cpu", "identical_output", "true"),
    "bench-tflops-nan": set_fact("bench-matmul", "cpu", "fp32_tflops", math.nan),
    "bench-tflops-infinite": set_fact("bench-matmul", "cpu", "fp32_tflops", math.inf),
    "bench-n-a-float": set_fact("bench-matmul", "cpu", "n", 1024.0),
}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_facts_of_the_wrong_type_are_unknown_never_a_pass(name: str) -> None:
    child, results = replayed(mutated(FACTS[name]))
    assert child.rejected_count == 0
    (odd,) = [r for r in results if r.status is not Status.PASS and r.status is not Status.SKIP]
    assert count(refused(results) and odd.status is Status.UNKNOWN)
    assert odd.reason.startswith("could not judge the child's facts: FactsError: ")


# --- made-up lines and records -------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["event", "step", "item", "state", "facts", "duration_s", "error", "reason", "blocked_by",
                          "gpu_skip", "done", "total", "loss", "protocol", "pid", "python", "version"])
VALUES = st.sampled_from([*records.EVENTS, *steps.BY_NAME, *records.STATES, "cpu", None]) | JSON
RECORDS = st.dictionaries(FIELDS, VALUES, max_size=8)
BASELINE = [(r.id, r.item, r.status, r.observed) for r in replayed([signed(r) for r in RECORDING])[1]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=st.integers(0, len(RECORDING)), line=st.text(max_size=200) | JSON.map(json.dumps))
def test_lines_without_the_nonce_change_nothing(at: int, line: str) -> None:
    lines = [signed(r) for r in RECORDING]
    lines.insert(at, line.replace("\n", " ").replace("\r", " "))
    child, results = replayed(lines)
    assert count([(r.id, r.item, r.status, r.observed) for r in results] == BASELINE)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=st.integers(0, len(RECORDING)), record=RECORDS)
def test_a_record_with_the_nonce_is_protocol_or_fails_the_run(at: int, record: dict[str, Any]) -> None:
    lines = [signed(r) for r in RECORDING]
    lines.insert(at, signed(record))
    child, results = replayed(lines)
    same = [(r.id, r.item, r.status, r.observed) for r in results] == BASELINE
    assert count(refused(results) or same)
    assert all(len(reason) < 400 for reason in child.rejected)


def test_the_nonce_travels_to_the_child_and_back_and_leaves_no_trace(tmp_path: Path) -> None:
    # The child's records carry the nonce it was given; the nonce is gone from what the report keeps.
    script = f"echo '{HELLO}, \"nonce\": \"'$ENVCHECK_SMOKE_NONCE'\"}}'; exit 0"
    report = smoke_test(python=fake_python(tmp_path, script), run_timeout_s=30, step_timeout_s=5.0,
                        env={**os.environ, records.NONCE_VARIABLE: "not-this-one"})
    target = report.results[0]
    assert target.status is Status.FAIL and "nonce" not in target.evidence
    assert target.reason.startswith("the child stopped between steps, after 0 of 11 steps (exit code 0)")


def test_zz_every_hostile_input_ended_cleanly() -> None:
    print(f"\nhostile smoke inputs: {HOSTILE['tried']} tried, {HOSTILE['clean']} ended cleanly")
    assert HOSTILE["tried"] > 0 and HOSTILE["clean"] == HOSTILE["tried"]
