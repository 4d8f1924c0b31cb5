"""The Docker adapter: where the engine is, how to talk to it, what a failure to talk means, and how a
container is built and run. It is the only module that imports the docker SDK.

Four parts, used by ``probes/docker.py``, ``smoke/container.py``, ``verify.py``:

- :func:`resolve_endpoint` (from ``envcheck.dockerendpoint``) finds the endpoint the way the docker CLI does
  (``DOCKER_HOST``, then ``DOCKER_CONTEXT`` / ``currentContext`` from the CLI's config, then the default
  socket), plus the rootless socket the CLI would not find on its own. The SDK ignores contexts
  (docker/docker-py#3146). A malformed endpoint is an ``Endpoint.error`` there, never an exception here.
- :func:`fetch_engine` asks the daemon for ``/version`` and ``/info`` within a deadline, through a
  minimal HTTP client over the socket (``transport="http"``, the default) or through the docker SDK
  (``transport="sdk"``). Why both: ``import docker`` (requests, urllib3) costs about 0.16 s on the
  2-core build machine, a third of doctor's 0.5 s budget, while the two requests themselves take a
  few milliseconds (benchmarks/docker_probe.py measures both). The SDK stays the client for work that
  drives containers (:func:`sdk_client`); the tests run every failure mode through both transports to
  keep the classification the same.
- :func:`classify` turns whatever either transport raised into one of a few kinds by walking the
  exception chain (``__cause__``, ``__context__`` and exception arguments: urllib3 hides the OSError in
  ``ProtocolError.args``, and requests wraps that in its own ConnectionError, itself an OSError).
- :func:`start_container` starts a container the one way envcheck does (no network, ``--gpus all`` on request)
  and :func:`build_image` streams a build; both turn the SDK's errors into this module's exceptions.

The docker SDK is imported inside functions only: ``envcheck --help`` must not pay for it.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from typing import Any, Callable, Final, Iterator, Literal
from urllib.parse import urlsplit

# Where the engine is: resolved in its own module (stdlib only), and named here too, beside the rest of the adapter.
from envcheck.dockerendpoint import DEFAULT_SOCKET as DEFAULT_SOCKET
from envcheck.dockerendpoint import Endpoint as Endpoint
from envcheck.dockerendpoint import config_dir as config_dir
from envcheck.dockerendpoint import resolve_endpoint as resolve_endpoint
from envcheck.dockerendpoint import rootless_socket as rootless_socket

# envcheck's own HTTP client over the socket, or the docker SDK (see the module docstring).
Transport = Literal["http", "sdk"]


# --- talking to the daemon ------------------------------------------------------------------------


class EngineHTTPError(Exception):
    """The daemon answered, but not with 200 (an API error, a proxy in the way)."""

    def __init__(self, path: str, status: int, body: str) -> None:
        super().__init__(f"GET {path} answered HTTP {status}: {body[:200]}")
        self.status = status


class UnsupportedEndpoint(Exception):
    """An endpoint this probe does not open (ssh://, npipe://)."""


class EngineProtocolError(Exception):
    """Something answered on the socket, but not in HTTP (or hung up without answering)."""


_MAX_ANSWER = 16 << 20  # /info is a few KB; anything near this is not a Docker daemon


def _open(endpoint: Endpoint, timeout_s: float) -> socket.socket:
    parts = urlsplit(endpoint.url)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        try:
            sock.connect(endpoint.socket_path or DEFAULT_SOCKET)
        except BaseException:
            sock.close()
            raise
        return sock
    if parts.scheme in ("tcp", "http", "https"):
        host = parts.hostname or "localhost"
        tls = endpoint.tls_verify or parts.scheme == "https"
        sock = socket.create_connection((host, parts.port or (2376 if tls else 2375)), timeout=timeout_s)
        if not tls:
            return sock
        import ssl  # only for TLS endpoints

        context = ssl.create_default_context()
        if endpoint.cert_dir:
            ca, cert, key = (os.path.join(endpoint.cert_dir, f) for f in ("ca.pem", "cert.pem", "key.pem"))
            if os.path.exists(ca):
                context.load_verify_locations(ca)
            if os.path.exists(cert) and os.path.exists(key):
                context.load_cert_chain(cert, key)
        return context.wrap_socket(sock, server_hostname=host)
    raise UnsupportedEndpoint(f"envcheck does not open {parts.scheme or 'this'}:// endpoints ({endpoint.url})")


def fetch_engine(
    endpoint: Endpoint, deadline: float, transport: Transport = "http"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``GET /version`` and ``GET /info``, all within ``deadline`` (a time.monotonic() value).

    Raises what the transport raised; :func:`classify` names it. Unversioned paths: the daemon
    answers them at its own API version, so no client minimum (Docker 29 refuses API < 1.44) bites.
    """
    if transport == "sdk":
        client = sdk_client(endpoint, max(0.05, deadline - time.monotonic()))
        try:
            # The SDK applies its timeout per request: give each call only what is left.
            client.api.timeout = max(0.05, deadline - time.monotonic())
            version = dict(client.version())
            client.api.timeout = max(0.05, deadline - time.monotonic())
            return version, dict(client.info())
        finally:
            client.close()
    return _get(endpoint, "/version", deadline), _get(endpoint, "/info", deadline)


def _get(endpoint: Endpoint, path: str, deadline: float) -> dict[str, Any]:
    """One HTTP/1.0 GET on a fresh connection, read to the close.

    HTTP/1.0 keeps the daemon (Go's net/http) from chunking its answer (RFC 9112), and a plain socket
    keeps http.client and email (about 25 ms of imports) off doctor's start-up. Every wait is bounded
    by what is left of the deadline."""
    sock = _open(endpoint, _left(deadline, path))
    chunks: list[bytes] = []
    size = 0
    try:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: envcheck\r\n\r\n".encode())
        while True:
            sock.settimeout(_left(deadline, path))
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            size += len(data)
            if size > _MAX_ANSWER:
                raise EngineProtocolError(f"GET {path}: answer larger than {_MAX_ANSWER >> 20} MiB")
    finally:
        sock.close()
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if not sep or len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise EngineProtocolError(f"GET {path}: no HTTP answer ({status_line[:80]!r})" if chunks
                                  else f"GET {path}: the connection closed without an answer")
    text = body.decode("utf-8", errors="replace")
    if fields[1] != "200":
        raise EngineHTTPError(path, int(fields[1]), text)
    data = json.loads(text)
    if not isinstance(data, dict):
        raise EngineHTTPError(path, 200, "not a JSON object")
    return data


def _left(deadline: float, path: str) -> float:
    remaining_s = deadline - time.monotonic()
    if remaining_s <= 0:
        raise TimeoutError(f"GET {path}: no complete answer within the deadline")
    return remaining_s


def sdk_client(endpoint: Endpoint, timeout_s: float) -> Any:
    """A ``docker.DockerClient`` for ``endpoint`` with envcheck's deadline as its timeout (never the
    SDK's 60 s default). ``version="auto"`` asks the daemon, so its errors surface here already."""
    import docker  # heavy (requests, urllib3): only when a caller really wants the SDK

    tls: Any = False
    if endpoint.tls_verify:
        import docker.tls

        # Like _open: use whichever of the CLI's files exist, so a missing client certificate shows
        # up as the daemon refusing the handshake, not as an SDK parameter error.
        ca, cert, key = (os.path.join(endpoint.cert_dir or "", f) for f in ("ca.pem", "cert.pem", "key.pem"))
        both = os.path.exists(cert) and os.path.exists(key)
        tls = docker.tls.TLSConfig(client_cert=(cert, key) if both else None,
                                   ca_cert=ca if os.path.exists(ca) else None, verify=True)
    if endpoint.scheme not in ("unix", "tcp", "http", "https"):
        raise UnsupportedEndpoint(f"envcheck does not open {endpoint.scheme or 'this'}:// endpoints ({endpoint.url})")
    if tls is False:
        return docker.DockerClient(base_url=endpoint.url, version="auto", timeout=timeout_s)
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the session's CA (psf/requests#3829),
    # which replaces the daemon's CA and fails verification: build the client without asking the
    # daemon, drop the environment's say, then ask for the API version within the deadline.
    client = docker.DockerClient(base_url=endpoint.url, version="1.24", timeout=timeout_s, tls=tls)
    client.api.trust_env = False
    # What version="auto" does in the constructor (docker/api/client.py), now with the right CA.
    client.api._version = client.api._retrieve_server_version()
    return client


# --- what a failure means -------------------------------------------------------------------------

# Kinds, each with its own cause and fix in checks/docker.py.
ErrorKind = Literal["no-socket", "refused", "permission", "timeout", "unreachable", "tls", "http", "unsupported",
                    "other"]
NO_SOCKET: Final = "no-socket"  # FileNotFoundError: nothing at that path
REFUSED: Final = "refused"  # ConnectionRefusedError: stale socket file, or no listener on the port
PERMISSION: Final = "permission"  # PermissionError: the socket exists, this process may not open it
TIMEOUT: Final = "timeout"  # accepted (or connecting) and no answer within the deadline
UNREACHABLE: Final = "unreachable"  # host name or network trouble on a TCP endpoint
TLS: Final = "tls"  # certificate or handshake trouble
HTTP: Final = "http"  # the daemon answered with an error status or garbage
UNSUPPORTED: Final = "unsupported"  # ssh:// and friends
OTHER: Final = "other"

_TIMEOUT_NAMES = {"ReadTimeout", "ConnectTimeout", "Timeout", "ReadTimeoutError", "ConnectTimeoutError"}


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception reachable through __cause__, __context__ and exception arguments, outermost first."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
    return seen


def _is_unreachable(e: BaseException) -> bool:
    return isinstance(e, socket.gaierror) or (
        type(e) is OSError and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN))


# Most specific first: a requests ConnectionError is itself an OSError, so the builtin subclasses
# deeper in the chain must win over it.
_MATCHERS: tuple[tuple[ErrorKind, Callable[[BaseException], bool]], ...] = (
    (UNSUPPORTED, lambda e: isinstance(e, UnsupportedEndpoint)),
    (PERMISSION, lambda e: isinstance(e, PermissionError)),
    (NO_SOCKET, lambda e: isinstance(e, FileNotFoundError)),
    (REFUSED, lambda e: isinstance(e, ConnectionRefusedError)),
    (TIMEOUT, lambda e: isinstance(e, TimeoutError) or type(e).__name__ in _TIMEOUT_NAMES),
    (TLS, lambda e: type(e).__name__.startswith("SSL")),
    (UNREACHABLE, _is_unreachable),
    # Ours, then the SDK's: docker.errors.APIError, requests' HTTPError, http.client's RemoteDisconnected.
    (HTTP, lambda e: isinstance(e, (EngineHTTPError, EngineProtocolError, ValueError))
     or type(e).__name__ in ("APIError", "HTTPError", "RemoteDisconnected", "BadStatusLine")),
)


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """(kind, detail) for an exception from either transport; detail is the innermost message."""
    chain = _chain(exc)
    for kind, match in _MATCHERS:
        for item in chain:
            if match(item):
                return kind, f"{type(item).__name__}: {item}"
    innermost = chain[-1]
    return OTHER, f"{type(innermost).__name__}: {innermost}"


# --- building and running -------------------------------------------------------------------------


class ImageMissing(Exception):
    """The image is not on the engine's host (the SDK's ImageNotFound)."""


class ContainerRefused(Exception):
    """The engine would not create or start the container (the SDK's APIError); the text is the engine's."""

    @property
    def no_gpu_runtime(self) -> bool:
        """The engine cannot give GPUs to containers: the NVIDIA Container Toolkit is missing or not configured.
        moby answers `could not select device driver "" with capabilities: [[gpu]]` to a GPU request no
        runtime serves, and `unknown or invalid runtime name: nvidia` to a runtime it does not know."""
        text = str(self)
        return "could not select device driver" in text or "unknown or invalid runtime" in text


def require_image(client: Any, image: str) -> None:
    """Raises ImageMissing when ``image`` is not on the engine's host; any other failure as the SDK raised it."""
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(image) from exc


def start_container(client: Any, image: str, command: list[str], *, gpus: bool, entrypoint: list[str] | None = None,
                    environment: dict[str, str] | None = None, volumes: dict[str, dict[str, str]] | None = None,
                    shm_size: str | None = None, labels: dict[str, str] | None = None) -> Any:
    """``docker run --detach --network none [--gpus all] ...``: the started container, for the caller to follow,
    wait for and remove. Raises ContainerRefused when the engine says no; any other failure as the SDK raised it.

    ``--gpus all`` is a device request for every GPU (count -1) with the "gpu" capability, which the NVIDIA
    Container Toolkit serves (docker/cli opts/gpus.go does the same). No network: nothing envcheck runs in a
    container needs one, nothing in it can reach out, and a missing bridge cannot stop it."""
    import docker.errors
    from docker.types import DeviceRequest

    options = {"entrypoint": entrypoint, "environment": environment, "volumes": volumes, "shm_size": shm_size,
               "labels": labels}
    requests = [DeviceRequest(count=-1, capabilities=[["gpu"]])] if gpus else None
    try:
        return client.containers.run(image, command, detach=True, device_requests=requests, network_mode="none",
                                     **{name: value for name, value in options.items() if value is not None})
    except docker.errors.APIError as exc:
        raise ContainerRefused(str(exc)) from exc


def build_image(client: Any, path: str, dockerfile: str, tag: str, timeout_s: float) -> Iterator[dict[str, Any]]:
    """The engine's build stream, decoded: ``docker build --pull=false --rm --force-rm -f DOCKERFILE -t TAG PATH``.
    The SDK's build() reads with no timeout at all unless told (docker/api/build.py): ``timeout_s`` bounds each
    read; the caller's deadline, held by a :class:`envcheck.linereader.Feed`, bounds the whole build."""
    stream: Iterator[dict[str, Any]] = client.api.build(path=path, dockerfile=dockerfile, tag=tag, rm=True,
                                                        forcerm=True, decode=True, pull=False, timeout=timeout_s)
    return stream
