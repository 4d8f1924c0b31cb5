"""`envcheck generate` and the planning inputs as a user meets them: the project's record decides, --replan shows
what changes, --gpu names another machine's GPU, and --force touches only files whose content differs. Every
test runs the real CLI (envcheck.cli.main) in a temporary folder with the real writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.scaffold_helpers import envcheck_main

from envcheck import compat
from envcheck.project_record import RECORD_PATH
from envcheck.scaffold.decide import Request, decide
from envcheck.scaffold.facts import PlanFacts


def _scaffold(path: Path, *args: str) -> None:
    ran = envcheck_main(["scaffold", str(path), "--no-git", *args])
    assert ran.code == 0, ran.err


def test_generate_uses_the_recorded_driver_and_rewrites_nothing_identical(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    _scaffold(lab, "--driver", "535.104.05")
    before = (lab / "environment.yml").read_text()
    ran = envcheck_main(["generate", "environment", str(lab), "--force"])
    assert ran.code == 0, ran.err
    assert "using the decisions recorded in .envcheck/project.json: torch " in ran.out
    assert "planned for a machine with NVIDIA driver 535.104.05" in ran.out
    assert "Unchanged (same content, not rewritten): environment.yml" in ran.out
    assert "Replacing" not in ran.out
    assert (lab / "environment.yml").read_text() == before
    assert not (lab / ".envcheck" / "backup").exists()  # nothing replaced, so nothing backed up


def test_generate_follows_the_recorded_plan_when_the_file_differs(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    _scaffold(lab, "--driver", "535.104.05")
    record = json.loads((lab / RECORD_PATH).read_text())
    (lab / "environment.yml").write_text("name: edited\n")
    ran = envcheck_main(["generate", "environment", str(lab), "--force", "--json"])
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["replaces"] == ["environment.yml"] and summary["unchanged"] == []
    decisions = {d["key"]: d["value"] for d in summary["decisions"]}
    assert (decisions["torch"], decisions["variant"]) == (record["torch"], record["variant"])
    assert f"torch=={record['torch']}" in (lab / "environment.yml").read_text()


def test_replan_shows_each_changed_decision_before_writing(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    _scaffold(lab, "--driver", "535.104.05")
    record = json.loads((lab / RECORD_PATH).read_text())
    ran = envcheck_main(["generate", "environment", str(lab), "--replan", "--dry-run", "--cuda", "cpu"])
    assert ran.code == 0, ran.err
    head, _, plan = ran.out.partition("Plan for ")
    assert "--replan: planned for this machine; changes from .envcheck/project.json (old -> new):" in head
    assert f"  variant: {record['variant']} -> cpu" in head
    assert "using the decisions recorded" not in ran.out
    assert plan  # the changes come before the plan


def test_a_folder_without_a_record_is_said_and_planned_for_this_machine(tmp_path: Path) -> None:
    ran = envcheck_main(["generate", "environment", str(tmp_path), "--dry-run"])
    assert ran.code == 0, ran.err
    assert "Note: no .envcheck/project.json in this folder: planned for this machine and the options given" in ran.out


def test_an_unreadable_record_is_said(tmp_path: Path) -> None:
    (tmp_path / ".envcheck").mkdir()
    (tmp_path / RECORD_PATH).write_text("{not json")
    ran = envcheck_main(["generate", "environment", str(tmp_path), "--dry-run"])
    assert ran.code == 0, ran.err
    assert f"Note: could not read {tmp_path / RECORD_PATH}: " in ran.out


@pytest.mark.parametrize(("gpu", "said"), [("8.0", "sm_80 (--gpu)"), ("sm_90", "sm_90 (--gpu)"),
                                           ("A100", "A100 (sm_80, --gpu)"), ("RTX 4090", "RTX 4090 (sm_89, --gpu)"),
                                           ("t4", "t4 (sm_75, --gpu)")])
def test_gpu_names_the_architecture_the_plan_is_for(tmp_path: Path, gpu: str, said: str) -> None:
    ran = envcheck_main(["generate", "environment", str(tmp_path), "--driver", "570.124.06", "--gpu", gpu,
                         "--dry-run", "--json"])
    assert ran.code == 0, ran.err
    decisions = {d["key"]: d for d in json.loads(ran.out)["decisions"]}
    assert decisions["target"]["value"] == f"a machine with NVIDIA driver 570.124.06 (--driver; its GPU {said})"
    assert "not known" not in decisions["torch"]["reason"]


def test_gpu_is_checked_against_the_builds_architectures() -> None:
    """sm_120 (Blackwell) has kernels only in CUDA 12.8+ builds, which driver 535 cannot run: a CPU plan, warned."""
    d = decide(PlanFacts(python="3.12"), Request(name="a", package="a", driver="535.104.05", gpu=(12, 0)))
    assert d.choice.variant.cuda is None
    assert d.warnings == (
        "a CPU-only plan for a machine with NVIDIA driver 535.104.05: no CUDA build of torch runs on driver "
        "535.104.05 for sm_120 (full support up to CUDA 12.2); --minor-compat may widen the choice, so the CPU "
        "build; a newer driver would allow a CUDA build",)


def test_an_unknown_gpu_name_is_a_usage_error_with_close_names(tmp_path: Path) -> None:
    ran = envcheck_main(["generate", "environment", str(tmp_path), "--gpu", "RTX 409"])
    assert ran.code == 2
    assert "--gpu 'RTX 409': not a compute capability like 8.0 or sm_80, nor a GPU model in envcheck's data " \
           "(close: RTX 4090, RTX 3090, RTX A6000)" in ran.err


def test_every_gpu_row_names_its_compute_capability() -> None:
    assert compat.gpu_capability("A100") == ((8, 0), "A100")
    assert compat.gpu_capability("H100") == ((9, 0), "H100")
    assert compat.gpu_capability("L4") == ((8, 9), "L4")  # whole words: not the L40S row
    assert compat.gpu_capability("B200") is None


def test_python_38_says_why_torch_is_older(tmp_path: Path) -> None:
    ran = envcheck_main(["scaffold", str(tmp_path / "p"), "--python", "3.8", "--cuda", "cpu", "--dry-run", "--json"])
    assert ran.code == 0, ran.err
    torch = next(d for d in json.loads(ran.out)["decisions"] if d["key"] == "torch")
    assert torch["value"] == "2.4.1"
    assert torch["reason"].endswith("; torch 2.5 dropped Python 3.8; 2.4.1 is the newest for 3.8")


def test_a_driver_too_old_for_every_cuda_build_warns_and_exits_0(tmp_path: Path) -> None:
    ran = envcheck_main(["scaffold", str(tmp_path / "old"), "--driver", "418.40.04", "--dry-run"])
    assert ran.code == 0, ran.err
    assert ("Warning: a CPU-only plan for a machine with NVIDIA driver 418.40.04: no CUDA build of torch runs on "
            "driver 418.40.04 (older than every CUDA toolkit in the data)") in ran.out


def test_refusal_counts_top_level_entries_and_suggests_dry_run(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    (folder / ".venv" / "lib").mkdir(parents=True)
    for i in range(50):
        (folder / ".venv" / "lib" / f"f{i}.py").write_text("")
    (folder / "notes.txt").write_text("mine")
    ran = envcheck_main(["scaffold", str(folder)])
    assert ran.code == 2
    assert (f"{folder} is not empty (2 top-level entries: .venv, notes.txt). Nothing was written; pass --dry-run to "
            "see the plan, or --force to replace the project (user files outside the plan stay)") in ran.err


def test_dockerfile_in_a_folder_without_src_warns(tmp_path: Path) -> None:
    ran = envcheck_main(["generate", "dockerfile", str(tmp_path), "--driver", "570.124.06"])
    assert ran.code == 0, ran.err
    assert (f"Warning: the Dockerfile copies pyproject.toml, README.md, src/, tests/, which {tmp_path} lacks: "
            "`docker build` fails until they exist") in ran.out


def test_dockerfile_help_lists_only_options_that_shape_a_dockerfile() -> None:
    dockerfile = envcheck_main(["generate", "dockerfile", "--help"]).out
    environment = envcheck_main(["generate", "environment", "--help"]).out
    assert "--gpu" in dockerfile and "--replan" in dockerfile
    assert "--route" not in dockerfile and "--jupyter" not in dockerfile
    assert "--route" in environment and "--jupyter" in environment
