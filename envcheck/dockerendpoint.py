"""Where the Docker engine is expected, as the docker CLI would find it, and whether that endpoint is one a
client could open at all. Standard library only: ``envcheck.dockerapi`` (the adapter that talks to the engine)
and the probes both start here.

The docker CLI parses endpoints in docker/cli opts/hosts.go (parseDockerDaemonHost): the schemes are tcp,
unix, npipe, ssh (and fd, for dockerd only); http and https are what docker-py accepts for tcp. An endpoint
that cannot be one (no scheme, an unknown one, no host, a port out of range, whitespace or control characters,
a bracket that never closes), from DOCKER_HOST, a context's meta.json or a broken config.json, is an
``Endpoint.error`` before any probe opens it, so that no parser raises later (urllib.parse.urlsplit raises
ValueError for "http://[::1"). Stricter than the CLI in one place: the CLI reads a bare "garbage" as
tcp://garbage:2375; a report says that the scheme is missing instead.

Values are shown masked (credentials in a URL replaced, envcheck.redact) and cut short: a DOCKER_HOST is
whatever the environment holds.
"""

from __future__ import annotations

import json
import os
from typing import Mapping
from urllib.parse import urlsplit

from envcheck.frozen import frozen

SCHEMES = ("unix", "tcp", "http", "https", "ssh", "npipe")
# ssh://USER@HOST works too, but a report masks a URL's user part wherever it stands (envcheck.redact), and the
# tcp example comes last, where its port ends the line: the redactor would read "HOST:2376 or ..." as a password.
EXAMPLES = "unix:///var/run/docker.sock, ssh://HOST or tcp://HOST:2376"
MAX_SHOWN = 80
SUN_PATH_MAX = 107  # a unix socket's path: sockaddr_un.sun_path holds 108 bytes with the final NUL (unix(7))


def shown(value: str) -> str:
    """``value`` for a report: credentials masked, at most MAX_SHOWN characters, quoted with escapes."""
    from envcheck.redact import redact, url_secret_literals

    # One endpoint URL: its whole userinfo up to the last "@" is masked, as for an environment value, so a
    # password holding "@", "/" or a space is never shown in part.
    masked = redact(value, secrets=url_secret_literals(value))
    cut = masked[:MAX_SHOWN] + (f"... ({len(value)} characters)" if len(masked) > MAX_SHOWN else "")
    return repr(cut)


def problem(url: str) -> str:
    """Why ``url`` is not an endpoint a Docker client could open; "" when it could be one."""
    if not url.strip():
        return "it is blank"
    odd = next((c for c in url if c.isspace() or not c.isprintable()), None)
    if odd is not None:
        return f"it holds {'whitespace' if odd.isspace() else 'a control character'} ({odd!r})"
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "it has no scheme"
    if scheme not in SCHEMES:
        return f"unknown scheme {scheme[:20]!r}"
    if scheme == "unix":
        if not rest.startswith("/"):
            return "a unix:// endpoint names a socket by its absolute path"
        if len(rest.encode()) > SUN_PATH_MAX:
            return f"the socket path is longer than a unix socket's {SUN_PATH_MAX} bytes"
        return ""
    if scheme == "npipe":
        return "" if rest.strip("/") else "it names no pipe"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", "Port could not be cast ..."
        return f"it cannot be parsed: {str(exc)[:60]}"
    if not parts.hostname:
        return "it names no host"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range (1-65535)"
    return ""


def describe(origin: str, url: str, why: str) -> str:
    """One sentence for an endpoint that is not one: where it came from, the value shown safely, why, a good one."""
    return f"{origin} {shown(url)} is not a Docker endpoint: {why}; a valid one looks like {EXAMPLES}"


DEFAULT_SOCKET = "/var/run/docker.sock"


@frozen
class Endpoint:
    """Where the daemon is expected, which rule chose it, and why."""

    url: str  # unix:///var/run/docker.sock, tcp://host:2375, ssh://user@host; "" when none could be named
    # "option", "DOCKER_HOST", "context", "config" (a broken config.json), "default socket", "rootless socket"
    source: str
    why: str  # one sentence for the report
    context: str | None = None  # the docker context named, when one was
    tls_verify: bool = False
    cert_dir: str | None = None  # holds ca.pem, cert.pem, key.pem when TLS is used
    error: str = ""  # why no endpoint could be named (a context that does not exist, a broken config)

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0] if "://" in self.url else ""

    @property
    def socket_path(self) -> str | None:
        if self.scheme != "unix":
            return None
        return self.url.partition("://")[2] or None


def config_dir(env: Mapping[str, str], home: str) -> str:
    """The docker CLI's config folder: ``$DOCKER_CONFIG`` or ``~/.docker``."""
    return env.get("DOCKER_CONFIG") or os.path.join(home, ".docker")


def rootless_socket(env: Mapping[str, str]) -> str:
    runtime_dir = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.join(runtime_dir, "docker.sock")


def resolve_endpoint(
    env: Mapping[str, str], home: str, option: str | None = None, default_socket: str = DEFAULT_SOCKET
) -> Endpoint:
    """Name the endpoint as `docker` would (docker/cli cli/command/cli.go resolveContextName):
    an explicit option, then DOCKER_HOST, then DOCKER_CONTEXT, then config.json currentContext;
    the "default" context means the default socket. The rootless socket comes last: the CLI would
    not look there, so the report says to export DOCKER_HOST."""
    tls_verify = bool(env.get("DOCKER_TLS_VERIFY"))
    cert_dir = env.get("DOCKER_CERT_PATH") or (config_dir(env, home) if tls_verify else None)
    if option:
        if why := problem(option):
            return Endpoint("", "option", "the endpoint given to envcheck",
                            error=describe("the endpoint given", option, why))
        return Endpoint(option, "option", f"given on the command line: {option}", tls_verify=tls_verify,
                        cert_dir=cert_dir)
    if env.get("DOCKER_HOST"):
        host = env["DOCKER_HOST"]
        if why := problem(host):
            return Endpoint("", "DOCKER_HOST", f"DOCKER_HOST is set to {shown(host)}",
                            error=describe("DOCKER_HOST", host, why))
        return Endpoint(host, "DOCKER_HOST", f"DOCKER_HOST is set to {host}", tls_verify=tls_verify, cert_dir=cert_dir)
    cfg_dir = config_dir(env, home)
    name, origin = env.get("DOCKER_CONTEXT") or "", "DOCKER_CONTEXT"
    if not name:
        config = os.path.join(cfg_dir, "config.json")
        name, broken = _current_context(config)
        origin = f"currentContext in {config}"
        if broken:
            return Endpoint("", "config", f"the docker CLI's config {config} names the current context",
                            error=broken)
    if name and name != "default":
        return _context_endpoint(cfg_dir, name, origin)
    chosen = "" if not name else f" ({origin} names the default context)"
    if os.path.exists(default_socket):
        return Endpoint(f"unix://{default_socket}", "default socket",
                        f"no DOCKER_HOST and no docker context{chosen}: the default socket {default_socket}")
    rootless = rootless_socket(env)
    if os.path.exists(rootless):
        return Endpoint(f"unix://{rootless}", "rootless socket",
                        f"no socket at {default_socket}, but a rootless daemon's socket at {rootless}")
    return Endpoint(f"unix://{default_socket}", "default socket",
                    f"no DOCKER_HOST and no docker context{chosen}; no socket at {default_socket} "
                    f"nor at the rootless {rootless}")


def _current_context(config: str) -> tuple[str, str]:
    """The context config.json names ("" for none), and why the file cannot be read ("" when it can).

    The CLI warns about a broken config.json and goes on with the default context (docker/cli
    cli/config/config.go LoadDefaultConfigFile); a report says the file is broken instead of guessing
    the endpoint the user meant."""
    try:
        with open(config, encoding="utf-8") as handle:
            data = json.loads(handle.read(1 << 20))
    except FileNotFoundError:
        return "", ""
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:120]
        return "", (f"{config} cannot be read as JSON: {detail}; fix or remove it (the docker CLI ignores it with "
                    "a warning and uses the default socket)")
    if not isinstance(data, dict):
        return "", f"{config} holds {type(data).__name__}, not a JSON object; fix or remove it"
    value = data.get("currentContext")
    if value is None or isinstance(value, str):
        return value or "", ""
    return "", f"{config}: currentContext is {shown(json.dumps(value))}, not a context's name"


def _context_endpoint(cfg_dir: str, name: str, origin: str) -> Endpoint:
    # Context metadata lives under contexts/meta/<sha256 of the name>/meta.json (docker/cli context/store).
    import hashlib  # here: only a named context needs it

    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    meta = os.path.join(cfg_dir, "contexts", "meta", digest, "meta.json")
    quoted = shown(name)
    why = f"{origin} names docker context {quoted} ({meta})"
    try:
        with open(meta, encoding="utf-8") as handle:
            data = json.loads(handle.read(1 << 20))
    except FileNotFoundError:
        return Endpoint("", "context", why, context=name, error=f"docker context {quoted} does not exist ({meta})")
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:120]
        return Endpoint("", "context", why, context=name, error=f"cannot read docker context {quoted}: {detail}")
    endpoints = data.get("Endpoints") if isinstance(data, dict) else None
    docker_ep = endpoints.get("docker") if isinstance(endpoints, dict) else None
    host = docker_ep.get("Host") if isinstance(docker_ep, dict) else None
    if not isinstance(docker_ep, dict) or not isinstance(host, str):
        return Endpoint("", "context", why, context=name,
                        error=f"cannot read docker context {quoted}: its meta.json has no Endpoints.docker.Host string")
    if bad := problem(host):
        return Endpoint("", "context", why, context=name,
                        error=describe(f"docker context {quoted}'s endpoint", host, bad))
    tls_dir = os.path.join(cfg_dir, "contexts", "tls", digest, "docker")
    has_tls = os.path.isdir(tls_dir)
    return Endpoint(host, "context", f"{why}: {host}", context=name,
                    tls_verify=has_tls and docker_ep.get("SkipTLSVerify") is not True,
                    cert_dir=tls_dir if has_tls else None)
