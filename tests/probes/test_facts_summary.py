"""Report.facts: each probe's ``summarize`` (one place per fact, next to its facts) and the engine's merge of them
(engine.summarize_facts). Facts are built by hand here, as each probe's collect would return them."""

from __future__ import annotations

from datetime import date
from typing import Any

from envcheck.dockerendpoint import Endpoint
from envcheck.engine import Collected, summarize_facts
from envcheck.probes import docker, gpu, host, python
from envcheck.probes.docker import AccessFacts, DockerFacts, EngineInfo
from envcheck.probes.gpu import GpuFacts, TorchBuildFacts
from envcheck.probes.gpu_device import GpuDevice
from envcheck.probes.gpu_torch import TorchFacts
from envcheck.probes.host import HostFacts
from envcheck.probes.python import PythonFacts
from envcheck.units import FACT_NAMES, ProbeSpec


def test_gpu_summary_names_driver_cuda_model_and_count() -> None:
    devices = (GpuDevice(index=0, name="NVIDIA A100-SXM4-80GB"), GpuDevice(index=1, name="NVIDIA A100-SXM4-80GB"),
               GpuDevice(index=2, name="Tesla T4"))
    facts = GpuFacts(child="ok", driver_version="550.54.15", cuda_driver_version="12.4", device_count=3,
                     devices=devices)
    assert gpu.summarize(facts) == {"driver": "550.54.15", "cuda": "12.4",
                                    "gpu_model": "NVIDIA A100-SXM4-80GB + Tesla T4", "gpu_count": "3"}
    # NVML could not start but the kernel module is loaded: its version and its list of GPUs.
    module_only = GpuFacts(child="ok", init_error="DriverNotLoaded", module_version="535.161.08",
                           proc_gpus=("0000:18:00.0", "0000:3b:00.0"))
    assert gpu.summarize(module_only) == {"driver": "535.161.08", "cuda": None, "gpu_model": None, "gpu_count": "2"}
    nothing = GpuFacts(child="ok", init_error="LibraryNotFound")
    assert gpu.summarize(nothing) == {"driver": None, "cuda": None, "gpu_model": None, "gpu_count": None}
    assert gpu.summarize_torch(TorchBuildFacts(asked=False)) == {"torch": None}
    asked = TorchBuildFacts(asked=True, torch=TorchFacts(python="/usr/bin/python3", version="2.13.0+cpu"))
    assert gpu.summarize_torch(asked) == {"torch": "2.13.0+cpu"}


def test_host_docker_and_python_summaries() -> None:
    facts = HostFacts(today=date(2026, 12, 2), kernel="6.8.0-45-generic",
                      os_release={"ID": "ubuntu", "VERSION_ID": "24.04", "PRETTY_NAME": "Ubuntu 24.04.1 LTS"})
    assert host.summarize(facts) == {"kernel": "6.8.0-45-generic", "os": "Ubuntu 24.04.1 LTS"}
    assert host.summarize(HostFacts(today=date(2026, 12, 2), os_release={"ID": "rocky", "VERSION_ID": "9.4"})) == {
        "kernel": None, "os": "rocky 9.4"}
    access = AccessFacts(user="u", uid=1000, docker_gid=None, docker_listed=False, docker_effective=False)
    engine = DockerFacts(endpoint=Endpoint("unix:///var/run/docker.sock", "default socket", "the default"),
                         transport="http", dockerd=None, cli=None, dockerd_pids=(), snap=(), systemd=True,
                         socket=None, access=access, reachable=True, engine=EngineInfo(server_version="27.3.1"))
    assert docker.summarize(engine) == {"docker": "27.3.1"}
    assert python.summarize(PythonFacts("python3", "/usr/bin/python3", info={"version": [3, 12, 3]})) == {
        "python": "3.12.3"}
    assert python.summarize(PythonFacts("python3", None)) == {"python": None}


def _spec(name: str, summarize: Any) -> ProbeSpec:
    return ProbeSpec(name, lambda ctx: None, summarize=summarize)


def test_the_engine_merges_summaries_and_a_failing_one_leaves_facts_unknown() -> None:
    def broken(facts: Any) -> dict[str, str | None]:
        raise KeyError("boom")

    probes = [_spec("a", lambda f: {"kernel": f, "os": None}), _spec("b", broken),
              _spec("c", lambda f: {"os": "Debian 12", "kernel": "other", "not-a-fact": "x"}), _spec("d", None)]
    collected = {"a": Collected("a", facts="6.1.0"), "b": Collected("b", facts=1),
                 "c": Collected("c", facts=2), "d": Collected("d", facts=3)}
    facts = summarize_facts(probes, collected)
    assert list(facts) == list(FACT_NAMES)
    assert {k: v for k, v in facts.items() if v is not None} == {"kernel": "6.1.0", "os": "Debian 12"}
    assert summarize_facts(probes, {"a": Collected("a", error="probe 'a' crashed")})["kernel"] is None
