"""The fleet artifact's importer for the modules it carries in its zip (envcheck/fleet/artifact_main.py
ZipModules): the build's pyc where the host's Python reads it, the source otherwise, each read once, and package
data and sources through the same archive."""

from __future__ import annotations

import importlib.util
import marshal
import pkgutil
import sys
import zipfile
import zipimport
from pathlib import Path
from typing import Iterator

import pytest

from envcheck.fleet.artifact_main import ZipModules

# A pyc header for a hash-based, unchecked pyc (PEP 552), as the build writes it.
HEADER = importlib.util.MAGIC_NUMBER + (0b01).to_bytes(4, "little") + bytes(8)
OTHER_MAGIC = bytes([importlib.util.MAGIC_NUMBER[0] ^ 0xFF]) + importlib.util.MAGIC_NUMBER[1:]


def _pyc(source: str, magic: bytes = importlib.util.MAGIC_NUMBER) -> bytes:
    return magic + HEADER[4:] + marshal.dumps(compile(source, "x", "exec"))


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "artifact.sh"
    path.write_bytes(b"#!/bin/sh\nexit 0\n")  # a prologue before the zip, as the artifact has
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("lib/zmpkg/__init__.py", "WHERE = 'package source'\n")
        zf.writestr("lib/zmpkg/__init__.pyc", _pyc("WHERE = 'package bytecode'\n"))
        zf.writestr("lib/zmpkg/mod.py", "WHERE = 'source'\ndef boom():\n    raise ValueError('line 3')\n")
        zf.writestr("lib/zmpkg/mod.pyc", _pyc("WHERE = 'bytecode'\n"))
        zf.writestr("lib/zmpkg/old.py", "WHERE = 'source'\n")
        zf.writestr("lib/zmpkg/old.pyc", _pyc("WHERE = 'bytecode'\n", magic=OTHER_MAGIC))  # another Python's
        zf.writestr("lib/zmpkg/plain.py", "from . import mod\nWHERE = 'plain ' + mod.WHERE\n")
        zf.writestr("lib/zmpkg/data/table.json", "{}")
        zf.writestr("lib/pynvml.py", "raise AssertionError('unpacked modules are not imported from the zip')")
    return path


@pytest.fixture
def finder(archive: Path) -> Iterator[ZipModules]:
    found = ZipModules(zipimport.zipimporter(str(archive)), str(archive))
    sys.meta_path.insert(0, found)
    try:
        yield found
    finally:
        sys.meta_path.remove(found)
        for name in [name for name in sys.modules if name == "zmpkg" or name.startswith("zmpkg.")]:
            del sys.modules[name]


def test_the_pyc_for_this_python_serves_and_another_pythons_falls_back_to_the_source(finder: ZipModules,
                                                                                    archive: Path) -> None:
    import zmpkg  # type: ignore[import-not-found]
    import zmpkg.mod  # type: ignore[import-not-found]
    import zmpkg.old  # type: ignore[import-not-found]
    import zmpkg.plain  # type: ignore[import-not-found]

    assert (zmpkg.WHERE, zmpkg.mod.WHERE, zmpkg.old.WHERE, zmpkg.plain.WHERE) == (
        "package bytecode", "bytecode", "source", "plain bytecode")  # plain.py, without a pyc, ran from source
    assert zmpkg.__path__ == [f"{archive}/lib/zmpkg"]
    assert zmpkg.mod.__file__ == f"{archive}/lib/zmpkg/mod.py"
    assert zmpkg.mod.__spec__.loader_state is None  # the bytes are let go once the module ran


def test_each_module_is_read_from_the_archive_once(finder: ZipModules, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    original = finder._read

    def counted(member: str) -> bytes | None:
        reads.append(member)
        return original(member)

    monkeypatch.setattr(finder, "_read", counted)
    import zmpkg.mod  # noqa: F401

    # The package: its pyc found at once; the module: no __init__ of its own, then its pyc. Nothing twice.
    assert reads == ["lib/zmpkg/__init__.pyc", "lib/zmpkg/mod/__init__.pyc", "lib/zmpkg/mod/__init__.py",
                     "lib/zmpkg/mod.pyc"]


def test_package_data_and_sources_come_from_the_archive(finder: ZipModules) -> None:
    assert pkgutil.get_data("zmpkg", "data/table.json") == b"{}"
    assert finder.get_source("zmpkg.mod") is not None and "line 3" in str(finder.get_source("zmpkg.mod"))
    assert finder.is_package("zmpkg") and not finder.is_package("zmpkg.mod")


def test_what_the_artifact_unpacks_and_what_it_lacks_are_left_to_the_other_finders(finder: ZipModules) -> None:
    assert finder.find_spec("pynvml") is None  # unpacked beside the zip: the path finder's
    assert finder.find_spec("zmpkg_missing") is None
    assert finder.find_spec("json") is None  # the standard library stays the interpreter's
