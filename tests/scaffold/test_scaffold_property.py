"""Property: whatever names, paths and option values are thrown at `envcheck scaffold`,
nothing is written outside the target, and every refusal is a clear message with exit 2, never a traceback.
The real CLI edge runs (envcheck.cli.main) and really writes; host facts come from the real probes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from helpers.scaffold_helpers import envcheck_main, files_under
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

HOSTILE_NAMES = st.one_of(
    st.sampled_from(["os", "sys", "torch", "torchvision", "numpy", "class", "match", "__init__", "..", ".", "a/b",
                     "../../etc", "a\\b", "-rf", "--force", "x\x00y", "x\ny", "ü-net", "日本", "a" * 65, "", " ",
                     "demo", "my.proj", "a_b-c", "CON", "9x", "_private", "{{7*7}}", "{% raw %}", "name: x", "x'y",
                     'x"y', "$(touch pwned)", "`id`"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=20),
    st.from_regex(r"[A-Za-z0-9._/-]{1,12}", fullmatch=True),
)
VALID_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True)
# Target paths relative to a working folder two levels below the sandbox: at most two `..`, so every target
# lies inside the sandbox, and the property can be checked on the whole sandbox.
PATHS = st.one_of(
    st.sampled_from(["proj", "../proj", "../../proj", "a/../proj", "./proj/", "proj/../proj2", "..", ".", "-x"]),
    st.lists(st.sampled_from(["p", "q", "..", ".", "x\ny", "{{a}}"]), min_size=1, max_size=3).map("/".join),
)
OPTION_VALUES = st.fixed_dictionaries({}, optional={
    "--python": st.sampled_from(["3.12", "3.11", "3.10", "3.99", "2.7", "3", "3.12; rm -rf /", "", "3.1O"]),
    "--torch": st.sampled_from(["2.8", "2.13.0", "2.11", "9.9", "latest", "2", "../2.8"]),
    "--cuda": st.sampled_from(["auto", "auto", "cpu", "12.6", "13.0", "99.9", "cu126", "", "12.6\n"]),
    "--driver": st.sampled_from(["580.65.06", "535.104.05", "100.1", "535", "abc", "580.65.06/../x"]),
    "--route": st.sampled_from(["pip", "pip", "conda-forge", "conda", ""]),
})
FLAGS = st.lists(st.sampled_from(["--no-jupyter", "--no-docker", "--force", "--dry-run", "--json"]), unique=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.one_of(st.none(), VALID_NAMES, HOSTILE_NAMES), path=PATHS, options=OPTION_VALUES, flags=FLAGS)
def test_nothing_outside_the_target_and_every_refusal_is_a_message(
    name: str | None, path: str, options: dict[str, str], flags: list[str]
) -> None:
    sandbox = Path(tempfile.mkdtemp(prefix="envcheck-prop-"))
    work = sandbox / "a" / "b"
    work.mkdir(parents=True)
    (work / "user.txt").write_text("the user's file\n")
    before = files_under(sandbox)
    args = ["scaffold", path, "--no-git", *flags]
    if name is not None:
        args += ["--name", name]
    for key, value in options.items():
        args += [key, value]
    cwd = os.getcwd()
    os.chdir(work)
    try:
        target = Path(os.path.abspath(path)) if path and "\n" not in path else None
        ran = envcheck_main(args)
    finally:
        os.chdir(cwd)
    event(f"exit {ran.code}" + (" (wrote)" if ran.code == 0 and "--dry-run" not in flags else ""))
    try:
        assert "Traceback" not in ran.out + ran.err
        assert ran.code in (0, 2), (args, ran.code, ran.out, ran.err)
        if ran.code == 2:
            assert ran.err.strip(), "a refusal must say why"
            # envcheck's own refusal ("envcheck: error: ...") or click's usage error ("Usage: ..." then "Error: ...")
            assert re.search(r"^(envcheck: error|Error): \S", ran.err, re.MULTILINE), ran.err
        after = files_under(sandbox)
        added = after - before
        if ran.code != 0 or "--dry-run" in flags:
            assert added == set(), added
        else:
            assert target is not None
            inside = target.relative_to(sandbox)
            assert all(Path(p) == inside or inside in Path(p).parents for p in added), added
        assert (work / "user.txt").read_text() == "the user's file\n"  # never changed, --force or not
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
