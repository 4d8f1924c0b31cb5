"""Secrets out of every report: credentials in URLs, values of secret environment variables, NAME=value
secrets and token shapes; for ``--share`` also who the person is (user, git identity, host) and the home folder.

Reports are pasted into bug trackers; treat every observed value as possibly secret-bearing. Masking runs on
the raw strings of a Report (:meth:`Redactor.report`), once, before any renderer escapes them for JSON,
markdown, XML or a terminal: only then is a secret holding ``"``, ``<`` or a non-ASCII letter the same
characters in the report as in the environment.

Every scan here is linear in the length of the text. Report text holds whatever a probe read (a 120 KB
DOCKER_HOST, a file from a cloned repository), and a pattern that retries a repeated part from many starting
points over the same characters turns that into minutes; each pattern below says why it cannot.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from dataclasses import fields, replace
from enum import Enum
from typing import Any, Callable, Mapping, Sequence

from envcheck.model import Report, Result

MASK = "***"
# Shorter values of secret variables ("1", "true") would mask unrelated text all over a report; they are still
# masked where they stand as NAME=value or inside a URL.
MIN_LITERAL = 6

# --- which names hold secrets ---------------------------------------------------------------------------------

# Whole words of a name decide, never a substring: HF_TOKEN and AWS_SECRET_ACCESS_KEY hold secrets,
# GIT_AUTHOR_NAME (AUTH inside AUTHOR) and TOKENIZERS_PARALLELISM do not. Words break at anything but a letter
# or digit, and at a camelCase hump (apiKey, accessToken).
_WORD_BREAK = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_SECRET_WORDS = frozenset({"TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL",
                           "CREDENTIALS", "APIKEY", "PAT"})
# A name that is one word ending in a secret word: PGPASSWORD (libpq), GHTOKEN.
_SECRET_ENDINGS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET")
# KEY after one of these: API_KEY, ACCESS_KEY (AWS_ACCESS_KEY_ID too), PRIVATE_KEY.
_KEY_KINDS = frozenset({"API", "ACCESS", "PRIVATE", "SECRET", "SIGNING", "ENCRYPTION", "SESSION", "MASTER"})
# The last word of a longer name: KAGGLE_KEY, NPM_CONFIG__AUTH (npm's _auth), MYSQL_PWD; not SSH_AUTH_SOCK (a
# socket path), nor PWD and OLDPWD (the shell's working folder).
_LAST_WORDS = frozenset({"KEY", "AUTH", "PWD"})


def is_secret_name(name: str) -> bool:
    """True for names that mean a secret (HF_TOKEN, AWS_SECRET_ACCESS_KEY, PGPASSWORD), by whole words."""
    words = [word.upper() for word in _WORD_BREAK.split(name) if word]
    if any(word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS) for word in words):
        return True
    if len(words) > 1 and words[-1] in _LAST_WORDS:
        return True
    return any(first in _KEY_KINDS and second == "KEY" for first, second in zip(words, words[1:], strict=False))


# Report text repeats the same few names; long ones (hostile input) are not worth keeping.
_is_secret_name_cached = functools.lru_cache(maxsize=1024)(is_secret_name)


def secret_values(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values to mask wherever they appear: those of secret-named variables, and the userinfo (and password)
    of a URL in any variable (DOCKER_HOST=tcp://user:pass@host), longest first."""
    env = os.environ if env is None else env
    found: set[str] = set()
    for name, value in env.items():
        if is_secret_name(name) and len(value) >= MIN_LITERAL:
            found.add(value)
        if "://" in value:
            found.update(url_secret_literals(value))
    return tuple(sorted(found, key=lambda v: (-len(v), v)))


def url_secret_literals(value: str) -> list[str]:
    """What to mask for one URL-holding value: each userinfo and its password wherever they appear (when long
    enough to be told from ordinary text), and each userinfo in its place after "://" and before "@" whatever its
    length: a short userinfo such as "0:0/x" is masked there and nowhere else."""
    literals: list[str] = []
    for userinfo in url_userinfos(value):
        literals += [v for v in (userinfo, userinfo.partition(":")[2]) if len(v) >= MIN_LITERAL]
        literals.append(f"://{userinfo}@")
    return literals


# --- where secrets stand in text ------------------------------------------------------------------------------

# Go's authority runs from "://" to the first "/", "?" or "#" (here also to the end of the line); the greedy run
# then gives back characters only as far as its LAST "@", where Go's userinfo ends. A try starts at "://" and its
# run stops before the next "://" (which holds a "/"), so no character is scanned by two tries.
_URL_USERINFO = re.compile(r"://(?P<userinfo>[^/?#\n]*)@")
# An authority without "@" that reads as user:password, cut short by a "/", "?" or "#" in the password
# (tcp://user:pa/ss@host, user:/pw@host); "host:2376", "host" and "[::1]:8080" do not read so. Every part of a
# try stops at a character the next part needs, so a failed try gives nothing back to retry, and tries never
# overlap.
_CUT_PASSWORD = re.compile(r"://[^/?#\n@:\[]*:(?![0-9]+(?:[/?#\n]|$))[^/?#\n@]*[/?#]")


def _mask_url_credentials(text: str) -> tuple[str, int]:
    """``text`` with the userinfo of every URL masked, split the way Go's net/url.Parse splits (and so the
    docker CLI, which parses DOCKER_HOST with it): the userinfo ends at the authority's LAST "@"
    (parseAuthority's strings.LastIndex, https://github.com/golang/go/blob/master/src/net/url/url.go), whatever
    the password holds. Where a "/", "?" or "#" in the password ends Go's authority before any "@" (Go then
    rejects the host "user:pa"), the userinfo runs on to the line's last "@". Returns how many were masked."""
    if "://" not in text or "@" not in text:
        return text, 0
    already = text.count(f"://{MASK}@")
    text, count = _URL_USERINFO.subn(f"://{MASK}@", text)
    text, cut = _masked(text, _cut_password_spans(text))
    return text, count - already + cut


def _cut_password_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    while (match := _CUT_PASSWORD.search(text, pos)) is not None:
        start = match.start() + 3
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        last_at = text.rfind("@", match.end(), line_end)
        if last_at >= 0:
            spans.append((start, last_at))
        pos = line_end  # a later URL on this line lies inside the span, or after the line's last "@"
    return spans


def url_userinfos(value: str) -> list[str]:
    """The userinfo parts of the URLs in an environment variable's ``value``: what :func:`_mask_url_credentials`
    masks, and also everything from "://" to the value's last "@". A variable holds one URL (DOCKER_HOST,
    PIP_INDEX_URL), so that is its userinfo even where a password holding both "@" and "/" (p@s/s) splits
    otherwise in Go: masking a little more is the safe side."""
    found = [match.group("userinfo") for match in _URL_USERINFO.finditer(value)]
    masked = _URL_USERINFO.sub(f"://{MASK}@", value)
    found += [masked[start:end] for start, end in _cut_password_spans(masked)]
    start, last_at = value.find("://") + 3, value.rfind("@")
    return found + ([value[start:last_at]] if start > 2 and last_at > start else [])


# NAME = value or NAME: value. The scan looks for a part of a secret word first (one pass in C over the text
# with ASCII capitals lowered, so the search needs no IGNORECASE, which would try every branch at every
# character), then reads the name around each hit: back to where it starts (at most _NAME_MAX characters, read
# in the reversed text) and on to where it ends. The next search starts after that name: each is read once.
_SECRET_HINT = re.compile(r"token|secret|pass|credential|key|auth|pwd|pat")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")  # keeps every index
_NAME_MAX = 256  # longer is no variable or setting name; reading back further would make this quadratic
_NAME_AFTER = re.compile(r"[A-Za-z0-9_.-]*")
_NAME_BEFORE = re.compile(f"[A-Za-z0-9_.-]{{0,{_NAME_MAX + 1}}}")
# From a hit: the rest of the name, "=" or ":" (after an optional closing quote: "token": "..."), the value.
# A quoted value stops at its closing quote or the line's end: when it fails, no quote of that kind is left on
# the line, so a failed scan is never repeated over the same characters. A failed try gives back the name one
# character at a time, and each of those fails at once (a name character is no separator).
_REST = re.compile(r"(?P<rest>[A-Za-z0-9_.-]*)[\"']?[ \t]*[=:][ \t]*"
                   r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s,;\"']+))")


def _assignment_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    if "=" not in text and ":" not in text:
        return spans
    lowered, reversed_text = text.translate(_ASCII_LOWER), ""
    done = 0  # where the last name (or the value masked after it) ended: the next search starts there
    while (hit := _SECRET_HINT.search(lowered, done)) is not None:
        rest = _REST.match(text, hit.start())
        if rest is None:
            done = _NAME_AFTER.match(text, hit.start()).end()  # type: ignore[union-attr]  # * always matches
            continue
        reversed_text = reversed_text or text[::-1]
        tail = len(text) - hit.start()
        before = _NAME_BEFORE.match(reversed_text, tail).end() - tail  # type: ignore[union-attr]
        if before <= _NAME_MAX and _is_secret_name_cached(text[hit.start() - before:rest.end("rest")]):
            spans.append(rest.span(rest.lastgroup or "bare"))
            done = rest.end()
        else:
            done = rest.end("rest")
    return spans


# Token shapes: GitHub, Hugging Face, OpenAI-style, GitLab, npm, Slack, AWS access key ids. Each is a fixed
# prefix and then one repeated class: a failed try ends within the prefix or in a run shorter than its minimum,
# and a match takes its whole run, so no character is scanned twice. A "_" may come before a token (MY_hf_...),
# a letter or digit may not. The lookbehind follows the prefix (and repeats it) so that the search still skips
# straight to a prefix's first letter; one in front of the alternatives would be tried at every character.
_SHAPES = (("gh", "[pousr]_[A-Za-z0-9]{20,}"), ("github_pat_", "[A-Za-z0-9_]{20,}"), ("hf_", "[A-Za-z0-9]{20,}"),
           ("sk-", "[A-Za-z0-9_-]{20,}"), ("glpat-", "[A-Za-z0-9_-]{20,}"), ("npm_", "[A-Za-z0-9]{36,}"),
           ("xox", "[abprs]-[A-Za-z0-9-]{10,}"), ("AKIA", "[0-9A-Z]{16}"))
_TOKEN_SHAPES = re.compile("|".join(f"{prefix}(?<![A-Za-z0-9]{prefix}){body}" for prefix, body in _SHAPES))
# A JWT's three base64url parts. Its lookbehind also refuses "_" and "-", the parts' own characters, so a try
# goes on only where a run of them starts: a long run without the dots is scanned once, not once per "eyJ".
_JWT = re.compile(r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
# The token of a conda channel URL (https://conda.anaconda.org/t/<token>/channel): a try starts at "/t/" and
# stops at the next "/" or blank, and the next "/t/" lies beyond it.
_CONDA_TOKEN = re.compile(r"/t/(?P<token>[^/\s]+)/")

# The kinds of things masked, in the order --share names them.
SECRET_VALUES = "secret values"
URL_CREDENTIALS = "credentials in URLs"
ASSIGNMENTS = "NAME=value secrets"
TOKENS = "tokens"
CONDA_TOKENS = "conda channel tokens"
HOME = "the home folder, as ~"
_KINDS = (SECRET_VALUES, URL_CREDENTIALS, ASSIGNMENTS, TOKENS, CONDA_TOKENS)
# Who the person is (--share): kind -> what stands in its place.
IDENTITY_LABELS = {"user name": "[user]", "git user.name": "[git-name]", "git user.email": "[git-email]",
                   "host name": "[host]"}
# Names that say nothing about who the person is, and that a report uses as ordinary words.
_NOT_IDENTIFYING = frozenset({"root", "localhost", "localhost.localdomain"})


def _masked(text: str, spans: list[tuple[int, int]]) -> tuple[str, int]:
    """``text`` with each span replaced by MASK, and how many spans were not masked already."""
    parts: list[str] = []
    pos = count = 0
    for start, end in spans:  # sorted by start; one that starts inside the last mask widens it
        if start < pos:
            pos = max(pos, end)
            continue
        if end <= start or text[start:end] == MASK:
            continue
        parts += [text[pos:start], MASK]
        pos = end
        count += 1
    return "".join(parts) + text[pos:], count


def _in_place(literal: str) -> bool:
    """A URL's userinfo kept with the "://" before it and the "@" after it (see url_secret_literals)."""
    return literal.startswith("://") and literal.endswith("@") and len(literal) > 4


class Redactor:
    """Masks secrets (and, given them, the home folder and who the person is) in raw text, counting by kind."""

    def __init__(self, *, secrets: Sequence[str] = (), home: str | None = None,
                 identity: Sequence[tuple[str, str]] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_LITERAL or _in_place(s)},
                               key=lambda s: (-len(s), s))
        home = (home or "").rstrip("/")
        self._home = re.compile(re.escape(home) + r"(?=/|\b|$)") if home else None
        # Whole words only (a user "ada" is not the "ada" in "Canada"; it is in "ada-laptop"), longest first (a name
        # before its part). The lookbehind follows the value so that the search skips straight to its first letter.
        people = sorted({(kind, value) for kind, value in identity if len(value) >= 2
                         and value.lower() not in _NOT_IDENTIFYING}, key=lambda p: (-len(p[1]), p))
        self._identity = [(kind, value, re.compile(
            re.escape(value) + r"(?<!\w" + re.escape(value) + r")(?!\w)"))
                          for kind, value in people]
        self.counts: Counter[str] = Counter()

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                self.counts[SECRET_VALUES] += text.count(secret)
                text = text.replace(secret, f"://{MASK}@" if _in_place(secret) else MASK)
        if self._home is not None:
            text, n = self._home.subn("~", text)
            self.counts[HOME] += n
        for kind, value, pattern in self._identity:
            if value in text:
                text, n = pattern.subn(IDENTITY_LABELS[kind], text)
                self.counts[kind] += n
        text, n = _mask_url_credentials(text)
        self.counts[URL_CREDENTIALS] += n
        text, n = _masked(text, _assignment_spans(text))
        self.counts[ASSIGNMENTS] += n
        if "/t/" in text:
            text, n = _masked(text, [m.span("token") for m in _CONDA_TOKEN.finditer(text)])
            self.counts[CONDA_TOKENS] += n
        for shape in (_TOKEN_SHAPES, _JWT) if "eyJ" in text else (_TOKEN_SHAPES,):
            text, n = shape.subn(MASK, text)
            self.counts[TOKENS] += n
        return text

    def report(self, report: Report) -> Report:
        """The same report with every string from outside envcheck masked (see :func:`map_strings`)."""
        return map_strings(report, lambda _field, text: self.text(text))

    def summary(self) -> str:
        """One line saying what kinds of things were masked, and how often, for the end of ``--share``."""
        parts = [f"{kind} ({self.counts[kind]})" for kind in _KINDS if self.counts[kind]]
        parts += [f"the {kind}, as {label} ({self.counts[kind]})" for kind, label in IDENTITY_LABELS.items()
                  if self.counts[kind]]
        if self.counts[HOME]:
            parts.append(f"{HOME} ({self.counts[HOME]})")
        if not parts:
            return ("Masked by envcheck: nothing found (it looks for secrets, tokens, credentials in URLs, the user, "
                    "git and host names, and the home folder).")
        return "Masked by envcheck: " + ", ".join(parts) + "."


def redact(text: str, *, home: str | None = None, secrets: Sequence[str] = ()) -> str:
    """Mask credentials in URLs, conda channel tokens, NAME=value secrets, known token shapes and any literal
    value in ``secrets``; with ``home``, show the home folder as ``~``."""
    return Redactor(secrets=secrets, home=home).text(text)


def person_identity(env: Mapping[str, str] | None = None, hosts: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
    """Who runs envcheck, as (kind, value) pairs for a Redactor: the user name, git's user.name and user.email
    (the environment's GIT_AUTHOR_* / GIT_COMMITTER_* / EMAIL, and what `git config` answers in this folder),
    and the host names (``hosts`` and this machine's, with its first label)."""
    import getpass
    import socket

    from envcheck import runner

    env = os.environ if env is None else env
    found: set[tuple[str, str]] = set()
    try:
        found.add(("user name", getpass.getuser()))
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry for this uid (a container's random uid)
        pass
    for kind, names in (("git user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
                        ("git user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL", "EMAIL"))):
        found.update((kind, env[name].strip()) for name in names if env.get(name, "").strip())
    done = runner.run(["git", "config", "--get-regexp", r"^user\.(name|email)$"], timeout_s=5)
    for line in done.out.splitlines() if done.ok else ():
        key, _, value = line.partition(" ")
        if value.strip():
            found.add(("git user.name" if key == "user.name" else "git user.email", value.strip()))
    for host in (*hosts, socket.gethostname()):
        found.update(("host name", name) for name in (host, host.split(".")[0]) if name)
    return tuple(sorted(found))


# --- the strings of a report ----------------------------------------------------------------------------------


def map_strings(report: Report, change: Callable[[str, str], str]) -> Report:
    """``report`` with ``change(field, text)`` applied to every string that may come from outside envcheck: the
    host, each result's title, item, observed, expected, reason and fix (and any string field an Outcome gains),
    and every string in its evidence, keys included; the policy's path and the group names (given on the command
    line). Ids, statuses, caused_by (an id), the policy's digest and numbers stay."""
    results = tuple(_map_result(result, change) for result in report.results)
    policy = report.policy
    if policy is not None:
        policy = replace(policy, path=None if policy.path is None else change("policy", policy.path),
                         groups=tuple(change("groups", group) for group in policy.groups))
    return replace(report, host=change("host", report.host), results=results, policy=policy,
                   groups=tuple(change("groups", group) for group in report.groups))


def _map_result(result: Result, change: Callable[[str, str], str]) -> Result:
    outcome = result.outcome
    changed: dict[str, Any] = {}
    for field in fields(outcome):
        value = getattr(outcome, field.name)
        if field.name == "evidence":
            changed[field.name] = _map_value(value, lambda text: change("evidence", text))
        elif field.name != "caused_by" and isinstance(value, str) and not isinstance(value, Enum):
            changed[field.name] = change(field.name, value)
    return replace(result, title=change("title", result.title), outcome=replace(outcome, **changed))


def _map_value(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {change(k) if isinstance(k, str) else k: _map_value(v, change) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_value(v, change) for v in value]
    return change(str(value))  # what the JSON report's default=str would print
