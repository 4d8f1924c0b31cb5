"""Both ways of talking to the daemon classify every failure the same.

envcheck's own HTTP-over-unix-socket client (the probe's default, for speed) and the docker SDK
(transport="sdk") are run against the same real sockets: none, stale, hanging, a server that answers
HTTP errors. The SDK gets envcheck's deadline as its timeout, never its 60 s default.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.docker_helpers import HangingServer, hanging_socket, probe, stale_socket

from envcheck import dockerapi
from envcheck.dockerapi import Endpoint, classify, fetch_engine, sdk_client

__all__ = ["hanging_socket"]  # a fixture, imported for pytest
TRANSPORTS = ("http", "sdk")


def kind_of(url: str, transport: str, timeout: float = 1.0) -> tuple[str, str, float]:
    start = time.monotonic()
    try:
        fetch_engine(Endpoint(url, "test", "test"), time.monotonic() + timeout, transport)
    except Exception as exc:
        kind, detail = classify(exc)
        return kind, detail, time.monotonic() - start
    return "answered", "", time.monotonic() - start


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_socket(transport: str, tmp_path: Path) -> None:
    kind, detail, _ = kind_of(f"unix://{tmp_path}/nonexistent.sock", transport)
    assert kind == dockerapi.NO_SOCKET and detail.startswith("FileNotFoundError")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stale_socket(transport: str, tmp_path: Path) -> None:
    path = stale_socket(tmp_path / "stale.sock")
    kind, detail, _ = kind_of(f"unix://{path}", transport)
    assert kind == dockerapi.REFUSED and detail.startswith("ConnectionRefusedError")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nothing_on_a_tcp_port(transport: str) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kind, _, _ = kind_of(f"tcp://127.0.0.1:{port}", transport)
    assert kind == dockerapi.REFUSED


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hanging_daemon_times_out_at_the_deadline(transport: str, hanging_socket: HangingServer) -> None:
    kind, detail, elapsed = kind_of(f"unix://{hanging_socket.path}", transport, timeout=1.0)
    assert kind == dockerapi.TIMEOUT, detail
    assert 0.9 <= elapsed < 1.8  # the deadline, not the SDK's 60 s default


@pytest.fixture
def http_error_server(tmp_path: Path) -> Iterator[Path]:
    """Something on the socket that speaks HTTP but is no Docker daemon: every request gets a 404."""
    path = tmp_path / "not-docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    body = b'{"message":"page not found"}'
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join(2)
    server.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_something_else_on_the_socket(transport: str, http_error_server: Path) -> None:
    kind, detail, _ = kind_of(f"unix://{http_error_server}", transport)
    assert kind == dockerapi.HTTP, detail


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_socket_that_hangs_up_without_answering(transport: str, tmp_path: Path) -> None:
    path = tmp_path / "hangs-up.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)

    def hang_up() -> None:
        for _ in range(4):  # the SDK may connect more than once
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        kind, detail, _ = kind_of(f"unix://{path}", transport)
    finally:
        server.close()
    assert kind == dockerapi.HTTP, detail


def test_ssh_endpoints_are_named_not_opened() -> None:
    for transport in TRANSPORTS:
        kind, _, _ = kind_of("ssh://me@gpu-box", transport)
        assert kind == dockerapi.UNSUPPORTED


def test_sdk_client_gets_the_deadline_not_the_60s_default(hanging_socket: HangingServer) -> None:
    # version="auto" makes the constructor itself ask the daemon, so a hang surfaces here, bounded.
    import docker.errors

    start = time.monotonic()
    # docker-py wraps whatever the version request raised (docker/api/client.py, _retrieve_server_version).
    with pytest.raises(docker.errors.DockerException, match="^Error while fetching server API version: ") as caught:
        sdk_client(Endpoint(f"unix://{hanging_socket.path}", "test", "test"), 0.7)
    assert classify(caught.value)[0] == dockerapi.TIMEOUT
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_probe_reports_the_kind_without_raising(transport: str, tmp_path: Path) -> None:
    path = stale_socket(tmp_path / "stale.sock")
    facts = probe({"DOCKER_HOST": f"unix://{path}"}, timeout=2.0, transport=transport)
    assert (facts.reachable, facts.error_kind, facts.transport) == (False, dockerapi.REFUSED, transport)
    assert facts.endpoint.source == "DOCKER_HOST"
    assert facts.socket is not None and facts.socket.is_socket
