"""`envcheck verify PATH`: build a scaffolded project's images with the local Docker engine and run the smoke
test inside them. The result is an ordinary Report, so every renderer and exit code applies.

The build goes through ``dockerapi.build_image`` and the smoke container through ``smoke.container.launch``,
the code that runs ``envcheck smoke --docker``: the adapter's one way to run a container, and the one bounded
reader of what it says.

Without registry access the build stops at the first step that needs the network (pulling the base image,
apt-get, pip): the result names that step and says so, instead of a raw build log.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import time
from collections import deque
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from envcheck import dockerapi, fixes, linereader
from envcheck.frozen import frozen
from envcheck.model import Outcome, PolicyRef, Report, Result, Status, UsageError
from envcheck.policy_groups import default_policy_source
from envcheck.probes.project import read_gpu_now
from envcheck.project_record import RECORD_PATH, ProjectRecord, UnreadableRecord, read_record

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# Phrases the engine, apt and pip print when the network is what failed.
_NETWORK = re.compile(
    r"dial tcp|no such host|lookup .* on |i/o timeout|tls handshake|temporary failure resolving|could not resolve|"
    r"failed to establish a new connection|network is unreachable|connection refused|pull access denied|"
    r"failed to resolve reference|name or service not known|max retries exceeded|registry",
    re.IGNORECASE,
)


@frozen
class BuildLog:
    ok: bool
    step: str = ""  # "Step 1/14 : FROM ubuntu:24.04", the step that was running when it failed
    error: str = ""
    lines: tuple[str, ...] = ()
    image_id: str = ""


_LOG_LINES = 40  # of a build: what the result shows of it
_SMOKE_LOG_LINES = 200  # of the smoke test: its whole log, unless it floods


def read_build_stream(chunks: Iterable[dict[str, Any]], *, deadline: float) -> BuildLog:
    """Follow the engine's build stream; the last "Step N/M" seen is the step that failed, if one did.

    The chunks are read on a ``linereader.Feed``, so the deadline holds while a step prints nothing
    (`RUN pip install -q ...`, `RUN sleep`); an error while reading is raised here. The engine cancels the build
    when envcheck exits and the connection closes."""
    feed = linereader.Feed(chunks, "envcheck-build-log")
    try:
        return _follow_build(feed, deadline)
    finally:  # a deadline or an error: the feed's thread stops reading, and drops the engine's stream
        feed.close()


def _follow_build(feed: linereader.Feed[dict[str, Any]], deadline: float) -> BuildLog:
    step, image_id = "", ""
    lines: deque[str] = deque(maxlen=_LOG_LINES)
    while True:
        try:
            chunk = feed.get(deadline - time.monotonic())
        except TimeoutError:
            return BuildLog(False, step, "the build did not finish before the deadline (the step printed nothing "
                            "for the rest of it)", tuple(lines), image_id)
        if chunk is None:
            if feed.error is not None:
                raise feed.error
            break
        text = str(chunk.get("stream") or "")
        for line in text.splitlines():
            if _STEP.match(line.strip()):
                step = line.strip()
            if line.strip():
                lines.append(line.rstrip()[:linereader.MAX_LINE])
        if "aux" in chunk and isinstance(chunk["aux"], dict):
            image_id = str(chunk["aux"].get("ID", image_id))
        if "error" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(detail.get("message") or chunk["error"]).strip()
            return BuildLog(False, step, message, tuple(lines), image_id)
        if time.monotonic() > deadline:
            return BuildLog(False, step, "the build did not finish before the deadline", tuple(lines), image_id)
    return BuildLog(True, step, "", tuple(lines), image_id)


def shown_path(path: str, cwd: str | None = None) -> str:
    """The project's path as a command to paste should name it: the path the user gave, relative to the working
    folder where that is shorter (``.``, ``demo``), else absolute."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, cwd or os.getcwd())
    except ValueError:  # Windows: another drive has no relative path
        return absolute
    return relative if len(relative) <= len(absolute) else absolute


def judge_build(dockerfile: str, log: BuildLog, project: str = ".", tag: str = "") -> Outcome:
    """The build's verdict; ``project`` is the folder as the fix names it (see shown_path), ``tag`` the image's."""
    folder = shlex.quote(project)
    build = f"docker build -f {shlex.quote(os.path.join(project, dockerfile))} {folder}"
    if log.ok:
        return Outcome(status=Status.PASS, observed=f"built {dockerfile} as {tag}" if tag else f"built {dockerfile}",
                       item=dockerfile, evidence={"image": log.image_id, "tag": tag})
    where = log.step or "before the first step"
    tail = "\n".join(log.lines[-8:])
    network = bool(_NETWORK.search(log.error) or _NETWORK.search(tail))
    if network:
        base = where.split(" : FROM ", 1)[1].split()[0] if " : FROM " in where else ""
        what = f"pulling the base image {base}" if base else "this step"
        # A command to paste: the pull that must work first, or the build that shows the failing step's whole log.
        fix = (f"docker pull {base}   # must work first (registry access, the engine's proxy settings); "
               f"then: envcheck verify {folder}" if base else
               f"{build}   # needs download.pytorch.org and the Ubuntu mirrors from the engine")
        return Outcome(
            status=Status.FAIL, item=dockerfile, observed=f"{where}: {log.error}",
            expected="the image builds",
            reason=f"{what} needs the network, and the Docker engine could not reach it",
            fix=fix,
            evidence={"step": where, "error": log.error, "network": True, "log_tail": tail},
        )
    return Outcome(status=Status.FAIL, item=dockerfile, observed=f"{where}: {log.error}", expected="the image builds",
                   reason="the build failed",
                   fix=f"{build}  # to see the whole log",
                   evidence={"step": where, "error": log.error, "network": False, "log_tail": tail})


def _client(timeout_s: float) -> Any:
    """The SDK client for the engine the docker CLI would use (contexts included), through envcheck's adapter."""
    endpoint = dockerapi.resolve_endpoint(os.environ, os.path.expanduser("~"))
    if endpoint.error:
        raise UsageError(f"no Docker endpoint: {endpoint.error}")
    return dockerapi.sdk_client(endpoint, timeout_s)


def _smoke(image: str, package: str, gpu: bool, timeout_s: float, disable_require: bool = False) -> Outcome:
    """The project's smoke module in ``image``, started and read the way `envcheck smoke --docker` starts and reads
    its child (``smoke.container.launch``); raises what stopped it from running."""
    from envcheck.smoke import container

    command = ["python3", "-m", f"{package}.smoke"] + (["--require-gpu"] if gpu else [])
    by_hand = fixes.docker_run(image, " ".join(command), gpus=gpu)
    # Planned with minor-version compatibility: the image's NVIDIA_REQUIRE_CUDA asks more than the driver fully
    # supports, so the run disables that check, as the project's README does.
    environment = {"NVIDIA_DISABLE_REQUIRE": "1"} if gpu and disable_require else None
    # The image's own entrypoint and environment, as `docker run IMAGE COMMAND`; stdout and stderr in the order the
    # engine logged them, as `docker logs` shows them.
    spec = container.Launch(image, command, try_by_hand=by_hand, environment=environment, merged=True)
    deadline = time.monotonic() + timeout_s
    stream = container.launch(spec, env=os.environ, home=os.path.expanduser("~"), timeout_s=min(timeout_s, 300),
                              gpus=gpu, run_timeout_s=timeout_s)
    kept: deque[str] = deque(maxlen=_SMOKE_LOG_LINES)
    try:
        try:
            while (line := stream.readline(deadline - time.monotonic())) is not None:
                kept.append(line)
        except TimeoutError:
            raise TimeoutError(f"the smoke test did not finish within {timeout_s:.0f} s") from None
        if stream.stream_failure is not None:  # the engine went away: what it raised says why
            raise stream.stream_failure
        code = stream.close(wait_s=max(deadline - time.monotonic(), 1.0))  # its output ended: it exits now
    finally:
        stream.remove()
    if code is None:
        raise RuntimeError("the engine gave no exit code for the smoke container")
    logs = "\n".join(kept).strip()
    if code == 0:
        return Outcome(status=Status.PASS, observed=logs.splitlines()[-1] if logs else "exit 0", evidence={"log": logs})
    return Outcome(status=Status.FAIL, observed=f"exit {code}", reason=logs[-500:], evidence={"log": logs},
                   fix=by_hand)


def gpu_runtime_gap(driver: str | None, runtimes: Iterable[str], cdi_kinds: Iterable[str]) -> str:
    """Why a CUDA image cannot run here, or "" when it can: `docker run --gpus` needs the NVIDIA driver on the
    host and, in the engine, the nvidia runtime or an nvidia.com CDI spec
    (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html)."""
    if driver is None:
        return "no NVIDIA GPU on this machine to run the CUDA image"
    if "nvidia" in runtimes or any(kind.startswith("nvidia.com/") for kind in cdi_kinds):
        return ""
    return ("the Docker engine has neither the nvidia runtime nor an nvidia.com CDI spec, so `docker run --gpus` "
            "cannot reach the GPU")


def _engine_gpu_gap(client: Any) -> str:
    """gpu_runtime_gap for this host and the engine's own info (the docker probe's facts: Runtimes, CDISpecDirs)."""
    from envcheck.probes.docker_host import find_cdi_specs

    driver = read_gpu_now().driver
    if driver is None:
        return gpu_runtime_gap(None, (), ())
    info = client.info()
    runtimes = info.get("Runtimes") if isinstance(info.get("Runtimes"), dict) else {}
    spec_dirs = info.get("CDISpecDirs") if isinstance(info.get("CDISpecDirs"), list) else []
    specs, _ = find_cdi_specs(tuple(str(d) for d in spec_dirs))
    return gpu_runtime_gap(driver, runtimes, (kind for _, kind in specs))


def _training(tag: str, dockerfile: str, timeout_s: float, *, gpus: bool) -> list[Result]:
    """envcheck's own smoke ladder in the image, as `envcheck smoke --docker TAG` runs it (the CPU image without the
    host's GPUs: its torch is a CPU build on purpose); each result names the Dockerfile, so the two images' results
    stay apart in one report."""
    from envcheck.smoke import smoke_test

    ran = smoke_test(docker=tag, run_timeout_s=timeout_s, gpus=gpus)
    return [replace(r, outcome=replace(r.outcome, item=f"{dockerfile} {r.item}" if r.item else dockerfile))
            for r in ran.results]


def _remove_images(client: Any, tags: list[str], keep: bool) -> Result:
    """Name the images verify leaves behind, or remove them (``--no-keep-images``)."""
    t0 = time.monotonic()
    if keep or not tags:
        outcome = Outcome(status=Status.PASS, observed=f"kept {', '.join(tags)}" if tags else "no image was built",
                          evidence={"images": tags, "removed": []})
    else:
        removed, failed = [], []
        for tag in tags:
            try:
                client.images.remove(tag)
                removed.append(tag)
            except Exception as exc:  # an image a container still uses, or the engine went away: say so
                failed.append(f"{tag}: {dockerapi.classify(exc)[1]}")
        outcome = (Outcome(status=Status.PASS, observed=f"removed {', '.join(removed)}",
                           evidence={"images": tags, "removed": removed}) if not failed else
                   Outcome(status=Status.WARN, observed="; ".join(failed), expected="the images removed",
                           reason="an image could not be removed", fix=f"docker image rm {' '.join(tags)}",
                           evidence={"images": tags, "removed": removed}))
    return Result("verify.images", "images left by verify", outcome, round(time.monotonic() - t0, 3))


def verify(project: Path, *, timeout_s: float = 1800.0, shown_as: str | None = None,
           keep_images: bool = True) -> Report:
    """Build every Dockerfile the project has, then run the project's smoke module and envcheck's training smoke
    test in each image that built and can run here. ``shown_as`` is the project as the user named it (for fixes);
    the images are kept unless ``keep_images`` is false."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.monotonic()
    folder = shown_path(shown_as if shown_as is not None else str(project))
    record_path = project / RECORD_PATH
    record = read_record(record_path) if record_path.is_file() else UnreadableRecord(f"{record_path} not found")
    if isinstance(record, UnreadableRecord):
        raise UsageError(f"{project} is not a project made by `envcheck scaffold`: {record.reason}")
    dockerfiles = [f for f in ("Dockerfile", "Dockerfile.cpu") if (project / f).is_file()]
    if not dockerfiles:
        raise UsageError(f"{project} has no Dockerfile: `envcheck generate dockerfile {shlex.quote(folder)}` "
                         "writes them")
    results: list[Result] = []
    try:
        client = _client(min(timeout_s, 300))
        client.ping()
    except Exception as exc:  # the SDK raises DockerException or requests errors: dockerapi.classify names them
        kind, detail = dockerapi.classify(exc)
        outcome = Outcome(status=Status.FAIL, observed=detail, reason=f"no Docker engine answers ({kind})",
                          fix=f"Start the Docker engine (`{fixes.DOCKER_DIAGNOSE}` says why it does not answer)")
        results.append(Result("verify.engine", "Docker engine reachable", outcome, round(time.monotonic() - start, 3)))
        return Report(command="verify", host=socket.gethostname(), started_at=started, policy=_built_in_ref(),
                      duration_s=round(time.monotonic() - start, 3), results=tuple(results))
    deadline = start + timeout_s
    built: list[str] = []
    for dockerfile in dockerfiles:
        tag, image_results = _verify_image(client, project, dockerfile, record, folder, deadline)
        results.extend(image_results)
        if tag:
            built.append(tag)
    results.append(_remove_images(client, built, keep_images))
    return Report(command="verify", host=socket.gethostname(), started_at=started, policy=_built_in_ref(),
                  duration_s=round(time.monotonic() - start, 3), results=tuple(results))


def _built_in_ref() -> PolicyRef:
    """verify judges by the built-in policy (its smoke thresholds); the report says so, as every report does."""
    return default_policy_source().effective(socket.gethostname()).ref


def _verify_image(client: Any, project: Path, dockerfile: str, record: ProjectRecord, folder: str,
                  deadline: float) -> tuple[str, list[Result]]:
    """Build one Dockerfile and run both smoke tests in its image: (the tag when it built, the results)."""
    flavor = "cuda" if dockerfile == "Dockerfile" else "cpu"
    tag = f"{re.sub(r'[-_.]+', '-', record.name).lower()}:{flavor}"  # as README's image tag
    package = record.package
    t0 = time.monotonic()
    try:
        # read_build_stream holds the deadline; the socket's own timeout only backs it up.
        stream = dockerapi.build_image(client, str(project), dockerfile, tag,
                                       max(deadline - time.monotonic(), 1.0) + 30)
        log = read_build_stream(stream, deadline=deadline)
    except Exception as exc:  # the engine went away or a read timed out mid-build: a result, not a traceback
        kind, detail = dockerapi.classify(exc)
        log = BuildLog(False, "", f"the Docker engine stopped answering ({kind}): {detail}")
    results = [Result("verify.build", f"{dockerfile} builds", judge_build(dockerfile, log, folder, tag),
                      round(time.monotonic() - t0, 3))]
    t0 = time.monotonic()
    gap = _engine_gpu_gap(client) if log.ok and flavor == "cuda" else ""
    if not log.ok:
        smoke = Outcome(status=Status.SKIP, item=dockerfile, reason=f"{dockerfile} did not build",
                        caused_by="verify.build")
    elif gap:  # built, never run: a skip that says so, not a pass
        smoke = Outcome(status=Status.SKIP, item=dockerfile, observed=f"built {tag}; did not run it",
                        reason=gap, evidence={"tag": tag})
    else:
        minor_compat = record.decided("minor_compat")
        try:
            smoke = _smoke(tag, package, flavor == "cuda", max(deadline - time.monotonic(), 30),
                           disable_require=minor_compat is not None and minor_compat.value == "used")
        except Exception as exc:  # container start/wait failed (no GPU runtime, a timeout): say which
            kind, detail = dockerapi.classify(exc)
            smoke = Outcome(status=Status.FAIL, observed=detail, reason=f"the smoke container could not run ({kind})",
                            fix=fixes.docker_run(tag, f"python3 -m {package}.smoke", gpus=flavor == "cuda"))
        smoke = replace(smoke, item=dockerfile)
    results.append(Result("verify.smoke", f"smoke test inside {dockerfile}", smoke, round(time.monotonic() - t0, 3)))
    if log.ok and not gap:
        results.extend(_training(tag, dockerfile, max(deadline - time.monotonic(), 30), gpus=flavor == "cuda"))
    return (tag if log.ok else ""), results
