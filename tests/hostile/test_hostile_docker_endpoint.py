"""No Docker endpoint setting crashes a probe: every malformed one is a docker.endpoint failure that quotes the
value (credentials masked, cut short) and shows what a valid one looks like.

Where an endpoint comes from: DOCKER_HOST, the probe's endpoint option, a docker context's meta.json (named by
DOCKER_CONTEXT or by config.json's currentContext), and config.json itself. Each is fed hand-picked hostile values
(the ones seen: "http://[::1" made the probe raise "Invalid IPv6 URL"; "garbage" was called a "this://" endpoint)
and hypothesis-made ones. TCP connections are refused in-process, so nothing here reaches the network; unix
sockets are real paths that do not exist. Every test counts its inputs in HOSTILE (printed by the last test).
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envcheck import dockerapi, dockerendpoint, runner
from envcheck.checks.docker import CHECKS
from envcheck.engine import Collected, apply_checks
from envcheck.model import Result, Status
from envcheck.policy import default_policy
from envcheck.probes.docker import collect
from envcheck.units import ProbeContext, ProbeOptions

HOSTILE = {"tried": 0, "clean": 0}
VALID = "a valid one looks like unix:///var/run/docker.sock, ssh://HOST or tcp://HOST:2376"
SECRET = "hunter2hunter2"
MAX_OBSERVED = 400


def count(clean: bool) -> bool:
    HOSTILE["tried"] += 1
    HOSTILE["clean"] += clean
    return clean


def _refused(*args: Any, **kwargs: Any) -> socket.socket:
    raise ConnectionRefusedError(111, "Connection refused (no network in this test)")


def docker_results(env: dict[str, str], home: Path, option: str | None = None) -> dict[str, Result]:
    """The real probe (TCP refused in-process) and every docker check, by id."""
    ctx = ProbeContext(env={"PATH": "/usr/bin:/bin", **env}, home=str(home), timeout_s=1.0, run=runner.run,
                       options=ProbeOptions(docker_client="http", docker_host=option))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dockerapi.socket, "create_connection", _refused)
        facts = collect(ctx)
    results = apply_checks(CHECKS, {"docker": Collected("docker", facts=facts)}, default_policy())
    assert not [r for r in results if "crashed" in r.reason], [r.reason for r in results]
    return {r.id: r for r in results}


def endpoint_failed(results: dict[str, Result], *parts: str) -> bool:
    """docker.endpoint is the failure, with every part in its observed text; reachable points at it."""
    ep = results["docker.endpoint"]
    reachable = results["docker.daemon-reachable"]
    return (ep.status is Status.FAIL and len(ep.observed) <= MAX_OBSERVED and all(p in ep.observed for p in parts)
            and SECRET not in ep.observed + ep.reason + ep.fix
            and reachable.status is Status.UNKNOWN and reachable.caused_by == "docker.endpoint")


def context_dir(config: Path, name: str) -> Path:
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    meta.mkdir(parents=True, exist_ok=True)
    return meta


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "docker-config"
    folder.mkdir()
    yield folder


# --- hand-picked ----------------------------------------------------------------------------------------------

MALFORMED = {  # DOCKER_HOST -> what the observed text says about it
    "http://[::1": "'http://[::1' is not a Docker endpoint: it cannot be parsed: Invalid IPv6 URL",
    "garbage": "'garbage' is not a Docker endpoint: it has no scheme",
    "tcp://gpu-box:99999": "it cannot be parsed: Port out of range 0-65535",
    "tcp://gpu-box:0": "port 0 is out of range (1-65535)",
    "tcp://gpu-box:port": "it cannot be parsed: Port could not be cast to integer value as 'port'",
    "tcp://": "it names no host",
    "tcp://:2376": "it names no host",
    "ssh://": "it names no host",
    "unix://": "a unix:// endpoint names a socket by its absolute path",
    "unix://relative.sock": "a unix:// endpoint names a socket by its absolute path",
    "unix:///" + "s" * 200: "the socket path is longer than a unix socket's 107 bytes",
    "npipe://": "it names no pipe",
    "foo://bar": "unknown scheme 'foo'",
    "TCP://gpu-box:2376": "unknown scheme 'TCP'",
    "tcp://gpu box:2376": "it holds whitespace (' ')",
    " tcp://gpu-box:2376": "it holds whitespace (' ')",
    "tcp://gpu-box:2376\n": "it holds whitespace ('\\n')",
    "tcp://gpu\x00box": "it holds a control character ('\\x00')",
    "unix:///var/run/docker.sock\x1b[2J": "it holds a control character ('\\x1b')",
    "   ": "it is blank",
    f"tcp://alice:{SECRET}@gpu-box:99999": "'tcp://***@gpu-box:99999' is not a Docker endpoint",
    f"http://alice:{SECRET}@[::1": "'http://***@[::1' is not a Docker endpoint",
    "tcp://" + "a" * 100_000 + ":1:2": "... (100010 characters)",
}


@pytest.mark.parametrize("value", sorted(MALFORMED), ids=lambda v: repr(v)[:40])
def test_a_malformed_docker_host_is_an_endpoint_failure_that_shows_a_valid_one(tmp_path: Path, value: str) -> None:
    results = docker_results({"DOCKER_HOST": value}, tmp_path)
    assert count(endpoint_failed(results, MALFORMED[value], VALID))
    assert results["docker.endpoint"].observed.startswith("DOCKER_HOST '")
    assert results["docker.endpoint"].fix.startswith("docker context ls\nunset DOCKER_HOST")


def test_the_examples_survive_the_reports_redaction() -> None:
    from envcheck.redact import redact

    text = dockerendpoint.describe("DOCKER_HOST", f"tcp://me:{SECRET}@h:0", "why")
    assert count(redact(text) == text and text.endswith(VALID) and SECRET not in text)


def test_the_endpoint_option_is_checked_the_same_way(tmp_path: Path) -> None:
    results = docker_results({"DOCKER_HOST": "unix:///var/run/docker.sock"}, tmp_path, option="http://[::1")
    assert count(endpoint_failed(results, "the endpoint given 'http://[::1' is not a Docker endpoint", VALID))
    assert results["docker.endpoint"].fix == f"leave the endpoint out, or give one such as {dockerendpoint.EXAMPLES}"


@pytest.mark.parametrize("host", ["http://[::1", "garbage", "tcp://h:70000", 5, None, ["tcp://h:1"]],
                         ids=repr)
def test_a_contexts_malformed_host_is_an_endpoint_failure(config: Path, tmp_path: Path, host: Any) -> None:
    meta = context_dir(config, "lab")
    (meta / "meta.json").write_text(json.dumps({"Name": "lab", "Endpoints": {"docker": {"Host": host}}}))
    results = docker_results({"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "lab"}, tmp_path)
    said = f"docker context 'lab''s endpoint {dockerendpoint.shown(host)} is not a Docker endpoint" \
        if isinstance(host, str) else "has no Endpoints.docker.Host string"
    assert count(endpoint_failed(results, said))


@pytest.mark.parametrize("text", ['{"Name": "lab", "Endpoints": ', "[]", '{"Endpoints": []}', '{"Endpoints": '
                                  '{"docker": "tcp://h:1"}}', "\x00\xff", ""], ids=repr)
def test_a_contexts_broken_meta_json_is_an_endpoint_failure(config: Path, tmp_path: Path, text: str) -> None:
    (context_dir(config, "lab") / "meta.json").write_text(text, errors="surrogateescape")
    results = docker_results({"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "lab"}, tmp_path)
    assert count(endpoint_failed(results, "cannot read docker context 'lab'"))


@pytest.mark.parametrize(("text", "said"), [
    ("{not json", "config.json cannot be read as JSON: Expecting property name"),
    ('["lab"]', "config.json holds list, not a JSON object"),
    ('{"currentContext": 5}', "config.json: currentContext is '5', not a context's name"),
    ('{"currentContext": {"a": 1}}', "currentContext is '{\"a\": 1}', not a context's name"),
    ('{"currentContext": "gone"}', "docker context 'gone' does not exist"),
    ('{"currentContext": "' + "x" * 5000 + '"}', "docker context 'xxxxxxxx"),
], ids=lambda v: repr(v)[:30])
def test_a_broken_config_json_is_an_endpoint_failure(config: Path, tmp_path: Path, text: str, said: str) -> None:
    (config / "config.json").write_text(text)
    results = docker_results({"DOCKER_CONFIG": str(config)}, tmp_path)
    assert count(endpoint_failed(results, said))


@pytest.mark.parametrize("name", ["gone", "a\x1b[2Jb", "x" * 3000, "../../etc", "\udcff"], ids=lambda v: repr(v)[:20])
def test_docker_context_naming_a_missing_context_is_an_endpoint_failure(config: Path, tmp_path: Path,
                                                                         name: str) -> None:
    results = docker_results({"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": name}, tmp_path)
    assert count(endpoint_failed(results, f"docker context {dockerendpoint.shown(name)} does not exist"))
    assert results["docker.endpoint"].fix.startswith("docker context ls\nunset DOCKER_CONTEXT")


def test_a_broken_config_json_gets_a_fix_that_finds_the_break(config: Path, tmp_path: Path) -> None:
    (config / "config.json").write_text("{")
    results = docker_results({"DOCKER_CONFIG": str(config)}, tmp_path)
    assert count(results["docker.endpoint"].fix.startswith('python3 -m json.tool "${DOCKER_CONFIG:-$HOME/.docker}'))


def test_smoke_in_a_container_says_the_endpoint_is_malformed(tmp_path: Path) -> None:
    from envcheck.smoke import container

    with pytest.raises(container.ContainerError) as raised:
        container.start("img", "python3", [], env={"DOCKER_HOST": "http://[::1"}, home=str(tmp_path), timeout_s=1.0,
                        gpus=False, run_timeout_s=1.0, nonce="n")
    assert count(str(raised.value).startswith("DOCKER_HOST 'http://[::1' is not a Docker endpoint"))


# --- made-up endpoints ----------------------------------------------------------------------------------------

SCHEMES = st.sampled_from(["unix", "tcp", "http", "https", "ssh", "npipe", "fd", "TCP", "", "tcp:", "a b", "\x00"])
HOSTS = st.sampled_from(["", "localhost", "127.0.0.1", "[::1]", "[::1", "::1]", "[", "]", "gpu box", "%", "@", ":"])
PORTS = st.one_of(st.none(), st.integers(-5, 70_000).map(str), st.text(max_size=6))
STRUCTURED = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{'' if port is None else ':' + port}{path}",
    SCHEMES, st.sampled_from(["", "me@", f"me:{SECRET}@", "@", "a:b:c@"]), HOSTS, PORTS,
    st.sampled_from(["", "/", "/var/run/docker.sock", "/x?y#z", "/" + "p" * 300]))
ENDPOINTS = st.one_of(STRUCTURED, st.text(max_size=60), st.text(alphabet=st.characters(codec="utf-8"), max_size=20))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=ENDPOINTS)
def test_any_docker_host_gives_facts_and_an_endpoint_outcome(value: str) -> None:
    home = Path("/nonexistent-envcheck-home")
    if not value:  # an empty DOCKER_HOST is no DOCKER_HOST: the default socket's rules apply
        value = " "
    results = docker_results({"DOCKER_HOST": value}, home)
    ep = results["docker.endpoint"]
    why = dockerendpoint.problem(value)
    if why:
        clean = endpoint_failed(results, why, VALID)
    else:  # a well-formed endpoint: named as given; whether a daemon answers there is another check's business
        clean = ep.status is Status.PASS and ep.observed == f"{value} (DOCKER_HOST)"
    assert count(clean and len(ep.observed) <= max(MAX_OBSERVED, len(value) + 20))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=ENDPOINTS, raw=st.one_of(st.none(), st.text(max_size=40)))
def test_any_context_meta_gives_an_endpoint_outcome(tmp_path_factory: pytest.TempPathFactory, host: str,
                                                    raw: str | None) -> None:
    config = tmp_path_factory.mktemp("docker-config")
    meta = context_dir(config, "lab")
    text = raw if raw is not None else json.dumps({"Name": "lab", "Endpoints": {"docker": {"Host": host}}})
    (meta / "meta.json").write_text(text, errors="surrogateescape")
    results = docker_results({"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "lab"}, config)
    ep = results["docker.endpoint"]
    fine = raw is None and not dockerendpoint.problem(host)
    clean = ep.status is Status.PASS if fine else endpoint_failed(results, "docker context 'lab'")
    assert count(clean)


def test_zz_every_hostile_endpoint_ended_cleanly() -> None:
    print(f"\nhostile docker endpoints: {HOSTILE['tried']} tried, {HOSTILE['clean']} ended cleanly")
    assert HOSTILE["tried"] > 0 and HOSTILE["clean"] == HOSTILE["tried"]
