"""Per-host report files for the merge tests, made from the real thing: `envcheck doctor --json --host H --group G`
run on this machine (about 0.4 s each), then copies edited the way another server's report would differ (another
driver or GPU, a failing check). Every edit keeps the envelope consistent (overall, counts and exit_code follow the
results), so a copy reads as a report the real doctor could have written on that server.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_RANK = {"skip": 0, "pass": 1, "warn": 2, "unknown": 3, "fail": 4}
# Facts of a made-up GPU server, put over the real doctor's (this machine has no GPU).
GPU_FACTS = {"driver": "550.54.15", "cuda": "12.4", "gpu_model": "NVIDIA A100-SXM4-80GB", "gpu_count": "8"}


@functools.cache
def run_doctor(host: str, groups: tuple[str, ...] = ()) -> dict[str, Any]:
    """The envelope `envcheck doctor --json --host HOST --group G...` prints on this machine (run once per test
    process for each argument list: take copies through :func:`edited`, never change it)."""
    argv = [sys.executable, "-m", "envcheck", "doctor", "--json", "--host", host]
    for group in groups:
        argv += ["--group", group]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode in (0, 1, 3), done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def edited(document: dict[str, Any], *, host: str | None = None, groups: list[str] | None = None,
           facts: dict[str, str | None] | None = None, fail: str | None = None, observed: str = "",
           fix: str = "") -> dict[str, Any]:
    """A copy of ``document`` as another host's report: its name and groups, facts over the copy's, and the check
    ``fail`` (an id of the report) failed with ``observed`` and ``fix``."""
    copied = copy.deepcopy(document)
    if host is not None:
        copied["host"] = host
    if groups is not None:
        copied["groups"] = groups
    if facts is not None:
        copied["facts"] = {**copied["facts"], **facts}
    if fail is not None:
        result = next(r for r in copied["results"] if r["id"] == fail)
        result.update(status="fail", observed=observed, fix=fix, reason="made to fail by the test")
    statuses = [r["status"] for r in copied["results"]]
    if copied.get("strict"):
        statuses = ["fail" if s == "warn" else s for s in statuses]
    copied["overall"] = max(statuses, key=_RANK.__getitem__, default="skip")
    copied["counts"] = {s: sum(r["status"] == s for r in copied["results"]) for s in _RANK}
    copied["exit_code"] = {"fail": 1, "unknown": 3}.get(copied["overall"], 0)
    return copied


def write(folder: Path, name: str, document: Any) -> Path:
    """``document`` as JSON in ``folder/name``."""
    path = folder / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def host_error(host: str, outcome: str, message: str, groups: list[str] | None = None) -> dict[str, Any]:
    """A host-error record as `envcheck fleet` writes one for a host without a report."""
    return {"schema": "envcheck.host-error", "schema_version": 1, "host": host, "groups": groups or [],
            "outcome": outcome, "message": message, "time": "2026-12-02T00:00:00+00:00"}
