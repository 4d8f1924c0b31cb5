"""The project record: what `envcheck scaffold` planned a project for, kept in ``.envcheck/project.json``.

Scaffold writes it; doctor's ``project.drift``, ``generate`` and ``verify`` read it. One frozen type, one path,
one reader. The file lives in the project, so it travels with a clone and may have been edited by hand or made
on another machine: the reader takes it as untrusted input (bounded read, every field type-checked) and gives
back an :class:`UnreadableRecord` with the reason instead of raising. Standard library only.

Adding a field is free (readers ignore keys they do not know); renaming or removing one bumps SCHEMA_VERSION.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Mapping

from envcheck.frozen import frozen
from envcheck.hostfs import read_at_most

RECORD_PATH = ".envcheck/project.json"  # relative to the project's root folder
SCHEMA = "envcheck.project"
SCHEMA_VERSION = 1
# A real record is a few KiB (the decisions and their reasons). The cap keeps a stray multi-GB file, or a
# device node linked there, from being read whole into memory.
MAX_RECORD_BYTES = 1024 * 1024


@frozen
class RecordedHost:
    """The host facts the plan was made from (envcheck.scaffold.facts.PlanFacts as JSON), in its key order."""

    driver: str | None = None
    cuda: str | None = None
    capability: str | None = None  # "8.0"
    gpu_name: str | None = None
    ubuntu: str | None = None
    python: str = ""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"driver": self.driver, "cuda": self.cuda, "capability": self.capability, "gpu_name": self.gpu_name,
                "ubuntu": self.ubuntu, "python": self.python, "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: object) -> RecordedHost:
        host = _mapping(data, "host")
        return cls(driver=_optional_str(host, "driver", "host."), cuda=_optional_str(host, "cuda", "host."),
                   capability=_optional_str(host, "capability", "host."),
                   gpu_name=_optional_str(host, "gpu_name", "host."), ubuntu=_optional_str(host, "ubuntu", "host."),
                   python=_str(host, "python", "host."), notes=_strings(host, "notes", "host."))


@frozen
class RecordedDecision:
    key: str
    value: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "reason": self.reason}


@frozen
class ProjectRecord:
    envcheck_version: str
    data_version: str  # envcheck.compat.DATA_VERSION the decisions were made with
    created: str  # ISO 8601, UTC
    name: str
    package: str
    planned_for: str  # in words: "this machine (...)" or "a machine with NVIDIA driver ... (--driver ...)"
    planned_driver: str | None  # --driver; None: planned for the machine it was made on
    host: RecordedHost
    torch: str
    variant: str  # "cu121", "cpu"
    cuda: str | None  # the variant's CUDA version; None for the CPU build
    decisions: tuple[RecordedDecision, ...] = ()
    schema_version: int = SCHEMA_VERSION
    planned_gpu: str | None = None  # --gpu's compute capability ("8.0"); None: the GPU it was planned on, if any

    def decided(self, key: str) -> RecordedDecision | None:
        """The decision named ``key`` ("minor_compat", "route", ...), if the plan made one."""
        return next((d for d in self.decisions if d.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": self.schema_version,
            "envcheck_version": self.envcheck_version,
            "data_version": self.data_version,
            "created": self.created,
            "name": self.name,
            "package": self.package,
            "planned_for": self.planned_for,
            "planned_driver": self.planned_driver,
            "host": self.host.to_json(),
            "torch": self.torch,
            "variant": self.variant,
            "cuda": self.cuda,
            "decisions": [d.to_json() for d in self.decisions],
            # Only when --gpu was given, so records planned without it keep their exact text.
            **({"planned_gpu": self.planned_gpu} if self.planned_gpu is not None else {}),
        }

    def to_text(self) -> str:
        """The file's exact text."""
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: object) -> ProjectRecord:
        """Parse decoded JSON; ValueError says what is wrong, as a predicate of the file ("is not ...")."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError("is not an envcheck project record")
        version = data.get("schema_version", _MISSING)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"is not a valid envcheck project record: schema_version must be a positive "
                             f"integer, not {_shown(version)}")
        if version > SCHEMA_VERSION:
            raise ValueError(f"was written by a newer envcheck (schema_version {version}; this one reads "
                             f"{SCHEMA_VERSION}): upgrade envcheck")
        decisions = data.get("decisions", _MISSING)
        if not isinstance(decisions, list):
            raise ValueError(_invalid("decisions must be a list", decisions))
        return cls(
            envcheck_version=_str(data, "envcheck_version"), data_version=_str(data, "data_version"),
            created=_str(data, "created"), name=_str(data, "name"), package=_str(data, "package"),
            planned_for=_str(data, "planned_for"), planned_driver=_optional_str(data, "planned_driver"),
            host=RecordedHost.from_json(data.get("host", _MISSING)), torch=_str(data, "torch"),
            variant=_str(data, "variant"), cuda=_optional_str(data, "cuda"), schema_version=version,
            planned_gpu=_optional_str(data, "planned_gpu"),
            decisions=tuple(_decision(item, f"decisions[{i}].") for i, item in enumerate(decisions)),
        )


@frozen
class UnreadableRecord:
    """The record exists but could not be used; ``reason`` names the file and says why, in one line."""

    reason: str


def read_record(path: Path) -> ProjectRecord | UnreadableRecord:
    """The one reader of a project record. Never raises for what the file holds or whether it can be read."""
    try:
        # O_NONBLOCK: a FIFO put there would otherwise block the open until a writer came along.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return UnreadableRecord(f"{path} is not a regular file")
            raw = read_at_most(fd, MAX_RECORD_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        return UnreadableRecord(f"could not read {path}: {exc}")
    if len(raw) > MAX_RECORD_BYTES:
        return UnreadableRecord(f"{path} is larger than {MAX_RECORD_BYTES // 1024} KiB: not an envcheck project record")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; RecursionError: "[[[[..."
        return UnreadableRecord(f"could not read {path}: {exc}")
    try:
        return ProjectRecord.from_json(data)
    except ValueError as exc:
        return UnreadableRecord(f"{path} {exc}")


# --- field readers: each names the field and what it holds when the type is wrong --------------------------


_MISSING = object()


def _shown(value: object) -> str:
    if value is _MISSING:
        return "missing"
    return "null" if value is None else type(value).__name__


def _invalid(what: str, value: object) -> str:
    return f"is not a valid envcheck project record: {what}, not {_shown(value)}"


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ValueError(_invalid(f"{where} must be an object", value))
    return value


def _str(data: Mapping[str, object], key: str, where: str = "") -> str:
    value = data.get(key, _MISSING)
    if not isinstance(value, str):
        raise ValueError(_invalid(f"{where}{key} must be a string", value))
    return value


def _optional_str(data: Mapping[str, object], key: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(_invalid(f"{where}{key} must be a string or null", value))
    return value


def _strings(data: Mapping[str, object], key: str, where: str = "") -> tuple[str, ...]:
    value = data.get(key, _MISSING)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(_invalid(f"{where}{key} must be a list of strings", value))
    return tuple(value)


def _decision(value: object, where: str) -> RecordedDecision:
    item = _mapping(value, where.rstrip("."))
    return RecordedDecision(key=_str(item, "key", where), value=_str(item, "value", where),
                            reason=_str(item, "reason", where))
