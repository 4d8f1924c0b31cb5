"""Docker facts read from host files (probes/docker_host.py): TCP listeners, daemon.json, dockerd's
command line, CDI specs. Real files and real sockets; no daemon needed."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from envcheck.probes.docker_host import _cmdline_hosts, _listening, find_cdi_specs, find_dockerd, find_tcp_exposure

# The head of a spec as `nvidia-ctk cdi generate` writes it (CDI spec format, cncf-tags/container-device-interface
# SPEC.md: cdiVersion, kind, devices); written here from that documented format, not captured on a GPU host.
NVIDIA_SPEC = """---
cdiVersion: 0.5.0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-modeset
devices:
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: "0"
kind: nvidia.com/gpu
"""


def test_a_real_listener_on_the_port_is_seen_in_proc_net_tcp() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert _listening("/proc/net/tcp", port) == [f"127.0.0.1:{port} listening (tcp)"]
    assert _listening("/proc/net/tcp", port) == []


def test_daemon_json_hosts_with_tcp_and_without_tlsverify(tmp_path: Path) -> None:
    config = tmp_path / ".config" / "docker"
    config.mkdir(parents=True)
    (config / "daemon.json").write_text(json.dumps({"hosts": ["unix:///run/user/1000/docker.sock",
                                                             "tcp://0.0.0.0:2375"]}))
    facts = find_tcp_exposure({}, str(tmp_path), (), [])
    assert facts.daemon_json == (f"{config}/daemon.json hosts: tcp://0.0.0.0:2375",)
    (config / "daemon.json").write_text(json.dumps({"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": True}))
    assert find_tcp_exposure({}, str(tmp_path), (), []).daemon_json == ()
    (config / "daemon.json").write_text("{not json")
    broken = find_tcp_exposure({}, str(tmp_path), (), [])
    assert broken.errors and broken.errors[0].startswith(f"{config}/daemon.json")


def test_docker_host_over_plain_tcp_counts_and_tls_does_not(tmp_path: Path) -> None:
    plain = find_tcp_exposure({"DOCKER_HOST": "tcp://gpu-box:2375"}, str(tmp_path), (), [])
    assert plain.env == ("DOCKER_HOST=tcp://gpu-box:2375 without DOCKER_TLS_VERIFY",)
    tls = find_tcp_exposure({"DOCKER_HOST": "tcp://gpu-box:2376", "DOCKER_TLS_VERIFY": "1"}, str(tmp_path), (), [])
    assert tls.env == ()


def test_dockerd_command_lines() -> None:
    assert _cmdline_hosts(["dockerd", "-H", "fd://", "-H", "tcp://0.0.0.0:2375"]) == (
        ["fd://", "tcp://0.0.0.0:2375"], False)
    assert _cmdline_hosts(["dockerd", "--host=tcp://0.0.0.0:2376", "--tlsverify"]) == (["tcp://0.0.0.0:2376"], True)
    hits = find_tcp_exposure({}, "/nonexistent", (), [(42, ["dockerd", "-Htcp://10.0.0.1:2375"])]).cmdline
    assert hits == ("dockerd (pid 42) -H tcp://10.0.0.1:2375",)


def test_running_dockerd_is_found_in_proc() -> None:
    # Whatever runs here: each pid found must really be a dockerd (comm), with its argv.
    for pid, argv in find_dockerd():
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
        assert os.path.basename(argv[0]) == "dockerd"


def test_cdi_specs_name_their_kind(tmp_path: Path) -> None:
    (tmp_path / "nvidia.yaml").write_text(NVIDIA_SPEC)
    (tmp_path / "other.json").write_text(json.dumps({"cdiVersion": "0.6.0", "kind": "vendor.com/device",
                                                     "devices": []}))
    (tmp_path / "notes.txt").write_text("kind: ignored")
    specs, errors = find_cdi_specs([str(tmp_path)])
    assert (str(tmp_path / "nvidia.yaml"), "nvidia.com/gpu") in specs
    assert (str(tmp_path / "other.json"), "vendor.com/device") in specs
    assert not any(path.endswith("notes.txt") for path, _ in specs)
    assert errors == ()
