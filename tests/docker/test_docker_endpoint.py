"""Finding the endpoint the way the docker CLI does (the SDK ignores docker contexts: docker/docker-py#3146).

Contexts are created by the real docker CLI in a throw-away DOCKER_CONFIG, so the file layout the
resolver reads (contexts/meta/<sha256>/meta.json, config.json currentContext) is the CLI's own.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from envcheck.dockerapi import resolve_endpoint

DOCKER = shutil.which("docker")
needs_cli = pytest.mark.skipif(DOCKER is None, reason="the docker CLI is not installed")


def cli(config: Path, *args: str) -> str:
    assert DOCKER is not None
    done = subprocess.run([DOCKER, *args], env={"DOCKER_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "docker-config"
    folder.mkdir()
    return folder


@needs_cli
def test_current_context_set_by_the_cli_is_followed(config: Path, tmp_path: Path) -> None:
    cli(config, "context", "create", "lab", "--docker", "host=unix:///tmp/lab-envcheck.sock")
    cli(config, "context", "use", "lab")
    assert json.loads((config / "config.json").read_text())["currentContext"] == "lab"
    ep = resolve_endpoint({"DOCKER_CONFIG": str(config)}, str(tmp_path))
    assert ep.url == "unix:///tmp/lab-envcheck.sock"
    assert ep.url == cli(config, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", "lab")
    assert (ep.source, ep.context, ep.error) == ("context", "lab", "")
    assert "currentContext" in ep.why and "'lab'" in ep.why


@needs_cli
def test_docker_context_env_beats_current_context_and_docker_host_beats_both(config: Path, tmp_path: Path) -> None:
    cli(config, "context", "create", "lab", "--docker", "host=unix:///tmp/lab-envcheck.sock")
    cli(config, "context", "create", "remote", "--docker", "host=tcp://10.1.2.3:2376")
    cli(config, "context", "use", "lab")
    env = {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "remote"}
    ep = resolve_endpoint(env, str(tmp_path))
    assert (ep.url, ep.source, ep.context) == ("tcp://10.1.2.3:2376", "context", "remote")
    assert ep.why.startswith("DOCKER_CONTEXT names docker context 'remote'")
    ep = resolve_endpoint({**env, "DOCKER_HOST": "unix:///tmp/other.sock"}, str(tmp_path))
    assert (ep.url, ep.source) == ("unix:///tmp/other.sock", "DOCKER_HOST")


def test_config_under_home_is_read_without_docker_config(tmp_path: Path) -> None:
    # Same layout as above, written by hand under ~/.docker (where the CLI looks without DOCKER_CONFIG).
    import hashlib

    meta = tmp_path / ".docker" / "contexts" / "meta" / hashlib.sha256(b"gpu-box").hexdigest()
    meta.mkdir(parents=True)
    endpoints = {"docker": {"Host": "ssh://me@gpu-box", "SkipTLSVerify": False}}
    (meta / "meta.json").write_text(json.dumps({"Name": "gpu-box", "Metadata": {}, "Endpoints": endpoints}))
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"currentContext": "gpu-box"}))
    ep = resolve_endpoint({}, str(tmp_path))
    assert (ep.url, ep.context, ep.scheme) == ("ssh://me@gpu-box", "gpu-box", "ssh")


def test_a_context_that_does_not_exist_is_an_error(config: Path, tmp_path: Path) -> None:
    (config / "config.json").write_text(json.dumps({"currentContext": "gone"}))
    ep = resolve_endpoint({"DOCKER_CONFIG": str(config)}, str(tmp_path))
    assert ep.url == "" and ep.error.startswith("docker context 'gone' does not exist")


def test_default_context_and_no_config_mean_the_default_socket(config: Path, tmp_path: Path) -> None:
    present = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(present))
    (config / "config.json").write_text(json.dumps({"currentContext": "default"}))
    ep = resolve_endpoint({"DOCKER_CONFIG": str(config)}, str(tmp_path), default_socket=str(present))
    assert (ep.url, ep.source) == (f"unix://{present}", "default socket")
    assert "names the default context" in ep.why


def test_rootless_socket_is_found_when_the_default_one_is_missing(tmp_path: Path) -> None:
    runtime = tmp_path / "run-user"
    runtime.mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(runtime / "docker.sock"))
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    ep = resolve_endpoint(env, str(tmp_path), default_socket=str(tmp_path / "absent.sock"))
    assert (ep.url, ep.source) == (f"unix://{runtime}/docker.sock", "rootless socket")
    (runtime / "docker.sock").unlink()
    ep = resolve_endpoint(env, str(tmp_path), default_socket=str(tmp_path / "absent.sock"))
    assert (ep.url, ep.source) == (f"unix://{tmp_path}/absent.sock", "default socket")
    assert "no socket at" in ep.why and "rootless" in ep.why


def test_tls_settings_follow_the_environment(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "tcp://gpu-box:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/etc/certs"}
    ep = resolve_endpoint(env, str(tmp_path))
    assert (ep.tls_verify, ep.cert_dir, ep.socket_path) == (True, "/etc/certs", None)
