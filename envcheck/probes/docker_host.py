"""Docker facts read from this host's files, not from the daemon.

Split from probes/docker.py to keep modules small: running dockerd processes (/proc), TCP
exposure (DOCKER_HOST, daemon.json, dockerd's command line, /proc/net/tcp, the daemon's own
warnings) and CDI specs. Everything here is a file read through a HostFS (this machine unless a test
hands another root): no subprocess, no daemon call. The user's own ~/.config/docker/daemon.json is read
where $HOME says, like every other file of the user's.
"""

from __future__ import annotations

import json
import os
import re
from typing import Iterable, Mapping

from envcheck.frozen import frozen
from envcheck.hostfs import HOST, HostFS

PLAIN_PORT = 2375  # Docker's registered port for the API without TLS (2376 is the TLS one)
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")  # the CDI spec's default folders (cncf-tags/container-device-interface)
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column


@frozen
class TcpFacts:
    """Every sign of an API reachable over TCP without TLS; empty tuples mean none was seen."""

    env: tuple[str, ...] = ()  # DOCKER_HOST=tcp://... without DOCKER_TLS_VERIFY
    daemon_json: tuple[str, ...] = ()  # "hosts" entries with tcp:// in a daemon.json without tlsverify
    cmdline: tuple[str, ...] = ()  # -H tcp://... on a dockerd command line without --tlsverify
    listening: tuple[str, ...] = ()  # address:2375 in LISTEN state
    daemon_warnings: tuple[str, ...] = ()  # the daemon's own "without encryption" warnings
    errors: tuple[str, ...] = ()  # files that could not be read

    @property
    def exposed(self) -> tuple[str, ...]:
        return (*self.env, *self.daemon_json, *self.cmdline, *self.listening, *self.daemon_warnings)


def find_dockerd(fs: HostFS = HOST) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every running dockerd this user can see."""
    found = []
    try:
        pids = [name for name in fs.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    for pid in pids:
        try:
            if fs.read_text(f"/proc/{pid}/comm").strip() != "dockerd":
                continue
            argv = [a for a in fs.read_text(f"/proc/{pid}/cmdline").split("\0") if a]  # NUL-separated
        except OSError:  # the process ended meanwhile, or hidepid hides it
            continue
        found.append((int(pid), argv))
    return found


def _plain_tcp(hosts: Iterable[str]) -> list[str]:
    return [h for h in hosts if h.startswith("tcp://")]


def _cmdline_hosts(argv: list[str]) -> tuple[list[str], bool]:
    hosts, tls = [], False
    for i, arg in enumerate(argv):
        if arg in ("-H", "--host") and i + 1 < len(argv):
            hosts.append(argv[i + 1])
        elif arg.startswith(("-H=", "--host=")):
            hosts.append(arg.split("=", 1)[1])
        elif arg.startswith("-Htcp://"):
            hosts.append(arg[2:])
        elif arg in ("--tlsverify", "--tlsverify=true"):
            tls = True
    return hosts, tls


def _listening(path: str, port: int) -> list[str]:
    found = []
    with open(path, encoding="ascii", errors="replace") as handle:
        next(handle, None)  # header
        for line in handle:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _LISTEN:
                continue
            addr, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) != port:
                continue
            if len(addr) == 8:  # IPv4, little-endian hex
                ip = ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                ip = "[::]" if set(addr) == {"0"} else f"[ipv6 {addr}]"
            found.append(f"{ip}:{port} listening ({os.path.basename(path)})")
    return found


def find_tcp_exposure(
    env: Mapping[str, str], home: str, daemon_warnings: Iterable[str], dockerd: Iterable[tuple[int, list[str]]],
    fs: HostFS = HOST,
) -> TcpFacts:
    errors: list[str] = []
    host = env.get("DOCKER_HOST", "")
    env_hits = [f"DOCKER_HOST={host} without DOCKER_TLS_VERIFY"] if host.startswith("tcp://") and not env.get(
        "DOCKER_TLS_VERIFY") else []
    json_hits: list[str] = []
    for path in (fs.path("/etc/docker/daemon.json"), os.path.join(home, ".config", "docker", "daemon.json")):
        try:  # both paths are already where they lie on this machine: HOST reads them as they are, bounded
            config = json.loads(HOST.read_text(path))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: {exc}")
            continue
        if isinstance(config, dict) and not config.get("tlsverify"):
            hosts = config.get("hosts") or []
            json_hits += [f"{path} hosts: {h}" for h in _plain_tcp(str(h) for h in hosts if isinstance(hosts, list))]
    cmd_hits: list[str] = []
    for pid, argv in dockerd:
        hosts, tls = _cmdline_hosts(argv)
        if not tls:
            cmd_hits += [f"dockerd (pid {pid}) -H {h}" for h in _plain_tcp(hosts)]
    listen_hits: list[str] = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            listen_hits += _listening(fs.path(path), PLAIN_PORT)
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
    # dockerd itself warns "API is accessible on http://0.0.0.0:2375 without encryption" (daemon/info.go).
    warn_hits = [w.strip().splitlines()[0] for w in daemon_warnings if "without encryption" in w]
    return TcpFacts(tuple(env_hits), tuple(json_hits), tuple(cmd_hits), tuple(listen_hits), tuple(warn_hits),
                    tuple(errors))


_KIND = re.compile(r"""^kind:\s*["']?([^"'\s]+)""", re.M)  # a top-level YAML key: no indent


def _spec_kind(name: str, text: str) -> str:
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return "?"
        return str(data.get("kind", "?")) if isinstance(data, dict) else "?"
    match = _KIND.search(text)
    return match.group(1) if match else "?"


def find_cdi_specs(
    extra_dirs: Iterable[str] = (), fs: HostFS = HOST
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """((path, kind), ...) for every CDI spec file, and the folders/files that could not be read.

    The kind (``nvidia.com/gpu``) of a YAML spec comes from a line match: good enough to name it, and
    no YAML parser on doctor's start-up path."""
    specs: list[tuple[str, str]] = []
    errors: list[str] = []
    for folder in dict.fromkeys((*CDI_DIRS, *extra_dirs)):
        try:
            names = sorted(fs.listdir(folder))
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror or exc}")
            continue
        for name in names:
            if not name.endswith((".yaml", ".yml", ".json")):
                continue
            path = os.path.join(folder, name)
            try:
                text = fs.read_text(path)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            specs.append((path, _spec_kind(name, text)))
    return tuple(specs), tuple(errors)


def configured_data_root(fs: HostFS = HOST) -> tuple[str | None, str]:
    """The Docker data root from /etc/docker/daemon.json ("data-root", or the old "graph"), else the
    default /var/lib/docker if it exists: what free space to measure when the daemon cannot be asked."""
    try:
        config = json.loads(fs.read_text("/etc/docker/daemon.json"))
    except (OSError, ValueError):
        config = {}
    if isinstance(config, dict):
        for key in ("data-root", "graph"):
            value = config.get(key)
            if isinstance(value, str) and value:
                return fs.path(value), f"/etc/docker/daemon.json {key}"
    if fs.is_dir("/var/lib/docker"):
        return fs.path("/var/lib/docker"), "default (/var/lib/docker exists)"
    return None, ""
