"""`envcheck smoke --docker IMAGE` against the real Docker engine, on the local images that
tests/helpers/docker_images.py builds (a Debian bookworm base without torch, and one with torch).
"""

from __future__ import annotations

import os

import pytest
from helpers.docker_images import base_image, docker_cli, torch_image  # noqa: F401 - fixtures, used by name

from envcheck.model import Report, Result, Status
from envcheck.smoke import smoke_test

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _ids(report: Report) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for r in report.results:
        out.setdefault(r.id, []).append(r)
    return out


def test_image_without_torch_fails_at_import_with_a_dockerfile_fix(base_image: str) -> None:  # noqa: F811 - the fixture imported above
    report = smoke_test(docker=base_image, run_timeout_s=120)
    by_id = _ids(report)
    target = by_id["smoke.target"][0]
    assert target.status is Status.PASS and f"image {base_image}" in target.observed
    assert "Python 3.11" in target.observed
    (imp,) = by_id["smoke.import-torch"]
    assert imp.status is Status.FAIL
    assert imp.observed == "ModuleNotFoundError: No module named 'torch'"
    # Debian's python3 comes without pip and refuses it (PEP 668): the line installs pip and says so to pip.
    assert target.evidence["pip"] is False and target.evidence["externally_managed"] is True
    assert imp.fix.startswith("Add to the image's Dockerfile: RUN apt-get update && apt-get install -y "
                              "--no-install-recommends python3-pip && python3 -m pip install --break-system-packages "
                              "--no-cache-dir torch==")
    assert report.exit_code == 1


def test_image_with_torch_trains_in_the_container(torch_image: str) -> None:  # noqa: F811 - the fixture imported above
    report = smoke_test(docker=torch_image, run_timeout_s=300)
    by_id = _ids(report)
    assert by_id["smoke.import-torch"][0].observed == "torch 2.13.0+cpu (CPU-only build)"
    (train,) = by_id["smoke.train"]
    assert train.status is Status.PASS and train.item == "cpu"
    assert train.evidence["accuracy"] >= 0.95
    assert by_id["smoke.cuda-available"][0].reason == "CPU-only build"
    assert report.exit_code == 0, [(r.id, r.status, r.reason) for r in report.results]
    leftover = docker_cli("ps", "-aq", "--filter", "label=envcheck=smoke", timeout=30).stdout.split()
    assert leftover == []  # the container is removed after the run


def test_missing_image_fails_at_the_target_with_the_fix(base_image: str) -> None:  # noqa: F811 - the fixture imported above
    report = smoke_test(docker="envcheck-test/does-not-exist:1", run_timeout_s=60)
    (target,) = _ids(report)["smoke.target"]
    assert target.status is Status.FAIL
    assert "is not on this host" in target.reason
    assert target.fix.startswith("docker pull envcheck-test/does-not-exist:1")


def test_a_merged_container_stream_keeps_each_streams_order_and_the_exit_code(base_image: str) -> None:  # noqa: F811 - the fixture imported above
    """`envcheck verify` reads its smoke container this way: stdout and stderr as `docker logs` shows them.

    The engine copies stdout and stderr on separate pipes, so lines of the two streams can arrive in either
    order (seen here: "err" before "out" under load); within one stream the order is kept."""
    from envcheck.smoke import container

    code = ("import sys; print('out', flush=True); sys.stderr.write('err\\n'); sys.stderr.flush(); "
            "print('x' * 70); sys.exit(3)")
    spec = container.Launch(base_image, ["python3", "-c", code], try_by_hand="", labels={"envcheck": "test-merged"},
                            merged=True)
    stream = container.launch(spec, env=os.environ, home=os.path.expanduser("~"), timeout_s=30, gpus=False,
                              run_timeout_s=60)
    try:
        lines = []
        while (line := stream.readline(60.0)) is not None:
            lines.append(line)
        assert sorted(lines) == sorted(["out", "err", "x" * 70])
        assert lines.index("out") < lines.index("x" * 70)
        assert stream.close(wait_s=30.0) == 3 and stream.stream_failure is None
    finally:
        stream.remove()
    assert docker_cli("ps", "-aq", "--filter", "label=envcheck=test-merged", timeout=30).stdout.split() == []
