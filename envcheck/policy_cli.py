"""`envcheck policy show | init | check | schema`: the policy commands. cli.py makes the group; ``register`` adds
these commands to it (so they are made with cli.py's command class and print through envcheck.output).

show and check read the file only: no probe runs, so an admin can ask what a host will be judged by from anywhere.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Sequence

import click

from envcheck.doctor import unknown_check_names
from envcheck.model import EXIT_FAILED, UsageError
from envcheck.output import echo, say
from envcheck.policy import plain_value
from envcheck.policy_groups import PolicySource, default_policy_source, load_policy_source

SHOW_SCHEMA = "envcheck.policy"


def _source(path: str | None) -> PolicySource:
    return default_policy_source() if path is None else load_policy_source(path)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def show_document(source: PolicySource, host: str, groups: Sequence[str]) -> dict[str, Any]:
    """What `policy show --json` prints: the effective values, the digest, and where each value comes from."""
    judged = source.effective(host, groups)
    return {"schema": SHOW_SCHEMA, "schema_version": 1, "path": source.path, "digest": judged.ref.digest,
            "host": host, "groups": list(groups), "matched": list(judged.ref.groups),
            "policy": judged.policy.values(), "origins": source.origins(host, groups)}


def show_text(document: dict[str, Any]) -> str:
    matched = ", ".join(document["matched"]) or "none"
    lines = [f"policy: {document['path'] or 'built-in defaults'}", f"digest: {document['digest']}",
             f"host: {document['host']}" + (f" (inventory groups {', '.join(document['groups'])})"
                                            if document["groups"] else ""),
             f"groups matched: {matched}", ""]
    width = max(len(key) for key in document["policy"])
    for key, value in document["policy"].items():
        origin = document["origins"][key]
        lines.append(f"{key.ljust(width)}  {_json(value)}" + ("" if origin == "default" else f"  ({origin})"))
    return "\n".join(lines)


def _host_arg(value: str) -> tuple[str, tuple[str, ...]]:
    """`--host NAME[=GROUP,GROUP]` of `policy check`."""
    from envcheck.doctor import group_names, host_name

    name, _, groups = value.partition("=")
    if not name.strip():
        raise UsageError(f"--host {value!r}: give a host name, optionally followed by =GROUP,GROUP")
    return host_name(name), group_names([g for g in groups.split(",") if g])


def check_text(source: PolicySource) -> str:
    lines = [f"{source.path}: valid policy, {len(source.base)} key(s) over the built-in defaults, "
             f"{len(source.groups)} group(s)"]
    for group in source.groups:
        keys = ", ".join(f"{k}={_json(plain_value(k, v))}" for k, v in group.overrides.items()) or "nothing"
        lines.append(f"  group {group.name} ({group.describe()}): overrides {keys}")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    """Add the policy commands to ``group`` (cli.py's `envcheck policy`)."""

    @group.command("show")
    @click.option("--policy", "path", metavar="FILE", help="Policy file (YAML or JSON) [default: built-in].")
    @click.option("--host", "host", metavar="NAME", help="The host whose policy to show [default: this one].")
    @click.option("--group", "groups", multiple=True, metavar="NAME", help="An inventory group the host is in.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    def show(path: str | None, host: str | None, groups: tuple[str, ...], as_json: bool) -> int:
        """Print the effective policy of a host (base keys, then matching groups); runs no probe."""
        from envcheck.doctor import group_names, host_name

        source = _source(path)
        document = show_document(source, host_name(host), group_names(groups))
        echo(json.dumps(document, indent=2, ensure_ascii=False) if as_json else show_text(document))
        for warning in unknown_check_names(source):  # on stderr: stdout may be the JSON
            say(f"envcheck: warning: {warning}")
        return 0

    @group.command("init")
    @click.argument("file", required=False, default="-")
    @click.option("--force", is_flag=True, help="Replace FILE if it exists.")
    def init(file: str, force: bool) -> int:
        """Write a starting policy from this host: what it has becomes the requirement (YAML, commented).

        FILE - (the default) prints it. An existing FILE is kept unless --force."""
        import os

        from envcheck.atomicfile import write_atomic
        from envcheck.policy_init import collect_this_host, render_yaml, starting_entries

        if not file.strip():
            raise UsageError("policy init: give a file name (or - to print the policy); the value was empty")
        if file != "-" and os.path.lexists(file) and not force:
            raise UsageError(f"{file} exists; `envcheck policy init {file} --force` replaces it")
        text = render_yaml(starting_entries(collect_this_host()), socket.gethostname())
        if file == "-":
            echo(text, nl=False)
            return 0
        try:
            write_atomic(file, text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot write {file}: {exc.strerror or exc}") from exc
        say(f"envcheck: wrote {file}; check it with `envcheck policy check {file}`")
        return 0

    @group.command("check")
    @click.argument("file")
    @click.option("--host", "hosts", multiple=True, metavar="NAME[=GROUP,...]",
                  help="A host (with its inventory groups) the policy is for; a group matching none fails (exit 1).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    def check(file: str, hosts: tuple[str, ...], as_json: bool) -> int:
        """Validate a policy file; print its groups and what each overrides. Exit 2 when it is not valid; exit 1 when
        its skip names a check or subject this envcheck lacks, or a group matches none of the --host given."""
        source = load_policy_source(file)
        unknown = unknown_check_names(source)
        listed = [_host_arg(h) for h in hosts]
        unmatched = source.unmatched(listed) if listed else []
        if as_json:
            echo(json.dumps({"schema": "envcheck.policy-check", "schema_version": 1, "path": file, "valid": True,
                             "base": sorted(source.base),
                             "groups": [{"name": g.name, "hosts": list(g.hosts),
                                         "inventory_groups": list(g.inventory_groups),
                                         "overrides": sorted(g.overrides)} for g in source.groups],
                             "unmatched": unmatched, "unknown_names": unknown}, indent=2, ensure_ascii=False))
        else:
            echo(check_text(source))
        for warning in unknown:
            say(f"envcheck: warning: {warning}")
        for name in unmatched:
            say(f"envcheck: warning: group {name} matches none of the {len(listed)} host(s) given")
        return EXIT_FAILED if unmatched or unknown else 0

    @group.command("schema")
    def schema() -> int:
        """Print the policy's JSON Schema (draft 2020-12), which editors use to validate a policy file."""
        from envcheck.policy_init import schema_path

        echo(schema_path().read_text("utf-8"), nl=False)
        return 0
