"""Thresholds and requirements. The built-in defaults are data (``data/default-policy.json``);
a policy file (JSON or YAML) with the same keys replaces any of them, and checks only read this.

A policy file can come from anywhere (a cloned repository, a shared folder), so it is read as untrusted input:
a regular file of at most MAX_POLICY_BYTES, YAML without anchors or aliases, every value checked against its
key's rule (_RULES) before any check sees it. Each problem is a UsageError of one line with bounded text.
"""

from __future__ import annotations

import functools
import json
import os
import re
import reprlib
import stat
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from envcheck.hostfs import read_at_most
from envcheck.model import UsageError

MAX_POLICY_BYTES = 1 << 20  # 1 MiB: a real policy is under 2 KB; the cap is checked before reading
# The probe deadline's range, for the policy's probe_timeout_s and doctor's --timeout alike: below 0.1 s every
# probe would be unknown, above 10 minutes a wedged daemon holds the whole report.
PROBE_TIMEOUT_MIN_S = 0.1
PROBE_TIMEOUT_MAX_S = 600.0
MAX_SIZE_GIB = 1 << 20  # 1 PiB: a free-space or RAM threshold beyond it is a typo
_MAX_YAML_NODES = 5000  # every value counts; the built-in policy has under 50
_MAX_YAML_DEPTH = 8  # the built-in policy nests 2 deep (a mapping holding basic_tools' list)
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4
_SHOWN.maxlevel = 2


def shown(value: object) -> str:
    """``value`` as a message may print it: repr, at most about 60 characters, whatever its size or depth."""
    text = _SHOWN.repr(value)
    return text if len(text) <= 64 else text[:60] + "..."


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
    def from_mapping(cls, data: Mapping[Any, Any], *, base: Policy | None = None) -> Policy:
        """Build a policy from a mapping; keys not given come from ``base`` (the defaults). Every key and value
        is checked against its rule: a problem is a UsageError, never a value a check trips over later."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if not isinstance(key, str):  # YAML reads `1: 2` or `null: x` as a number or None key
                raise UsageError(f"policy: every key must be text, got the key {shown(key)}")
            if key.startswith("_"):
                continue  # comments such as "_about"
            name = key.replace("-", "_")
            if name not in known:
                raise UsageError(f"policy: unknown key {shown(key)} (known: {', '.join(sorted(known))})")
            if name in values:
                raise UsageError(f"policy: {name} is given twice")
            values[name] = _RULES[name](name, value)
        if base is None:
            missing = known - set(values)
            if missing:
                raise UsageError(f"policy: missing keys {', '.join(sorted(missing))}")
            return cls(**values)
        return replace(base, **values)


# --- what each key accepts -----------------------------------------------------------------------------------

_VERSION = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){1,2}")
_COMMAND = re.compile(r"[A-Za-z0-9_.+-]{1,64}")  # a name looked up on PATH: no path, no space, no NUL
_MAX_COMMANDS = 200


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise UsageError(f"policy: {name} must be true or false, got {shown(value)}")


def _version(name: str, value: object) -> str:
    if isinstance(value, str) and _VERSION.fullmatch(value):
        return value
    if _is_number(value):
        # YAML reads an unquoted 3.10 as the float 3.1 (and 3.20 as 3.2): rereading the number as a version
        # would judge against the wrong release, so the text is required.
        raise UsageError(f"policy: {name} must be a version in quotes, like '3.10' (YAML reads an unquoted "
                         f"3.10 as the number 3.1), got the number {shown(value)}")
    raise UsageError(f"policy: {name} must be a version X.Y or X.Y.Z in quotes, like '3.10', got {shown(value)}")


def _number(low: float, high: float, what: str, *, whole: bool = False) -> Callable[[str, object], float]:
    """A finite number from ``low`` to ``high``; with ``whole``, an integer (180.0 is read as 180)."""

    def check(name: str, value: object) -> float:
        if _is_number(value) and low <= value <= high:  # type: ignore[operator]  # _is_number: int or float
            # NaN fails both comparisons; infinities fail one. Integers stay integers: no float overflow.
            if not whole:
                return value  # type: ignore[return-value]  # int or float, both read as numbers by the checks
            if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
                return int(value)
        kind = "a whole number" if whole else "a number"
        span = " to ".join(str(int(end)) if float(end).is_integer() else f"{end:g}" for end in (low, high))
        raise UsageError(f"policy: {name} must be {kind} from {span} ({what}), got {shown(value)}")

    return check


def _commands(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > _MAX_COMMANDS:
        raise UsageError(f"policy: {name} must be a list of at most {_MAX_COMMANDS} command names, got {shown(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _COMMAND.fullmatch(item):
            raise UsageError(f"policy: {name}[{index}] must be a command name (letters, digits, . _ + -), "
                             f"got {shown(item)}")
    return tuple(value)


_SIZE = _number(0, MAX_SIZE_GIB, "GiB")
_PERCENT = _number(0, 100, "per cent")
_RULES: dict[str, Callable[[str, Any], Any]] = {
    "python_min": _version,
    "python_warn_below": _version,
    "ram_min_gib": _SIZE,
    "ram_warn_gib": _SIZE,
    "disk_free_fail_gib": _SIZE,
    "disk_free_warn_gib": _SIZE,
    "tmp_free_warn_gib": _SIZE,
    "docker_free_warn_gib": _SIZE,
    "ubuntu_require_lts": _bool,
    "ubuntu_support_warn_days": _number(0, 36500, "days", whole=True),
    "require_gpu": _bool,
    # A GPU shuts itself down well below 150 C; a warning threshold outside 0-150 is a unit mistake (F, K).
    "gpu_temp_warn_c": _number(0, 150, "degrees Celsius"),
    "require_docker": _bool,
    "require_conda": _bool,
    "conda_warn_below": _version,
    "shared_server": _bool,
    "probe_timeout_s": _number(PROBE_TIMEOUT_MIN_S, PROBE_TIMEOUT_MAX_S, "seconds"),
    "basic_tools": _commands,
    "smoke_loss_max": _number(0, 100, "cross-entropy"),
    "smoke_accuracy_min": _number(0, 1, "a fraction: 0.95 is 95%"),
    "smoke_matmul_peak_min_pct": _PERCENT,
    "smoke_memory_peak_min_pct": _PERCENT,
}


@functools.lru_cache(maxsize=1)  # a frozen value read from package data: every hand-built ProbeContext shares it
def default_policy() -> Policy:
    text = resources.files("envcheck").joinpath("data/default-policy.json").read_text("utf-8")
    return Policy.from_mapping(json.loads(text))


# --- reading a policy file -----------------------------------------------------------------------------------


def load_policy(path: str | Path) -> Policy:
    """Read a policy file (``.json``, or YAML otherwise) over the defaults; bad input is a UsageError.
    An empty or comment-only file means the defaults."""
    where = shown(str(path))
    text = _read_text(os.fspath(path), where)
    if not text.strip():
        return default_policy()
    data = _parse_json(text, where) if str(path).endswith(".json") else _parse_yaml(text, where)
    if data is None:  # YAML comments only, or an explicit null
        return default_policy()
    if not isinstance(data, dict):
        raise UsageError(f"policy: {where} must hold a mapping of keys to values, got {type(data).__name__}")
    return Policy.from_mapping(data, base=default_policy())


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
