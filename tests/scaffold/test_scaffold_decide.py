"""Scaffold decisions as pure functions of hand-built host facts and envcheck.compat."""

from __future__ import annotations

import pytest

from envcheck import compat
from envcheck.model import UsageError
from envcheck.scaffold.decide import Request, decide
from envcheck.scaffold.facts import PlanFacts, from_probe_facts

REQ = Request(name="demo", package="demo")
A100_535 = PlanFacts(driver="535.104.05", cuda="12.2", capability=(8, 0), gpu_name="NVIDIA A100-SXM4-80GB",
                     ubuntu="22.04", python="3.10")
H100_580 = PlanFacts(driver="580.65.06", cuda="13.0", capability=(9, 0), gpu_name="NVIDIA H100 80GB HBM3",
                     ubuntu="24.04", python="3.12")
PASCAL_580 = PlanFacts(driver="580.65.06", cuda="13.0", capability=(6, 1), gpu_name="NVIDIA GeForce GTX 1080",
                       ubuntu="22.04", python="3.10")
NO_GPU = PlanFacts(python="3.11", ubuntu="24.04")


def _by_key(facts: PlanFacts, req: Request = REQ) -> dict[str, str]:
    return {d.key: d.value for d in decide(facts, req).items}


def test_newest_torch_whose_cuda_the_driver_fully_supports() -> None:
    d = decide(H100_580, REQ)
    newest = compat.torch_releases()[-1]
    assert d.choice.release.version == newest.version
    assert d.cuda is not None and compat.cuda_runs_on("580.65.06", d.cuda)
    # No stable variant of the newest release with a higher CUDA that this driver fully supports was skipped.
    better = [v for v in newest.variants if v.stable and v.cuda and compat.cuda_runs_on("580.65.06", v.cuda)
              and compat.parse_version(v.cuda) > compat.parse_version(d.cuda)]
    assert better == []
    assert "fully supports" in d.choice.reason and "sm_90" in d.choice.reason


def test_an_old_driver_gets_an_older_torch_not_a_newer_cuda() -> None:
    d = decide(A100_535, REQ)
    # R535 fully supports CUDA 12.2 at most (Table 3: 12.2.2 needs 535.104.05), and the wheels of CUDA <= 12.2 are
    # cu117, cu118 and cu121; torch 2.7 is the newest release with one of them (cu118): never cu126 on R535.
    assert (d.choice.release.version, d.choice.variant.name, d.cuda) == ("2.7", "cu118", "11.8")


def test_minor_version_compatibility_only_when_asked_and_then_explained() -> None:
    plain = decide(A100_535, REQ)
    widened = decide(A100_535, Request(name="demo", package="demo", minor_compat=True))
    assert "minor-version" not in plain.choice.reason
    # R535 is past the 12.x family minimum (525.60.13): the newest release's newest stable 12.x wheel runs on it
    # (sm_80 is in every 12.x wheel), and no 13.x one (the 13.x family needs 580).
    newest = compat.torch_releases()[-1]
    cuda12 = max((v.cuda for v in newest.variants if v.stable and v.cuda and v.cuda.startswith("12.")),
                 key=compat.parse_version)
    assert (plain.cuda, widened.choice.release.version, widened.cuda) == ("11.8", newest.version, cuda12)
    assert "minor-version compatibility" in widened.choice.reason
    assert any(x.key == "minor_compat" for x in widened.items)


def test_the_gpu_architecture_limits_the_choice() -> None:
    d = decide(PASCAL_580, REQ)  # sm_61: cu130 and later dropped Pascal, so cu126
    assert d.choice.variant.name == "cu126"
    assert compat.arch_supported(d.choice.variant, (6, 1))


def test_no_gpu_is_the_cpu_build_and_no_cuda_dockerfile() -> None:
    d = decide(NO_GPU, REQ)
    assert d.choice.variant.cuda is None and d.cuda_image is None
    assert "no NVIDIA driver" in d.choice.reason


def test_driver_option_plans_for_another_machine_plus_the_cpu_twin() -> None:
    d = decide(NO_GPU, Request(name="demo", package="demo", driver="560.35.03"))
    assert d.choice.variant.name == "cu126"
    assert d.cpu.cuda is None and d.cpu.name == "cpu"
    assert d.cuda_image is not None and d.cuda_image.cuda.startswith("12.6.")
    assert "--driver" in d.planned_for


def test_image_tag_is_a_full_patch_on_an_ubuntu_it_exists_for() -> None:
    d = decide(H100_580, REQ)
    assert d.cuda_image is not None and d.cuda is not None
    assert len(compat.parse_version(d.cuda_image.cuda)) == 3
    assert d.ubuntu in compat.image_ubuntus(d.cuda)
    release = compat.ubuntu_release(d.ubuntu)
    assert release is not None and d.image_python == release.default_python


def test_python_is_kept_inside_torchs_range() -> None:
    old = PlanFacts(python="3.8")
    d = decide(old, REQ)
    assert d.python == d.choice.release.python_min
    assert "outside the range" in next(x.reason for x in d.items if x.key == "python")
    assert decide(NO_GPU, Request(name="d", package="d", python="3.12")).python == "3.12"


def test_python_outside_every_torch_range_is_refused() -> None:
    with pytest.raises(UsageError, match="--python 3.99"):
        decide(NO_GPU, Request(name="d", package="d", python="3.99"))


def test_torch_option_pins_the_release() -> None:
    d = decide(H100_580, Request(name="d", package="d", torch="2.8"))
    assert d.choice.release.version == "2.8"
    with pytest.raises(UsageError, match="not in envcheck's compatibility data"):
        decide(H100_580, Request(name="d", package="d", torch="9.9"))


def test_explicit_cuda_the_driver_cannot_run_is_refused() -> None:
    with pytest.raises(UsageError, match="--cuda 13.0"):
        decide(A100_535, Request(name="d", package="d", cuda="13.0"))
    ok = decide(H100_580, Request(name="d", package="d", cuda="12.6"))
    assert ok.choice.variant.name == "cu126"


def test_cuda_cpu_forces_the_cpu_build_on_a_gpu_machine() -> None:
    d = decide(H100_580, Request(name="d", package="d", cuda="cpu"))
    assert d.choice.variant.cuda is None and "--cuda cpu" in d.choice.reason


def test_conda_forge_route_needs_a_driver_for_its_cuda_builds() -> None:
    forge = compat.conda_facts().forge_cuda_builds
    with pytest.raises(UsageError, match="--route pip"):
        decide(A100_535, Request(name="d", package="d", route="conda-forge"))
    d = decide(H100_580, Request(name="d", package="d", route="conda-forge"))
    # R580 fully supports CUDA 13.0: the newest of conda-forge's CUDA builds it runs.
    newest_runnable = max((c for c in forge if compat.cuda_runs_on("580.65.06", c)), key=compat.parse_version)
    assert (d.route, d.conda_cuda_max, newest_runnable) == ("conda-forge", "13.0", "13.0")


def test_every_decision_has_a_reason() -> None:
    for facts in (A100_535, H100_580, PASCAL_580, NO_GPU):
        items = decide(facts, REQ).items
        assert {"target", "python", "torch", "variant", "route", "base_image", "cpu_image"} <= {x.key for x in items}
        assert all(x.reason for x in items)


def test_probe_facts_are_mapped_and_the_oldest_gpu_decides() -> None:
    from datetime import date

    from envcheck.probes.gpu import GpuFacts
    from envcheck.probes.gpu_device import GpuDevice
    from envcheck.probes.host import HostFacts

    gpu = GpuFacts(child="ok", driver_version="565.57.01", cuda_driver_version="12.7",
                   devices=(GpuDevice(index=0, name="NVIDIA H100 80GB HBM3", compute_capability=(9, 0)),
                            GpuDevice(index=1, name="Tesla V100-SXM2-32GB", compute_capability=(7, 0))))
    host = HostFacts(today=date(2026, 11, 27), os_release={"ID": "ubuntu", "VERSION_ID": "22.04"})
    facts = from_probe_facts(gpu, host)
    assert (facts.driver, facts.cuda, facts.ubuntu) == ("565.57.01", "12.6", "22.04")  # 12.7 -> 12.6: no 12.7 wheel
    assert facts.capability == (7, 0) and facts.gpu_name == "Tesla V100-SXM2-32GB"
    assert facts.notes == ("GPUs of several architectures: planned for the oldest, sm_70",)
    d = decide(facts, REQ)
    # R565 fully supports CUDA 12.6; cu126 still has sm_70 kernels, and the newest release ships it.
    assert (d.choice.release.version, d.choice.variant.name) == (compat.torch_releases()[-1].version, "cu126")


def test_a_failed_gpu_probe_is_a_note_not_a_guess() -> None:
    facts = from_probe_facts(None, None, gpu_error="probe 'gpu' crashed", host_error="probe 'host' timed out")
    assert facts.ubuntu is None
    assert facts.notes == ("gpu probe: probe 'gpu' crashed", "host probe: probe 'host' timed out")


def test_no_capability_from_nvml_is_said() -> None:
    from envcheck.probes.gpu import GpuFacts

    gpu = GpuFacts(child="ok", init_error="LibRmVersionMismatch", module_version="550.54.15")
    facts = from_probe_facts(gpu, None)
    assert facts.driver == "550.54.15" and facts.capability is None
    assert facts.notes == ("compute capability unknown (LibRmVersionMismatch): the GPU architecture is not checked",)


def test_the_hosts_ubuntu_is_preferred_for_the_images_when_the_tag_exists() -> None:
    jammy = PlanFacts(driver="580.65.06", capability=(9, 0), ubuntu="22.04", python="3.10")
    d = decide(jammy, REQ)
    assert d.cuda is not None and "22.04" in compat.image_ubuntus(d.cuda)
    assert d.ubuntu == "22.04" and d.cuda_image is not None and d.cuda_image.tag.endswith("ubuntu22.04")
    # A release the data has no image for (Debian here, or an interim Ubuntu) falls back to the newest tag.
    other = decide(PlanFacts(driver="580.65.06", capability=(9, 0), ubuntu="25.10", python="3.12"), REQ)
    # CUDA 13.0 images exist for Ubuntu 22.04 and 24.04 (20.04 dropped): the newest is 24.04.
    assert (other.cuda, other.ubuntu, compat.image_ubuntus("13.0")) == ("13.0", "24.04", ("22.04", "24.04"))


def test_the_cpu_image_follows_the_cuda_images_ubuntu_not_the_newest_lts() -> None:
    # Debian here (no host Ubuntu): not ubuntu:26.04, for which no CUDA 12.x image exists, but the newest LTS
    # that this torch's verified CUDA images also exist for, so a later CUDA Dockerfile shares its Ubuntu.
    d = decide(PlanFacts(python="3.11"), REQ)
    cudas = [v.cuda for v in d.choice.release.variants if v.cuda and v.stable
             and (img := compat.cuda_image(v.cuda)) is not None and not img.unverified]
    assert cudas and all(d.ubuntu in compat.image_ubuntus(c) for c in cudas)
    assert d.ubuntu == "24.04"  # compat.md section 5: 13.0 images exist for 22.04 and 24.04 only
    reason = next(x.reason for x in d.items if x.key == "cpu_image")
    assert "CUDA images" in reason and "the CUDA image's Ubuntu" not in reason  # there is no CUDA image here
    # A host that runs an Ubuntu whose python3 fits is followed, even the newest.
    for host in ("26.04", "22.04"):
        assert decide(PlanFacts(python="3.12", ubuntu=host), REQ).ubuntu == host


def test_minor_compat_image_says_how_to_get_past_nvidia_require_cuda() -> None:
    from envcheck.scaffold.plan import plan_project

    v100 = PlanFacts(driver="470.82.01", cuda="11.4", capability=(7, 0), gpu_name="Tesla V100-SXM2-32GB",
                     python="3.11")
    assert decide(v100, REQ).choice.variant.cuda is None  # R470: nothing with full support, so the CPU build
    req = Request(name="demo", package="demo", minor_compat=True)
    d = decide(v100, req)
    # R470 is past the 11.x family minimum (450.80.02): torch 2.7's cu118 is the newest 11.x wheel, and it has
    # sm_70 kernels; CUDA 11.8 needs 520.61.05 for full support, so the image's requirement must be waived.
    assert d.minor_compat_used and d.cuda_image is not None
    assert (d.choice.release.version, d.cuda, d.cuda_image.tag) == ("2.7", "11.8", "11.8.0-base-ubuntu22.04")
    assert not compat.cuda_runs_on("470.82.01", d.cuda)
    assert "NVIDIA_DISABLE_REQUIRE=1" in d.base_reason and f"cuda>={d.cuda}" in d.base_reason
    assert dict((x.key, x.value) for x in d.items)["minor_compat"] == "used"
    files = plan_project("/tmp/demo", req, v100).files
    assert "docker run --rm --gpus all -e NVIDIA_DISABLE_REQUIRE=1 demo:cuda" in files["README.md"]
    # R595 fully supports CUDA 13.2, the newest stable variant: nothing to disable, the flag is not needed.
    r595 = PlanFacts(driver="595.45.04", cuda="13.2", capability=(9, 0), python="3.12")
    plain = decide(r595, req)
    assert plain.cuda is not None and compat.cuda_runs_on("595.45.04", plain.cuda)
    assert not plain.minor_compat_used and "NVIDIA_DISABLE_REQUIRE" not in plain.base_reason
    assert dict((x.key, x.value) for x in plain.items)["minor_compat"] == "allowed, not needed"
    assert "-e NVIDIA_DISABLE_REQUIRE" not in plan_project("/tmp/demo", req, r595).files["README.md"]
    # 13.2 tags are attested by public Dockerfiles only, not by NVIDIA's tag list: the weakly attested tag comes
    # with the command that checks it.
    assert plain.cuda_image is not None and (plain.cuda, plain.cuda_image.tag, plain.cuda_image.unverified) == (
        "13.2", "13.2.2-base-ubuntu24.04", True)
    assert f"docker manifest inspect nvidia/cuda:{plain.cuda_image.tag}" in plain.base_reason


def test_conda_forge_pin_stays_in_the_chosen_variants_cuda_major() -> None:
    # A GTX 1080 on R580 gets cu126 (CUDA 13 dropped Pascal): its conda-forge build must be a 12.x one too.
    d = decide(PASCAL_580, Request(name="d", package="d", route="conda-forge"))
    assert d.choice.variant.name == "cu126"
    assert d.conda_cuda_max is not None and compat.parse_version(d.conda_cuda_max)[0] == 12
    assert d.conda_cuda_max in compat.conda_facts().forge_cuda_builds
    h100 = decide(H100_580, Request(name="d", package="d", route="conda-forge"))
    assert h100.conda_cuda_max == "13.0"


def test_conda_forge_through_minor_compat_only_when_asked() -> None:
    r570 = PlanFacts(driver="570.86.10", cuda="12.8", capability=(12, 0), gpu_name="NVIDIA GeForce RTX 5090",
                     python="3.12")
    with pytest.raises(UsageError, match="--minor-compat"):
        decide(r570, Request(name="d", package="d", route="conda-forge"))  # 12.9 > 12.8: not full support
    d = decide(r570, Request(name="d", package="d", route="conda-forge", minor_compat=True))
    assert d.conda_cuda_max == "12.9" and "minor-version compatibility" in d.route_reason
    assert dict((x.key, x.value) for x in d.items)["minor_compat"] == "used"


def test_a_crashed_nvml_child_with_no_driver_files_is_said_not_hidden() -> None:
    from envcheck.probes.gpu import GpuFacts

    gpu = GpuFacts(child="crashed", child_error="exited 1: AttributeError: boom")
    facts = from_probe_facts(gpu, None)
    assert facts.driver is None
    assert any("NVML child crashed" in n and "AttributeError: boom" in n for n in facts.notes)
    # No note where NVML answered that there is no driver: that is a fact, not a failure to check.
    assert from_probe_facts(GpuFacts(child="ok", init_error="LibraryNotFound"), None).notes == ()


@pytest.mark.parametrize(("torch", "spec"), [("2.1", "numpy<2"), ("2.2", "numpy<2"), ("2.3", "numpy>=2,<3"),
                                              ("2.14", "numpy>=2,<3")])
def test_numpy_is_kept_below_2_for_torch_built_against_numpy_1(torch: str, spec: str) -> None:
    import yaml

    from envcheck.scaffold.plan import plan_project

    release = compat.torch_release(torch)
    assert release is not None
    files = plan_project("/tmp/demo", Request(name="demo", package="demo", torch=torch, python="3.11"), NO_GPU).files
    assert f'torch=={release.latest_patch} "{spec}"' in files["Dockerfile.cpu"]
    deps = yaml.safe_load(files["environment.yml"])["dependencies"]
    conda_numpy = "numpy<2" if spec == "numpy<2" else "numpy"
    assert conda_numpy in deps
    assert f'dependencies = ["torch", "{conda_numpy}"]' in files["pyproject.toml"]


def test_torch_patches_and_builds_are_explained_or_refused() -> None:
    newest = compat.torch_releases()[-1]
    major, minor, patch = compat.parse_version(newest.latest_patch)
    with pytest.raises(UsageError, match=f"latest {newest.version} patch is {newest.latest_patch}"):
        decide(NO_GPU, Request(name="d", package="d", torch=f"{major}.{minor}.{patch + 1}"))
    if patch > 0:  # an older patch is served by the latest, and the reason says so
        d = decide(NO_GPU, Request(name="d", package="d", torch=f"{major}.{minor}.0"))
        torch = next(x for x in d.items if x.key == "torch")
        assert torch.value == newest.latest_patch and f"--torch {major}.{minor}.0 asked" in torch.reason
    with pytest.raises(UsageError, match=r"builds: cpu, cu"):  # no cu118 in a recent release: list what there is
        decide(NO_GPU, Request(name="d", package="d", torch=newest.version, cuda="11.8"))


def test_a_driver_older_than_every_toolkit_is_said_in_words() -> None:
    d = decide(NO_GPU, Request(name="d", package="d", driver="100.1"))
    assert d.choice.variant.cuda is None
    assert "None" not in d.choice.reason and "older than every CUDA toolkit" in d.choice.reason
