"""What each policy key accepts: one rule per key, ``rule(name, value) -> the value a check reads``.

The threshold keys are envcheck's first policy; the requirement keys say what a lab's servers must have (GPU
count and model, driver, CUDA, OS, tools, free space, ECC / remapped-row / Xid limits, skips). A requirement key
left out (or set to null / an empty list) states no requirement, and its check does not run at all. Every rule
refuses a wrong value with a UsageError of one line, before any check sees it: a policy file is untrusted input.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any, Callable

from envcheck.model import UsageError

MAX_SIZE_GIB = 1 << 20  # 1 PiB: a free-space or RAM threshold beyond it is a typo
MAX_GPUS = 256  # a DGX SuperPOD node holds 8 and NVL72 trays 4: a count beyond this is a typo
MAX_ITEMS = 200  # any list or mapping in a policy: a real one names a handful
MAX_REASON = 300  # a skip's reason is shown in every report: one sentence
# The tools a policy can require, each judged by its subject's "installed" check (conda stands for conda or one of
# its relatives mamba and micromamba, whichever is installed: they manage the same envs).
TOOLS = ("conda", "docker", "jupyter", "torch")
CONTAINER_RUNTIMES = ("nvidia", "cdi", "either")

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4
_SHOWN.maxlevel = 2

Rule = Callable[[str, Any], Any]


def shown(value: object) -> str:
    """``value`` as a message may print it: repr, at most about 60 characters, whatever its size or depth."""
    text = _SHOWN.repr(value)
    return text if len(text) <= 64 else text[:60] + "..."


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- threshold rules -------------------------------------------------------------------------------------------

VERSION = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){1,2}")
COMMAND = re.compile(r"[A-Za-z0-9_.+-]{1,64}")  # a name looked up on PATH: no path, no space, no NUL


def boolean(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise UsageError(f"policy: {name} must be true or false, got {shown(value)}")


def _pattern_version(pattern: re.Pattern[str], example: str, shape: str) -> Rule:
    def check(name: str, value: object) -> str:
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        if is_number(value):
            # YAML reads an unquoted 3.10 as the float 3.1 (and 3.20 as 3.2): rereading the number as a version
            # would judge against the wrong release, so the text is required.
            raise UsageError(f"policy: {name} must be a version in quotes, like '{example}' (YAML reads an unquoted "
                             f"3.10 as the number 3.1), got the number {shown(value)}")
        raise UsageError(f"policy: {name} must be a version {shape} in quotes, like '{example}', got {shown(value)}")

    return check


version = _pattern_version(VERSION, "3.10", "X.Y or X.Y.Z")
# NVIDIA driver versions: 550.54.15, 535.183.01, 570.86; a branch alone ("550") is a floor of 550.0.
driver_version = _pattern_version(re.compile(r"[0-9]{2,4}(\.[0-9]{1,3}){0,2}"), "550.54.15", "X, X.Y or X.Y.Z")


def number(low: float, high: float, what: str, *, whole: bool = False) -> Rule:
    """A finite number from ``low`` to ``high``; with ``whole``, an integer (180.0 is read as 180)."""

    def check(name: str, value: object) -> float:
        if is_number(value) and low <= value <= high:  # type: ignore[operator]  # is_number: int or float
            # NaN fails both comparisons; infinities fail one. Integers stay integers: no float overflow.
            if not whole:
                return value  # type: ignore[return-value]  # int or float, both read as numbers by the checks
            if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
                return int(value)
        kind = "a whole number" if whole else "a number"
        span = " to ".join(str(int(end)) if float(end).is_integer() else f"{end:g}" for end in (low, high))
        raise UsageError(f"policy: {name} must be {kind} from {span} ({what}), got {shown(value)}")

    return check


def commands(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise UsageError(f"policy: {name} must be a list of at most {MAX_ITEMS} command names, got {shown(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not COMMAND.fullmatch(item):
            raise UsageError(f"policy: {name}[{index}] must be a command name (letters, digits, . _ + -), "
                             f"got {shown(item)}")
    return tuple(value)


# --- requirement rules: null (or an empty list) states no requirement -----------------------------------------------

GLOB = re.compile(r"[^\x00-\x1f\x7f]{1,200}")  # one line of text: fnmatch's * ? [..] are the only special characters
REASON = re.compile(r"[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*")  # one line, not blank
CHECK_NAME = re.compile(r"[a-z0-9-]{1,40}(\.[a-z0-9-]{1,60})?")  # a check id (gpu.ecc) or a subject (gpu)


def optional(rule: Rule) -> Rule:
    """``rule``, or None for null: a group can take a requirement of the base away again."""

    def check(name: str, value: object) -> Any:
        return None if value is None else rule(name, value)

    return check


def glob(name: str, value: object) -> str:
    if isinstance(value, str) and GLOB.fullmatch(value):
        return value
    raise UsageError(f"policy: {name} must be a glob pattern (one line of text, like 'NVIDIA A100*'), "
                     f"got {shown(value)}")


def _list_of(item_rule: Rule, what: str) -> Rule:
    """A list of at most MAX_ITEMS values, each checked by ``item_rule``, duplicates dropped in order."""

    def check(name: str, value: object) -> tuple[Any, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise UsageError(f"policy: {name} must be a list of at most {MAX_ITEMS} {what}, got {shown(value)}")
        return tuple(dict.fromkeys(item_rule(f"{name}[{index}]", item) for index, item in enumerate(value)))

    return check


def _branch(name: str, value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{2,4}", value):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 10 <= value <= 9999:
        return str(value)  # 550 and "550" name the same branch: YAML reads the bare number as an int
    raise UsageError(f"policy: {name} must be a driver branch, the first number of a driver version "
                     f"such as '550' or '570', got {shown(value)}")


def _tool(name: str, value: object) -> str:
    if isinstance(value, str) and value in TOOLS:
        return value
    raise UsageError(f"policy: {name} must be one of {', '.join(TOOLS)}, got {shown(value)}")


def _check_name(name: str, value: object) -> str:
    if isinstance(value, str) and CHECK_NAME.fullmatch(value):
        return value
    raise UsageError(f"policy: {name} must be a check id or subject such as 'gpu.ecc' or 'jupyter', "
                     f"got {shown(value)}")


def _xid_code(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 999:
        return value
    raise UsageError(f"policy: {name} must be an Xid code from 1 to 999 (such as 13 or 43), got {shown(value)}")


def container_runtime(name: str, value: object) -> str:
    if isinstance(value, str) and value in CONTAINER_RUNTIMES:
        return value
    raise UsageError(f"policy: {name} must be one of {', '.join(CONTAINER_RUNTIMES)} (how containers reach the "
                     f"GPUs: the nvidia runtime, CDI specs, or either), got {shown(value)}")


def _mapping(name: str, value: object, what: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise UsageError(f"policy: {name} must be a mapping of at most {MAX_ITEMS} {what}, got {shown(value)}")
    return value


def free_space(name: str, value: object) -> tuple[tuple[str, float], ...]:
    """``{"/data": 500, "/scratch": 100}``: absolute path -> GiB that must be free there, sorted by path."""
    pairs = []
    for path, size in _mapping(name, value, "absolute paths to GiB").items():
        if not isinstance(path, str) or not path.startswith("/") or not GLOB.fullmatch(path) or "\x00" in path:
            raise UsageError(f"policy: {name}: every key must be an absolute path such as '/data', got {shown(path)}")
        pairs.append((path, number(0, MAX_SIZE_GIB, "GiB")(f"{name}[{path!r}]", size)))
    return tuple(sorted(pairs))


def skip(name: str, value: object) -> tuple[tuple[str, str], ...]:
    """``{"gpu.pcie-link": "risers on these boards train at x8"}``: check id or subject -> why, sorted by name."""
    pairs = []
    for check, reason in _mapping(name, value, "check ids or subjects to reasons").items():
        check = _check_name(f"{name} key", check)
        if not isinstance(reason, str) or len(reason) > MAX_REASON or not REASON.fullmatch(reason):
            raise UsageError(f"policy: {name}[{check!r}] must give the reason, one line of text of at most "
                             f"{MAX_REASON} characters shown in every report, got {shown(reason)}")
        pairs.append((check, " ".join(reason.split())))
    return tuple(sorted(pairs))


def _count(low: int, high: int, what: str) -> Rule:
    return number(low, high, what, whole=True)


driver_branches = _list_of(_branch, "driver branches such as '550'")
globs = _list_of(glob, "glob patterns")
tools = _list_of(_tool, f"tools ({', '.join(TOOLS)})")
check_names = _list_of(_check_name, "check ids or subjects")
xid_codes = _list_of(_xid_code, "Xid codes")
gpu_count = _count(0, MAX_GPUS, "GPUs")
error_count = _count(0, 1 << 31, "errors")
