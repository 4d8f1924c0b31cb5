"""Files shipped inside the envcheck package (envcheck/data/: tables, the default policy, recipes, the fleet page's
assets; the fleet's Ansible action plugin): one reader.

``pkgutil.get_data`` asks the loader that imported envcheck: a plain file read from an installed package, and in
the fleet artifact (envcheck imported from a zip) a read through that zipimporter, whose index of the archive is
already in memory. ``importlib.resources.files()`` would open the archive again as a ``zipfile.Path`` and index
every name in it on each read.
"""

from __future__ import annotations

import pkgutil


def read_bytes(name: str) -> bytes:
    """The bytes of ``envcheck/<name>`` (``fleet/ansible_action.py``, ``data/xid.json``)."""
    data = pkgutil.get_data("envcheck", name)
    if data is None:  # a loader that cannot read resources; every loader CPython ships can
        raise FileNotFoundError(f"envcheck/{name} is not readable through envcheck's loader")
    return data


def read_text(name: str) -> str:
    """The text of ``envcheck/data/<name>`` (``name`` may hold a sub-folder: ``recipes/envcheck.nhc``)."""
    return read_bytes(f"data/{name}").decode("utf-8")
