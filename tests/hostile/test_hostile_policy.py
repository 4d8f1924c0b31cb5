"""A policy file is untrusted input (a cloned repository, a shared folder): whatever it holds, load_policy returns a
Policy or raises a UsageError of one bounded line, quickly, and never accepts a value a check trips over later."""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envcheck.model import UsageError
from envcheck.policy import MAX_POLICY_BYTES, Policy, default_policy, load_policy, shown

KNOWN = [f.name for f in fields(Policy)]
MESSAGE_MAX = 700  # a message names the key or value at fault (cut to about 60 characters) and what is wanted
SECONDS_MAX = 3.0  # per document on a 2-core machine shared with other test runs; a document takes ~0.01 s
# A document of 1 MiB, the cap, through PyYAML's pure-Python scanner: about 1 s when the machine is idle.
SECONDS_MAX_AT_CAP = 20.0


def _load(path: Path, seconds_max: float = SECONDS_MAX) -> Policy | str:
    """The Policy, or the UsageError's message after checking it is one bounded line; timed."""
    start = time.monotonic()
    try:
        return load_policy(path)
    except UsageError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert len(message) <= MESSAGE_MAX, message
        assert message.startswith("policy: "), message
        return message
    finally:
        assert time.monotonic() - start < seconds_max, path


def _write(tmp_path: Path, data: bytes | str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


ALIAS_BOMB = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8)) + "python_min: *i\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1: 2\n", "policy: every key must be text, got the key 1"),
        ("null: 2\n", "policy: every key must be text, got the key None"),
        ("ram_min_gib: .inf\n", "policy: ram_min_gib must be a number from 0 to 1048576 (GiB), got inf"),
        ("gpu_temp_warn_c: .nan\n",
         "policy: gpu_temp_warn_c must be a number from 0 to 150 (degrees Celsius), got nan"),
        ("gpu_temp_warn_c: 300\n",
         "policy: gpu_temp_warn_c must be a number from 0 to 150 (degrees Celsius), got 300"),
        ("python_min: banana\n",
         "policy: python_min must be a version X.Y or X.Y.Z in quotes, like '3.10', got 'banana'"),
        ("python_min: 3.20\n",
         "policy: python_min must be a version in quotes, like '3.10' (YAML reads an unquoted 3.10 as the number 3.1), "
         "got the number 3.2"),
        ("conda_warn_below: 23\n", "policy: conda_warn_below must be a version in quotes, like '3.10' (YAML reads an "
                                   "unquoted 3.10 as the number 3.1), got the number 23"),
        ("python_min: [3, 10]\n",
         "policy: python_min must be a version X.Y or X.Y.Z in quotes, like '3.10', got [3, 10]"),
        ("probe_timeout_s: 0\n", "policy: probe_timeout_s must be a number from 0.1 to 600 (seconds), got 0"),
        ("probe_timeout_s: 1e9\n", "policy: probe_timeout_s must be a number from 0.1 to 600 (seconds), got '1e9'"),
        ("smoke_accuracy_min: 95\n",
         "policy: smoke_accuracy_min must be a number from 0 to 1 (a fraction: 0.95 is 95%), got 95"),
        ("smoke_matmul_peak_min_pct: 101\n",
         "policy: smoke_matmul_peak_min_pct must be a number from 0 to 100 (per cent), got 101"),
        ("ubuntu_support_warn_days: 1.5\n",
         "policy: ubuntu_support_warn_days must be a whole number from 0 to 36500 (days), got 1.5"),
        ("ubuntu_support_warn_days: -1\n",
         "policy: ubuntu_support_warn_days must be a whole number from 0 to 36500 (days), got -1"),
        ("require_gpu: 1\n", "policy: require_gpu must be true or false, got 1"),
        ("basic_tools: [ls, 'a b']\n", "policy: basic_tools[1] must be a command name (letters, digits, . _ + -), "
                                       "got 'a b'"),
        ("basic_tools: [ls, 7]\n", "policy: basic_tools[1] must be a command name (letters, digits, . _ + -), got 7"),
        ("python-min: '3.11'\npython_min: '3.11'\n", "policy: python_min is given twice"),
        ("a: &x 1\n", "line 1, column 4: anchors and aliases (&name, *name) are not allowed in a policy"),
        (ALIAS_BOMB, "line 1, column 4: anchors and aliases (&name, *name) are not allowed in a policy"),
        ("python_min: !!python/object/apply:os.system ['true']\n",
         "line 1, column 13: could not determine a constructor for the tag "
         "'tag:yaml.org,2002:python/object/apply:os.system'"),
        ("python_min: !!binary aGVsbG8=\n",
         "policy: python_min must be a version X.Y or X.Y.Z in quotes, like '3.10', got b'hello'"),
        ("python_min: 2024-01-01\n",
         "policy: python_min must be a version X.Y or X.Y.Z in quotes, like '3.10', got datetime.date(2024, 1, 1)"),
        ("key: [unclosed\n", "line 2, column 1: while parsing a flow sequence; expected ',' or ']', but got "
                             "'<stream end>'"),
        ("a: 1\n  b: 2\n", "line 2, column 4: mapping values are not allowed here"),
        ("python_min: '3.11'\n---\nram_min_gib: 1\n", "line 2, column 1: expected a single document in the stream; "
                                                      "but found another document"),
        ("- " * 20 + "x\n", "line 1, column 17: nested more than 8 deep"),
        ("".join(f"- {i}\n" for i in range(6000)), "line 5000, column 3: more than 5000 values"),
        ("ram_min_gib: " + "9" * 5000 + "\n",
         "is not valid: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits; "
         "use sys.set_int_max_str_digits() t..."),
        ("a: \x07\n", "is not valid YAML: unacceptable character #x0007: special characters are not allowed in "
                      "\"<unicode string>\", position 3"),
        ("- a\n", "must hold a mapping of keys to values, got list"),
        ("python_min: " + "9" * 5000 + ".1\n", "policy: python_min must be a version in quotes, like '3.10' (YAML "
                                               "reads an unquoted 3.10 as the number 3.1), got the number inf"),
        ("python_min: '" + "x" * 10_000 + "'\n", "policy: python_min must be a version X.Y or X.Y.Z in quotes, like "
                                                "'3.10', got '" + "x" * 27 + "..." + "x" * 28 + "'"),
    ],
)
def test_each_class_of_hostile_yaml_ends_in_one_bounded_line(tmp_path: Path, text: str, message: str) -> None:
    outcome = _load(_write(tmp_path, text))
    assert isinstance(outcome, str) and outcome.endswith(message), outcome


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"ram_min_gib": NaN}', "is not valid: NaN is not a number a policy can hold"),
        ('{"ram_min_gib": -Infinity}', "is not valid: -Infinity is not a number a policy can hold"),
        ('{"ram_min_gib": 1e999}', "policy: ram_min_gib must be a number from 0 to 1048576 (GiB), got inf"),
        ('{"python_min": 3.10}', "got the number 3.1"),
        ('{"python_min": "3.12", "python_min": "3.9"}', "is not valid: key 'python_min' is given twice"),
        ('{"1": 2}', "policy: unknown key '1' (`envcheck policy schema` lists every key)"),
        ('{"gpu_cont": 2}', "policy: unknown key 'gpu_cont' (did you mean gpu_count? `envcheck policy schema` lists "
                            "every key)"),
        ("[" * 100_000, "nests too deeply"),
        ('{"a": 1,}', "line 1, column 9: Expecting property name enclosed in double quotes"),
        ('"text"', "must hold a mapping of keys to values, got str"),
    ],
)
def test_each_class_of_hostile_json_ends_in_one_bounded_line(tmp_path: Path, text: str, message: str) -> None:
    outcome = _load(_write(tmp_path, text, "p.json"))
    assert isinstance(outcome, str) and outcome.endswith(message), outcome


@pytest.mark.parametrize("name", ["p.yaml", "p.json"])
@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n# and another\n", "\ufeff", "null\n"])
def test_an_empty_or_comment_only_file_means_the_defaults(tmp_path: Path, name: str, text: str) -> None:
    if name == "p.json" and "#" in text:
        text = "  "  # JSON has no comments; whitespace is its empty file
    if name == "p.json" and text.strip() == "null":
        text = "null"
    assert _load(_write(tmp_path, text, name)) == default_policy()


def test_a_bom_from_a_windows_editor_is_dropped(tmp_path: Path) -> None:
    policy = _load(_write(tmp_path, b"\xef\xbb\xbfpython_min: '3.12'\r\nrequire_gpu: true\r\n"))
    assert isinstance(policy, Policy) and policy.python_min == "3.12" and policy.require_gpu is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfepython_min: 1\n", "is not UTF-8 text (byte 0xff at offset 0)"),
        (b"python_min: '3.1\xe9'\n", "is not UTF-8 text (byte 0xe9 at offset 16)"),
        ("python_min: '3.12'\n".encode("utf-16"), "is not UTF-8 text (byte 0xff at offset 0)"),
    ],
)
def test_bytes_that_are_not_utf8_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    outcome = _load(_write(tmp_path, data))
    assert isinstance(outcome, str) and outcome.endswith(message), outcome


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as out:  # sparse: 50 MB that read_text would have to pull in whole
        out.truncate(50 * 1024 * 1024)
    outcome = _load(path)
    assert outcome == f"policy: {shown(str(path))} has 52428800 bytes; a policy file has at most {MAX_POLICY_BYTES}"
    just_over = _write(tmp_path, "#" * MAX_POLICY_BYTES + "\n")
    assert _load(just_over) == (f"policy: {shown(str(just_over))} has {MAX_POLICY_BYTES + 1} bytes; a policy file "
                                f"has at most {MAX_POLICY_BYTES}")
    at_cap = _write(tmp_path, "#" * (MAX_POLICY_BYTES - 1) + "\n")
    assert _load(at_cap, SECONDS_MAX_AT_CAP) == default_policy()


def test_a_fifo_a_folder_and_a_device_are_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # A writer that never comes: reading the FIFO would wait forever. The thread only guards the test itself.
    result: list[Policy | str] = []
    reader = threading.Thread(target=lambda: result.append(_load(fifo)), daemon=True)
    reader.start()
    reader.join(SECONDS_MAX)
    assert result == [f"policy: {shown(str(fifo))} is not a regular file"]
    assert _load(tmp_path) == f"policy: {shown(str(tmp_path))} is not a regular file"
    assert _load(Path("/dev/zero")) == "policy: '/dev/zero' is not a regular file"
    assert _load(tmp_path / "missing.yaml") == (f"policy: cannot read {shown(str(tmp_path / 'missing.yaml'))}: "
                                                "No such file or directory")


def test_random_bytes_end_cleanly(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    outcomes = Counter()
    for i in range(200):
        data = rng.randbytes(rng.randrange(1, 4096))
        outcome = _load(_write(tmp_path, data, "p.json" if i % 2 else "p.yaml"))
        outcomes["policy" if isinstance(outcome, Policy) else "usage error"] += 1
    assert outcomes == {"usage error": 200}


# --- generated documents -------------------------------------------------------------------------------------

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
           | st.sampled_from(["3.10", "3.9.1", "3.", ".1", "3.10.1.1", "１.２", "ls", "a/b", "", "yes", "~"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=20)
KEYS = (st.sampled_from(KNOWN) | st.sampled_from([k.replace("_", "-") for k in KNOWN]) | st.text(max_size=20)
        | st.sampled_from(["_about", "<<", "", " python_min"]))
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=8)
EXAMPLES = 400


def _serialise(document: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(document)  # NaN and Infinity as JSON's non-standard tokens, which Python writes
    return yaml.safe_dump(document, allow_unicode=True)


def _tally(seen: Counter[str], outcome: Policy | str) -> None:
    if isinstance(outcome, Policy):  # accepted: every value is one a check can use
        _assert_usable(outcome)
    seen["policy" if isinstance(outcome, Policy) else "usage error"] += 1


def test_generated_documents_give_a_policy_or_one_bounded_line(tmp_path: Path) -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(document=DOCUMENTS, as_json=st.booleans())
    def load_one(document: dict[str, Any], as_json: bool) -> None:
        _tally(seen, _load(_write(tmp_path, _serialise(document, as_json), "p.json" if as_json else "p.yaml")))

    load_one()
    print(f"\ngenerated policy documents: {dict(seen)}")  # the counts, for `pytest -s`
    assert seen.total() >= EXAMPLES // 2 and set(seen) <= {"policy", "usage error"}


def test_generated_text_gives_a_policy_or_one_bounded_line(tmp_path: Path) -> None:
    seen: Counter[str] = Counter()
    yamlish = ":-[]{}&*!|>'\"%@`#,? \n\t.0123456789abcdeinoprstuy_"

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.text(alphabet=yamlish, max_size=300))
    def load_one(text: str) -> None:
        _tally(seen, _load(_write(tmp_path, text)))

    load_one()
    print(f"\ngenerated policy texts: {dict(seen)}")
    assert seen.total() >= EXAMPLES // 2 and set(seen) <= {"policy", "usage error"}


VALID = {
    "python_min": st.from_regex(r"[0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,4})?", fullmatch=True),
    "ram_min_gib": st.integers(0, 1 << 20) | st.floats(0, 1 << 20),
    "ubuntu_support_warn_days": st.integers(0, 36500),
    "gpu_temp_warn_c": st.floats(0, 150),
    "probe_timeout_s": st.floats(0.1, 600),
    "smoke_accuracy_min": st.floats(0, 1),
    "smoke_memory_peak_min_pct": st.integers(0, 100),
    "require_docker": st.booleans(),
    "basic_tools": st.lists(st.from_regex(r"[A-Za-z0-9_.+-]{1,64}", fullmatch=True), max_size=20),
}


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.fixed_dictionaries({}, optional=VALID), as_json=st.booleans())
def test_every_value_in_range_is_accepted_as_written(tmp_path: Path, document: dict[str, Any], as_json: bool) -> None:
    outcome = _load(_write(tmp_path, _serialise(document, as_json), "p.json" if as_json else "p.yaml"))
    assert isinstance(outcome, Policy), outcome
    for key, value in document.items():
        assert getattr(outcome, key) == (tuple(value) if isinstance(value, list) else value)


def _assert_usable(policy: Policy) -> None:
    for version in (policy.python_min, policy.python_warn_below, policy.conda_warn_below):
        assert all(part.isdigit() for part in version.split("."))
    for f in fields(Policy):
        value = getattr(policy, f.name)
        if isinstance(value, float):
            assert math.isfinite(value)
    assert policy.probe_timeout_s >= 0.1
