"""The texts of per-host files as the merge keeps them (envcheck.fleet.hostreport reads the files): control
characters and escape sequences stripped (envcheck.report.safetext), cut to a length, and secrets masked
(envcheck.redact), so that every renderer of the merged view, the fleet JSON included, gets text as clean as a
report of envcheck's own. Every text of a host file that a renderer shows goes through :func:`clean` with
``masked`` or through :func:`clean_evidence`; what names rather than tells (check ids, statuses, caused_by, the
command, times, the policy's digest, a host-error record's host) is stripped and not masked.
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import Any, Callable, Mapping

from envcheck.redact import Redactor, secret_values
from envcheck.report.safetext import printable

# Cleaned texts remembered across the files of one merge (see Texts), in characters: a few MB at most.
MEMO_CHARS = 4_000_000


@functools.lru_cache(maxsize=1)
def redactor() -> Redactor:
    """Masks secrets (token shapes, NAME=value secrets, URL credentials, this environment's secret values).
    One for the whole merge: building it reads the environment and compiles its patterns, which per file was
    most of the time a 1000-host merge took. Its counts only serve --share's summary, which a merge has not."""
    return Redactor(secrets=secret_values())


class Texts:
    """The texts of host files as the merge keeps them: control characters and escape sequences stripped
    (safetext.printable), cut to a length, and, where ``masked``, secrets masked as doctor masks its own report
    before rendering it (a file from an older envcheck or from anywhere else may hold a token in an observed
    value, and every renderer of the merge shows it).

    Remembered, because the hosts of a fleet share most of their texts (each check's title, reason and fix, the
    evidence's keys): each distinct text is cleaned once, where the pattern scans of every text of every host were
    most of a 1000-host merge's time, and all the hosts hold one string. At most MEMO_CHARS characters are
    remembered; past that it starts over, so memory stays bounded whatever the files hold."""

    def __init__(self, budget_chars: int) -> None:
        self._budget_chars = budget_chars
        self._used_chars = 0
        self._done: dict[tuple[str, int, bool, bool], str] = {}

    def clean(self, raw: str, limit: int = -1, *, multi_line: bool = False, masked: bool = False) -> str:
        """``raw`` made printable (line breaks kept if ``multi_line``), cut to ``limit`` (-1: whole), masked."""
        key = (raw, limit, multi_line, masked)
        done = self._done.get(key)
        if done is not None:
            return done
        done = printable(raw, multi_line=multi_line)
        if limit >= 0:
            done = done[:limit]
        if masked:
            done = redactor().text(done)
        size = len(raw) + len(done)
        if self._used_chars + size > self._budget_chars:
            self._done.clear()
            self._used_chars = 0
        if size <= self._budget_chars // 8:
            self._done[key] = done
            self._used_chars += size
        return done


_TEXTS = Texts(MEMO_CHARS)
# What clean_evidence gives for evidence nested too deeply to walk. The reader refuses such a file after checking
# every other field, so a file with a second problem keeps the error row it had when the walk came last.
TOO_DEEP: Mapping[str, Any] = MappingProxyType({})


class _KeysMerged(Exception):
    """Two keys of one evidence object that read the same once cleaned."""


def clean_evidence(raw: dict[str, Any]) -> Mapping[str, Any]:
    """The evidence as the file has it, its texts (keys included) stripped, keeping line breaks, and masked, so
    every renderer of the merged view, the fleet JSON included, gets text as clean as a report of its own."""
    try:
        cleaned: dict[str, Any] = _each_text(raw, _evidence_text, refuse_merged_keys=True)
        return cleaned
    except _KeysMerged:
        # Two keys that read the same once cleaned: as two steps (strip, then mask) leave it, the way a report of
        # envcheck's own is cleaned, each step's object keeping a key's last value in its first place.
        stripped = _each_text(raw, lambda text: printable(text, multi_line=True))
        masked: dict[str, Any] = _each_text(stripped, redactor().text)
        return masked
    except RecursionError:
        return TOO_DEEP


def _evidence_text(text: str) -> str:
    return _TEXTS.clean(text, multi_line=True, masked=True)


def _each_text(value: Any, change: Callable[[str], str], *, refuse_merged_keys: bool = False) -> Any:
    """``value`` (parsed JSON) with ``change`` applied to each string in it, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        changed = {change(k): _each_text(v, change, refuse_merged_keys=refuse_merged_keys) for k, v in value.items()}
        if refuse_merged_keys and len(changed) < len(value):
            raise _KeysMerged
        return changed
    if isinstance(value, list):
        return [_each_text(v, change, refuse_merged_keys=refuse_merged_keys) for v in value]
    return value  # a number, true, false or null


def clean(raw: str, limit: int = -1, *, multi_line: bool = False, masked: bool = False) -> str:
    """``raw`` made printable (line breaks kept if ``multi_line``), cut to ``limit`` (-1: whole), and masked if
    ``masked``: remembered for the rest of the merge (see Texts)."""
    return _TEXTS.clean(raw, limit, multi_line=multi_line, masked=masked)
