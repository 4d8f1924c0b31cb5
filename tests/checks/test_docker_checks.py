"""The Docker verdicts as pure functions: facts built by hand, one per failure mode.

The same failure modes are produced for real against the engine in test_docker_engine.py; here each
verdict's cause and fix is pinned down, including the ones no test machine can produce (snap, GPUs).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers.docker_facts import ENGINE, GIB, down, facts

from envcheck import dockerapi
from envcheck.checks import docker as checks
from envcheck.dockerapi import Endpoint
from envcheck.engine import Collected, apply_checks
from envcheck.model import Status
from envcheck.policy import default_policy
from envcheck.probes.docker import AccessFacts, DiskFacts, SocketFacts
from envcheck.probes.docker_host import TcpFacts

POLICY = default_policy()
def test_healthy_machine_passes_everything_that_applies() -> None:
    f = facts()
    for check in [c for c in checks.CHECKS if c.applies_to(POLICY)]:  # the requirement checks: tested with policies
        outcome = check.judge(f, POLICY)
        assert not isinstance(outcome, list)
        expected = Status.SKIP if check.id in ("docker.runtime-nvidia", "docker.cdi-specs",
                                               "docker.nvidia-toolkit") else Status.PASS
        assert outcome.status is expected, (check.id, outcome)


def test_no_engine_is_skipped_unless_the_policy_requires_docker() -> None:
    f = down(dockerapi.NO_SOCKET, dockerd=None, cli=None, dockerd_pids=(),
             socket=SocketFacts("/var/run/docker.sock", exists=False))
    skipped = checks.installed(f, POLICY)
    assert skipped.status is Status.SKIP and "require_docker is false" in skipped.reason
    required = checks.installed(f, replace(POLICY, require_docker=True))
    assert required.status is Status.FAIL and required.fix == "sudo apt-get install -y docker.io"
    # Through the engine: every other docker check points at docker.installed instead of adding red rows.
    results = apply_checks(checks.CHECKS, {"docker": Collected("docker", facts=f)}, POLICY)
    assert [r.status for r in results] == [Status.SKIP] * len([c for c in checks.CHECKS if c.applies_to(POLICY)])
    assert all(r.caused_by == "docker.installed" for r in results[1:])


def test_a_docker_cli_alone_is_no_engine() -> None:
    f = down(dockerapi.NO_SOCKET, dockerd=None, dockerd_pids=(), socket=SocketFacts("/var/run/docker.sock", False))
    outcome = checks.installed(f, replace(POLICY, require_docker=True))
    assert outcome.status is Status.FAIL
    assert outcome.observed == "no dockerd, only the docker CLI (/usr/bin/docker), no socket at /var/run/docker.sock"


def test_daemon_not_running_says_start_it() -> None:
    outcome = checks.daemon_reachable(down(dockerapi.NO_SOCKET, dockerd_pids=(),
                                           socket=SocketFacts("/var/run/docker.sock", exists=False)), POLICY)
    assert outcome.status is Status.FAIL
    assert outcome.reason == "the Docker daemon is not running"
    assert outcome.fix == "sudo systemctl start docker"
    no_systemd = checks.daemon_reachable(down(dockerapi.NO_SOCKET, systemd=False, dockerd_pids=()), POLICY)
    assert no_systemd.fix == "sudo service docker start"


def test_missing_socket_while_dockerd_runs_is_not_a_stopped_daemon() -> None:
    running = down(dockerapi.NO_SOCKET, dockerd_pids=(4242,), socket=SocketFacts("/var/run/docker.sock", False))
    outcome = checks.daemon_reachable(running, POLICY)
    assert outcome.status is Status.FAIL and "not running" not in outcome.reason
    assert outcome.reason.startswith("dockerd runs (pid 4242) but not on this socket (default socket")
    assert outcome.fix == "sudo systemctl restart docker  # recreates /var/run/docker.sock"
    # Named by DOCKER_HOST / DOCKER_CONTEXT / a context: the fix undoes that setting (a restart would not help).
    moved = replace(running, endpoint=Endpoint("unix:///tmp/old.sock", "DOCKER_HOST", "DOCKER_HOST is set"))
    assert checks.daemon_reachable(moved, POLICY).fix.startswith("unset DOCKER_HOST  #")
    stale = replace(moved, error_kind=dockerapi.REFUSED)
    verdict = checks.daemon_reachable(stale, POLICY)
    assert verdict.fix.startswith("unset DOCKER_HOST  #") and "dockerd runs (pid 4242)" in verdict.reason
    env_context = Endpoint("", "context", "DOCKER_CONTEXT names docker context 'gone' (meta)", context="gone",
                           error="docker context 'gone' does not exist")
    assert checks.endpoint(replace(running, endpoint=env_context), POLICY).fix == \
        "docker context ls\nunset DOCKER_CONTEXT  # back to the current context (docker context ls)"
    config_context = replace(env_context, why="currentContext in ~/.docker/config.json names docker context 'gone'")
    assert checks.endpoint(replace(running, endpoint=config_context), POLICY).fix == \
        "docker context ls\ndocker context use default"


def test_stale_socket_says_restart() -> None:
    outcome = checks.daemon_reachable(down(dockerapi.REFUSED), POLICY)
    assert outcome.status is Status.FAIL
    assert outcome.reason.startswith("a stale socket")
    assert outcome.fix == "sudo systemctl restart docker"


def test_permission_denied_not_in_group_says_usermod() -> None:
    access = AccessFacts("bob", 1001, 999, docker_listed=False, docker_effective=False)
    outcome = checks.daemon_reachable(down(dockerapi.PERMISSION, access=access), POLICY)
    assert outcome.status is Status.FAIL
    assert outcome.reason == "bob is not in group docker, which owns the socket"
    assert outcome.fix.startswith("sudo usermod -aG docker $USER && newgrp docker")


def test_permission_denied_listed_but_session_predates_says_newgrp() -> None:
    access = AccessFacts("bob", 1001, 999, docker_listed=True, docker_effective=False, socket_group_listed=True)
    outcome = checks.daemon_reachable(down(dockerapi.PERMISSION, access=access), POLICY)
    assert outcome.status is Status.FAIL
    assert "this session started before that" in outcome.reason
    assert outcome.fix.startswith("newgrp docker")


def test_permission_denied_without_a_docker_group_says_groupadd() -> None:
    access = AccessFacts("bob", 1001, None, docker_listed=False, docker_effective=False)
    sock = SocketFacts("/var/run/docker.sock", True, True, "0660", "root", "root", 0)
    outcome = checks.daemon_reachable(down(dockerapi.PERMISSION, access=access, socket=sock), POLICY)
    assert outcome.reason == "there is no group docker, so the daemon left its socket to root only"
    assert outcome.fix.startswith("sudo groupadd docker && sudo usermod -aG docker $USER")


def test_permission_denied_on_a_root_owned_socket_says_restart_the_daemon() -> None:
    access = AccessFacts("bob", 1001, 999, docker_listed=True, docker_effective=True)
    sock = SocketFacts("/var/run/docker.sock", True, True, "0660", "root", "root", 0)
    outcome = checks.daemon_reachable(down(dockerapi.PERMISSION, access=access, socket=sock), POLICY)
    assert outcome.reason.startswith("the socket belongs to group root")
    assert outcome.fix.startswith("sudo systemctl restart docker")


def test_daemon_that_never_answers_is_unknown_not_fail() -> None:
    outcome = checks.daemon_reachable(down(dockerapi.TIMEOUT, timeout_s=2.0), POLICY)
    assert outcome.status is Status.UNKNOWN
    assert outcome.observed == "no answer from unix:///var/run/docker.sock within 2 s"
    assert "sudo systemctl restart docker" in outcome.fix


def test_missing_context_fails_the_endpoint_and_blocks_the_rest() -> None:
    ep = Endpoint("", "context", "currentContext names docker context 'gone'", context="gone",
                  error="docker context 'gone' does not exist")
    f = down("bad-endpoint", endpoint=ep, socket=None)
    results = {r.id: r for r in apply_checks(checks.CHECKS, {"docker": Collected("docker", facts=f)}, POLICY)}
    assert results["docker.endpoint"].status is Status.FAIL
    assert results["docker.endpoint"].fix == "docker context ls\ndocker context use default"
    assert results["docker.daemon-reachable"].status is Status.UNKNOWN
    assert results["docker.daemon-reachable"].caused_by == "docker.endpoint"
    assert results["docker.version"].caused_by == "docker.endpoint"


def test_rootless_socket_warns_to_export_docker_host() -> None:
    ep = Endpoint("unix:///run/user/1000/docker.sock", "rootless socket", "a rootless daemon's socket")
    outcome = checks.endpoint(facts(endpoint=ep), POLICY)
    assert outcome.status is Status.WARN
    assert outcome.fix.startswith("export DOCKER_HOST=unix:///run/user/1000/docker.sock")
    refused = checks.daemon_reachable(down(dockerapi.REFUSED, endpoint=ep), POLICY)
    assert refused.fix == "systemctl --user restart docker"


@pytest.mark.parametrize("gpu", [False, True])
def test_snap_docker_fails_on_a_gpu_machine(gpu: bool) -> None:
    outcome = checks.installed(facts(snap=("/snap/bin/docker exists",), nvidia_device=gpu), POLICY)
    assert outcome.status is (Status.FAIL if gpu else Status.WARN)
    assert "NVIDIA Container Toolkit cannot work" in outcome.reason
    assert outcome.fix.startswith("sudo snap remove docker")


def test_old_api_cannot_do_gpus() -> None:
    outcome = checks.version(facts(engine=replace(ENGINE, api_version="1.39")), POLICY)
    assert outcome.status is Status.FAIL and "--gpus" in outcome.reason


@pytest.mark.parametrize(("driver", "status"), [("overlay2", Status.PASS), ("vfs", Status.WARN),
                                                ("devicemapper", Status.WARN), (None, Status.UNKNOWN)])
def test_storage_driver(driver: str | None, status: Status) -> None:
    assert checks.storage(facts(engine=replace(ENGINE, storage_driver=driver)), POLICY).status is status


def test_cgroup_v1_warns_and_missing_is_unknown() -> None:
    assert checks.cgroup(facts(engine=replace(ENGINE, cgroup_version="1")), POLICY).status is Status.WARN
    assert checks.cgroup(facts(engine=replace(ENGINE, cgroup_version=None)), POLICY).status is Status.UNKNOWN
    assert checks.cgroup(facts(), POLICY).observed == "cgroup v2, driver systemd"


@pytest.mark.parametrize(("free_gib", "status"), [(1, Status.FAIL), (10, Status.WARN), (100, Status.PASS)])
def test_disk_thresholds_come_from_the_policy(free_gib: int, status: Status) -> None:
    f = facts(disk=DiskFacts("/var/lib/docker", free_bytes=free_gib * GIB, total_bytes=500 * GIB))
    assert checks.disk(f, POLICY).status is status


def test_unreadable_data_root_is_unknown() -> None:
    f = facts(disk=DiskFacts("/var/lib/docker", error="PermissionError: Permission denied"))
    assert checks.disk(f, POLICY).status is Status.UNKNOWN


def test_nvidia_runtime_registered_passes_and_missing_warns_on_a_gpu_host() -> None:
    with_nvidia = replace(ENGINE, runtimes=(("nvidia", "nvidia-container-runtime"), ("runc", "runc")))
    assert checks.runtime_nvidia(facts(engine=with_nvidia), POLICY).status is Status.PASS
    missing = checks.runtime_nvidia(facts(nvidia_device=True), POLICY)
    assert missing.status is Status.WARN
    assert missing.fix == "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
    assert checks.runtime_nvidia(facts(), POLICY).status is Status.SKIP


def test_toolkit_and_cdi_on_a_gpu_host() -> None:
    gpu = facts(nvidia_device=True, toolkit=(("nvidia-ctk", None), ("nvidia-container-cli", None)))
    assert checks.nvidia_toolkit(gpu, POLICY).status is Status.FAIL
    assert checks.cdi_specs(gpu, POLICY).fix == "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
    ready = replace(gpu, toolkit=(("nvidia-ctk", "/usr/bin/nvidia-ctk"),),
                    cdi_specs=(("/etc/cdi/nvidia.yaml", "nvidia.com/gpu"),))
    assert checks.nvidia_toolkit(ready, POLICY).status is Status.PASS
    assert checks.cdi_specs(ready, POLICY).observed == "/etc/cdi/nvidia.yaml (nvidia.com/gpu)"


def test_tcp_without_tls_fails() -> None:
    f = facts(tcp=TcpFacts(daemon_json=("/etc/docker/daemon.json hosts: tcp://0.0.0.0:2375",)))
    outcome = checks.tcp_exposure(f, POLICY)
    assert outcome.status is Status.FAIL and "root" in outcome.reason
    unreadable = checks.tcp_exposure(facts(tcp=TcpFacts(errors=("/proc/net/tcp: denied",))), POLICY)
    assert unreadable.status is Status.UNKNOWN


def test_docker_group_membership_warns_only_on_a_shared_server() -> None:
    assert checks.group_membership(facts(), POLICY).status is Status.PASS
    shared = checks.group_membership(facts(), replace(POLICY, shared_server=True))
    assert shared.status is Status.WARN and "root-equivalent" in shared.reason
    outsider = facts(access=AccessFacts("bob", 1001, 999, docker_listed=False, docker_effective=False))
    assert checks.group_membership(outsider, replace(POLICY, shared_server=True)).status is Status.PASS


def test_data_root_from_daemon_json_is_measured_when_the_daemon_cannot_be_asked(tmp_path) -> None:
    from envcheck.hostfs import HostFS
    from envcheck.probes.docker_host import configured_data_root

    (tmp_path / "data" / "docker").mkdir(parents=True)
    (tmp_path / "etc" / "docker").mkdir(parents=True)
    (tmp_path / "etc" / "docker" / "daemon.json").write_text('{"data-root": "/data/docker", "log-driver": "json-file"}')
    path, source = configured_data_root(HostFS(str(tmp_path)))
    assert path == str(tmp_path / "data" / "docker") and source == "/etc/docker/daemon.json data-root"
    assert configured_data_root(HostFS(str(tmp_path / "nothing"))) == (None, "")


def test_disk_without_any_data_root_is_skipped() -> None:
    f = facts(disk=None, engine=None)
    assert checks.disk(f, POLICY).status is Status.SKIP
