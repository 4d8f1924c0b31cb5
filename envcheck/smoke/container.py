"""--docker IMAGE: the child in a container, through the docker SDK (issue #4, item 2).

The child script is bind-mounted read-only and run by path with the image's interpreter; GPUs are requested
(``--gpus all``: a DeviceRequest with count -1) when the host has any; the container has no network. Its
stdout is followed as a log stream on a reader thread, so the driver reads it like a local child's, with
the same deadlines. Every client call carries a timeout. The SDK is imported inside functions only.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Any, Mapping

from envcheck.smoke.driver import CHILD

CHILD_IN_IMAGE = "/opt/envcheck-smoke/child.py"


class ContainerError(Exception):
    """The container could not be started; ``kind`` picks the fix."""

    def __init__(self, message: str, kind: str, fix: str) -> None:
        super().__init__(message)
        self.kind, self.fix = kind, fix


@dataclass
class ContainerStream:
    """A started container read like :class:`envcheck.runner.LineStream`."""

    container: Any  # followed for the log stream: its client waits as long as the whole run
    timeout: float
    missing: bool = False
    error: str = ""
    control: Any = None  # the same container through the setup client (short timeout): inspect, kill, remove

    @property
    def _short(self) -> Any:
        return self.control if self.control is not None else self.container

    def __post_init__(self) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True, name="smoke-container-logs")
        self._thread.start()

    def _pump(self) -> None:
        pending = b""
        try:
            for chunk in self.container.logs(stdout=True, stderr=False, stream=True, follow=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._lines.put(line.decode("utf-8", errors="replace").rstrip("\r"))
        except Exception as exc:  # the engine went away or the stream broke: end of output, say why on stderr
            self.error = f"log stream ended: {type(exc).__name__}: {exc}"
        if pending:
            self._lines.put(pending.decode("utf-8", errors="replace"))
        self._lines.put(None)

    def readline(self, timeout: float) -> str | None:
        try:
            return self._lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise TimeoutError(f"no output within {timeout:.1f} s") from None

    def stderr_tail(self, limit: int = 4000) -> str:
        try:
            data = self._short.logs(stdout=False, stderr=True, tail=200)
        except Exception as exc:  # the container is gone: say so instead of a tail
            return f"(stderr unavailable: {type(exc).__name__}: {exc})"
        text: str = data.decode("utf-8", errors="replace")
        return text[-limit:] + (f"\n{self.error}" if self.error else "")

    def close(self, grace: float = 2.0, wait: float = 0.0) -> int | None:
        rc: int | None = None
        try:
            if wait > 0:
                try:
                    self._short.wait(timeout=wait)
                except Exception:  # noqa: S110 - still running after ``wait``: it is killed below
                    pass
            self._short.reload()
            if self._short.status == "running":
                self._short.kill()
            rc = int(self._short.wait(timeout=max(grace, 5.0)).get("StatusCode"))
        except Exception:  # noqa: S110 - a container that cannot be waited for has no exit code to report
            rc = None
        self._thread.join(timeout=grace)
        return rc

    def remove(self) -> None:
        try:
            self._short.remove(force=True)
        except Exception:  # noqa: S110 - already gone (auto-removed, or the engine restarted)
            pass


def start(image: str, python: str, args: list[str], *, env: Mapping[str, str], home: str, timeout: float,
          gpus: bool, run_timeout: float) -> ContainerStream:
    """Start the child in ``image``; raises ContainerError with the fix when the engine or image says no.
    Setup calls get ``timeout``; the log stream gets the run's deadline (the child may be quiet for minutes)."""
    from envcheck import dockerapi

    endpoint = dockerapi.resolve_endpoint(env, home)
    try:
        client = dockerapi.sdk_client(endpoint, timeout)
    except Exception as exc:
        kind, detail = dockerapi.classify(exc)
        raise ContainerError(f"the Docker engine at {endpoint.url or '(none)'} did not answer: {detail}", kind,
                             "envcheck doctor --only docker  # says why and how to fix it") from exc
    import docker.errors
    from docker.types import DeviceRequest

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound as exc:
        raise ContainerError(f"image {image} is not on this host", "no-image",
                             f"docker pull {image}  # or docker build -t {image} .") from exc
    except Exception as exc:
        raise ContainerError(f"could not inspect {image}: {exc}", "engine", "docker info") from exc
    requests = [DeviceRequest(count=-1, capabilities=[["gpu"]])] if gpus else []
    try:
        container = client.containers.run(
            image, [CHILD_IN_IMAGE, *args], entrypoint=[python, "-u"], detach=True,
            volumes={os.path.realpath(CHILD): {"bind": CHILD_IN_IMAGE, "mode": "ro"}},
            environment={"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
                         "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"},
            device_requests=requests, network_mode="none", shm_size="1g", labels={"envcheck": "smoke"},
        )
    except docker.errors.APIError as exc:
        text = str(exc)
        if "could not select device driver" in text or "unknown or invalid runtime" in text:
            raise ContainerError(f"the engine cannot give GPUs to containers: {text}", "no-toolkit",
                                 "Install the NVIDIA Container Toolkit, then: sudo nvidia-ctk runtime configure "
                                 "--runtime=docker && sudo systemctl restart docker") from exc
        raise ContainerError(f"the container did not start: {text}", "engine",
                             f"docker run --rm --entrypoint {python} {image} -V  # try it by hand") from exc
    try:
        follower = dockerapi.sdk_client(endpoint, run_timeout + 30).containers.get(container.id)
    except Exception:  # the short client still works; a quiet child may then end the stream early
        follower = container
    return ContainerStream(follower, timeout, control=container)
