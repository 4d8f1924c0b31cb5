"""The two other shapes a conda-like manager answers in, read into conda's own `info --json` keys.

The conda probe reads conda's ``get_info_dict()`` shape (``root_prefix``, ``envs``, ``envs_dirs``,
``channels``, ``virtual_pkgs``...). Two answers come in other shapes and are mapped onto those keys here:

- libmamba's (micromamba, and mamba 2.x, which is built on the same library): `info --json` prints the
  items of ``detail::print_info`` (libmamba/src/api/info.cpp in mamba-org/mamba): ``"base environment"``,
  ``"envs directories"``, ``"channels"`` (URLs, credentials removed), ``"virtual packages"``
  (``"__cuda=12.4=0"`` strings), ``"<tool> version"``, ``"environment"``, ``"env location"``. It lists no envs:
  those come from `env list --json`, ``{"envs": [...]}`` (``detail::print_envs_impl``, libmamba/src/api/env.cpp).
  mamba 1.x wraps conda and answers in conda's own shape, so the shape is told by its keys, not the tool's name.
- conda 23.7.0 to 23.7.2's text table: those releases ignored ``--json`` for `conda info`
  (conda/conda#12972, fixed in 23.7.3) and printed ``get_main_info_str()`` (conda/cli/main_info.py): one
  ``"%23s : %s"`` row per item, list items continued on lines indented by 26 spaces.
"""

from __future__ import annotations

import re
from typing import Any

LIBMAMBA_MARK = "base environment"  # the key only libmamba's `info --json` has (conda's is root_prefix)
_ROW = re.compile(r"^\s{0,24}(\S[^:]*?) : (.*)$")
_CONTINUED = " " * 26


def is_libmamba_info(data: dict[str, Any]) -> bool:
    return LIBMAMBA_MARK in data and "root_prefix" not in data


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):  # libmamba prints a one-item list as a plain string in some fields
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _virtual(specs: list[str]) -> list[list[str]]:
    # "__cuda=12.4=0" -> ["__cuda", "12.4", "0"]: name, version, build (util::concat(name, "=", version, "=", build)).
    return [spec.split("=", 2) for spec in specs if spec.count("=") >= 1]


def from_libmamba(info: dict[str, Any], envs: list[str], tool: str) -> dict[str, Any]:
    """libmamba's `info --json` (and `env list --json`'s envs) under conda's keys."""
    root = info.get(LIBMAMBA_MARK)
    version = info.get(f"{tool} version") or info.get("libmamba version")
    return {
        "conda_version": version if isinstance(version, str) else None,
        "root_prefix": root if isinstance(root, str) else None,
        "envs_dirs": _strings(info.get("envs directories")),
        "envs": envs or ([root] if isinstance(root, str) else []),
        "channels": _strings(info.get("channels")),
        "virtual_pkgs": _virtual(_strings(info.get("virtual packages"))),
        "solver": {"name": "libmamba"},  # libmamba is the only solver these tools have
    }


def parse_text_table(text: str) -> dict[str, list[str]]:
    """conda's `info` text table: {row name: its values}; empty when the text is not that table."""
    rows: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if last is not None and line.startswith(_CONTINUED) and line.strip():
            last.append(line.strip())
            continue
        match = _ROW.match(line)
        if match:
            last = rows.setdefault(match.group(1).strip(), [])
            last.append(match.group(2).strip())
        else:
            last = None
    return rows if "conda version" in rows and "base environment" in rows else {}


def from_text_table(rows: dict[str, list[str]]) -> dict[str, Any]:
    """The rows of conda's text table under its JSON keys. The table lists no envs: the caller adds them."""
    first = {name: values[0] for name, values in rows.items() if values}
    # "base environment : /opt/conda  (writable)": the path, then two spaces and whether it is writable.
    root = re.sub(r"\s+\((?:writable|read only)\)$", "", first.get("base environment", "")) or None
    active_name = first.get("active environment")
    active = first.get("active env location") or (active_name if active_name and active_name != "None" else None)
    return {
        "conda_version": first.get("conda version"),
        "root_prefix": root,
        "envs_dirs": rows.get("envs directories", []),
        "channels": rows.get("channel URLs", []),
        "virtual_pkgs": _virtual(rows.get("virtual packages", [])),
        "active_prefix": active,
        "active_prefix_name": active_name if first.get("active env location") else None,
        "solver": _solver(first.get("user-agent", "")),
    }


def _solver(user_agent: str) -> dict[str, str] | None:
    # conda's user agent ends in "solver/<name>" since 22.11 (conda/base/context.py, user_agent).
    match = re.search(r"\bsolver/(\S+)", user_agent)
    return {"name": match.group(1)} if match else None
