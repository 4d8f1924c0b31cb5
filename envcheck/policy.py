"""Thresholds and requirements. The built-in defaults are data (``data/default-policy.json``);
a policy file (JSON or YAML) with the same keys replaces any of them, and checks only read this.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from envcheck.model import UsageError


@dataclass(frozen=True)
class Policy:
    python_min: str
    python_warn_below: str
    ram_min_gib: float
    ram_warn_gib: float
    disk_free_fail_gib: float
    disk_free_warn_gib: float
    tmp_free_warn_gib: float
    docker_free_warn_gib: float
    ubuntu_require_lts: bool
    ubuntu_support_warn_days: int
    require_gpu: bool
    gpu_temp_warn_c: float
    require_docker: bool
    require_conda: bool
    conda_warn_below: str
    shared_server: bool
    probe_timeout_s: float
    basic_tools: tuple[str, ...]
    smoke_loss_max: float
    smoke_accuracy_min: float
    smoke_matmul_peak_min_pct: float
    smoke_memory_peak_min_pct: float

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: Policy | None = None) -> Policy:
        """Build a policy from a mapping; keys not given come from ``base`` (the defaults)."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key.startswith("_"):
                continue  # comments such as "_about"
            name = key.replace("-", "_")
            if name not in known:
                raise UsageError(f"policy: unknown key {key!r} (known: {', '.join(sorted(known))})")
            values[name] = _coerce(name, known[name].type, value)
        if base is None:
            missing = set(known) - set(values)
            if missing:
                raise UsageError(f"policy: missing keys {', '.join(sorted(missing))}")
            return cls(**values)
        return replace(base, **values)


def _coerce(name: str, type_name: Any, value: Any) -> Any:
    expected = str(type_name)
    ok: bool
    if expected == "bool":
        ok = isinstance(value, bool)
    elif expected in ("float", "int"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    elif expected == "str":
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        value = str(value)
    else:  # tuple[str, ...]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        raise UsageError(f"policy: {name} must be {expected}, got {value!r}")
    return value


@functools.lru_cache(maxsize=1)  # a frozen value read from package data: every hand-built ProbeContext shares it
def default_policy() -> Policy:
    text = resources.files("envcheck").joinpath("data/default-policy.json").read_text("utf-8")
    return Policy.from_mapping(json.loads(text))


def load_policy(path: str | Path) -> Policy:
    """Read a policy file (``.json``, or YAML otherwise) over the defaults; bad input is a UsageError."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"policy: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml  # only when a YAML policy is given

            data = yaml.safe_load(text)
    except Exception as exc:  # json and yaml raise different types; both mean "not valid"
        raise UsageError(f"policy: {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"policy: {path} must hold a mapping of keys to values")
    return Policy.from_mapping(data, base=default_policy())
