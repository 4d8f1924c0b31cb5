"""Plan a project: decisions plus every file's text, ``{relative path: text}``, touching no disk, so a dry run
and a refusal to overwrite can show the whole plan before envcheck.scaffold.write puts anything in place.

The templates are envcheck's own (``templates/`` and ``dockerfiles/``); the user's values reach them only as
data. Dockerfile and Dockerfile.cpu come from one template rendered twice, so by construction they differ
only in the base image and the torch install line.
"""

from __future__ import annotations

import json
import re
from dataclasses import field
from typing import Any, Mapping

from envcheck import __version__, compat
from envcheck.frozen import frozen
from envcheck.project_record import RECORD_PATH, ProjectRecord, RecordedDecision, RecordedHost
from envcheck.scaffold import render
from envcheck.scaffold.decide import Decisions, Request, decide
from envcheck.scaffold.facts import PlanFacts

PARTS = ("project", "environment", "dockerfile")
NOTEBOOK_PATH = "notebooks/01-hello-pytorch.ipynb"
UID = 10001  # the image user's uid: not root, and clear of Ubuntu 24.04's uid-1000 `ubuntu` user


@frozen
class Plan:
    target: str
    request: Request
    facts: PlanFacts
    decisions: Decisions
    files: Mapping[str, str] = field(default_factory=dict)

    def to_json(self, *, replaces: tuple[str, ...] = (), dry_run: bool = False) -> dict[str, Any]:
        """The plan as `--dry-run --json` prints it: every file and every decision with its reason."""
        return {
            "schema": "envcheck.scaffold-plan",
            "schema_version": 1,
            "envcheck_version": __version__,
            "data_version": compat.DATA_VERSION,
            "dry_run": dry_run,
            "target": self.target,
            "name": self.request.name,
            "package": self.request.package,
            "planned_for": self.decisions.planned_for,
            "host": self.facts.to_json(),
            "decisions": [{"key": d.key, "value": d.value, "reason": d.reason} for d in self.decisions.items],
            "files": [{"path": path, "bytes": len(text.encode("utf-8")), "replaces": path in replaces}
                      for path, text in sorted(self.files.items())],
            "replaces": list(replaces),
            "templates": render.template_origin(),
        }


def context(req: Request, facts: PlanFacts, d: Decisions) -> dict[str, Any]:
    """Everything the templates may use; user values (name, package) are plain strings in it."""
    choice = d.choice
    return {
        "name": req.name,
        "package": req.package,
        "image_tag": re.sub(r"[-_.]+", "-", req.name).lower(),  # a valid Docker repository name
        "envcheck_version": __version__,
        "data_version": compat.DATA_VERSION,
        "planned_for": d.planned_for,
        "python": d.python,
        "python_min": choice.release.python_min,
        "torch_release": choice.release.version,
        "torch_version": choice.release.latest_patch,
        "torch_reason": choice.reason,
        # torch wheels before 2.3 were built against NumPy 1 and cannot use NumPy 2 (pytorch/pytorch#107302; the
        # NumPy 2 build fix, #121880, went into release/2.3).
        "numpy_spec": "numpy<2" if compat.parse_version(choice.release.version) < (2, 3) else "numpy>=2,<3",
        "pytest_spec": "pytest>=8",  # pyproject's test extra and the images' pytest: one requirement
        "variant": choice.variant.name,
        "cuda": choice.variant.cuda,
        "index_url": compat.pip_index_url(choice.variant.name),
        "route": d.route,
        "route_reason": d.route_reason,
        "conda_cuda_max": d.conda_cuda_max,
        "jupyter": req.jupyter,
        "docker": req.docker,
        "cuda_dockerfile": d.cuda_image is not None,
        # Minor-version compatibility: the image's NVIDIA_REQUIRE_CUDA asks more than the driver fully supports.
        "gpu_run": "--gpus all -e NVIDIA_DISABLE_REQUIRE=1" if d.minor_compat_used else "--gpus all",
        "decisions": [{"key": x.key, "value": x.value, "reason": x.reason} for x in d.items],
        "ubuntu": d.ubuntu,
        "image_python": d.image_python,
        "uid": UID,
    }


def _dockerfile(ctx: Mapping[str, Any], d: Decisions, flavor: str) -> str:
    if flavor == "cuda":
        assert d.cuda_image is not None
        extra = {"flavor": "cuda", "flavor_title": "CUDA", "dockerfile": "Dockerfile",
                 "base_image": f"nvidia/cuda:{d.cuda_image.tag}", "base_reason": d.base_reason}
    else:
        why = next((x.reason.removeprefix("Dockerfile.cpu: ") for x in d.items if x.key == "cpu_image"), "")
        extra = {"flavor": "cpu", "flavor_title": "CPU", "dockerfile": "Dockerfile.cpu",
                 "base_image": f"ubuntu:{d.ubuntu}", "base_reason": f"ubuntu:{d.ubuntu}: {why}".rstrip(": "),
                 "variant": d.cpu.name, "index_url": compat.pip_index_url(d.cpu.name),
                 "torch_reason": f"the CPU build of torch {d.choice.release.latest_patch}, no CUDA libraries"}
    return render.render("dockerfiles", "Dockerfile.j2", {**ctx, **extra})


def notebook(source: str) -> str:
    """A percent-format script (``# %%`` cells, ``# %% [markdown]``) as nbformat 4.5 JSON."""
    cells: list[dict[str, Any]] = []
    kind, lines = "", list[str]()

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind and text:
            if kind == "markdown":
                text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            body = [line + "\n" for line in text.splitlines()]
            body[-1] = body[-1].rstrip("\n")
            cell: dict[str, Any] = {"cell_type": kind, "id": f"cell-{len(cells) + 1}", "metadata": {}, "source": body}
            if kind == "code":
                cell.update(execution_count=None, outputs=[])
            cells.append(cell)

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    document = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def record(req: Request, facts: PlanFacts, d: Decisions, created: str) -> ProjectRecord:
    """The project record: the facts, decisions and data version `project.drift` compares with later."""
    return ProjectRecord(
        envcheck_version=__version__,
        data_version=compat.DATA_VERSION,
        created=created,
        name=req.name,
        package=req.package,
        planned_for=d.planned_for,
        planned_driver=req.driver,
        host=RecordedHost.from_json(facts.to_json()),
        torch=d.choice.release.latest_patch,
        variant=d.choice.variant.name,
        cuda=d.cuda,
        decisions=tuple(RecordedDecision(x.key, x.value, x.reason) for x in d.items),
        planned_gpu=f"{req.gpu[0]}.{req.gpu[1]}" if req.gpu is not None else None,
    )


def _project_files(ctx: Mapping[str, Any], req: Request) -> dict[str, str]:
    files: dict[str, str] = {}
    for rel in render.list_templates("templates", "project"):
        out = rel.removeprefix("project/").removesuffix(render.SUFFIX)
        out = "/".join("." + p[4:] if p.startswith("dot-") else p for p in out.split("/"))
        files[out.replace("__package__", req.package)] = render.render("templates", rel, ctx)
    return files


def plan_project(target: str, req: Request, facts: PlanFacts, *, part: str = "project", created: str = "") -> Plan:
    """The whole plan for ``part``: a project, or just its environment.yml or Dockerfiles."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    d = decide(facts, req)
    ctx = context(req, facts, d)
    files: dict[str, str] = {}
    if part == "project":
        files.update(_project_files(ctx, req))
        if req.jupyter:
            files[NOTEBOOK_PATH] = notebook(render.render("templates", "notebook/01-hello-pytorch.py.j2", ctx))
        files[RECORD_PATH] = record(req, facts, d, created).to_text()
    if part in ("project", "environment"):
        files["environment.yml"] = render.render("templates", "environment.yml.j2", ctx)
    if part == "dockerfile" or (part == "project" and req.docker):
        if d.cuda_image is not None:
            files["Dockerfile"] = _dockerfile(ctx, d, "cuda")
        files["Dockerfile.cpu"] = _dockerfile(ctx, d, "cpu")
        if part == "project":
            files[".dockerignore"] = render.render("dockerfiles", "dockerignore.j2", ctx)
    return Plan(target=target, request=req, facts=facts, decisions=d, files=files)
