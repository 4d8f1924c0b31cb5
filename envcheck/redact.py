"""Secrets out of every report: credentials in URLs, channel tokens, token-like values.

Reports are pasted into bug trackers; treat every observed value as possibly secret-bearing.
"""

from __future__ import annotations

import re

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@")
_CONDA_TOKEN = re.compile(r"/t/[^/\s]+/")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)", re.I)
_ASSIGNMENT = re.compile(
    r"\b(?P<name>[A-Za-z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|CREDENTIALS?|AUTH)"
    r"[A-Za-z0-9_]*)(?P<sep>\s*[=:]\s*)(?P<value>[^\s,;\"']+)",
    re.I,
)
# Well-known token shapes: GitHub, Hugging Face, OpenAI-style, Slack, AWS access key ids, JWTs.
_TOKEN_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)

MASK = "***"


def is_secret_name(name: str) -> bool:
    """True for environment variable names that usually hold a secret (HF_TOKEN, AWS_SECRET_ACCESS_KEY)."""
    return bool(_SECRET_NAME.search(name))


def redact(text: str, *, home: str | None = None, secrets: tuple[str, ...] = ()) -> str:
    """Mask credentials in URLs, conda channel tokens, NAME=value secrets, known token shapes and
    any literal value in ``secrets``; with ``home``, show the home folder as ``~``."""
    for value in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _CONDA_TOKEN.sub(f"/t/{MASK}/", text)
    text = _ASSIGNMENT.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", text)
    text = _TOKEN_SHAPES.sub(MASK, text)
    if home and home not in ("/", ""):
        text = re.sub(re.escape(home.rstrip("/")) + r"(?=/|\b|$)", "~", text)
    return text


def secret_values(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """Values of token-like environment variables, to mask wherever they appear."""
    import os

    env = dict(os.environ) if env is None else env
    return tuple(v for k, v in env.items() if is_secret_name(k) and len(v) >= 6)
