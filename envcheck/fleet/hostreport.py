"""Reading one per-host file as untrusted input: a report envelope (``envcheck.report`` v1) or a host-error record
(``envcheck.host-error`` v1), from `envcheck fleet --out DIR`, from `srun ... envcheck doctor --json` into a
shared folder, or from anywhere else.

A file may be anything: not JSON, gigabytes, a FIFO, a newer envcheck's schema, a report with a list where a text
belongs, a host name holding shell or HTML characters. Each of those is one :class:`BadFile` with a clear message
(one error row in the merged view), never a crash and never a host that passes. What is kept is typed and
bounded: texts cut to a length, control characters and escape sequences stripped and secrets masked
(envcheck.fleet.hosttext), so every renderer can trust it as it trusts a report of its own.

Folders are scanned for ``*.json`` directly inside them, not recursively: `envcheck fleet --out DIR` and an
`srun` into a shared folder both write one flat folder, and a subfolder (an older run kept beside the new one)
would otherwise be merged into this one. Hidden files are left out (write_atomic's temporaries are hidden).
"""

from __future__ import annotations

import json
import math
import os
import stat
from typing import Any, Mapping, NoReturn, Sequence

from envcheck.fleet.hosttext import TOO_DEEP, clean, clean_evidence
from envcheck.fleet.outcomes import HOST_ERROR_SCHEMA, HostError
from envcheck.frozen import frozen
from envcheck.model import Outcome, PolicyRef, Report, Result, Status
from envcheck.report.jsonreport import SCHEMA as REPORT_SCHEMA
from envcheck.report.safetext import printable

SUPPORTED_VERSION = 1
# A doctor report is tens of kilobytes; a smoke report with evidence a few hundred. 16 MiB is far above any real
# report and far below what would hurt to hold in memory for a few hundred hosts.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_FILES = 10_000  # per folder; the rest is one error row naming how many were left out
MAX_RESULTS = 5_000  # per report (doctor has about 60 checks, a smoke test on 8 GPUs a few hundred results)
MAX_NAME = 255  # a check id, a group, a fact's name
# A host name: DNS names are at most 253, but an inventory's name is an alias that can be longer, and `envcheck
# fleet` writes a record for every inventory host; the merge must read back what the fleet wrote.
MAX_HOST = 1_024
MAX_TEXT = 4_096  # one observed, expected, reason or title text
MAX_FIX = 16_384  # a fix is a few commands, one per line
MAX_GROUPS = 100
MAX_FACT = 200  # a fact's value: a version, a model name


class BadFile(Exception):
    """A file that gives no host; ``str()`` is the message of its error row."""


@frozen
class HostErrorRecord:
    """A host without a report: why (``error``), in the words of whoever wrote the record."""

    host: str
    groups: tuple[str, ...]
    error: HostError
    message: str
    time: str


def list_files(paths: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The files to read for ``paths`` (a file as given; a folder's ``*.json``, sorted, at most MAX_FILES), and
    (path, message) for each path that could not be listed."""
    files: list[str] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()  # a file given twice (itself and in its folder) is read once

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            files.append(path)

    for path in paths:
        if not os.path.isdir(path):
            add(path)
            continue
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith(".json") and not n.startswith("."))
        except OSError as exc:
            problems.append((path, f"cannot list the folder: {exc.strerror or exc}"))
            continue
        if len(names) > MAX_FILES:
            problems.append((path, f"{len(names)} report files: only the first {MAX_FILES} (by name) were read"))
        for name in names[:MAX_FILES]:
            add(os.path.join(path, name))
    return files, problems


def read_host_file(path: str) -> Report | HostErrorRecord:
    """The report or host-error record in ``path``. Raises BadFile."""
    document = _parse(read_bounded(path))
    if not isinstance(document, dict):
        _bad(f"not an envcheck report: the JSON is {_kind(document)}, not an object")
    schema = document.get("schema")
    if schema not in (REPORT_SCHEMA, HOST_ERROR_SCHEMA):
        shown = printable(schema)[:80] if isinstance(schema, str) else _kind(schema)
        _bad(f"not an envcheck report (schema {shown!r}; expected {REPORT_SCHEMA!r} or {HOST_ERROR_SCHEMA!r})")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _bad(f"{schema}: schema_version must be a positive whole number, not {_kind(version)}")
    if version > SUPPORTED_VERSION:
        _bad(f"written by a newer envcheck (schema_version {version}); this one reads {SUPPORTED_VERSION}")
    fields = _Fields(document)
    if schema == HOST_ERROR_SCHEMA:
        return _host_error(fields)
    report = _report(fields)
    if any(result.outcome.evidence is TOO_DEEP for result in report.results):
        _bad("not a report: its evidence is nested too deeply")
    return report


def read_bounded(path: str) -> bytes:
    """The file's bytes, refusing anything but a regular file of at most MAX_FILE_BYTES, before reading it."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        _bad(f"cannot open it: {exc.strerror or exc}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            _bad("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            _bad(f"{info.st_size} bytes: larger than the {MAX_FILE_BYTES // (1024 * 1024)} MiB a report may have")
        chunks: list[bytes] = []
        taken = 0
        while taken <= MAX_FILE_BYTES:  # the size may have grown since fstat: read one byte past the cap at most
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - taken))
            if not chunk:
                break
            chunks.append(chunk)
            taken += len(chunk)
        if taken > MAX_FILE_BYTES:
            _bad(f"grew past the {MAX_FILE_BYTES // (1024 * 1024)} MiB a report may have while it was read")
        return b"".join(chunks)
    except OSError as exc:
        _bad(f"cannot read it: {exc.strerror or exc}")
    finally:
        os.close(fd)


def _parse(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _bad(f"not UTF-8 text (byte {exc.start})")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except BadFile:
        raise
    except json.JSONDecodeError as exc:
        _bad(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except ValueError:
        # Python's cap on the digits of an integer read from text (CVE-2020-10735, 4300 by default): no report
        # holds such a number. https://docs.python.org/3/library/stdtypes.html#int-max-str-digits
        _bad("not a report: it holds a number of thousands of digits")
    except RecursionError:
        _bad("not a report: JSON nested too deeply")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key: parsers disagree on which one wins (RFC 8259, 4), so a reader could be shown one
    # verdict and a dashboard another. Refused rather than guessed. dict() in C first: a report has a hundred
    # thousand objects in a big merge, and the loop below only runs to name the key of a file that has one twice.
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    document = {}
    for key, value in pairs:
        if key in document:
            _bad(f"the key {printable(key)[:80]!r} appears twice in one object")
        document[key] = value
    return document


def _no_constant(name: str) -> NoReturn:
    _bad(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _bad(message: str) -> NoReturn:
    """A BadFile whose message may quote the file (a schema name, a key, an outcome): cleaned and masked as every
    other text read from a host's file, since error rows reach the same outputs."""
    raise BadFile(clean(message, masked=True))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a text", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


class _Fields:
    """Typed, bounded reads of one JSON object; ``where`` names it in messages (``results[3]``)."""

    def __init__(self, document: Mapping[str, Any], where: str = "") -> None:
        self.document = document
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def raw(self, key: str, types: tuple[type, ...], *, optional: bool = False) -> Any:
        value = self.document.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            wanted = " or ".join(dict.fromkeys(_kind(t()) for t in types))
            _bad(f"{self._name(key)} must be {wanted}, not {_kind(value)}")
        return value

    def text(self, key: str, limit: int = MAX_TEXT, *, multi_line: bool = False, default: str | None = None,
             masked: bool = False) -> str:
        if default is not None and key not in self.document:
            return default
        return clean(self.raw(key, (str,)), limit, multi_line=multi_line, masked=masked)

    def optional_text(self, key: str, limit: int = MAX_TEXT, *, masked: bool = False) -> str | None:
        value = self.raw(key, (str,), optional=True)
        return None if value is None else clean(value, limit, masked=masked)

    def name(self, key: str, limit: int = MAX_NAME) -> str:
        value = self.text(key, limit + 1).strip()
        if not value:
            _bad(f"{self._name(key)} is empty")
        if len(value) > limit:
            _bad(f"{self._name(key)} is longer than {limit} characters")
        return value

    def names(self, key: str) -> tuple[str, ...]:
        values = self.raw(key, (list,), optional=True) or []
        if len(values) > MAX_GROUPS:
            _bad(f"{self._name(key)} holds {len(values)} names; at most {MAX_GROUPS}")
        # Masked (after the checks, as a host name): group names come from an inventory or a command line.
        return tuple(clean(_Fields({"name": v}, f"{self._name(key)}[{i}]").name("name"), masked=True)
                     for i, v in enumerate(values))

    def seconds(self, key: str) -> float:
        value = float(self.raw(key, (int, float)))
        if not math.isfinite(value) or value < 0:
            _bad(f"{self._name(key)} must be a duration in seconds, not {value}")
        return value

    def nested(self, key: str, index: int | None = None) -> _Fields:
        value = self.document.get(key) if index is None else self.document[key][index]
        where = self._name(key) + ("" if index is None else f"[{index}]")
        if not isinstance(value, dict):
            _bad(f"{where} must be an object, not {_kind(value)}")
        return _Fields(value, where)


def _host_error(fields: _Fields) -> HostErrorRecord:
    outcome = fields.text("outcome", MAX_NAME)
    try:
        error = HostError(outcome)
    except ValueError:
        _bad(f"outcome must be one of {', '.join(e.value for e in HostError)}, not {outcome!r}")
    return HostErrorRecord(host=fields.name("host", MAX_HOST), groups=fields.names("groups"), error=error,
                           message=fields.text("message", masked=True),
                           time=fields.text("time", MAX_NAME, default=""))


def _report(fields: _Fields) -> Report:
    raw_results = fields.raw("results", (list,))
    if len(raw_results) > MAX_RESULTS:
        _bad(f"results holds {len(raw_results)} results; at most {MAX_RESULTS}")
    report = Report(
        command=fields.name("command"),
        host=clean(fields.name("host", MAX_HOST), masked=True),
        started_at=fields.text("time", MAX_NAME),
        duration_s=fields.seconds("duration_s"),
        results=tuple(_result(fields.nested("results", i)) for i in range(len(raw_results))),
        strict=bool(fields.raw("strict", (bool,), optional=True)),
        policy=_policy(fields),
        groups=fields.names("groups"),
        facts=_facts(fields),
    )
    # The verdict is recomputed from the results; a file whose own overall says otherwise was edited or broken,
    # and which of the two to believe cannot be known.
    overall = fields.text("overall", MAX_NAME)
    if overall != report.overall.value:
        _bad(f"overall says {overall!r} but its results give {report.overall.value!r}")
    return report


def _result(fields: _Fields) -> Result:
    status_text = fields.text("status", MAX_NAME)
    try:
        status = Status(status_text)
    except ValueError:
        _bad(f"{fields.where}.status must be one of {', '.join(s.value for s in Status)}, not {status_text!r}")
    evidence = fields.raw("evidence", (dict,), optional=True) or {}
    # Every text that reaches a renderer is masked; ids, statuses, caused_by (an id) and numbers are envcheck's.
    outcome = Outcome(
        status=status, observed=fields.text("observed", masked=True), expected=fields.text("expected", masked=True),
        reason=fields.text("reason", masked=True), fix=fields.text("fix", MAX_FIX, multi_line=True, masked=True),
        caused_by=fields.optional_text("caused_by", MAX_NAME), item=fields.optional_text("item", MAX_NAME, masked=True),
        evidence=clean_evidence(evidence) if evidence else evidence,
    )
    return Result(id=fields.name("id"), title=fields.text("title", masked=True), outcome=outcome,
                  duration_s=fields.seconds("duration_s") if "duration_s" in fields.document else 0.0)


def _policy(fields: _Fields) -> PolicyRef | None:
    if fields.document.get("policy") is None:
        return None
    policy = fields.nested("policy")
    return PolicyRef(path=policy.optional_text("path", masked=True), digest=policy.name("digest"),
                     groups=policy.names("groups"))


def _facts(fields: _Fields) -> dict[str, str | None]:
    if fields.document.get("facts") is None:
        return {}
    facts = fields.nested("facts")
    if len(facts.document) > MAX_GROUPS:
        _bad(f"facts holds {len(facts.document)} facts; at most {MAX_GROUPS}")
    kept: dict[str, str | None] = {}
    for key in facts.document:
        # Masked too: the table's and the fleet JSON's drift lines show the values of other hosts' facts.
        name = clean(key, MAX_NAME, masked=True)
        kept[name] = facts.optional_text(key, MAX_FACT, masked=True)
    return kept

