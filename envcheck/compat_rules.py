"""What a valid ``data/compat.json`` keeps: its shape, every row's provenance, and the rules the code relies on.

``problems(text)`` lists everything wrong with a compat.json text, one line each, naming the row
(``cuda_toolkits[12.4.1]: ...``); an empty list is a valid file. scripts/check-compat-data runs it (and then,
where the network reaches, compares the rows with upstream), and so do the tests. docs/compat-data.md says
where each fact comes from and how to add rows. Stdlib only; nothing here runs unless called.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Callable

from envcheck.compat_data import DATA_VERSION, has_word, parse_version

_Types = tuple[type, ...]
_STR: _Types = (str,)
_OPT_STR: _Types = (str, type(None))
_INT: _Types = (int,)
_NUM: _Types = (int, float)
_OPT_NUM: _Types = (int, float, type(None))
_BOOL: _Types = (bool,)
_LIST: _Types = (list,)

# section -> (the field that names a row, every field its rows have and their JSON types)
SECTIONS: dict[str, tuple[str, dict[str, _Types]]] = {
    "cuda_families": ("major", {"major": _INT, "minimum": _STR}),
    "cuda_toolkits": ("cuda", {"cuda": _STR, "min_driver": _OPT_STR}),
    "driver_branches": ("branch", {"branch": _INT, "cuda": _STR}),
    "branch_lifecycle": ("branch", {"branch": _INT, "kind": _STR, "eol": _STR}),
    "ubuntu": ("version", {"version": _STR, "codename": _STR, "lts": _BOOL, "default_python": _STR,
                           "standard_support_end": _STR, "esm_end": _OPT_STR, "legacy_end": _OPT_STR}),
    "torch": ("version", {"version": _STR, "python_min": _STR, "python_max": _STR, "latest_patch": _STR,
                          "pypi_cuda_variant": _OPT_STR, "variants": _LIST}),
    "cuda_images": ("cuda", {"cuda": _STR, "ubuntus": _LIST, "cudnn_infix": _STR}),
    "gpus": ("name", {"name": _STR, "match": _LIST, "exclude": _LIST, "fp32_tflops": _NUM, "tf32_tflops": _OPT_NUM,
                      "bf16_tflops": _OPT_NUM, "fp16_tflops": _OPT_NUM, "mem_bw_gbs": _NUM, "memory_gb": _NUM,
                      "compute_capability": _STR}),
}
_VARIANT: dict[str, _Types] = {"name": _STR, "stable": _BOOL, "cuda": _OPT_STR, "archs": _LIST, "ptx": _BOOL}
_CONDA: dict[str, _Types] = {"pytorch_channel_last": _STR, "pytorch_cuda_last": _STR, "conda_forge_cuda_builds": _LIST}
_PROVENANCE: dict[str, _Types] = {"source": _STR, "urls": _LIST, "read": _STR}
LIFECYCLE_KINDS = ("LTS", "production", "new feature")  # the branch kinds of NVIDIA's lifecycle page
CUDNN_INFIXES = ("cudnn8", "cudnn9", "cudnn")  # nvidia/cuda tag infixes: 8 up to 12.2, 9 in 12.3, plain from 12.4


def row_name(section: str, row: Any, index: int) -> str:
    """"cuda_toolkits[12.4.1]": a row by its key, as every problem names it (by position when it has none)."""
    key = SECTIONS[section][0] if section in SECTIONS else ""
    return f"{section}[{row[key]}]" if isinstance(row, dict) and key in row else f"{section}[#{index}]"


def _shape(where: str, row: Any, fields: dict[str, _Types]) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: not an object"]
    out = []
    for name, types in fields.items():
        value = row.get(name, ...)
        if value is ...:
            out.append(f"{where}: no {name!r}")
        elif not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            kinds = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            out.append(f"{where}: {name!r} is {value!r}, not {kinds}")
    if not isinstance(row.get("unverified", False), bool) or not isinstance(row.get("note", ""), str):
        out.append(f"{where}: 'unverified' must be true/false and 'note' a string")
    return out


def _dotted(v: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in v)


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _provenance(where: str, row: Any, data_version: date) -> list[str]:
    out = _shape(where, row, _PROVENANCE)
    if out:
        return out
    if not row["source"].strip():
        out.append(f"{where}: empty 'source'")
    if not row["urls"] or not all(isinstance(u, str) and u.startswith("https://") for u in row["urls"]):
        out.append(f"{where}: 'urls' must list the upstream pages read (https://...), not {row['urls']!r}")
    read = _iso(row["read"])
    if read is None:
        out.append(f"{where}: read {row['read']!r} is not a YYYY-MM-DD date")
    elif read > data_version:
        out.append(f"{where}: read {read} is after data_version {data_version}")
    return out


def _load(text: str) -> tuple[Any, list[str]]:
    twice: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [k for k, _ in items]
        obj = dict(items)
        label = next((f"{k}={obj[k]!r}" for k in ("cuda", "branch", "version", "name", "major") if k in obj), "")
        twice.extend(f"the object {label or 'with keys ' + ', '.join(names[:3])} has {k!r} twice"
                     for k in sorted(set(names)) if names.count(k) > 1)
        return obj

    return json.loads(text, object_pairs_hook=pairs), twice


def _shape_problems(data: dict[str, Any]) -> list[str]:
    version = _iso(str(data.get("data_version")))
    if version is None:
        return [f"data_version {data.get('data_version')!r} is not a YYYY-MM-DD date"]
    out = [] if str(version) == DATA_VERSION else [
        f"data_version {version} differs from compat_data.DATA_VERSION {DATA_VERSION}: change both together"]
    if not str(data.get("torch_index_url", "")).startswith("https://") or not data["torch_index_url"].endswith("/"):
        out.append(f"torch_index_url {data.get('torch_index_url')!r}: an https:// URL ending in /")
    if not isinstance(data.get("ubuntu_interim_support_months"), int):
        out.append("ubuntu_interim_support_months: a whole number of months")
    for section, (key, fields) in SECTIONS.items():
        rows = data.get(section)
        if not isinstance(rows, list) or not rows:
            out.append(f"{section}: missing or empty")
            continue
        seen: set[str] = set()
        for i, row in enumerate(rows):
            where = row_name(section, row, i)
            out += _shape(where, row, fields) or _provenance(where, row, version)
            if isinstance(row, dict) and repr(row.get(key)) in seen:
                out.append(f"{where}: a second row with {key} {row[key]!r}")
            seen.add(repr(row.get(key)) if isinstance(row, dict) else "")
            variants = row.get("variants") if section == "torch" and isinstance(row, dict) else None
            for j, variant in enumerate(variants if isinstance(variants, list) else []):
                out += _shape(f"{where}.variants[{j}]", variant, _VARIANT)
    conda = data.get("conda")
    out += _shape("conda", conda, _CONDA) or _provenance("conda", conda, version)
    return out


class _Rules:
    """The rules the code relies on, on a file of the right shape; each problem names its row."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.out: list[str] = []

    def version(self, where: str, field: str, text: str, parts: int | None = None) -> tuple[int, ...]:
        try:
            v = parse_version(text)
        except ValueError:
            v = ()
        if not v or (parts is not None and len(v) != parts):
            self.out.append(f"{where}: {field} {text!r} is not a {'.'.join('xyz'[:parts or 1])} version")
        return v

    def ascending(self, section: str, key: Callable[[dict[str, Any]], Any]) -> None:
        """Rows oldest first: scaffold reads the Ubuntu rows in file order (newest LTS last), and every other
        section keeps the same order so that a new row has one place and its neighbours are the rows to compare."""
        keys = [(key(r), row_name(section, r, i)) for i, r in enumerate(self.data[section])]
        for (a, _), (b, where) in zip(keys, keys[1:], strict=False):
            if a >= b:
                self.out.append(f"{where}: out of order; {section} rows go oldest first")

    def toolkits(self) -> set[tuple[int, ...]]:
        rows = self.data["cuda_toolkits"]
        known: list[tuple[tuple[int, ...], tuple[int, ...], str]] = []
        for i, r in enumerate(rows):
            where = row_name("cuda_toolkits", r, i)
            cuda = self.version(where, "cuda", r["cuda"], 3)
            if r["min_driver"] is None:
                if not r.get("unverified"):
                    self.out.append(f"{where}: no min_driver, so the row must say \"unverified\": true")
            else:
                known.append((cuda, self.version(where, "min_driver", r["min_driver"]), where))
        # cuda_full_support() takes the highest CUDA whose minimum a driver meets: minimums must not fall.
        for (cuda_a, drv_a, _), (_, drv_b, where) in zip(known, known[1:], strict=False):
            if drv_b < drv_a:
                self.out.append(f"{where}: min_driver is older than {_dotted(cuda_a)}'s: minimums rise with CUDA")
        families = [(r["major"], self.version(f"cuda_families[{r['major']}]", "minimum", r["minimum"]))
                    for r in self.data["cuda_families"]]
        for (_, a), (major, b) in zip(families, families[1:], strict=False):
            if b < a:
                self.out.append(f"cuda_families[{major}]: minimum is older than the previous family's")
        self.ascending("cuda_toolkits", lambda r: parse_version(r["cuda"]))
        self.ascending("cuda_families", lambda r: r["major"])
        return {parse_version(r["cuda"])[:2] for r in rows}

    def branches(self) -> None:
        first: dict[tuple[int, ...], str | None] = {}
        for r in self.data["cuda_toolkits"]:
            first.setdefault(parse_version(r["cuda"])[:2], r["min_driver"])
        for i, r in enumerate(self.data["driver_branches"]):
            where = row_name("driver_branches", r, i)
            xy = self.version(where, "cuda", r["cuda"], 2)
            if xy not in first:
                self.out.append(f"{where}: CUDA {r['cuda']} has no cuda_toolkits row")
            elif first[xy] is not None and parse_version(first[xy] or "")[0] != r["branch"]:
                self.out.append(f"{where}: CUDA {r['cuda']}'s first minimum {first[xy]} is not in R{r['branch']}")
        for i, r in enumerate(self.data["branch_lifecycle"]):
            where = row_name("branch_lifecycle", r, i)
            if r["kind"] not in LIFECYCLE_KINDS:
                self.out.append(f"{where}: kind {r['kind']!r} is not one of {', '.join(LIFECYCLE_KINDS)}")
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", r["eol"]):
                self.out.append(f"{where}: eol {r['eol']!r} is not YYYY-MM (NVIDIA gives the month)")
        self.ascending("driver_branches", lambda r: r["branch"])
        self.ascending("branch_lifecycle", lambda r: r["branch"])

    def ubuntu(self) -> dict[str, bool]:
        for i, r in enumerate(self.data["ubuntu"]):
            where = row_name("ubuntu", r, i)
            self.version(where, "version", r["version"], 2)
            self.version(where, "default_python", r["default_python"], 2)
            end, esm = _iso(r["standard_support_end"]), _iso(r["esm_end"] or "9999-12-31")
            if end is None or esm is None:
                self.out.append(f"{where}: standard_support_end and esm_end must be YYYY-MM-DD dates")
            elif esm <= end:
                self.out.append(f"{where}: esm_end {esm} is not after standard_support_end {end}")
            legacy = _iso(r["legacy_end"]) if r["legacy_end"] else None
            if r["legacy_end"] and (legacy is None or esm is None or legacy <= esm):
                self.out.append(f"{where}: legacy_end {r['legacy_end']!r} is not a YYYY-MM-DD date after esm_end")
        self.ascending("ubuntu", lambda r: parse_version(r["version"]))
        return {r["version"]: r["lts"] for r in self.data["ubuntu"]}

    def torch(self, cudas: set[tuple[int, ...]]) -> None:
        for i, r in enumerate(self.data["torch"]):
            where = row_name("torch", r, i)
            self.version(where, "version", r["version"], 2)
            if not r["latest_patch"].startswith(r["version"] + "."):
                self.out.append(f"{where}: latest_patch {r['latest_patch']!r} is not a {r['version']}.z release")
            if self.version(where, "python_min", r["python_min"], 2) > self.version(where, "python_max",
                                                                                     r["python_max"], 2):
                self.out.append(f"{where}: python_min is above python_max")
            names = [v["name"] for v in r["variants"]]
            if [n for n in names if names.count(n) > 1] or sum(v["cuda"] is None for v in r["variants"]) != 1:
                self.out.append(f"{where}: variant names repeat, or not exactly one cpu variant (cuda null)")
            if not any(v["stable"] and v["cuda"] for v in r["variants"]):
                self.out.append(f"{where}: no stable CUDA variant")
            if r["pypi_cuda_variant"] not in [None, *names]:
                self.out.append(f"{where}: pypi_cuda_variant {r['pypi_cuda_variant']!r} is not one of its variants")
            for v in r["variants"]:
                vwhere = f"{where}.variants[{v['name']}]"
                if v["cuda"] is None:
                    if v["name"] != "cpu" or v["archs"]:
                        self.out.append(f"{vwhere}: the cuda null variant is named cpu and has no archs")
                    continue
                if v["name"] != "cu" + v["cuda"].replace(".", ""):
                    self.out.append(f"{vwhere}: name does not match its cuda {v['cuda']!r}")
                if self.version(vwhere, "cuda", v["cuda"], 2) not in cudas:
                    self.out.append(f"{vwhere}: CUDA {v['cuda']} has no cuda_toolkits row")
                archs = [self.version(vwhere, "arch", str(a), 2) for a in v["archs"]]
                if not archs or archs != sorted(set(archs)):
                    self.out.append(f"{vwhere}: archs must be x.y compute capabilities, ascending, each once")
        self.ascending("torch", lambda r: parse_version(r["version"]))

    def images(self, cudas: set[tuple[int, ...]], ubuntus: dict[str, bool]) -> None:
        patches = [parse_version(r["cuda"]) for r in self.data["cuda_toolkits"]]
        for i, r in enumerate(self.data["cuda_images"]):
            where = row_name("cuda_images", r, i)
            cuda = self.version(where, "cuda", r["cuda"], 3)
            # NVIDIA keeps only the latest patch of each minor on Docker Hub (doc/support-policy.md)
            if cuda[:2] not in cudas or cuda != max(p for p in patches if p[:2] == cuda[:2]):
                self.out.append(f"{where}: not the latest patch of CUDA {_dotted(cuda[:2])} in cuda_toolkits")
            for u in r["ubuntus"]:
                if not ubuntus.get(u, False):
                    self.out.append(f"{where}: Ubuntu {u!r} is not an LTS row of the ubuntu section")
            if r["cudnn_infix"] not in CUDNN_INFIXES:
                self.out.append(f"{where}: cudnn_infix {r['cudnn_infix']!r} is not one of {', '.join(CUDNN_INFIXES)}")
        self.ascending("cuda_images", lambda r: parse_version(r["cuda"]))

    def gpus(self) -> None:
        rows = self.data["gpus"]
        for i, r in enumerate(rows):
            where = row_name("gpus", r, i)
            if min(r["fp32_tflops"], r["mem_bw_gbs"], r["memory_gb"]) <= 0 or not r["match"]:
                self.out.append(f"{where}: figures must be positive and 'match' must name the product")
            # gpu_peak() takes the first row that matches an NVML name: each row's own names match it alone.
            for m in r["match"]:
                name = f"NVIDIA {m}"
                hits = [g["name"] for g in rows if any(has_word(name, x) for x in g["match"])
                        and not any(has_word(name, x) for x in g["exclude"])]
                if hits != [r["name"]]:
                    self.out.append(f"{where}: the NVML name {name!r} is matched by {hits}, not by this row alone")

    def conda(self, cudas: set[tuple[int, ...]]) -> None:
        c = self.data["conda"]
        if c["pytorch_channel_last"] not in {r["version"] for r in self.data["torch"]}:
            self.out.append(f"conda: pytorch_channel_last {c['pytorch_channel_last']!r} is not a torch row")
        for cuda in [c["pytorch_cuda_last"], *c["conda_forge_cuda_builds"]]:
            if self.version("conda", "cuda", str(cuda), 2) not in cudas:
                self.out.append(f"conda: CUDA {cuda!r} has no cuda_toolkits row")


def problems(text: str) -> list[str]:
    """Everything wrong with a compat.json text, one line each naming the row; [] for a valid file."""
    try:
        data, twice = _load(text)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(data, dict):
        return ["not a JSON object"]
    out = twice + _shape_problems(data)
    if out:  # the rules read the rows as the loaders do: only a file of the right shape gets that far
        return out
    rules = _Rules(data)
    try:
        cudas = rules.toolkits()
        rules.branches()
        rules.torch(cudas)
        rules.images(cudas, rules.ubuntu())
        rules.gpus()
        rules.conda(cudas)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a list item of the wrong kind, say
        rules.out.append(f"a value of an unexpected kind stopped the checks: {exc!r}")
    return rules.out
