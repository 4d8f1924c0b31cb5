"""Build hook only (metadata lives in pyproject.toml): ship the top-level templates/ and dockerfiles/ inside
the wheel as ``envcheck/_shipped/{templates,dockerfiles}`` (issue #5, item 5).

They stay top-level in the repository, where people look for them; setuptools cannot map a folder outside
the package into it from pyproject.toml while packages are found by ``packages.find``, so build_py copies
them into the build tree. No symlinks. ``envcheck/scaffold/render.py`` reads them with importlib.resources
and falls back to the top-level folders in a checkout or an editable install.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("templates", "dockerfiles")


class BuildPyWithTemplates(build_py):  # type: ignore[misc]  # setuptools ships no type information
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the top-level folders themselves
        root = Path(__file__).resolve().parent
        for name in SHIPPED:
            dest = Path(self.build_lib) / "envcheck" / "_shipped" / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(root / name, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithTemplates})
