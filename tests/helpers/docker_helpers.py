"""Real parts for the Docker tests: unprivileged users, an interpreter they can
run envcheck with, extra daemons, sockets that refuse or hang. Every fixture cleans up what it made.

Test modules import the fixtures from here (``from helpers.docker_helpers import ...``); nothing is mocked.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envcheck import dockerapi
from envcheck.probes.docker import DockerFacts, collect
from envcheck.units import ProbeContext, ProbeOptions

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SOCKET = "/var/run/docker.sock"


def engine_answers(url: str = f"unix://{DEFAULT_SOCKET}", timeout: float = 3.0) -> bool:
    try:
        dockerapi.fetch_engine(dockerapi.Endpoint(url, "test", "test"), time.monotonic() + timeout)
        return True
    except Exception:
        return False


def needs_engine() -> None:
    if not engine_answers():
        pytest.skip(f"no Docker engine answers at {DEFAULT_SOCKET} (scripts/start-docker starts one)")


def needs_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root")


def probe(env: dict[str, str] | None = None, timeout: float = 5.0, transport: dockerapi.Transport = "http",
          home: str = "/nonexistent-home") -> DockerFacts:
    """Run the real probe in this process; ``env`` replaces the environment (PATH is kept)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    from envcheck import runner

    ctx = ProbeContext(env={**base, **(env or {})}, home=home, timeout_s=timeout, run=runner.run,
                       options=ProbeOptions(docker_client=transport))
    return collect(ctx)


# --- sockets that do not behave ------------------------------------------------------------------


def stale_socket(path: Path) -> Path:
    """A socket file with nothing listening: bound, then closed without listen() -> ECONNREFUSED."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()
    return path


class HangingServer:
    """Accepts every connection on a unix socket and never answers (a wedged daemon)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        os.chmod(path, 0o666)  # so an unprivileged user reaches the hang, not a permission error
        self.sock.listen(16)
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # keep it open: read nothing, answer nothing

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging_socket(tmp_path: Path) -> Iterator[HangingServer]:
    server = HangingServer(tmp_path / "hang.sock")
    yield server
    server.close()


# --- envcheck runnable by another user -----------------------------------------------------------


def _world_reachable(path: Path) -> bool:
    """True when every folder on the way is searchable by others and the file readable by them."""
    path = path.resolve()
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


@pytest.fixture(scope="session")
def world_envcheck() -> Iterator[tuple[str, str]]:
    """(python, PYTHONPATH) with which any user can run ``python -m envcheck``.

    The venv's interpreter may live under /root (pyenv), out of reach of other users: then the
    system /usr/bin/python3 of the same minor version runs a world-readable copy of envcheck and
    of the site-packages it loads for a docker-only doctor run (measured: only click)."""
    python = os.path.realpath(sys.executable)
    if not _world_reachable(Path(python)):
        python = "/usr/bin/python3"
        probe_version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                                       capture_output=True, text=True, timeout=30)
        if probe_version.stdout.strip() != str(sys.version_info[:2]):
            pytest.skip(f"no interpreter of Python {sys.version_info[:2]} that other users can run")
    # The modules a docker-only doctor run loads from site-packages (run it, then look).
    code = (
        "import contextlib, io, site, sys\n"
        "from envcheck.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['doctor', '--only', 'docker', '--json', '--timeout', '1'])\n"
        "sp = tuple(site.getsitepackages())\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m, v in list(sys.modules.items())\n"
        "    if (getattr(v, '__file__', None) or '').startswith(sp) and not m.startswith('_')})))\n"
    )
    listing = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    # Its own folder under /tmp: pytest's base temp folder is private (0700) and must stay so.
    root = Path(tempfile.mkdtemp(prefix="envck-world-", dir="/tmp"))
    shutil.copytree(REPO / "envcheck", root / "envcheck", ignore=shutil.ignore_patterns("__pycache__"))
    for name in listing.stdout.split():
        module = __import__(name)
        source = Path(module.__file__ or "")
        if source.name == "__init__.py":
            shutil.copytree(source.parent, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / source.name)
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True, timeout=30)
    yield python, str(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A folder every user can read (for files an unprivileged run must open), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="envck-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def make_user() -> Iterator[Any]:
    """Creates throw-away users (optionally listed in groups); deletes them and their groups after."""
    needs_root("creating users")
    made: list[str] = []

    def make(groups: tuple[str, ...] = ()) -> str:
        name = f"envck{secrets.token_hex(3)}"
        argv = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        subprocess.run([*argv, name], check=True, timeout=30, capture_output=True)
        made.append(name)
        return name

    yield make
    for name in made:
        subprocess.run(["userdel", name], timeout=30, capture_output=True)
        try:
            grp.getgrnam(name)
            subprocess.run(["groupdel", name], timeout=30, capture_output=True)
        except KeyError:
            pass


def _tool(name: str) -> str:
    path = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        pytest.skip(f"{name} (util-linux) is not installed")
    return path


def run_doctor_as(user: str, world: tuple[str, str], env: dict[str, str], *args: str, keep_groups: bool = True,
                  wrap: list[str] | None = None, timeout: float = 60) -> tuple[dict[str, Any], float]:
    """`envcheck doctor --only docker --json` as ``user``; (report, seconds).

    keep_groups=True runs with the user's /etc/group groups (runuser -u: a fresh login);
    False keeps none of them (setpriv --clear-groups: a session that predates usermod -aG)."""
    python, path = world
    entry = pwd.getpwnam(user)
    if keep_groups:
        who = [_tool("runuser"), "-u", user, "--"]
    else:
        who = [_tool("setpriv"), f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
    child_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONPATH": path,
                 "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8", **env}
    argv = [*(wrap or []), *who, python, "-m", "envcheck", "doctor", "--only", "docker", "--json", *args]
    start = time.monotonic()
    done = subprocess.run(argv, env=child_env, capture_output=True, text=True, timeout=timeout, cwd="/")
    elapsed = time.monotonic() - start
    assert done.stdout.startswith("{"), f"no JSON report from {argv}: {done.stdout[:500]} {done.stderr[-2000:]}"
    return json.loads(done.stdout), elapsed


def results_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in report["results"]}


# --- a second daemon -----------------------------------------------------------------------------


class Daemon:
    """A dockerd beside the main one with its own data-root, exec-root, pidfile and socket (a second daemon
    sharing any of them with the first would fight over its files and its bridge); ``url`` is its socket."""

    def __init__(self, base: Path, extra: list[str]) -> None:
        tag = secrets.token_hex(3)
        self.sock = Path(f"/tmp/envck-{tag}.sock")
        self.root = base
        self.url = f"unix://{self.sock}"
        self.log = base / "dockerd.log"
        argv = [
            "dockerd", "--data-root", str(base / "data"), "--exec-root", f"/tmp/envck-{tag}-exec",
            "--pidfile", str(base / "dockerd.pid"), "-H", self.url, "--bridge", f"envck-{tag}", "--iptables=false",
            "--ip-masq=false", "--containerd-namespace", f"envck{tag}", "--containerd-plugins-namespace",
            f"envck{tag}p", *extra,
        ]
        self.exec_root = Path(f"/tmp/envck-{tag}-exec")
        # Not --bridge=none: dockerd 20.10 with bridge "none" deletes the host's docker0 at start
        # (removeDefaultBridgeInterface), which breaks every RUN step and container of the main engine.
        # A bridge of its own keeps the main daemon's network intact.
        self.bridge = f"envck-{tag}"
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True, timeout=10)
        subprocess.run(["ip", "addr", "add", f"10.253.{secrets.randbelow(250) + 1}.1/24", "dev", self.bridge],
                       check=True, timeout=10)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.sock.exists() and engine_answers(self.url, 2.0):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"second dockerd did not answer: {self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        subprocess.run(["umount", "-R", str(self.root / "data")], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=10)
        for path in (self.sock, self.exec_root):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Any]:
    """Starts extra daemons on demand; stops every one of them after the test."""
    needs_root("starting a second dockerd")
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    daemons: list[Daemon] = []

    def start(*extra: str) -> Daemon:
        base = tmp_path / f"dockerd{len(daemons)}"
        base.mkdir()
        daemon = Daemon(base, list(extra))
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture
def docker_group() -> Iterator[int]:
    """Group docker's gid; created for the test (and removed after) where the machine has none."""
    needs_root("creating group docker")
    existing = [g.gr_gid for g in grp.getgrall() if g.gr_name == "docker"]
    if existing:
        yield existing[0]
        return
    subprocess.run(["groupadd", "--system", "docker"], check=True, timeout=30, capture_output=True)
    yield grp.getgrnam("docker").gr_gid
    subprocess.run(["groupdel", "docker"], timeout=30, capture_output=True)


@pytest.fixture
def docker_owned_socket(docker_group: int, start_daemon: Any) -> dict[str, str]:
    """The environment that points at a daemon whose socket belongs to group docker: the default
    daemon's (no DOCKER_HOST needed), or, where that daemon started before the group existed and
    left its socket root:root, a second daemon started now (dockerd gives its socket to docker)."""
    if os.stat(DEFAULT_SOCKET).st_gid == docker_group:
        return {}
    return {"DOCKER_HOST": start_daemon().url}


def make_tls_certs(folder: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI
    the way Docker's "Protect the Docker daemon socket" guide does. Client files use the names the
    docker CLI expects in DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1",
         "-subj", "/CN=envcheck test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
         "-out", "server-cert.pem", "-days", "1", "-extfile", "server.ext"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "client.csr", "-subj", "/CN=client"],
        ["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
         "-out", "cert.pem", "-days", "1", "-extfile", "client.ext"],
    ]
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for step in steps:
        subprocess.run([openssl, *step], cwd=folder, check=True, capture_output=True, timeout=60)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
