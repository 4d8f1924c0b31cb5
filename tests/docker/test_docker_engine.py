"""Against the real Docker engine: every failure mode produced for real.

The engine is the one scripts/start-docker starts (CI runs these as root). Unprivileged cases run
`envcheck doctor --only docker --json` as throw-away users (useradd; runuser for a fresh login,
setpriv --clear-groups for a session that predates `usermod -aG docker`). Extra daemons get their own
data-root, exec-root, pidfile and socket and are stopped by the fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.docker_helpers import (
    DEFAULT_SOCKET,
    HangingServer,
    docker_group,
    docker_owned_socket,
    engine_answers,
    free_port,
    hanging_socket,
    make_tls_certs,
    make_user,
    needs_engine,
    needs_root,
    probe,
    results_by_id,
    run_doctor_as,
    stale_socket,
    start_daemon,
    world_dir,
    world_envcheck,
)

from envcheck import dockerapi
from envcheck.checks import docker as checks
from envcheck.model import Status
from envcheck.policy import default_policy

# Fixtures, imported so pytest finds them here.
__all__ = ["docker_group", "docker_owned_socket", "hanging_socket", "make_user", "start_daemon", "world_dir",
           "world_envcheck"]
pytestmark = pytest.mark.docker
POLICY = default_policy()
DEPENDENTS = ("docker.version", "docker.storage", "docker.cgroup", "docker.runtime-nvidia")


@pytest.fixture(autouse=True)
def _engine() -> None:
    needs_engine()


def doctor(env: dict[str, str], *args: str) -> tuple[dict[str, Any], float]:
    """`envcheck doctor --json` as this user, in a fresh interpreter, with ``env`` over a clean one."""
    child_env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "LANG": "C.UTF-8", **env}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--json", *args], env=child_env,
                          capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert done.stdout.startswith("{"), done.stderr[-2000:]
    return json.loads(done.stdout), elapsed


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_reachable_engine_reports_what_the_cli_reports(transport: str) -> None:
    facts = probe(transport=transport)
    assert facts.reachable and facts.engine is not None, facts.error
    assert facts.endpoint.url == f"unix://{DEFAULT_SOCKET}" and facts.endpoint.source == "default socket"
    cli = shutil.which("docker")
    if cli:  # the docker CLI's own answer for the same daemon
        out = subprocess.run([cli, "info", "--format", "{{json .}}"], capture_output=True, text=True, timeout=30)
        info = json.loads(out.stdout)
        assert facts.engine.server_version == info["ServerVersion"]
        assert facts.engine.storage_driver == info["Driver"]
        assert facts.engine.root_dir == info["DockerRootDir"]
        assert facts.engine.cgroup_version == info["CgroupVersion"]
        assert {name for name, _ in facts.engine.runtimes} == set(info["Runtimes"])
    # The data root the daemon named, measured as `df` would: its size exactly; its free space moves with every
    # write on this machine between the two measurements, so within 1 GiB of a second one.
    usage = shutil.disk_usage(facts.engine.root_dir or "")
    assert facts.disk is not None and (facts.disk.path, facts.disk.total_bytes) == (facts.engine.root_dir, usage.total)
    assert abs((facts.disk.free_bytes or 0) - usage.free) < 2**30, (facts.disk.free_bytes, usage.free)
    for check in checks.CHECKS:
        outcome = check.judge(facts, POLICY)
        assert not isinstance(outcome, list)
        assert outcome.status is not Status.UNKNOWN, (check.id, outcome)


def test_both_transports_see_the_same_engine() -> None:
    assert probe(transport="http").engine == probe(transport="sdk").engine


def test_doctor_reachable() -> None:
    report, _ = doctor({}, "--only", "docker")
    results = results_by_id(report)
    assert results["docker.daemon-reachable"]["status"] == "pass"
    assert results["docker.endpoint"]["evidence"]["source"] == "default socket"
    assert results["docker.version"]["status"] == "pass"


def test_no_socket() -> None:
    report, _ = doctor({"DOCKER_HOST": "unix:///tmp/nonexistent.sock"}, "--only", "docker")
    results = results_by_id(report)
    reach = results["docker.daemon-reachable"]
    assert reach["status"] == "fail"
    assert reach["observed"] == "no socket at /tmp/nonexistent.sock"
    # The real engine runs (on the default socket): "not running" / "start it" would be wrong advice here.
    assert reach["reason"].startswith("dockerd runs (pid ") and "but not on this socket (DOCKER_HOST" in reach["reason"]
    assert reach["fix"].startswith("unset DOCKER_HOST  #")
    assert reach["evidence"]["error_kind"] == dockerapi.NO_SOCKET
    for check_id in DEPENDENTS:
        assert results[check_id]["status"] == "unknown"
        assert results[check_id]["caused_by"] == "docker.daemon-reachable"
    # Free space at the data root is still measured, from the files, when the daemon cannot be asked.
    disk = results["docker.disk"]
    assert disk["caused_by"] is None
    assert disk["evidence"]["source"] == "default (/var/lib/docker exists)"
    assert (disk["evidence"]["path"], disk["evidence"]["total_bytes"]) == (
        "/var/lib/docker", shutil.disk_usage("/var/lib/docker").total)
    # Judged against the default policy's lines, as for any measured free space.
    free_gib = disk["evidence"]["free_bytes"] / 2**30
    assert disk["status"] == ("fail" if free_gib < POLICY.disk_free_fail_gib else
                              "warn" if free_gib < POLICY.docker_free_warn_gib else "pass"), disk


def test_stale_socket(tmp_path: Path) -> None:
    path = stale_socket(tmp_path / "stale.sock")
    report, _ = doctor({"DOCKER_HOST": f"unix://{path}"}, "--only", "docker")
    reach = results_by_id(report)["docker.daemon-reachable"]
    assert reach["status"] == "fail"
    assert reach["evidence"]["error_kind"] == dockerapi.REFUSED
    assert reach["reason"].startswith("a stale socket")


def test_daemon_that_accepts_and_never_answers(hanging_socket: HangingServer) -> None:
    # The whole doctor, every subject, with a 2 s deadline: it finishes, Docker is unknown.
    report, elapsed = doctor({"DOCKER_HOST": f"unix://{hanging_socket.path}"}, "--timeout", "2")
    assert elapsed <= 2 + 1.0, f"doctor took {elapsed:.2f} s with --timeout 2"
    results = results_by_id(report)
    reach = results["docker.daemon-reachable"]
    assert reach["status"] == "unknown"
    assert reach["evidence"]["error_kind"] == dockerapi.TIMEOUT
    assert reach["observed"] == f"no answer from unix://{hanging_socket.path} within 2 s"
    assert hanging_socket.accepted, "the probe never connected"
    assert results["docker.version"]["caused_by"] == "docker.daemon-reachable"


def test_permission_denied_outside_group_docker(make_user: Any, world_envcheck: tuple[str, str],
                                                docker_owned_socket: dict[str, str]) -> None:
    user = make_user()
    report, _ = run_doctor_as(user, world_envcheck, docker_owned_socket)
    results = results_by_id(report)
    reach = results["docker.daemon-reachable"]
    assert reach["status"] == "fail"
    assert reach["evidence"]["error_kind"] == dockerapi.PERMISSION
    assert reach["evidence"]["user"]["name"] == user
    assert reach["reason"] == f"{user} is not in group docker, which owns the socket"
    assert reach["fix"].startswith("sudo usermod -aG docker $USER")
    assert results["docker.installed"]["status"] == "pass"  # the engine is there; access is the problem
    assert results["docker.group-membership"]["observed"] == f"{user} is not in group docker"


def test_listed_in_etc_group_but_session_predates_it(make_user: Any, world_envcheck: tuple[str, str],
                                                     docker_owned_socket: dict[str, str]) -> None:
    user = make_user(groups=("docker",))
    stale_session, _ = run_doctor_as(user, world_envcheck, docker_owned_socket, keep_groups=False)
    reach = results_by_id(stale_session)["docker.daemon-reachable"]
    assert reach["status"] == "fail"
    assert reach["evidence"]["error_kind"] == dockerapi.PERMISSION
    assert reach["evidence"]["user"]["docker_listed"] is True
    assert reach["evidence"]["user"]["docker_effective"] is False
    assert "this session started before that" in reach["reason"]
    assert reach["fix"].startswith("newgrp docker")
    # The same user in a fresh login carries the group and gets in.
    fresh, _ = run_doctor_as(user, world_envcheck, docker_owned_socket, keep_groups=True)
    assert results_by_id(fresh)["docker.daemon-reachable"]["status"] == "pass"
    assert results_by_id(fresh)["docker.group-membership"]["status"] == "pass"


def test_group_docker_is_a_warning_on_a_shared_server(make_user: Any, world_envcheck: tuple[str, str],
                                                      world_dir: Path, docker_group: int) -> None:
    user = make_user(groups=("docker",))
    policy = world_dir / "shared.json"
    policy.write_text(json.dumps({"shared_server": True}))
    policy.chmod(0o644)
    report, _ = run_doctor_as(user, world_envcheck, {}, "--policy", str(policy))
    member = results_by_id(report)["docker.group-membership"]
    assert member["status"] == "warn"
    assert "root-equivalent" in member["reason"]


def test_probe_works_when_group_docker_does_not_exist(make_user: Any, world_envcheck: tuple[str, str],
                                                      tmp_path: Path) -> None:
    # A private mount namespace sees an /etc/group without the docker line; the real file is untouched.
    needs_root("a private mount namespace")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    user = make_user()
    without = tmp_path / "group"
    without.write_text("".join(line for line in Path("/etc/group").read_text().splitlines(keepends=True)
                               if not line.startswith("docker:")))
    without.chmod(0o644)
    wrap = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount --bind "$0" /etc/group && exec "$@"', str(without)]
    report, _ = run_doctor_as(user, world_envcheck, {}, keep_groups=False, wrap=wrap)
    results = results_by_id(report)
    reach = results["docker.daemon-reachable"]
    assert reach["evidence"]["user"]["docker_gid"] is None
    assert reach["evidence"]["error_kind"] == dockerapi.PERMISSION
    assert reach["fix"].startswith("sudo groupadd docker")
    assert results["docker.group-membership"]["status"] == "pass"


def test_second_daemon_with_an_nvidia_runtime(start_daemon: Any) -> None:
    daemon = start_daemon("--add-runtime", "nvidia=/usr/sbin/runc")
    with_runtime = probe({"DOCKER_HOST": daemon.url})
    assert with_runtime.reachable, with_runtime.error
    seen = checks.runtime_nvidia(with_runtime, POLICY)
    assert seen.status is Status.PASS and seen.evidence["nvidia_registered"] is True
    assert seen.evidence["runtimes"]["nvidia"] == "/usr/sbin/runc"
    default = checks.runtime_nvidia(probe(), POLICY)  # the main daemon, beside it, has none
    assert default.evidence["nvidia_registered"] is False
    assert default.observed.startswith("nvidia not registered")
    assert default.status is (Status.WARN if with_runtime.nvidia_device else Status.SKIP)


def test_daemon_on_tcp_without_tls_is_a_failure(start_daemon: Any) -> None:
    port_busy = any(":2375 " in line for line in Path("/proc/net/tcp").read_text().splitlines())
    if port_busy:
        pytest.skip("something already listens on port 2375")
    daemon = start_daemon("-H", "tcp://127.0.0.1:2375")
    for transport in ("http", "sdk"):
        facts = probe({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, transport=transport)
        assert facts.reachable, facts.error
        outcome = checks.tcp_exposure(facts, POLICY)
        assert outcome.status is Status.FAIL
        assert outcome.evidence["env"] == ["DOCKER_HOST=tcp://127.0.0.1:2375 without DOCKER_TLS_VERIFY"]
        assert outcome.evidence["listening"] == ["127.0.0.1:2375 listening (tcp)"]
        assert any(f"pid {daemon.proc.pid}" in hit for hit in outcome.evidence["cmdline"])
        assert outcome.evidence["daemon_warnings"][0].startswith("WARNING: API is accessible on http://127.0.0.1:2375")
    # Through the unix socket the daemon still says so itself, and the listener is still seen.
    via_socket = checks.tcp_exposure(probe({"DOCKER_HOST": daemon.url}), POLICY)
    assert via_socket.status is Status.FAIL and not via_socket.evidence["env"]


def test_socket_left_to_root_says_restart_the_daemon(make_user: Any, world_envcheck: tuple[str, str],
                                                     start_daemon: Any, docker_group: int) -> None:
    # What a daemon started before group docker existed looks like: its socket is root:root.
    daemon = start_daemon("--group", "root")
    assert os.stat(daemon.sock).st_gid == 0
    user = make_user(groups=("docker",))
    report, _ = run_doctor_as(user, world_envcheck, {"DOCKER_HOST": daemon.url})
    reach = results_by_id(report)["docker.daemon-reachable"]
    assert reach["evidence"]["error_kind"] == dockerapi.PERMISSION
    assert reach["reason"].startswith("the socket belongs to group root")
    # The user is listed in group docker already, so only the daemon's restart is asked; without systemd (as in a
    # container, or this test machine) through the SysV `service` command.
    restart = "sudo systemctl restart docker" if os.path.isdir("/run/systemd/system") else "sudo service docker restart"
    assert reach["fix"] == f"{restart}  # dockerd gives its socket to group docker at start\nnewgrp docker"


def test_machine_without_an_engine_is_skipped_unless_required(world_dir: Path) -> None:
    # This machine with Docker taken away, for one process tree only: a private mount and PID
    # namespace, an empty /run (no socket), /dev/null over every docker binary, no dockerd in /proc.
    needs_root("private namespaces")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    dirs = dict.fromkeys([*os.environ["PATH"].split(":"), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                          "/usr/bin", "/sbin", "/bin"])
    binaries = [os.path.join(d, name) for d in dirs for name in ("docker", "dockerd")
                if os.path.isfile(os.path.join(d, name))]
    hide = " && ".join(f"mount --bind /dev/null {b}" for b in dict.fromkeys(os.path.realpath(b) for b in binaries))
    policy = world_dir / "require.json"
    policy.write_text(json.dumps({"require_docker": True}))
    for extra, expected in (((), "skip"), (("--policy", str(policy)), "fail")):
        argv = [sys.executable, "-m", "envcheck", "doctor", "--only", "docker", "--json", *extra]
        script = f"mount -t tmpfs none /run && {hide} && exec \"$@\""
        done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
                               "--", "sh", "-c", script, "sh", *argv],
                              env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "LANG": "C.UTF-8"},
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.startswith("{"), done.stderr[-2000:]
        results = results_by_id(json.loads(done.stdout))
        installed = results["docker.installed"]
        assert installed["status"] == expected, installed
        assert installed["observed"] == "no dockerd, no docker CLI, no socket at /var/run/docker.sock"
        for check_id in DEPENDENTS:
            assert results[check_id]["caused_by"] == "docker.installed"
    assert engine_answers(), "the real engine must be untouched outside the namespace"


def test_snap_layout_is_seen_and_fails_only_where_gpus_are_wanted(world_dir: Path) -> None:
    # No snapd here, so the snap's footprint is laid out for one process tree only: a private mount
    # namespace with a tmpfs over /var holding /var/snap/docker (what `snap install docker` creates), and
    # DOCKER_HOST at the socket the snap's daemon uses. The real probe must find it; the verdict is a
    # warning without NVIDIA GPUs and a failure when the policy wants them (NVIDIA/nvidia-docker#1642).
    needs_root("private namespaces")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    policy = world_dir / "require-gpu.json"
    policy.write_text(json.dumps({"require_gpu": True}))
    for extra, expected in (((), "warn"), (("--policy", str(policy)), "fail")):
        argv = [sys.executable, "-m", "envcheck", "doctor", "--only", "docker.installed", "--json", *extra]
        script = "mount -t tmpfs none /var && mkdir -p /var/snap/docker/common && exec \"$@\""
        done = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
                               *argv],
                              env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "LANG": "C.UTF-8",
                                   "DOCKER_HOST": "unix:///var/snap/docker/common/run/docker.sock"},
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.startswith("{"), done.stderr[-2000:]
        installed = results_by_id(json.loads(done.stdout))["docker.installed"]
        assert installed["status"] == expected, installed
        assert installed["observed"] == "Docker installed as a snap: /var/snap/docker exists; the socket " \
                                        "/var/snap/docker/common/run/docker.sock belongs to the snap"
        assert installed["fix"].startswith("sudo snap remove docker\nsudo apt-get install -y docker.io")
    assert engine_answers(), "the real engine must be untouched outside the namespace"


def test_daemon_on_tcp_with_tls(start_daemon: Any, tmp_path: Path) -> None:
    certs = make_tls_certs(tmp_path)
    port = free_port()
    start_daemon("-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                 "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(certs / "server-key.pem"))
    env = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    for transport in ("http", "sdk"):
        facts = probe(env, transport=transport)
        assert facts.reachable, facts.error
        assert checks.tcp_exposure(facts, POLICY).status is Status.PASS
    # Without a client certificate the daemon refuses the handshake: a TLS failure, not "not running".
    no_client_cert = tmp_path / "ca-only"
    no_client_cert.mkdir()
    shutil.copy(certs / "ca.pem", no_client_cert / "ca.pem")
    for transport in ("http", "sdk"):
        facts = probe({**env, "DOCKER_CERT_PATH": str(no_client_cert)}, transport=transport)
        assert (facts.reachable, facts.error_kind) == (False, dockerapi.TLS), facts.error


def test_doctor_talks_to_the_engine_without_importing_the_sdk() -> None:
    # The speed choice of dockerapi.py: a docker-only doctor run reaches the daemon and never loads
    # docker/requests/urllib3 (benchmarks/docker_probe.py measures what that saves).
    code = (
        "import contextlib, io, json, sys\n"
        "from envcheck.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['doctor', '--only', 'docker', '--json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'requests', 'urllib3'))\n"
        "print(json.dumps({'report': json.loads(out.getvalue()), 'heavy': heavy}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    data = json.loads(done.stdout)
    assert results_by_id(data["report"])["docker.daemon-reachable"]["status"] == "pass"
    assert data["heavy"] == []
