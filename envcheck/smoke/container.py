"""A child in a container, read like a local one: ``envcheck smoke --docker IMAGE`` and ``envcheck verify``.

The smoke child script is bind-mounted read-only and run by path with the image's interpreter; GPUs are
requested (``--gpus all``) when the host has any; the container has no network (``dockerapi.start_container``).
Its stdout is followed as a log stream through ``envcheck.linereader``, so the driver reads it like a local
child's, with the same deadlines. Every client call carries a timeout. The SDK is imported by the adapter only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from envcheck import fixes, linereader
from envcheck.frozen import frozen
from envcheck.smoke.driver import CHILD

CHILD_IN_IMAGE = f"/opt/envcheck-smoke/{os.path.basename(CHILD)}"  # the script, or the folder run as one


class ContainerError(Exception):
    """The container could not be started; ``kind`` picks the fix."""

    def __init__(self, message: str, kind: str, fix: str) -> None:
        super().__init__(message)
        self.kind, self.fix = kind, fix


@dataclass
class ContainerStream:
    """A started container read like :class:`envcheck.runner.LineStream`. ``merged``: its stderr comes in the
    lines too, in the order the engine logged them (as ``docker logs`` shows both), instead of in the tail."""

    container: Any  # followed for the log stream: its client waits as long as the whole run
    timeout_s: float
    missing: bool = False
    error: str = ""
    control: Any = None  # the same container through the setup client (short timeout): inspect, kill, remove
    merged: bool = False
    _lines: linereader.Feed[str] = field(init=False, repr=False)

    @property
    def _short(self) -> Any:
        return self.control if self.control is not None else self.container

    def __post_init__(self) -> None:
        self._lines = linereader.lines(self._chunks(), "smoke-container-logs")

    def _chunks(self) -> Iterator[bytes]:
        # Called on the feed's thread: a failure to open the stream ends the output like one while following it.
        yield from self.container.logs(stdout=True, stderr=self.merged, stream=True, follow=True)

    def readline(self, timeout_s: float) -> str | None:
        return self._lines.get(timeout_s)

    @property
    def stream_failure(self) -> Exception | None:
        """What ended the log stream early (the engine went away, the stream broke), if anything did."""
        return self._lines.error

    @property
    def stream_error(self) -> str:
        exc = self.stream_failure
        return f"log stream ended: {type(exc).__name__}: {exc}" if exc is not None else ""

    def stderr_tail(self, limit: int = 4000) -> str:
        try:
            data = self._short.logs(stdout=False, stderr=True, tail=200)
        except Exception as exc:  # the container is gone: say so instead of a tail
            return f"(stderr unavailable: {type(exc).__name__}: {exc})"
        text: str = data.decode("utf-8", errors="replace")
        return text[-limit:] + (f"\n{self.stream_error}" if self.stream_error else "")

    def close(self, grace_s: float = 2.0, wait_s: float = 0.0) -> int | None:
        rc: int | None = None
        try:
            if wait_s > 0:
                try:
                    self._short.wait(timeout=wait_s)
                except Exception:  # noqa: S110 - still running after ``wait_s``: it is killed below
                    pass
            self._short.reload()
            if self._short.status == "running":
                self._short.kill()
            rc = int(self._short.wait(timeout=max(grace_s, 5.0)).get("StatusCode"))
        except Exception:  # noqa: S110 - a container that cannot be waited for has no exit code to report
            rc = None
        self._lines.close()  # nobody reads on: a thread held back by a full feed lets go at once
        self._lines.join(timeout_s=grace_s)
        return rc

    def remove(self) -> None:
        self._lines.close()
        try:
            self._short.remove(force=True)
        except Exception:  # noqa: S110 - already gone (auto-removed, or the engine restarted)
            pass


@frozen
class Launch:
    """What to run in an image, beyond what every run has (no network, ``--gpus all`` when asked, a timeout on
    every call), and the command to try by hand when the engine will not start it."""

    image: str
    command: list[str]
    try_by_hand: str
    entrypoint: list[str] | None = None
    environment: dict[str, str] | None = None
    volumes: dict[str, dict[str, str]] | None = None
    shm_size: str | None = None
    labels: dict[str, str] | None = None
    merged: bool = False  # read stderr in the lines (ContainerStream.merged)


def start(image: str, python: str, args: list[str], *, env: Mapping[str, str], home: str, timeout_s: float,
          gpus: bool, run_timeout_s: float, nonce: str) -> ContainerStream:
    """Start the smoke child in ``image``: by path, unbuffered, bind-mounted read-only; ``nonce`` marks its
    records (smoke/records.py)."""
    from envcheck.smoke.records import NONCE_VARIABLE

    return launch(Launch(
        image, [CHILD_IN_IMAGE, *args], entrypoint=[python, "-u"],
        try_by_hand=f"docker run --rm --entrypoint {python} {image} -V  # try it by hand",
        volumes={os.path.realpath(CHILD): {"bind": CHILD_IN_IMAGE, "mode": "ro"}},
        environment={"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
                     "NVIDIA_DRIVER_CAPABILITIES": "compute,utility", NONCE_VARIABLE: nonce},
        shm_size="1g", labels={"envcheck": "smoke"},
    ), env=env, home=home, timeout_s=timeout_s, gpus=gpus, run_timeout_s=run_timeout_s)


def launch(spec: Launch, *, env: Mapping[str, str], home: str, timeout_s: float, gpus: bool,
           run_timeout_s: float) -> ContainerStream:
    """Start ``spec`` on the engine the docker CLI would use; raises ContainerError with the fix when the engine
    or image says no. Setup calls get ``timeout_s``; the log stream gets the run's (the child may be quiet for
    minutes)."""
    from envcheck import dockerapi

    endpoint = dockerapi.resolve_endpoint(env, home)
    if endpoint.error:
        raise ContainerError(endpoint.error, "engine", f"{fixes.DOCKER_DIAGNOSE}  # says why and how to fix it")
    try:
        client = dockerapi.sdk_client(endpoint, timeout_s)
    except Exception as exc:
        kind, detail = dockerapi.classify(exc)
        raise ContainerError(f"the Docker engine at {endpoint.url or '(none)'} did not answer: {detail}", kind,
                             f"{fixes.DOCKER_DIAGNOSE}  # says why and how to fix it") from exc
    image = spec.image
    try:
        dockerapi.require_image(client, image)
    except dockerapi.ImageMissing as exc:
        raise ContainerError(f"image {image} is not on this host", "no-image",
                             f"docker pull {image}  # or docker build -t {image} .") from exc
    except Exception as exc:
        raise ContainerError(f"could not inspect {image}: {exc}", "engine", "docker info") from exc
    try:
        container = dockerapi.start_container(
            client, image, spec.command, gpus=gpus, entrypoint=spec.entrypoint, environment=spec.environment,
            volumes=spec.volumes, shm_size=spec.shm_size, labels=spec.labels)
    except dockerapi.ContainerRefused as exc:
        if exc.no_gpu_runtime:
            raise ContainerError(f"the engine cannot give GPUs to containers: {exc}", "no-toolkit",
                                 fixes.TOOLKIT_THEN_CONFIGURE) from exc
        raise ContainerError(f"the container did not start: {exc}", "engine", spec.try_by_hand) from exc
    try:
        follower = dockerapi.sdk_client(endpoint, run_timeout_s + 30).containers.get(container.id)
    except Exception:  # the short client still works; a quiet child may then end the stream early
        follower = container
    return ContainerStream(follower, timeout_s, control=container, merged=spec.merged)
