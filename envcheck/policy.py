"""Thresholds and requirements. The built-in defaults are data (``data/default-policy.json``);
a policy file (JSON or YAML) with the same keys replaces any of them, and checks only read this. What each key
accepts is policy_rules.py; a file's per-group overrides and the effective policy of a host are policy_groups.py.

A policy file can come from anywhere (a cloned repository, a shared folder), so it is read as untrusted input:
a regular file of at most MAX_POLICY_BYTES, YAML without anchors or aliases, every value checked against its
key's rule (_RULES) before any check sees it. Each problem is a UsageError of one line with bounded text.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from envcheck import packagedata
from envcheck import policy_rules as rules
from envcheck.frozen import frozen
from envcheck.hostfs import read_at_most
from envcheck.model import UsageError
from envcheck.policy_rules import MAX_SIZE_GIB, shown

MAX_POLICY_BYTES = 1 << 20  # 1 MiB: a real policy is under 2 KB; the cap is checked before reading
# The probe deadline's range, for the policy's probe_timeout_s and doctor's --timeout alike: below 0.1 s every
# probe would be unknown, above 10 minutes a wedged daemon holds the whole report.
PROBE_TIMEOUT_MIN_S = 0.1
PROBE_TIMEOUT_MAX_S = 600.0
_MAX_YAML_NODES = 5000  # every value counts; the built-in policy has under 60
# The built-in policy nests 2 deep (a mapping holding basic_tools' list); a file with groups nests 4 deep
# (groups -> a group -> overrides -> a list).
_MAX_YAML_DEPTH = 8


@frozen
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
    # Requirements (policy_rules): None or () states none, and the check that judges one runs only when it is set.
    gpu_count: int | None
    gpu_model: str | None  # a glob every GPU's name must match, case-insensitively
    driver_min: str | None
    driver_branches: tuple[str, ...]
    cuda_min: str | None  # the CUDA version the driver must support (NVML's cuda_driver_version)
    compute_capability_min: str | None
    container_runtime: str | None  # "nvidia", "cdi" or "either"
    os_allowed: tuple[str, ...]  # globs over "ID VERSION_ID" ("ubuntu 22.04", "rocky 9*")
    tools_required: tuple[str, ...]
    torch_min: str | None
    free_space_gib: tuple[tuple[str, float], ...]  # (absolute path, GiB), sorted by path
    # Limits of the GPU memory-error and Xid checks; the built-in values are the verdicts envcheck always gave.
    ecc_uncorrected_max: int
    ecc_lifetime_uncorrected_max: int
    remapped_rows_uncorrectable_max: int | None
    xid_ignore: tuple[int, ...]
    skip: tuple[tuple[str, str], ...]  # (check id or subject, reason), sorted by name
    warnings_as_failures: tuple[str, ...]

    def requires_tool(self, tool: str) -> bool:
        """Whether a missing ``tool`` fails: tools_required names it (or the older require_docker/require_conda)."""
        legacy = {"docker": self.require_docker, "conda": self.require_conda}.get(tool, False)
        return legacy or tool in self.tools_required

    def wants_gpu(self) -> bool:
        """Whether a host without an NVIDIA driver fails: require_gpu, or any GPU requirement stated (a count
        above 0, a model, a driver, CUDA or compute capability floor)."""
        stated = (self.gpu_model, self.driver_min, self.cuda_min, self.compute_capability_min)
        return (self.require_gpu or bool(self.gpu_count) or any(v is not None for v in stated)
                or bool(self.driver_branches))

    def skip_reason(self, check_id: str) -> str | None:
        """The policy's reason to skip this check (named by id or by subject), or None to run it."""
        subject = check_id.split(".", 1)[0]
        reasons = dict(self.skip)
        return reasons.get(check_id, reasons.get(subject))

    def warning_fails(self, check_id: str) -> bool:
        return check_id in self.warnings_as_failures or check_id.split(".", 1)[0] in self.warnings_as_failures

    def values(self) -> dict[str, Any]:
        """Every key with its value as plain JSON data (lists and mappings): what a digest or `policy show` reads."""
        return {item.name: plain_value(item.name, getattr(self, item.name)) for item in fields(self)}

    @classmethod
    def from_mapping(cls, data: Mapping[Any, Any], *, base: Policy | None = None) -> Policy:
        """Build a policy from a mapping; keys not given come from ``base`` (the defaults). Every key and value
        is checked against its rule: a problem is a UsageError, never a value a check trips over later."""
        values = read_keys(data)
        if base is None:
            missing = set(KEYS) - set(values)
            if missing:
                raise UsageError(f"policy: missing keys {', '.join(sorted(missing))}")
            return cls(**values)
        return replace(base, **values)


# --- what each key accepts (the rules live in policy_rules) -----------------------------------------------------

_PAIRS = ("free_space_gib", "skip")  # held as sorted (key, value) pairs, written as mappings
_SIZE = rules.number(0, MAX_SIZE_GIB, "GiB")
_PERCENT = rules.number(0, 100, "per cent")
_RULES: dict[str, Callable[[str, Any], Any]] = {
    "python_min": rules.version,
    "python_warn_below": rules.version,
    "ram_min_gib": _SIZE,
    "ram_warn_gib": _SIZE,
    "disk_free_fail_gib": _SIZE,
    "disk_free_warn_gib": _SIZE,
    "tmp_free_warn_gib": _SIZE,
    "docker_free_warn_gib": _SIZE,
    "ubuntu_require_lts": rules.boolean,
    "ubuntu_support_warn_days": rules.number(0, 36500, "days", whole=True),
    "require_gpu": rules.boolean,
    # A GPU shuts itself down well below 150 C; a warning threshold outside 0-150 is a unit mistake (F, K).
    "gpu_temp_warn_c": rules.number(0, 150, "degrees Celsius"),
    "require_docker": rules.boolean,
    "require_conda": rules.boolean,
    "conda_warn_below": rules.version,
    "shared_server": rules.boolean,
    "probe_timeout_s": rules.number(PROBE_TIMEOUT_MIN_S, PROBE_TIMEOUT_MAX_S, "seconds"),
    "basic_tools": rules.commands,
    "smoke_loss_max": rules.number(0, 100, "cross-entropy"),
    "smoke_accuracy_min": rules.number(0, 1, "a fraction: 0.95 is 95%"),
    "smoke_matmul_peak_min_pct": _PERCENT,
    "smoke_memory_peak_min_pct": _PERCENT,
    "gpu_count": rules.optional(rules.gpu_count),
    "gpu_model": rules.optional(rules.glob),
    "driver_min": rules.optional(rules.driver_version),
    "driver_branches": rules.driver_branches,
    "cuda_min": rules.optional(rules.version),
    "compute_capability_min": rules.optional(rules.version),
    "container_runtime": rules.optional(rules.container_runtime),
    "os_allowed": rules.globs,
    "tools_required": rules.tools,
    "torch_min": rules.optional(rules.version),
    "free_space_gib": rules.free_space,
    "ecc_uncorrected_max": rules.error_count,
    "ecc_lifetime_uncorrected_max": rules.error_count,
    "remapped_rows_uncorrectable_max": rules.optional(rules.error_count),
    "xid_ignore": rules.xid_codes,
    "skip": rules.skip,
    "warnings_as_failures": rules.check_names,
}
KEYS = tuple(_RULES)


def plain_value(key: str, value: Any) -> Any:
    """A checked value as plain JSON data: (key, value) pairs as a mapping, other tuples as lists."""
    if key in _PAIRS:
        return dict(value)
    return list(value) if isinstance(value, tuple) else value


def check_value(key: str, value: Any, where: str = "policy") -> Any:
    """One key's value as its rule reads it; ``where`` prefixes a message ("policy: group gpu-a100")."""
    try:
        return _RULES[key](key, value)
    except UsageError as exc:
        if where == "policy":
            raise
        raise UsageError(str(exc).replace("policy: ", f"{where}: ", 1)) from None


@functools.lru_cache(maxsize=1)  # a frozen value read from package data: every hand-built ProbeContext shares it
def default_policy() -> Policy:
    text = packagedata.read_text("default-policy.json")
    return Policy.from_mapping(json.loads(text))


# --- reading a policy file -----------------------------------------------------------------------------------


def read_keys(data: Mapping[Any, Any], where: str = "policy", *, allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    """The policy keys of ``data`` checked against their rules, in the file's order ("-" spelled "_"); keys that
    start with "_" are comments. ``allowed`` names other keys the caller reads itself (a file's ``groups``)."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):  # YAML reads `1: 2` or `null: x` as a number or None key
            raise UsageError(f"{where}: every key must be text, got the key {shown(key)}")
        if key.startswith("_") or key in allowed:
            continue  # comments such as "_about"
        name = key.replace("-", "_")
        if name not in _RULES:
            raise UsageError(f"{where}: unknown key {shown(key)} ({_close_keys(name)}`envcheck policy schema` "
                             "lists every key)")
        if name in values:
            raise UsageError(f"{where}: {name} is given twice")
        values[name] = check_value(name, value, where)
    return values


def _close_keys(name: str) -> str:
    """"did you mean gpu_count? " for a misspelt key; empty when no key is close."""
    import difflib

    close = difflib.get_close_matches(name, KEYS, n=3, cutoff=0.6)
    return f"did you mean {', '.join(close)}? " if close else ""


def load_policy(path: str | Path) -> Policy:
    """Read a policy file (``.json``, or YAML otherwise) over the defaults; bad input is a UsageError.
    An empty or comment-only file means the defaults. A file's groups apply as they match this host's name."""
    import socket

    from envcheck.policy_groups import load_policy_source

    return load_policy_source(path).effective(socket.gethostname(), ()).policy


def parse_policy_file(path: str | Path) -> dict[str, Any] | None:
    """The file's top-level mapping, or None when it holds nothing (empty, comments only, an explicit null)."""
    where = shown(str(path))
    text = _read_text(os.fspath(path), where)
    if not text.strip():
        return None
    data = _parse_json(text, where) if str(path).endswith(".json") else _parse_yaml(text, where)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise UsageError(f"policy: {where} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def _read_text(path: str, where: str) -> str:
    """The file's text, refused before reading when it is no regular file or over the cap."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; fstat refuses it next.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"policy: cannot read {where}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"policy: {where} is not a regular file")
        if info.st_size > MAX_POLICY_BYTES:
            raise UsageError(f"policy: {where} has {info.st_size} bytes; a policy file has at most {MAX_POLICY_BYTES}")
        data = read_at_most(fd, MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"policy: cannot read {where}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_POLICY_BYTES:
        raise UsageError(f"policy: {where} has more than {MAX_POLICY_BYTES} bytes; a policy file has at most that")
    try:
        # utf-8-sig: Windows editors (Notepad before 2019, PowerShell 5's Out-File) start UTF-8 files with a BOM;
        # it carries no meaning, so it is dropped rather than refused.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"policy: {where} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                         f"{exc.start})") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a policy can hold")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key {shown(key)} is given twice")
        data[key] = value
    return data


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise UsageError(f"policy: {where}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise UsageError(f"policy: {where} nests too deeply") from exc
    except ValueError as exc:  # NaN or Infinity, a key given twice, an integer of more than 4300 digits
        raise UsageError(f"policy: {where} is not valid: {_cut(str(exc))}") from exc


def _parse_yaml(text: str, where: str) -> Any:
    import yaml  # only when a YAML policy is given

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506  # a SafeLoader, narrowed further
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = "; ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        raise UsageError(f"policy: {where}: {place}{_cut(problem)}") from exc
    except yaml.YAMLError as exc:  # the reader's errors (a control character) carry a position, not a mark
        raise UsageError(f"policy: {where} is not valid YAML: {_cut(str(exc))}") from exc
    except ValueError as exc:  # an integer of more than 4300 digits (Python's int_max_str_digits)
        raise UsageError(f"policy: {where} is not valid: {_cut(str(exc))}") from exc


def _cut(text: str) -> str:
    """One line of at most about 120 characters."""
    line = " ".join(text.split())
    return line if len(line) <= 124 else line[:120] + "..."


@functools.lru_cache(maxsize=1)
def _yaml_loader() -> type[Any]:
    """yaml.SafeLoader that refuses anchors and aliases and bounds how many values and how deep.

    An alias repeats a node by reference: a few lines of nested aliases ("billion laughs") expand to gigabytes
    once anything walks the value (https://en.wikipedia.org/wiki/Billion_laughs_attack). A policy has no use
    for them, so the first anchor or alias event ends the parse before any node is built.
    """
    import yaml

    class PolicyLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.nodes = 0
            self.depth = 0

        def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            problem = None
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                problem = "anchors and aliases (&name, *name) are not allowed in a policy"
            self.nodes += 1
            if self.nodes > _MAX_YAML_NODES:
                problem = f"more than {_MAX_YAML_NODES} values"
            if self.depth >= _MAX_YAML_DEPTH:
                problem = f"nested more than {_MAX_YAML_DEPTH} deep"
            if problem:
                raise yaml.composer.ComposerError(None, None, problem, event.start_mark)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return PolicyLoader
