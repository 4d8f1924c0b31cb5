"""Secrets never reach a report, whatever they hold and wherever they stand: through the real rendering step
(output.emit_report) into all four outputs (terminal, --json, --share, --junit), each read back the way its reader
reads it (json.loads, an XML parser, markdown's entities undone), and masking stays linear in the text."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from unittest import mock
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envcheck.model import Outcome, Report, Result, Status
from envcheck.output import ReportOptions, emit_report
from envcheck.redact import MASK, Redactor, is_secret_name, redact, secret_values

# --- the four renderings of one report, as a reader gets them ------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def renderings(report: Report, env: dict[str, str], tmp: Path) -> dict[str, str]:
    """{output: its text as its reader sees it} from the real emit_report, with ``env`` as the environment."""
    outputs: dict[str, str] = {}
    junit = tmp / "report.xml"
    with mock.patch.dict(os.environ, env):
        for name, options in (("terminal", ReportOptions(color=False, verbose=True, junit=str(junit))),
                              ("json", ReportOptions(as_json=True)), ("share", ReportOptions(share=True))):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert emit_report(report, options) == report.exit_code
            outputs[name] = out.getvalue()
    # Each as its reader reads it: JSON decoded, XML parsed (it must parse), markdown's escapes undone.
    outputs["json"] = "\n".join(_strings(json.loads(outputs["json"])))
    root = ET.fromstring(junit.read_bytes())
    texts = [element.text or "" for element in root.iter()]
    outputs["junit"] = "\n".join(texts + [value for element in root.iter() for value in element.attrib.values()])
    outputs["share"] = html.unescape(outputs["share"].replace("\\|", "|"))
    return outputs


def report_with(text: str) -> Report:
    """A report with ``text`` in every field that carries outside strings."""
    outcome = Outcome(status=Status.FAIL, observed=f"engine at {text}", expected=text, reason=f"cannot reach {text}",
                      fix=f"export DOCKER_HOST={text}\ndocker info", item=text,
                      evidence={"url": text, "nested": [{"k": text}], text: 1})
    return Report("doctor", "vm", "2026-11-27T12:00:00+00:00", 0.5,
                  (Result("docker.endpoint", f"endpoint {text}", outcome),
                   Result("docker.installed", "installed", Outcome(status=Status.PASS, observed=text))))


# --- credentials in URLs ------------------------------------------------------------------------------------

PLAIN = "abcXYZ019-._~"
NON_ASCII = "äöß漢é"
USERS = st.text(alphabet=PLAIN, min_size=1, max_size=8)


def passwords(specials: str) -> st.SearchStrategy[str]:
    """Passwords that hold at least one of ``specials`` and a non-ASCII letter, so that no rendering's own words
    ("passed", "exit code 1.") can hold one by chance."""
    part = st.text(alphabet=PLAIN + specials + NON_ASCII, max_size=6)
    return st.tuples(part, st.sampled_from(specials), part, st.sampled_from(NON_ASCII), part).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user=USERS, password=passwords('@/: "<#?\''))
def test_a_url_password_from_the_environment_never_reaches_any_output(user: str, password: str,
                                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"tcp://{user}:{password}@gpu-host.example:2376"
    outputs = renderings(report_with(url), {"DOCKER_HOST": url}, tmp_path_factory.mktemp("r"))
    for name, text in outputs.items():
        assert password not in text, name
        assert "gpu-host.example:2376" in text, name  # the host is kept: it is what a person needs to see


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user=USERS, password=st.one_of(passwords('@: "<\''), passwords('/?#: "<')).map(lambda p: "x" + p))
def test_a_url_password_only_in_text_is_masked_as_go_splits_the_url(user: str, password: str,
                                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    # Not in the environment (a conda channel, a git remote): found in the text alone. Go's url.Parse ends the
    # userinfo at the authority's last "@"; a password with "/", "?" or "#" (and no "@") runs to the line's last "@".
    # It starts with a letter: "user:123/x@host" is host:port and a path to Go, and in text alone to envcheck too
    # (the first test shows the environment's value masks it wherever it appears).
    url = f"https://{user}:{password}@repo.example.org/simple"
    outputs = renderings(report_with(url), {}, tmp_path_factory.mktemp("r"))
    for name, text in outputs.items():
        assert password not in text, name
        assert f"https://{MASK}@repo.example.org/simple" in text, name


@pytest.mark.parametrize(("text", "masked"), [
    ("tcp://user:p@ss@host", f"tcp://{MASK}@host"),
    ("tcp://user:pa/ss@host:2376/x", f"tcp://{MASK}@host:2376/x"),
    ("ssh://u:p ss@host", f"ssh://{MASK}@host"),
    ("http://u:p#frag@host", f"http://{MASK}@host"),
    ("http://localhost:8080/@types/node", "http://localhost:8080/@types/node"),  # a port, then "@" in the path
    ("http://[::1]:8080/@x", "http://[::1]:8080/@x"),
    ("https://tok@h/x and tcp://a:b@c", f"https://{MASK}@h/x and tcp://{MASK}@c"),
    ("X_hf_" + "a" * 30, f"X_{MASK}"),  # a token after an underscore
    ("ghp_" + "b" * 36 + "_tail", f"{MASK}_tail"),
    ("HF_TOKEN: 'a b c' and MY_SECRET=\"x\"", f"HF_TOKEN: '{MASK}' and MY_SECRET=\"{MASK}\""),
    ('{"api_key": "k1", "author": "ada"}', f'{{"api_key": "{MASK}", "author": "ada"}}'),
    ("GIT_AUTHOR_NAME=python TOKENIZERS_PARALLELISM=false", "GIT_AUTHOR_NAME=python TOKENIZERS_PARALLELISM=false"),
])
def test_where_secrets_stand_in_text(text: str, masked: str) -> None:
    assert redact(text) == masked


# --- which environment variables are secrets --------------------------------------------------------------

NEUTRAL_WORDS = ["GIT", "AUTHOR", "NAME", "TOKENIZERS", "PARALLELISM", "CUDA", "VISIBLE", "DEVICES", "HOME", "PATH",
                 "KEYBOARD", "PASSTHROUGH", "SECRETARY", "AUTHORITY", "MONKEY", "PATTERN", "SSH", "SOCK", "MAX",
                 "TOKENS", "HF", "HUB", "CACHE", "CONDA", "PREFIX"]
SECRET_WORDS = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS", "API_KEY", "ACCESS_KEY", "PRIVATE_KEY",
                "AUTH_TOKEN", "PASSPHRASE"]


@pytest.mark.parametrize("name", ["HF_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "WANDB_API_KEY",
                                  "HUGGING_FACE_HUB_TOKEN", "MYSQL_PWD", "NPM_CONFIG__AUTH", "apiKey", "GITHUB_PAT"])
def test_names_meant_as_secrets(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["GIT_AUTHOR_NAME", "AUTHOR", "TOKENIZERS_PARALLELISM", "SSH_AUTH_SOCK", "PWD",
                                  "OLDPWD", "PATH", "MAX_TOKENS", "KEYBOARD_LAYOUT", "CUDA_VISIBLE_DEVICES"])
def test_names_that_only_contain_a_secret_word(name: str) -> None:
    assert not is_secret_name(name)


@settings(max_examples=150, deadline=None)
@given(words=st.lists(st.sampled_from(NEUTRAL_WORDS), min_size=1, max_size=4), secret=st.sampled_from(SECRET_WORDS),
       at=st.integers(min_value=0, max_value=4), value=st.text(alphabet=PLAIN + NON_ASCII, min_size=6, max_size=12))
def test_a_name_is_a_secret_by_its_whole_words(words: list[str], secret: str, at: int, value: str) -> None:
    neutral = "_".join(words)
    named = "_".join(words[:at] + [secret] + words[at:])
    assert not is_secret_name(neutral) and is_secret_name(named)
    assert secret_values({neutral: value}) == ()
    assert secret_values({named: value}) == (value,)
    # A neutral variable's value stays readable in the report: GIT_AUTHOR_NAME=python hides no "python".
    masked = Redactor(secrets=secret_values({neutral: value, named: "s3cr3t-" + value})).text(f"{value} s3cr3t-{value}")
    assert masked == f"{value} {MASK}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=st.tuples(st.text(alphabet=PLAIN, max_size=6), st.sampled_from('"<>&\'\\'), st.sampled_from(NON_ASCII),
                        st.text(alphabet=PLAIN, min_size=4, max_size=8)).map("".join))
def test_a_secret_value_with_quotes_brackets_or_non_ascii_is_masked_before_any_escaping(
        secret: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {"HF_TOKEN": secret, "GIT_AUTHOR_NAME": "python"}
    outputs = renderings(report_with(f"token {secret} by python"), env, tmp_path_factory.mktemp("r"))
    for name, text in outputs.items():
        assert secret not in text, name
        # GIT_AUTHOR_NAME holds no secret (AUTH is inside AUTHOR), so "python" stays; --share hides it as the
        # git identity it is.
        assert ("[git-name]" if name == "share" else "python") in text, name


# --- --share hides who the person is --------------------------------------------------------------------


def test_share_masks_the_person_and_says_what_it_masked() -> None:
    report = report_with("Ada Lovelace <ada@example.org> on gpu-01 as ada, /home/ada/x, tcp://u:pw@h")
    identity = [("user name", "ada"), ("git user.name", "Ada Lovelace"), ("git user.email", "ada@example.org"),
                ("host name", "gpu-01")]
    sharing = Redactor(home="/home/ada", identity=identity)
    observed = sharing.report(report).results[0].observed
    assert observed == f"engine at [git-name] <[git-email]> on [host] as [user], ~/x, tcp://{MASK}@h"
    assert sharing.summary() == (
        "Masked by envcheck: credentials in URLs (10), the user name, as [user] (10), the git user.name, as "
        "[git-name] (10), the git user.email, as [git-email] (10), the host name, as [host] (10), the home "
        "folder, as ~ (10).")
    assert Redactor().summary().startswith("Masked by envcheck: nothing found")
    # "ada" inside another word stays: Canada is no user name.
    assert Redactor(identity=[("user name", "ada")]).text("Canada ada-x ada") == "Canada [user]-x [user]"


# --- linear time ------------------------------------------------------------------------------------------

MB = 1_000_000
# Shapes that made the earlier patterns backtrack (a scan from every start over the same run), 4 MB each.
SHAPES = {
    "letters": "a" * 4 * MB,
    "schemes": "a://" * MB,
    "at signs": "@" * 4 * MB,
    "userinfo with many @": ("tcp://u:p" + "@" * 10) * (4 * MB // 19),
    "cut passwords": "h://u:x/" * (MB // 2),
    "cut password, one @ at the end": "x://a:b " * (MB // 2) + "@",
    "a colon and blanks": "x://u:p" + " " * 4 * MB,
    "token prefixes": "sk-" * (4 * MB // 3),
    "github_pat prefixes": "github_pat_" * (4 * MB // 11),
    "jwt starts": "eyJ_" * MB,
    "jwt parts": ("eyJ" + "a" * 12 + ".") * (MB // 4),
    "a long name": "A" * 4 * MB + "=",
    "a secret word repeated": "TOKEN" * (4 * MB // 5) + "=x",
    "an open quote": 'TOKEN="' + "a" * 4 * MB,
    "conda token starts": "/t/" * (4 * MB // 3),
    "mixed": "a_b-c.d:e=f@g/h " * (MB // 4),
}
# The costliest shape is the densest that really holds secrets (a NAME=value every 12 characters): each one found
# costs a few regex calls from Python, so it gets 1 MB.
DENSE = {"NAME: value every 12 characters": "HF_TOKEN: x " * (MB // 12), "TOKEN=\" pairs": 'TOKEN="' * (MB // 7)}
CPU_S = 2.0  # CPU seconds (not wall: this machine is shared); each shape takes 0.05-0.4 s here


@pytest.mark.parametrize("shape", [*SHAPES, *DENSE])
def test_masking_is_linear_on_hostile_shapes(shape: str) -> None:
    text = SHAPES.get(shape) or DENSE[shape]
    redactor = Redactor(secrets=("s3cr3t-value",), home="/home/ada", identity=[("user name", "ada")])
    start = time.process_time()
    redactor.text(text)
    assert time.process_time() - start < CPU_S


# --- the real command -------------------------------------------------------------------------------------


def test_doctor_with_hostile_credentials_in_the_environment(tmp_path: Path) -> None:
    password = 'p@s/s "x<ä'
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "NO_COLOR": "1",
           "DOCKER_HOST": f"tcp://user:{password}@127.0.0.1:1", "HF_TOKEN": 'hf_"<ä' + "z" * 24,
           "GIT_AUTHOR_NAME": "python"}
    subprocess.run(["git", "config", "--global", "user.name", "Zed Quux"], env=env, check=True)
    subprocess.run(["git", "config", "--global", "user.email", "zed@quux.example"], env=env, check=True)
    junit = tmp_path / "r.xml"
    outputs = {}
    for name, flags in (("terminal", ["-v", "--junit", str(junit)]), ("json", ["--json"]), ("share", ["--share"])):
        done = subprocess.run([sys.executable, "-m", "envcheck", "doctor", "--only", "docker,git", *flags], env=env,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 1, done.stderr  # docker.daemon-reachable fails: nothing listens on port 1
        outputs[name] = done.stdout
    outputs["json"] = "\n".join(_strings(json.loads(outputs["json"])))
    outputs["junit"] = ET.tostring(ET.fromstring(junit.read_bytes()), encoding="unicode")
    outputs["share"] = html.unescape(outputs["share"].replace("\\|", "|"))
    for name, text in outputs.items():
        for secret in (password, "s/s", "x<ä", 'hf_"<ä'):
            assert secret not in text, (name, secret)
        assert f"tcp://{MASK}@127.0.0.1:1" in text, name
    share = outputs["share"]
    assert "zed@quux.example" not in share and str(home) not in share
    assert "[git-name] <[git-email]>" in share
    assert share.rstrip().splitlines()[-1].startswith("Masked by envcheck: secret values (")
    # Only --share hides who the person is; GIT_AUTHOR_NAME (git's name for this run) is no secret.
    assert "python <zed@quux.example>" in outputs["terminal"] and "python" not in share
