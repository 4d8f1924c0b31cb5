"""The compatibility data file itself (envcheck/data/compat.json): provenance, shape, the rules the code relies
on, and scripts/check-compat-data run for real (a subprocess), offline and against a local stand-in of the
upstream indexes (a real HTTP server on loopback: this machine reaches none of the real ones).

The questions asked of the data, with the facts they must give, are in test_compat.py.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import pytest

from envcheck import compat, compat_data, compat_rules

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-compat-data"


def _text() -> str:
    return resources.files("envcheck").joinpath("data/compat.json").read_text("utf-8")


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_text())
    return data


def _rows(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every data row: a dict that names a source (variants inherit their release's source)."""
    if isinstance(node, dict):
        if "source" in node:
            yield path, node
        for key, value in node.items():
            if key != "variants":
                yield from _rows(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _rows(item, f"{path}[{i}]")


def _v(t: str) -> tuple[int, ...]:
    return compat.parse_version(t)


# --- provenance and the file's own rules ---------------------------------------------------------------------


def test_every_row_names_source_urls_and_a_read_date_not_after_the_data_version() -> None:
    raw = _raw()
    assert raw["data_version"] == compat.DATA_VERSION
    data_version = date.fromisoformat(raw["data_version"])
    assert set(compat_rules.SECTIONS) <= {k for k, v in raw.items() if isinstance(v, list)}
    rows = list(_rows(raw))
    listed = sum(len(raw[s]) for s in compat_rules.SECTIONS) + 1  # + the conda row
    assert len(rows) == listed
    assert [s for s in compat_rules.SECTIONS if not raw[s]] == [], "a section without rows"
    for where, row in rows:
        assert isinstance(row["source"], str) and row["source"].strip(), where
        assert row["urls"] and all(u.startswith("https://") for u in row["urls"]), where
        assert date.fromisoformat(row["read"]) <= data_version, where
        assert row.get("unverified", False) in (True, False), where


def test_the_shipped_file_keeps_every_rule() -> None:
    assert compat_rules.problems(_text()) == []


def _late(d: dict[str, Any]) -> None:
    late = date.fromisoformat(d["data_version"]) + timedelta(days=1)
    next(r for r in d["cuda_toolkits"] if r["cuda"] == "12.4.1")["read"] = late.isoformat()


def _swap_ubuntus(d: dict[str, Any]) -> None:
    u = d["ubuntu"]
    u[4], u[5] = u[5], u[4]


BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("read after data_version", _late,
     f"cuda_toolkits[12.4.1]: read {date.fromisoformat(compat.DATA_VERSION) + timedelta(days=1)} "
     f"is after data_version {compat.DATA_VERSION}"),
    ("no urls", lambda d: d["gpus"][0].pop("urls"), "gpus[H100 SXM5]: no 'urls'"),
    ("empty source", lambda d: d["torch"][-1].__setitem__("source", " "), "torch[2.14]: empty 'source'"),
    ("read not a date", lambda d: d["ubuntu"][0].__setitem__("read", "Nov 2026"),
     "ubuntu[14.04]: read 'Nov 2026' is not a YYYY-MM-DD date"),
    ("a Legacy end before ESM's", lambda d: d["ubuntu"][1].__setitem__("legacy_end", "2026-04-01"),
     "ubuntu[16.04]: legacy_end '2026-04-01' is not a YYYY-MM-DD date after esm_end"),
    ("a key twice", lambda d: d["driver_branches"].append(dict(d["driver_branches"][-1])),
     "driver_branches[615]: a second row with branch 615"),
    ("Ubuntu rows out of order", _swap_ubuntus, "ubuntu[22.04]: out of order; ubuntu rows go oldest first"),
    ("a minimum that falls", lambda d: d["cuda_toolkits"][-2].__setitem__("min_driver", "595.1"),
     "cuda_toolkits[13.3.1]: min_driver is older than 13.3.0's: minimums rise with CUDA"),
    ("a variant without a toolkit", lambda d: d["torch"][-1]["variants"].append(
        {"name": "cu127", "stable": False, "cuda": "12.7", "archs": ["9.0"], "ptx": True}),
     "torch[2.14].variants[cu127]: CUDA 12.7 has no cuda_toolkits row"),
    ("an image on an interim Ubuntu", lambda d: d["cuda_images"][-1]["ubuntus"].append("25.10"),
     "cuda_images[13.3.1]: Ubuntu '25.10' is not an LTS row of the ubuntu section"),
    ("a GPU name two rows match", lambda d: d["gpus"][0]["match"].append("H100"),
     "gpus[H100 PCIe]: the NVML name 'NVIDIA H100 PCIe' is matched by ['H100 SXM5', 'H100 PCIe'], "
     "not by this row alone"),
]


@pytest.mark.parametrize(("mutate", "message"), [b[1:] for b in BREAKAGES], ids=[b[0] for b in BREAKAGES])
def test_each_broken_rule_is_named_with_its_row(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    data = copy.deepcopy(_raw())
    mutate(data)
    assert message in compat_rules.problems(json.dumps(data))


def test_a_key_twice_in_one_object_and_text_that_is_not_json() -> None:
    text = _text().replace('{"cuda": "12.4.1", ', '{"cuda": "12.4.1", "read": "2000-01-01", ', 1)
    assert compat_rules.problems(text) == ["the object cuda='12.4.1' has 'read' twice"]
    assert compat_rules.problems("[]") == ["not a JSON object"]
    assert compat_rules.problems("{")[0].startswith("not JSON: ")


def test_weak_rows_are_marked_unverified() -> None:
    raw = _raw()
    toolkit_134 = next(r for r in raw["cuda_toolkits"] if r["cuda"] == "13.4.0")
    assert toolkit_134["unverified"] is True and toolkit_134["min_driver"] is None
    by_cuda = {r["cuda"]: r for r in raw["cuda_images"]}
    for cuda in ("13.1.1", "13.2.2", "13.3.1"):  # from public Dockerfiles, not NVIDIA's tag list
        assert by_cuda[cuda]["unverified"] is True
    for cuda in ("12.4.1", "12.9.1", "13.0.2"):
        assert "unverified" not in by_cuda[cuda]


# --- the rows agree with each other ----------------------------------------------------------------------------


def test_driver_minimums_rise_with_cuda_version() -> None:
    toolkits = _raw()["cuda_toolkits"]
    # Only a row marked unverified may lack a minimum (13.4: NVIDIA no longer bundles the Linux driver, and no
    # exact minimum is published), so every other toolkit takes part in the comparison below.
    assert [r["cuda"] for r in toolkits if not r["min_driver"]] == [r["cuda"] for r in toolkits if r.get("unverified")]
    rows = sorted((compat.parse_version(r["cuda"]), compat.parse_version(r["min_driver"]))
                  for r in toolkits if r["min_driver"])
    for (cuda_a, drv_a), (cuda_b, drv_b) in zip(rows, rows[1:], strict=False):
        assert cuda_a < cuda_b, "duplicate CUDA row"
        assert drv_a <= drv_b, f"CUDA {cuda_b} needs an older driver than {cuda_a}"
    families = sorted((r["major"], compat.parse_version(r["minimum"])) for r in _raw()["cuda_families"])
    assert [f[1] for f in families] == sorted(f[1] for f in families)



def test_branch_table_agrees_with_table_3() -> None:
    for r in _raw()["driver_branches"]:
        branch, cuda = r["branch"], r["cuda"]
        first_min = compat.cuda_min_driver(cuda)
        if r.get("unverified"):
            assert first_min is None  # 13.4: no exact minimum known
            continue
        assert first_min is not None and compat.driver_branch(first_min) == branch, (branch, cuda)
        # the newest driver of that branch fully supports exactly that CUDA, no more
        assert compat.cuda_full_support(f"{branch}.999.99") == cuda
    assert [r["branch"] for r in _raw()["driver_branches"]][-1] == 615



def test_torch_release_data_is_consistent() -> None:
    releases = compat.torch_releases()
    assert [r.version for r in releases][:2] == ["2.0", "2.1"] and releases[-1].version == "2.14"
    assert [_v(r.version) for r in releases] == sorted(_v(r.version) for r in releases)
    for r in releases:
        assert r.latest_patch.startswith(r.version + ".") and len(_v(r.latest_patch)) == 3
        assert _v(r.python_min) <= _v(r.python_max)
        assert sum(v.cuda is None for v in r.variants) == 1, "exactly one cpu variant"
        assert any(v.stable and v.cuda for v in r.variants), f"{r.version} has no stable CUDA variant"
        assert "RELEASE.md" in r.source
        for v in r.variants:
            if v.cuda is None:
                assert v.name == "cpu" and not v.archs
                continue
            assert v.name == "cu" + v.cuda.replace(".", ""), v
            assert any(t.cuda[:2] == _v(v.cuda) for t in compat_data.toolkit_rows()), f"no CUDA row for {v}"
            assert list(v.archs) == sorted(set(v.archs)), v



def test_image_rows_are_latest_patches_on_known_ubuntus() -> None:
    toolkits = compat_data.toolkit_rows()
    for row in compat_data.image_rows():
        patch = _v(row.cuda)
        assert len(patch) == 3, f"{row.cuda} is not a full x.y.z"
        same_minor = [t.cuda for t in toolkits if t.cuda[:2] == patch[:2]]
        assert patch == max(same_minor), f"{row.cuda} is not the latest patch of its minor in Table 3"
        assert row.ubuntus, row
        for ubuntu in row.ubuntus:
            release = compat.ubuntu_release(ubuntu)
            assert release is not None and release.lts, f"{row.cuda} names unknown Ubuntu {ubuntu}"
    minors = [_v(r.cuda)[:2] for r in compat_data.image_rows()]
    assert len(minors) == len(set(minors))
    assert (13, 4) not in minors  # 13.4.x tags too weakly attested to generate



def test_gpu_peak_data_is_sane() -> None:
    rows = compat_data.gpu_rows()
    assert len(rows) == 23 and len({g.name for g in rows}) == 23
    for g in rows:
        assert g.fp32_tflops > 0 and g.mem_bw_gbs > 0 and g.memory_gb > 0 and g.match
        assert "datasheet" in g.source or "whitepaper" in g.source
        for figure in (g.tf32_tflops, g.bf16_tflops, g.fp16_tflops):
            assert figure is None or figure > 0
        if g.bf16_tflops is not None and g.tf32_tflops is not None:
            assert g.bf16_tflops >= g.tf32_tflops, g.name
        if g.fp16_tflops is not None:
            assert g.fp16_tflops >= g.fp32_tflops, g.name
        if g.tf32_tflops is None:  # pre-Ampere: no TF32 and no BF16 tensor cores
            assert g.bf16_tflops is None


# --- scripts/check-compat-data, run for real -------------------------------------------------------------------


def _dead_url() -> str:
    """A loopback port nothing listens on: the connection is refused at once, as on a machine with no route."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--timeout-s", "5"], capture_output=True, text=True,
                          timeout=120, check=False)


def _offline_args() -> list[str]:
    dead = _dead_url()
    return ["--torch-index", dead, "--docker-hub", dead, "--ubuntu-csv", dead + "ubuntu.csv"]


def test_checker_is_green_on_the_shipped_file_and_skips_what_it_cannot_reach() -> None:
    done = _check(*_offline_args())
    lines = done.stdout.splitlines()
    assert (done.returncode, done.stderr) == (0, "")
    assert lines[0].endswith("envcheck/data/compat.json: valid")
    skipped = [line.split(" (")[1].split(":")[0] for line in lines[1:]]
    assert all(line.startswith("offline: upstream comparison skipped (") for line in lines[1:])
    assert skipped == ["PyTorch wheel index", "Docker Hub nvidia/cuda tags", "Ubuntu distro-info-data"]
    explicit = _check("--offline")
    assert explicit.returncode == 0
    assert explicit.stdout.splitlines()[1:] == ["offline: upstream comparison skipped (--offline)"]


def test_checker_is_red_on_a_broken_copy_and_names_the_row(tmp_path: Path) -> None:
    data = _raw()
    _late(data)
    broken = tmp_path / "compat.json"
    broken.write_text(json.dumps(data, indent=2))
    done = _check(str(broken), "--offline")
    late = date.fromisoformat(compat.DATA_VERSION) + timedelta(days=1)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"compat.json: cuda_toolkits[12.4.1]: read {late} is after data_version {compat.DATA_VERSION}",
        f"{broken}: INVALID, 1 problem(s)",
    ]


class _Upstream(BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the signature http.server calls)
        pass


def _wheel(patch: str, local: str, cp: str) -> str:
    name = f"torch-{patch}+{local}-{cp}-{cp}-manylinux_2_28_x86_64.whl"
    return f'<a href="/whl/{local}/{name.replace("+", "%2B")}#sha256=0">{name}</a><br/>\n'


def _upstream_pages(data: dict[str, Any]) -> dict[str, str]:
    """What the three indexes would answer if they agreed with every row, in their own formats."""
    pages: dict[str, str] = {}
    for release in data["torch"]:
        low, high = (_v(release[k])[1] for k in ("python_min", "python_max"))
        for variant in release["variants"]:
            page = f"/whl/{variant['name']}/torch/"
            pages[page] = pages.get(page, "") + "".join(
                _wheel(release["latest_patch"], variant["name"], f"cp3{minor}") for minor in range(low, high + 1))
    for row in data["cuda_images"]:
        for ubuntu in row["ubuntus"]:
            for image in (compat.cuda_image(row["cuda"], ubuntu=ubuntu, flavor="base", cudnn=False),
                          compat.cuda_image(row["cuda"], ubuntu=ubuntu)):
                assert image is not None
                pages[f"/hub/{image.tag}"] = "{}"
    pages["/ubuntu.csv"] = "version,codename,series,created,release,eol,eol-server,eol-esm\n" + "".join(
        f"{u['version']} LTS,X,{u['codename']},2000-01-01,2000-04-01,{u['standard_support_end']},"
        f"{u['standard_support_end']},{u['esm_end'] or ''}\n" for u in data["ubuntu"])
    return pages


@pytest.fixture
def upstream() -> Iterator[tuple[str, dict[str, bytes]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    _Upstream.pages = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Upstream.pages
    finally:
        server.shutdown()
        server.server_close()


def test_checker_compares_with_upstream_and_names_each_difference(upstream: tuple[str, dict[str, bytes]]) -> None:
    base, pages = upstream
    data = _raw()
    pages.update({path: text.encode() for path, text in _upstream_pages(data).items()})
    args = ["--torch-index", f"{base}/whl/", "--docker-hub", f"{base}/hub/", "--ubuntu-csv", f"{base}/ubuntu.csv"]

    agree = _check(*args)
    assert agree.returncode == 0, agree.stdout
    assert agree.stdout.splitlines()[1:] == [f"PyTorch wheel index: agrees ({base}/whl/)",
                                             f"Docker Hub nvidia/cuda tags: agrees ({base}/hub/)",
                                             f"Ubuntu distro-info-data: agrees ({base}/ubuntu.csv)"]

    # Upstream moves on: a wheel is withdrawn, a newer patch ships, a tag is deleted, an end date is corrected.
    pages["/whl/cu130/torch/"] = pages["/whl/cu130/torch/"].replace(_wheel("2.13.0", "cu130", "cp314").encode(), b"")
    pages["/whl/cpu/torch/"] += _wheel("2.14.2", "cpu", "cp310").encode()
    del pages["/hub/11.7.1-cudnn8-runtime-ubuntu20.04"]
    del pages["/hub/12.8.1-base-ubuntu22.04"]
    end = next(u for u in data["ubuntu"] if u["version"] == "20.04")["standard_support_end"]
    corrected = date.fromisoformat(end) - timedelta(days=2)
    csv = pages["/ubuntu.csv"]
    pages["/ubuntu.csv"] = csv.replace(f",{end},{end},".encode(), f",{corrected},{corrected},".encode())
    differ = _check(*args)
    assert differ.returncode == 3, differ.stdout
    assert [line for line in differ.stdout.splitlines() if line.startswith("upstream differs: ")] == [
        "upstream differs: torch[2.13]: cu130 has no cp314 wheel of 2.13.0 (the index has cp310, cp311, cp312, cp313)",
        "upstream differs: torch[2.14]: cpu has a newer patch 2.14.2 than latest_patch 2.14.1",
        "upstream differs: cuda_images[11.7.1]: nvidia/cuda:11.7.1-cudnn8-runtime-ubuntu20.04 is not on Docker Hub",
        "upstream differs: cuda_images[12.8.1]: nvidia/cuda:12.8.1-base-ubuntu22.04 is not on Docker Hub",
        f"upstream differs: ubuntu[20.04]: standard_support_end is {end}, ubuntu.csv says {corrected}",
    ]


def test_has_word_answers_as_the_whole_word_pattern_does() -> None:
    import random
    import re

    from envcheck.compat_data import has_word

    def pattern(name: str, part: str) -> bool:
        return re.search(rf"(?<![A-Za-z0-9]){re.escape(part)}(?![A-Za-z0-9])", name, re.IGNORECASE) is not None

    assert has_word("NVIDIA L40S", "L40S") and not has_word("NVIDIA L40S", "L4")
    assert not has_word("NVIDIA GeForce RTX 4090", "T4") and has_word("Tesla T4", "t4")
    assert has_word("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "MIG") and has_word("A100-SXM4-80GB", "a100")
    chosen = random.Random(7)
    letters = "aA4 -_.Hx0"
    for _ in range(20000):
        name = "".join(chosen.choice(letters) for _ in range(chosen.randrange(0, 9)))
        part = "".join(chosen.choice(letters) for _ in range(chosen.randrange(0, 4)))
        assert has_word(name, part) == pattern(name, part), (name, part)
    for name, part in (("café GPU", "GPU"), ("GPU", "é"), ("ǅ x", "ǆ")):  # beyond ASCII: the pattern itself
        assert has_word(name, part) == pattern(name, part)
