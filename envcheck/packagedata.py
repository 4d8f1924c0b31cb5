"""The files shipped in envcheck/data/ (tables, the default policy, recipes, the fleet page's assets): one reader.

``pkgutil.get_data`` asks the loader that imported envcheck: a plain file read from an installed package, and in
the fleet artifact (envcheck imported from a zip) a read through that zipimporter, whose index of the archive is
already in memory. ``importlib.resources.files()`` would open the archive again as a ``zipfile.Path`` and index
every name in it on each read: about a tenth of the CPU time of a fleet host's whole run.
"""

from __future__ import annotations

import pkgutil


def read_text(name: str) -> str:
    """The text of ``envcheck/data/<name>`` (``name`` may hold a sub-folder: ``recipes/envcheck.nhc``)."""
    data = pkgutil.get_data("envcheck", f"data/{name}")
    if data is None:  # a loader that cannot read resources; every loader CPython ships can
        raise FileNotFoundError(f"envcheck/data/{name} is not readable through envcheck's loader")
    return data.decode("utf-8")
