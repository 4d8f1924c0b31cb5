"""The Jinja adapter: templates from the shipped folders, rendered in a sandbox: user values are data,
never template source (https://jinja.palletsprojects.com/en/stable/sandbox/).

jinja2 is imported only inside functions so that `envcheck --help` never loads it. Templates are read
from the package's own files (``envcheck/_shipped/{templates,dockerfiles}`` inside a wheel, put there by
setup.py's build hook) or, in a source checkout or an editable install, from the top-level
``templates/`` and ``dockerfiles/`` folders. User values only ever reach Jinja as data in the context,
never as template source, and a missing variable is an error (StrictUndefined), not an empty string.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Mapping

from envcheck.model import EnvcheckError

KINDS = ("templates", "dockerfiles")
SUFFIX = ".j2"


class TemplateError(EnvcheckError):
    """A shipped template is missing or broken: a bug in envcheck, not in the user's input."""


def template_root(kind: str) -> Traversable:
    """The folder holding one kind of template, wherever envcheck was installed from."""
    if kind not in KINDS:
        raise TemplateError(f"unknown template kind {kind!r}")
    shipped = resources.files("envcheck").joinpath("_shipped").joinpath(kind)
    if shipped.is_dir():
        return shipped
    # A checkout or an editable install: the package sits beside the top-level folders.
    checkout = Path(str(resources.files("envcheck"))).parent / kind
    if checkout.is_dir() and (checkout.parent / "pyproject.toml").is_file():
        return checkout
    raise TemplateError(f"envcheck's {kind}/ folder is missing from this installation; reinstall envcheck")


def template_origin() -> str:
    """Where the templates are read from, for the plan's JSON (the wheel test asserts on it)."""
    return str(template_root("templates"))


def list_templates(kind: str, under: str = "") -> list[str]:
    """Every template file below ``kind/under``, as posix paths relative to ``kind``, sorted."""
    root = template_root(kind)
    start = root
    for part in under.split("/") if under else ():
        start = start.joinpath(part)
    found: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, name + "/")
            elif not child.name.startswith("."):
                found.append(name)

    if start.is_dir():
        walk(start, f"{under}/" if under else "")
    return sorted(found)


@functools.cache
def read_template(kind: str, relpath: str) -> str:
    node = template_root(kind)
    for part in relpath.split("/"):
        node = node.joinpath(part)
    if not node.is_file():
        raise TemplateError(f"template {kind}/{relpath} is missing from this installation")
    return node.read_text("utf-8")


def _quoted(value: Any) -> str:
    """A double-quoted string valid in TOML, YAML and JSON alike (ASCII, escapes as \\uXXXX)."""
    return json.dumps(str(value), ensure_ascii=True)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # the outputs are code and config files, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["quoted"] = _quoted
    return env


def render_text(source: str, context: Mapping[str, Any], *, name: str = "<template>") -> str:
    """Render template ``source`` (envcheck's own text) with ``context`` (the data, user values included)."""
    from jinja2 import TemplateError as JinjaError

    try:
        template = _environment().from_string(source)
        return str(template.render(**context))
    except JinjaError as exc:  # StrictUndefined, syntax and sandbox violations all land here
        raise TemplateError(f"template {name} failed to render: {type(exc).__name__}: {exc}") from exc


def render(kind: str, relpath: str, context: Mapping[str, Any]) -> str:
    """Render one shipped template file."""
    return render_text(read_template(kind, relpath), context, name=f"{kind}/{relpath}")
