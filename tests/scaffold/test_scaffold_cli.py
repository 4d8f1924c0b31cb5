"""`envcheck scaffold`, `generate` and `verify` as a user meets them, through the real
CLI edge (envcheck.cli.main) and, for the no-terminal case, a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.scaffold_helpers import envcheck_main, files_under

from envcheck import compat


def test_dry_run_json_prints_every_file_and_every_decision_with_its_reason(tmp_path: Path) -> None:
    ran = envcheck_main(["scaffold", str(tmp_path / "demo"), "--driver", "570.124.06", "--dry-run", "--json"])
    assert ran.code == 0, ran.err
    plan = json.loads(ran.out)
    assert plan["schema"] == "envcheck.scaffold-plan" and plan["dry_run"] is True
    assert plan["data_version"] == compat.DATA_VERSION
    decisions = {d["key"]: d for d in plan["decisions"]}
    assert {"python", "torch", "variant", "base_image", "route"} <= set(decisions)
    assert all(d["reason"] for d in plan["decisions"])
    assert decisions["variant"]["value"].startswith("cu")
    paths = {f["path"] for f in plan["files"]}
    assert {"README.md", "environment.yml", "Dockerfile", "Dockerfile.cpu", ".envcheck/project.json"} <= paths
    assert not (tmp_path / "demo").exists()  # a dry run writes nothing
    assert files_under(tmp_path) == set()


def test_name_comes_from_the_path_or_name_option(tmp_path: Path) -> None:
    ran = envcheck_main(["scaffold", str(tmp_path / "Folder"), "--name", "cifar-lab", "--dry-run", "--json"])
    plan = json.loads(ran.out)
    assert (plan["name"], plan["package"]) == ("cifar-lab", "cifar_lab")
    assert "src/cifar_lab/train.py" in {f["path"] for f in plan["files"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "os"], "shadow the standard library"),
        (["--name", "torch"], "shadow"),
        (["--name", "class"], "keyword"),
        (["--name", "test"], "shadow the standard library"),  # CPython's test package: not in stdlib_module_names
        (["--name", "ipykernel"], "shadow"),
        (["--name", "CON"], "Windows reserves"),
        (["--name", "com1"], "Windows reserves"),
        (["--name", "9lives"], "not a Python identifier"),
        (["--name", "a/b"], "path separators"),
        (["--name", "..x"], "path separators or '..'"),
        (["--name", "bad\x1bname"], "control characters"),
        (["--python", "three"], "--python"),
        (["--torch", "latest"], "--torch"),
        (["--cuda", "12"], "--cuda"),
        (["--driver", "535"], "--driver"),
        (["--route", "conda"], "conda-forge"),
        (["--torch", "2.13", "--python", "3.8"], "--python 3.8"),
    ],
)
def test_bad_input_is_a_usage_error_and_nothing_is_written(tmp_path: Path, args: list[str], message: str) -> None:
    ran = envcheck_main(["scaffold", str(tmp_path / "proj"), *args])
    assert ran.code == 2, ran.out + ran.err
    assert message in ran.err
    assert "Traceback" not in ran.err + ran.out
    assert files_under(tmp_path) == set()


def test_no_prompt_when_stdin_is_not_a_terminal(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    # stdin is an open pipe that never sends anything: a prompt would hang until the timeout.
    with subprocess.Popen([sys.executable, "-m", "envcheck", "scaffold", str(target), "--no-git"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    assert "--force" in err and "keep.txt" in err
    assert files_under(target) == {"keep.txt"}


def test_generate_environment_writes_only_that_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "mine.py").write_text("x = 1\n")
    ran = envcheck_main(["generate", "environment", str(project), "--driver", "560.35.03"])
    assert ran.code == 0, ran.err
    assert files_under(project) == {"mine.py", "environment.yml"}
    env = yaml.safe_load((project / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip[0] == "--index-url https://download.pytorch.org/whl/cu126"
    again = envcheck_main(["generate", "environment", str(project), "--cuda", "cpu"])
    assert again.code == 2 and "environment.yml" in again.err and "--force" in again.err
    forced = envcheck_main(["generate", "environment", str(project), "--cuda", "cpu", "--force"])
    assert forced.code == 0, forced.err
    assert "whl/cpu" in (project / "environment.yml").read_text()


def test_generate_dockerfile_uses_the_recorded_project_name(tmp_path: Path) -> None:
    project = tmp_path / "folder"
    ran = envcheck_main(["scaffold", str(project), "--name", "lab-one", "--no-docker", "--no-git", "--cuda", "cpu"])
    assert ran.code == 0, ran.err
    assert not (project / "Dockerfile.cpu").exists()
    ran = envcheck_main(["generate", "dockerfile", str(project), "--driver", "580.65.06"])
    assert ran.code == 0, ran.err
    assert (project / "Dockerfile").is_file() and (project / "Dockerfile.cpu").is_file()
    assert '"lab_one.train"' in (project / "Dockerfile").read_text()
    missing = envcheck_main(["generate", "dockerfile", str(tmp_path / "nowhere")])
    assert missing.code == 2 and "not a folder" in missing.err


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=5).ping()
        return True
    except Exception:
        return False


@pytest.mark.docker
@pytest.mark.skipif(not _docker_answers(), reason="no Docker engine answers")
def test_verify_fails_cleanly_naming_the_step_that_needed_the_network(tmp_path: Path) -> None:
    project = tmp_path / "verify-demo"
    assert envcheck_main(["scaffold", str(project), "--driver", "580.65.06", "--no-git", "--no-jupyter"]).code == 0
    ran = envcheck_main(["verify", str(project), "--json", "--timeout", "120"])
    assert ran.code == 1, ran.out + ran.err
    assert "Traceback" not in ran.err
    report = json.loads(ran.out)
    builds = [r for r in report["results"] if r["id"] == "verify.build"]
    assert {r["item"] for r in builds} == {"Dockerfile", "Dockerfile.cpu"}
    for result in builds:
        assert result["status"] == "fail"
        if result["evidence"].get("network"):  # no registry here: the FROM pull is what fails
            assert result["evidence"]["step"].startswith("Step 1/")
            assert " : FROM " in result["evidence"]["step"]
            assert "needs the network" in result["reason"]
            image = result["evidence"]["step"].split(" : FROM ")[1]
            assert result["fix"].startswith(f"docker pull {image} ")  # a command to paste, naming the image
        else:  # an engine that can pull got further; the failing step is still named, and it is not the pull
            assert result["evidence"]["step"].startswith("Step ")
            assert " : FROM " not in result["evidence"]["step"], result
    smokes = [r for r in report["results"] if r["id"] == "verify.smoke"]
    assert all(r["status"] == "skip" and r["caused_by"] == "verify.build" for r in smokes)
    text = envcheck_main(["verify", str(project), "--timeout", "120"])
    assert text.code == 1 and "FROM" in text.out


def test_verify_refuses_a_folder_that_is_not_a_scaffolded_project(tmp_path: Path) -> None:
    ran = envcheck_main(["verify", str(tmp_path)])
    assert ran.code == 2 and "not a project made by `envcheck scaffold`" in ran.err


def test_help_lists_the_new_commands() -> None:
    ran = envcheck_main(["--help"])
    assert all(word in ran.out for word in ("scaffold", "generate", "verify"))
    env = {**os.environ}
    done = subprocess.run([sys.executable, "-m", "envcheck", "scaffold", "--help"], capture_output=True, text=True,
                          env=env, timeout=60)
    for option in ("--python", "--torch", "--cuda", "--driver", "--route", "--jupyter / --no-jupyter",
                   "--docker / --no-docker", "--git / --no-git", "--dry-run", "--force", "--json"):
        assert option in done.stdout, option


@pytest.mark.docker
@pytest.mark.skipif(not _docker_answers(), reason="no Docker engine answers")
def test_scaffold_verify_json_is_one_document_with_the_verify_report_inside(tmp_path: Path) -> None:
    ran = envcheck_main(["scaffold", str(tmp_path / "v"), "--cuda", "cpu", "--no-git", "--verify", "--json"])
    assert ran.code == 1, ran.out + ran.err
    summary = json.loads(ran.out)
    assert summary["written"] and summary["verify"]["command"] == "verify"
    (build,) = [r for r in summary["verify"]["results"] if r["id"] == "verify.build"]
    assert build["item"] == "Dockerfile.cpu" and build["status"] == "fail" and build["evidence"]["step"]


# The success path of verify needs images that build without a registry. The smoke tests' local images (Debian
# bookworm from debootstrap, plus this venv's torch 2.13.0 CPU build) are reused through their fixtures.
from helpers.docker_images import base_image, torch_image  # noqa: E402, F401  (pytest fixtures, used by name)


@pytest.mark.docker
@pytest.mark.slow
def test_verify_success_path_builds_and_runs_the_smoke_test_as_non_root(tmp_path: Path,
                                                                        request: pytest.FixtureRequest) -> None:
    image = request.getfixturevalue("torch_image")
    project = tmp_path / "offline"
    assert envcheck_main(["scaffold", str(project), "--cuda", "cpu", "--no-git", "--no-jupyter"]).code == 0
    # Only the two lines that need the network are swapped for the local torch image; the rest is generated.
    (project / "Dockerfile.cpu").write_text(
        f"FROM {image}\n"
        "WORKDIR /app\n"
        "COPY src/ /usr/local/lib/python3.11/dist-packages/\n"
        "USER 10001:10001\n"
        'CMD ["python3", "-m", "offline.train", "--steps", "5"]\n'
    )
    ran = envcheck_main(["verify", str(project), "--json", "--timeout", "600", "--no-keep-images"])
    assert ran.code == 0, ran.out + ran.err
    results = {r["id"]: r for r in json.loads(ran.out)["results"]}
    assert results["verify.build"]["status"] == "pass"
    smoke = results["verify.smoke"]
    assert smoke["status"] == "pass" and "matmul on cpu" in smoke["observed"]
    assert "torch 2.13.0" in smoke["evidence"]["log"] and "running as uid 10001" in smoke["evidence"]["log"]


def test_verify_without_an_engine_says_so(tmp_path: Path) -> None:
    project = tmp_path / "p"
    assert envcheck_main(["scaffold", str(project), "--cuda", "cpu", "--no-git"]).code == 0
    ran = envcheck_main(["verify", str(project), "--json"], env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert ran.code == 1, ran.out + ran.err
    (result,) = json.loads(ran.out)["results"]
    assert result["id"] == "verify.engine" and result["status"] == "fail" and "no-socket" in result["reason"]


@pytest.mark.docker
@pytest.mark.slow
def test_verify_holds_its_deadline_while_a_build_step_prints_nothing(tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    """A quiet step (`RUN pip install -q ...`, here `RUN sleep`) sends no build output: the deadline must still
    end verify on time, naming that step. The docker SDK's build() reads with no timeout at all by default."""
    import time

    image = request.getfixturevalue("base_image")
    project = tmp_path / "quiet"
    assert envcheck_main(["scaffold", str(project), "--cuda", "cpu", "--no-git", "--no-jupyter"]).code == 0
    token = os.urandom(4).hex()  # a step the engine has never built: a cached one would finish at once
    (project / "Dockerfile.cpu").write_text(f"FROM {image}\nRUN sleep 40 # {token}\n")
    start = time.monotonic()
    ran = envcheck_main(["verify", str(project), "--json", "--timeout", "6"])
    took = time.monotonic() - start
    assert ran.code == 1, ran.out + ran.err
    (build,) = [r for r in json.loads(ran.out)["results"] if r["id"] == "verify.build"]
    assert build["status"] == "fail" and "did not finish before the deadline" in build["observed"]
    assert build["evidence"]["step"] == f"Step 2/2 : RUN sleep 40 # {token}"
    assert took < 6 + 10, took  # the deadline plus sending the build context, not the 40 s step
