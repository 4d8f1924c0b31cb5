"""Decisions for a scaffold plan: pure functions of the PlanFacts, the request and envcheck.compat (pure, so
the tests pin every decision on facts built by hand).

Every decision carries its reason in words. The data (driver minimums, torch variants and their
architectures, image tags, Ubuntu's Pythons, conda-forge's CUDA builds) comes only from envcheck.compat.
"""

from __future__ import annotations

from envcheck import compat
from envcheck.compat_data import ubuntu_rows
from envcheck.frozen import frozen
from envcheck.model import UsageError
from envcheck.scaffold.facts import PlanFacts

ROUTES = ("pip", "conda-forge")


@frozen
class Request:
    """What the user asked for, already validated (envcheck.scaffold.validate)."""

    name: str
    package: str
    python: str | None = None
    torch: str | None = None
    cuda: str = "auto"  # auto | cpu | X.Y
    driver: str | None = None  # --driver: plan for another machine
    gpu: tuple[int, int] | None = None  # --gpu: the compute capability to plan for instead of the detected one
    gpu_label: str | None = None  # --gpu as the user named it ("A100", "sm_80"), for the plan's words
    route: str | None = None  # None: the default (pip)
    minor_compat: bool = False
    jupyter: bool = True
    docker: bool = True
    git: bool = True


@frozen
class Decision:
    key: str
    value: str
    reason: str


@frozen
class Decisions:
    choice: compat.TorchChoice  # the torch build environment.yml and Dockerfile install
    cpu: compat.TorchVariant  # the cpu variant of the same release, for Dockerfile.cpu
    python: str
    route: str
    route_reason: str
    ubuntu: str  # the images' Ubuntu
    image_python: str
    cuda_image: compat.CudaImage | None  # None: no CUDA Dockerfile (CPU plan, or no known tag)
    base_reason: str
    conda_cuda_max: str | None
    planned_for: str
    items: tuple[Decision, ...]
    minor_compat_used: bool = False  # the CUDA build runs on the driver only through minor-version compatibility
    warnings: tuple[str, ...] = ()  # what the plan could not give that the machine would seem to want

    @property
    def cuda(self) -> str | None:
        return self.choice.variant.cuda


def _xy(version: str) -> tuple[int, int]:
    parts = compat.parse_version(version)
    return parts[0], parts[1] if len(parts) > 1 else 0


def _fits(release: compat.TorchRelease, python: str) -> bool:
    return _xy(release.python_min) <= _xy(python) <= _xy(release.python_max)


def _target(facts: PlanFacts, req: Request) -> tuple[str | None, tuple[int, int] | None, str]:
    """The driver and capability the plan is for, and how to say whose they are."""
    sm = f"sm_{req.gpu[0]}{req.gpu[1]}" if req.gpu is not None else ""
    asked = (f"{req.gpu_label} ({sm}, --gpu)" if req.gpu_label else f"{sm} (--gpu)") if sm else None
    if req.driver:
        gpu = f"its GPU {asked}" if asked else "its GPU is not known here"
        return req.driver, req.gpu, f"a machine with NVIDIA driver {req.driver} (--driver; {gpu})"
    if facts.driver:
        if asked:
            return facts.driver, req.gpu, f"a machine with this machine's driver {facts.driver} and GPU {asked}"
        gpu = facts.gpu_name or "an NVIDIA GPU"
        return facts.driver, facts.capability, f"this machine ({gpu}, driver {facts.driver})"
    return None, None, "this machine (no NVIDIA driver found: CPU only)"


def _releases(req: Request) -> list[compat.TorchRelease]:
    releases = list(reversed(compat.torch_releases()))
    if req.torch:
        wanted = compat.torch_release(req.torch)
        if wanted is None:
            known = ", ".join(r.version for r in compat.torch_releases())
            raise UsageError(f"--torch {req.torch}: not in envcheck's compatibility data ({known})")
        if compat.parse_version(req.torch) > compat.parse_version(wanted.latest_patch):
            raise UsageError(f"--torch {req.torch}: not released as far as envcheck's data knows (the latest "
                             f"{wanted.version} patch is {wanted.latest_patch}); pass --torch {wanted.version}")
        releases = [wanted]
    if req.python:
        fitting = [r for r in releases if _fits(r, req.python)]
        if not fitting:
            ranges = "; ".join(f"{r.version}: {r.python_min}-{r.python_max}" for r in releases[:3])
            raise UsageError(f"--python {req.python}: no torch release here supports it ({ranges})")
        releases = fitting
    return releases


def _explicit_cuda(req: Request, driver: str | None, capability: tuple[int, int] | None) -> compat.TorchChoice:
    """``--cuda X.Y``: the newest release with that variant which the driver runs and the GPU's arch is in."""
    misses: list[str] = []
    for release in _releases(req):
        for variant in release.variants:
            if variant.cuda != req.cuda:
                continue
            label = "" if variant.stable else " (experimental in this release)"
            if driver is None:
                why = "no driver known, so not checked against one"
            elif compat.cuda_runs_on(driver, req.cuda):
                why = f"driver {driver} fully supports CUDA {req.cuda} (needs >= {compat.cuda_min_driver(req.cuda)})"
            elif req.minor_compat and compat.cuda_runs_on(driver, req.cuda, minor_compat=True):
                why = (f"driver {driver} runs CUDA {req.cuda} only through minor-version compatibility "
                       "(--minor-compat): a limited feature set, PTX JIT of newer PTX can fail")
            else:
                misses.append(f"torch {release.version} {variant.name}: driver {driver} lacks CUDA {req.cuda}")
                continue
            if capability is not None and not compat.arch_supported(variant, capability):
                sm = f"sm_{capability[0]}{capability[1]}"
                misses.append(f"torch {release.version} {variant.name} has no kernels for {sm}")
                continue
            reason = f"torch {release.latest_patch} {variant.name}{label}: --cuda {req.cuda} asked; {why}"
            return compat.TorchChoice(release, variant, reason)
    best = compat.cuda_full_support(driver) if driver else None
    hint = f"; driver {driver} fully supports CUDA up to {best}" if best else ""
    if misses:
        detail = f" ({misses[0]})"
    else:  # no release in reach has a build for that CUDA at all: say which builds there are
        names = ", ".join(v.name for v in _releases(req)[0].variants)
        detail = f" (torch {_releases(req)[0].latest_patch} builds: {names})"
    raise UsageError(f"--cuda {req.cuda}: no torch build in the data fits{detail}{hint}; try --cuda auto")


def choose_torch(facts: PlanFacts, req: Request) -> tuple[compat.TorchChoice, str]:
    """The torch build and who it is for."""
    driver, capability, planned_for = _target(facts, req)
    releases = _releases(req)
    if req.cuda not in ("auto", "cpu"):
        return _explicit_cuda(req, driver, capability), planned_for
    if req.cuda == "auto" and driver is not None:
        allowed = {r.version for r in releases}
        picks = compat.torch_choices(driver, capability, minor_compat=req.minor_compat, python=req.python)
        match = next((c for c in picks if c.release.version in allowed), None)
        if match is not None:
            return match, planned_for
        arch = f" for sm_{capability[0]}{capability[1]}" if capability else ""
        full = compat.cuda_full_support(driver)
        reason = (f"no CUDA build of torch {releases[0].version if req.torch else ''}".rstrip()
                  + f" runs on driver {driver}{arch} ("
                  + (f"full support up to CUDA {full}" if full else "older than every CUDA toolkit in the data") + ")"
                  + ("" if req.minor_compat else "; --minor-compat may widen the choice") + ", so the CPU build")
    elif req.cuda == "cpu":
        reason = "--cuda cpu asked for the CPU build"
    else:
        reason = "no NVIDIA driver found and no --driver given, so the CPU build"
    release = releases[0]
    cpu = next(v for v in release.variants if v.cuda is None)
    return compat.TorchChoice(release, cpu, f"torch {release.latest_patch} cpu: {reason}"), planned_for


def choose_python(facts: PlanFacts, req: Request, release: compat.TorchRelease) -> Decision:
    span = f"torch {release.version} supports Python {release.python_min}-{release.python_max}"
    if req.python:
        return Decision("python", req.python, f"--python {req.python} asked; {span}")
    host = facts.python
    if _fits(release, host):
        return Decision("python", host, f"the Python envcheck runs on here; {span}")
    clamped = release.python_min if _xy(host) < _xy(release.python_min) else release.python_max
    return Decision("python", clamped, f"this machine's Python {host} is outside the range; {span}")


def choose_ubuntu(release: compat.TorchRelease, cuda: str | None, host_ubuntu: str | None = None) -> tuple[str, str]:
    """The images' Ubuntu: this machine's when it qualifies, else the newest one the CUDA tag exists for (any LTS
    for CPU), and always one whose python3 torch supports."""
    if cuda is not None:
        candidates = list(reversed(compat.image_ubuntus(cuda)))
        where = f"the nvidia/cuda {cuda} tags exist for Ubuntu {', '.join(compat.image_ubuntus(cuda))}"
    else:
        # No CUDA image needed, but the newest LTS is not the wisest default: prefer one that the verified
        # nvidia/cuda tags of this torch's stable CUDA variants also exist for (a later `generate dockerfile
        # --driver ...` then shares the base's Ubuntu and Python); 26.04 has no CUDA 12.x image at all.
        lts = [row.version for row in reversed(ubuntu_rows()) if row.lts]
        cudas = sorted({v.cuda for v in release.variants if v.cuda and v.stable
                        and (img := compat.cuda_image(v.cuda)) is not None and not img.unverified},
                       key=compat.parse_version)
        shared = [u for u in lts if cudas and all(u in compat.image_ubuntus(c) for c in cudas)]
        candidates = shared + [u for u in lts if u not in shared]
        where = (f"Ubuntu {shared[0]} is the newest LTS that torch {release.version}'s CUDA images "
                 f"(nvidia/cuda {', '.join(cudas)}) also exist for" if shared else "a CPU image")
    if host_ubuntu in candidates:
        candidates.remove(host_ubuntu)
        candidates.insert(0, host_ubuntu)
        where = (where if cuda is not None else "a CPU image") + f"; this machine runs Ubuntu {host_ubuntu}"
    for version in candidates:
        row = compat.ubuntu_release(version)
        if row is not None and _fits(release, row.default_python):
            return version, (f"{where}; Ubuntu {version}'s python3 is {row.default_python}, inside torch "
                             f"{release.version}'s {release.python_min}-{release.python_max}")
    fallback = candidates[0] if candidates else "24.04"
    return fallback, f"{where}; no candidate's python3 fits torch {release.version}: the image may need another Python"


def choose_route(req: Request, choice: compat.TorchChoice, driver: str | None) -> tuple[str, str, str | None]:
    """(route, reason, the highest CUDA a conda-forge CUDA build may use)."""
    variant = choice.variant
    if (req.route or "pip") == "pip":
        why = "--route pip asked" if req.route else "the default"
        return "pip", (f"{why}: conda gives python and pip, and pip installs the official {variant.name} wheel from "
                       f"{compat.pip_index_url(variant.name)}, the same build the Dockerfile installs"), None
    forge = compat.conda_facts().forge_cuda_builds
    if variant.cuda is None:
        return "conda-forge", "--route conda-forge asked: conda-forge's CPU build of pytorch", None
    # Only builds of the chosen variant's CUDA major: the variant was chosen for the GPU's architecture too, and
    # CUDA 13 dropped Maxwell, Pascal and Volta (a GTX 1080 on R580 gets cu126: its conda-forge build is 12.x).
    major = _xy(variant.cuda)[0]
    family = [c for c in forge if _xy(c)[0] == major]
    best = compat.cuda_full_support(driver) if driver else None
    full = [c for c in family if best is not None and _xy(c) <= _xy(best)]
    minor = [c for c in family if req.minor_compat and driver and compat.cuda_runs_on(driver, c, minor_compat=True)]
    if driver is None:
        usable, why = family, f"no driver known, so the CUDA {major}.x builds"
    elif full:
        usable, why = full, f"driver {driver} fully supports CUDA up to {best}"
    elif minor:
        usable, why = minor, (f"driver {driver} fully supports only CUDA {best}; CUDA {minor[-1]} runs through "
                              "minor-version compatibility (--minor-compat) with a limited feature set")
    else:
        raise UsageError(
            f"--route conda-forge: conda-forge's recent pytorch CUDA builds are for CUDA {' and '.join(forge)}, "
            f"but driver {driver} fully supports CUDA up to {best} and torch's {variant.name} needs a CUDA "
            f"{major}.x build: use --route pip (the official {variant.name} wheel), --minor-compat or --cuda cpu")
    pin = usable[-1]
    return "conda-forge", (f"--route conda-forge asked: conda-forge builds pytorch for CUDA {', '.join(forge)}; "
                           f"cuda-version<={pin}: {why} (conda-forge's GPU architecture list is its own: "
                           "check torch.cuda.get_arch_list() once installed)"), pin


def decide(facts: PlanFacts, req: Request) -> Decisions:
    choice, planned_for = choose_torch(facts, req)
    driver = req.driver or facts.driver
    release, variant = choice.release, choice.variant
    python = choose_python(facts, req, release)
    route, route_reason, conda_cuda_max = choose_route(req, choice, driver)
    cpu = next(v for v in release.variants if v.cuda is None)
    minor_compat_used = bool(variant.cuda and driver and not compat.cuda_runs_on(driver, variant.cuda))
    ubuntu, ubuntu_reason = choose_ubuntu(release, variant.cuda, None if req.driver else facts.ubuntu)
    row = compat.ubuntu_release(ubuntu)
    image_python = row.default_python if row else "unknown"
    # The Dockerfile installs the PyTorch-index Linux wheel, which brings the CUDA runtime, cuBLAS, cuDNN and NCCL
    # itself (as nvidia-*-cu1x pip dependencies, or inside the wheel for older releases): a cudnn-runtime base would
    # ship those libraries twice. Measured from the wheels as published (their zip directories, 2026-12-02): the
    # CUDA libraries torch 2.15.0's Linux x86_64 wheel requires unpack to 3.2 GB, 2.7 GB of them the libraries a
    # cudnn-runtime image also installs (cuDNN 0.89, cuBLAS 0.56, cuFFT 0.29, cuSOLVER 0.28, NCCL 0.25, cuSPARSE
    # 0.17, NVRTC 0.12, nvJitLink 0.12 GB, the CUDA runtime 0.01): about that much less per image. The `base`
    # flavour still sets NVIDIA_REQUIRE_CUDA (the driver guard) and the NVIDIA_* variables the container toolkit
    # reads (https://hub.docker.com/r/nvidia/cuda,
    # https://gitlab.com/nvidia/container-images/cuda/-/blob/master/doc/supported-tags.md).
    image = compat.cuda_image(variant.cuda, ubuntu, flavor="base", cudnn=False) if variant.cuda else None
    if image is not None:
        weak = (f" (this tag rests on weaker evidence: `docker manifest inspect nvidia/cuda:{image.tag}` says whether "
                "it exists)" if image.unverified else "")
        base_reason = (f"nvidia/cuda:{image.tag}: the latest patch of CUDA {variant.cuda} (older patches are deleted "
                       f"from Docker Hub), base flavour: the {variant.name} wheel brings its own CUDA runtime, cuBLAS, "
                       f"cuDNN and NCCL, so a cudnn-runtime image would hold them twice; the base image keeps the "
                       f"driver check (NVIDIA_REQUIRE_CUDA){weak}; {ubuntu_reason}")
        if minor_compat_used:
            base_reason += (f"; the image requires cuda>={variant.cuda} (NVIDIA_REQUIRE_CUDA), more than driver "
                            f"{driver} fully supports: where the NVIDIA Container Toolkit refuses it ('unsatisfied "
                            "condition'), run with -e NVIDIA_DISABLE_REQUIRE=1, as README.md does")
    elif variant.cuda:
        base_reason = f"no nvidia/cuda tag is known for CUDA {variant.cuda}: no CUDA Dockerfile"
    else:
        base_reason = "a CPU plan: only Dockerfile.cpu"
    warnings: list[str] = []
    if driver is not None and variant.cuda is None and req.cuda == "auto":
        # A GPU machine planned CPU-only is a surprise worth a line of its own, not only a reason in the list.
        warnings.append(f"a CPU-only plan for a machine with NVIDIA driver {driver}: "
                        f"{choice.reason.split(': ', 1)[-1]}; a newer driver would allow a CUDA build")
    items = [
        Decision("target", planned_for, _target_reason(req)),
        Decision("python", python.value, python.reason),
        Decision("torch", release.latest_patch, choice.reason + _python_cap(req, release) + (
            f"; --torch {req.torch} asked: the release's latest patch, {release.latest_patch}, is installed (patch "
            "releases fix bugs only)" if req.torch and req.torch not in (release.version, release.latest_patch)
            else "")),
        Decision("variant", variant.name, f"CUDA {variant.cuda}" if variant.cuda else "CPU only"),
        Decision("route", route, route_reason),
    ]
    if req.docker:
        items.append(Decision("base_image", f"nvidia/cuda:{image.tag}" if image else "none", base_reason))
        same = "the CUDA image's Ubuntu, " if image is not None else ""
        items.append(Decision("cpu_image", f"ubuntu:{ubuntu}",
                              f"Dockerfile.cpu: {same}the {cpu.name} wheel; {ubuntu_reason}"))
        items.append(Decision("image_python", image_python, f"Ubuntu {ubuntu}'s python3, in a venv at /opt/venv"))
    if req.minor_compat:
        forge_minor = bool(conda_cuda_max and driver and not compat.cuda_runs_on(driver, conda_cuda_max))
        items.append(Decision("minor_compat", "used" if minor_compat_used or forge_minor else "allowed, not needed",
                              "--minor-compat: a CUDA build of the driver's major family that the driver runs only "
                              "with a limited feature set may be chosen (pytorch/pytorch#130684)"))
    for key, flag in (("jupyter", req.jupyter), ("docker", req.docker), ("git", req.git)):
        items.append(Decision(key, "yes" if flag else "no", "the default" if flag else f"--no-{key} asked"))
    return Decisions(choice=choice, cpu=cpu, python=python.value, route=route, route_reason=route_reason,
                     ubuntu=ubuntu, image_python=image_python, cuda_image=image, base_reason=base_reason,
                     conda_cuda_max=conda_cuda_max, planned_for=planned_for, items=tuple(items),
                     minor_compat_used=minor_compat_used, warnings=tuple(warnings))


def _target_reason(req: Request) -> str:
    if req.driver:
        return "--driver names another machine" + (" and --gpu its GPU" if req.gpu else "")
    return "--gpu names the GPU; the driver is probed on this machine" if req.gpu else "probed on this machine"


def _python_cap(req: Request, release: compat.TorchRelease) -> str:
    """Why --python held torch back, when a newer release exists that drops that Python."""
    if not req.python or req.torch:
        return ""
    newer = [r for r in compat.torch_releases()
             if compat.parse_version(r.version) > compat.parse_version(release.version) and not _fits(r, req.python)]
    if not newer:
        return ""
    dropped = min(newer, key=lambda r: compat.parse_version(r.version))
    side = "dropped" if _xy(req.python) < _xy(dropped.python_min) else "does not yet support"
    return (f"; torch {dropped.version} {side} Python {req.python}; {release.latest_patch} is the newest for "
            f"{req.python}")
