"""`envcheck verify PATH`: build a scaffolded project's images with the local Docker engine and run the smoke
test inside them (issue #5, item 8). The result is an ordinary Report, so every renderer and exit code applies.

Without registry access the build stops at the first step that needs the network (pulling the base image,
apt-get, pip): the result names that step and says so, instead of a raw build log.
"""

from __future__ import annotations

import queue
import re
import socket
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from envcheck.model import Outcome, Report, Result, Status, UsageError
from envcheck.probes.project import read_gpu_now, read_record

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# Phrases the engine, apt and pip print when the network is what failed.
_NETWORK = re.compile(
    r"dial tcp|no such host|lookup .* on |i/o timeout|tls handshake|temporary failure resolving|could not resolve|"
    r"failed to establish a new connection|network is unreachable|connection refused|pull access denied|"
    r"failed to resolve reference|name or service not known|max retries exceeded|registry",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BuildLog:
    ok: bool
    step: str = ""  # "Step 1/14 : FROM ubuntu:24.04", the step that was running when it failed
    error: str = ""
    lines: tuple[str, ...] = ()
    image_id: str = ""


_END = object()


def _bounded(chunks: Iterable[dict[str, Any]], deadline: float) -> Iterator[dict[str, Any] | None]:
    """The chunks as they come, read on a daemon thread so the deadline holds while a step prints nothing
    (`RUN pip install -q ...`, `RUN sleep`): None means the deadline passed with the stream still open. An
    error while reading is raised here, in the caller's thread. The engine cancels the build when envcheck
    exits and the connection closes."""
    box: queue.Queue[Any] = queue.Queue()

    def pump() -> None:
        try:
            for chunk in chunks:
                box.put(chunk)
        except BaseException as exc:  # handed to the caller, which classifies it
            box.put(exc)
        box.put(_END)

    threading.Thread(target=pump, name="envcheck-build-log", daemon=True).start()
    while True:
        try:
            item = box.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            yield None
            return
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def read_build_stream(chunks: Iterable[dict[str, Any]], *, deadline: float) -> BuildLog:
    """Follow the engine's build stream; the last "Step N/M" seen is the step that failed, if one did."""
    step, lines, image_id = "", list[str](), ""
    for chunk in _bounded(chunks, deadline):
        if chunk is None:
            return BuildLog(False, step, "the build did not finish before the deadline (the step printed nothing "
                            "for the rest of it)", tuple(lines[-40:]), image_id)
        text = str(chunk.get("stream") or "")
        for line in text.splitlines():
            if _STEP.match(line.strip()):
                step = line.strip()
            if line.strip():
                lines.append(line.rstrip())
        if "aux" in chunk and isinstance(chunk["aux"], dict):
            image_id = str(chunk["aux"].get("ID", image_id))
        if "error" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(detail.get("message") or chunk["error"]).strip()
            return BuildLog(False, step, message, tuple(lines[-40:]), image_id)
        if time.monotonic() > deadline:
            return BuildLog(False, step, "the build did not finish before the deadline", tuple(lines[-40:]), image_id)
    return BuildLog(True, step, "", tuple(lines[-40:]), image_id)


def judge_build(dockerfile: str, log: BuildLog) -> Outcome:
    if log.ok:
        return Outcome(status=Status.PASS, observed=f"built {dockerfile}", item=dockerfile,
                       evidence={"image": log.image_id})
    where = log.step or "before the first step"
    tail = "\n".join(log.lines[-8:])
    network = bool(_NETWORK.search(log.error) or _NETWORK.search(tail))
    if network:
        base = where.split(" : FROM ", 1)[1].split()[0] if " : FROM " in where else ""
        what = f"pulling the base image {base}" if base else "this step"
        # A command to paste: the pull that must work first, or the build that shows the failing step's whole log.
        fix = (f"docker pull {base}   # must work first (registry access, the engine's proxy settings); "
               "then: envcheck verify ." if base else
               f"docker build -f {dockerfile} .   # needs download.pytorch.org and the Ubuntu mirrors from the engine")
        return Outcome(
            status=Status.FAIL, item=dockerfile, observed=f"{where}: {log.error}",
            expected="the image builds",
            reason=f"{what} needs the network, and the Docker engine could not reach it",
            fix=fix,
            evidence={"step": where, "error": log.error, "network": True, "log_tail": tail},
        )
    return Outcome(status=Status.FAIL, item=dockerfile, observed=f"{where}: {log.error}", expected="the image builds",
                   reason="the build failed", fix=f"docker build -f {dockerfile} .  # to see the whole log",
                   evidence={"step": where, "error": log.error, "network": False, "log_tail": tail})


def _client(timeout_s: float) -> Any:
    """The SDK client for the engine the docker CLI would use (contexts included), through envcheck's adapter."""
    import os

    from envcheck import dockerapi

    endpoint = dockerapi.resolve_endpoint(os.environ, os.path.expanduser("~"))
    if endpoint.error:
        raise UsageError(f"no Docker endpoint: {endpoint.error}")
    return dockerapi.sdk_client(endpoint, timeout_s)


def _smoke(client: Any, image: str, package: str, gpu: bool, timeout_s: float,
           disable_require: bool = False) -> Outcome:
    import docker

    command = ["python3", "-m", f"{package}.smoke"] + (["--require-gpu"] if gpu else [])
    requests = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])] if gpu else None
    # Planned with minor-version compatibility: the image's NVIDIA_REQUIRE_CUDA asks more than the driver fully
    # supports, so the run disables that check, as the project's README does.
    environment = {"NVIDIA_DISABLE_REQUIRE": "1"} if gpu and disable_require else None
    # The smoke test needs no network; without one it cannot reach out, and a missing bridge cannot stop it.
    container = client.containers.run(image, command, detach=True, device_requests=requests, network_mode="none",
                                      environment=environment)
    try:
        status = container.wait(timeout=timeout_s)
        logs = container.logs().decode("utf-8", errors="replace").strip()
    finally:
        container.remove(force=True)
    code = int(status.get("StatusCode", 1))
    if code == 0:
        return Outcome(status=Status.PASS, observed=logs.splitlines()[-1] if logs else "exit 0", evidence={"log": logs})
    return Outcome(status=Status.FAIL, observed=f"exit {code}", reason=logs[-500:], evidence={"log": logs},
                   fix=f"docker run --rm {'--gpus all ' if gpu else ''}{image} {' '.join(command)}")


def verify(project: Path, *, timeout_s: float = 1800.0) -> Report:
    """Build every Dockerfile the project has, then run its smoke test in each image that built."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.monotonic()
    record_path = project / ".envcheck" / "project.json"
    record, error = read_record(record_path) if record_path.is_file() else ({}, f"{record_path} not found")
    if error:
        raise UsageError(f"{project} is not a project made by `envcheck scaffold`: {error}")
    package = str(record.get("package"))
    name = re.sub(r"[-_.]+", "-", str(record.get("name", project.name))).lower()  # as README's image tag
    dockerfiles = [f for f in ("Dockerfile", "Dockerfile.cpu") if (project / f).is_file()]
    if not dockerfiles:
        raise UsageError(f"{project} has no Dockerfile: `envcheck generate dockerfile {project}` writes them")
    results: list[Result] = []
    try:
        client = _client(min(timeout_s, 300))
        client.ping()
    except Exception as exc:  # the SDK raises DockerException or requests errors: failure-modes.md
        from envcheck.dockerapi import classify

        kind, detail = classify(exc)
        outcome = Outcome(status=Status.FAIL, observed=detail, reason=f"no Docker engine answers ({kind})",
                          fix="Start the Docker engine (`envcheck doctor --only docker` says why it does not answer)")
        took = round(time.monotonic() - start, 3)
        results.append(Result.from_outcome("verify.engine", "Docker engine reachable", outcome, took))
        client = None
    has_gpu = read_gpu_now().driver is not None
    decisions = record.get("decisions")
    minor_compat_used = any(isinstance(d, dict) and d.get("key") == "minor_compat" and d.get("value") == "used"
                            for d in (decisions if isinstance(decisions, list) else []))
    for dockerfile in dockerfiles if client is not None else []:
        flavor = "cuda" if dockerfile == "Dockerfile" else "cpu"
        tag = f"{name}:{flavor}"
        t0 = time.monotonic()
        try:
            # build() sends timeout=None unless told: a step that prints nothing would block the read forever.
            # read_build_stream holds the deadline; the socket's own timeout only backs it up.
            stream = client.api.build(path=str(project), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True,
                                      decode=True, pull=False,
                                      timeout=max(timeout_s - (time.monotonic() - start), 1.0) + 30)
            log = read_build_stream(stream, deadline=start + timeout_s)
        except Exception as exc:  # the engine went away or a read timed out mid-build: a result, not a traceback
            from envcheck.dockerapi import classify

            kind, detail = classify(exc)
            log = BuildLog(False, "", f"the Docker engine stopped answering ({kind}): {detail}")
        results.append(Result.from_outcome("verify.build", f"{dockerfile} builds", judge_build(dockerfile, log),
                                           round(time.monotonic() - t0, 3)))
        t0 = time.monotonic()
        if not log.ok:
            smoke = Outcome(status=Status.SKIP, item=dockerfile, reason=f"{dockerfile} did not build",
                            caused_by="verify.build")
        elif flavor == "cuda" and not has_gpu:
            smoke = Outcome(status=Status.SKIP, item=dockerfile,
                            reason="no NVIDIA GPU on this machine to run the CUDA image")
        else:
            try:
                smoke = _smoke(client, tag, package, flavor == "cuda",
                               max(timeout_s - (time.monotonic() - start), 30), disable_require=minor_compat_used)
            except Exception as exc:  # container start/wait failed (no GPU runtime, a timeout): say which
                from envcheck.dockerapi import classify

                kind, detail = classify(exc)
                smoke = Outcome(status=Status.FAIL, observed=detail,
                                reason=f"the smoke container could not run ({kind})",
                                fix=f"docker run --rm {'--gpus all ' if flavor == 'cuda' else ''}{tag} "
                                    f"python3 -m {package}.smoke")
            smoke = replace(smoke, item=dockerfile)
        results.append(Result.from_outcome("verify.smoke", f"smoke test inside {dockerfile}", smoke,
                                           round(time.monotonic() - t0, 3)))
    return Report(command="verify", host=socket.gethostname(), started_at=started,
                  duration_s=round(time.monotonic() - start, 3), results=tuple(results))
