"""A policy file's groups: per-group overrides matched by host-name globs and Ansible inventory group names.

    gpu_count: 8                       # the base: every host
    groups:
      a100-nodes:                      # groups apply in file order; a later group wins over an earlier one
        hosts: ["gpu-a*"]              # globs over the host's name, case-insensitive (DNS names are)
        inventory_groups: ["a100"]     # Ansible inventory groups the host is in (`doctor --group`)
        overrides:                     # any policy key but groups
          gpu_model: "*A100*"

The effective policy of a host is computed from the file alone, without running a probe: the built-in defaults,
then the file's base keys, then each matching group's overrides. Its digest (sha256 of the canonical JSON of every
effective value) says which requirements judged a report: two reports with one digest were judged alike.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from envcheck.frozen import frozen
from envcheck.model import PolicyRef, UsageError
from envcheck.policy import Policy, default_policy, parse_policy_file, read_keys
from envcheck.policy_rules import MAX_ITEMS, globs, shown

GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")  # Ansible's group names and a little more
INVENTORY_GROUP = GROUP_NAME
GROUP_KEYS = ("hosts", "inventory_groups", "overrides")


@frozen
class PolicyGroup:
    """One named group: who it matches and the policy keys it overrides (checked values, in the file's order)."""

    name: str
    hosts: tuple[str, ...] = ()  # globs over the host name
    inventory_groups: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, host: str, groups: Sequence[str]) -> bool:
        """Whether a host of this name, in these inventory groups, gets this group's overrides."""
        name = host.lower()
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.hosts) or any(
            group in self.inventory_groups for group in groups)

    def describe(self) -> str:
        """"hosts gpu-a*; inventory groups a100" as `policy check` shows who a group matches."""
        parts = [f"hosts {', '.join(self.hosts)}" if self.hosts else "",
                 f"inventory groups {', '.join(self.inventory_groups)}" if self.inventory_groups else ""]
        return "; ".join(part for part in parts if part)


@frozen
class EffectivePolicy:
    """The policy one host is judged by, and the reference every report records."""

    policy: Policy
    ref: PolicyRef


@frozen
class PolicySource:
    """A policy file as read: its base keys and its groups in file order. ``path`` None: the built-in defaults."""

    path: str | None
    base: Mapping[str, Any]
    groups: tuple[PolicyGroup, ...] = ()

    def effective(self, host: str, groups: Sequence[str] = ()) -> EffectivePolicy:
        """The defaults, then the base keys, then every group that matches this host, later groups winning."""
        policy = replace(default_policy(), **self.base)
        matched = []
        for group in self.groups:
            if group.matches(host, groups):
                policy = replace(policy, **group.overrides)
                matched.append(group.name)
        return EffectivePolicy(policy, PolicyRef(path=self.path, digest=digest(policy), groups=tuple(matched)))

    def origins(self, host: str, groups: Sequence[str] = ()) -> dict[str, str]:
        """Where each effective value comes from: "default", "file" or "group NAME" (the last group that sets it)."""
        origin = {key: "default" for key in default_policy().values()}
        origin.update({key: "file" for key in self.base})
        for group in self.groups:
            if group.matches(host, groups):
                origin.update({key: f"group {group.name}" for key in group.overrides})
        return origin

    def unmatched(self, hosts: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
        """Names of the groups that match none of these (host, inventory groups): a typo in a glob or group name
        would otherwise leave those servers judged by the base policy without a word."""
        listed = list(hosts)
        return [g.name for g in self.groups if not any(g.matches(host, groups) for host, groups in listed)]


def canonical_json(policy: Policy) -> str:
    """Every effective value as JSON with sorted keys and no spaces; a whole float is written as an integer, so
    5 and 5.0 (YAML's and JSON's spellings of one threshold) give one digest."""

    def plain(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return json.dumps(plain(policy.values()), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(policy: Policy) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(policy).encode("utf-8")).hexdigest()


def default_policy_source() -> PolicySource:
    """The built-in defaults as a source: no file, no groups."""
    return PolicySource(path=None, base={})


def load_policy_source(path: str | Path) -> PolicySource:
    """Read a policy file with its groups; every problem is a UsageError of one line, before anything runs."""
    data = parse_policy_file(path)
    if data is None:
        return PolicySource(path=str(path), base={})
    base = read_keys(data, allowed=("groups",))
    return PolicySource(path=str(path), base=base, groups=_read_groups(data.get("groups")))


def _read_groups(value: object) -> tuple[PolicyGroup, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise UsageError(f"policy: groups must be a mapping of at most {MAX_ITEMS} group names to groups "
                         f"(hosts, inventory_groups, overrides), got {shown(value)}")
    return tuple(_read_group(name, body) for name, body in value.items())


def _read_group(name: object, body: object) -> PolicyGroup:
    if not isinstance(name, str) or not GROUP_NAME.fullmatch(name):
        raise UsageError(f"policy: a group name must be text of letters, digits and _ . : - (at most 64), "
                         f"got {shown(name)}")
    where = f"policy: group {name}"
    if not isinstance(body, dict):
        raise UsageError(f"{where} must be a mapping with hosts and/or inventory_groups, and overrides; "
                         f"got {shown(body)}")
    for key in body:
        if not (isinstance(key, str) and (key in GROUP_KEYS or key.startswith("_"))):
            raise UsageError(f"{where}: unknown key {shown(key)} (a group holds {', '.join(GROUP_KEYS)}; policy "
                             "keys go under overrides)")
    hosts = globs(f"group {name} hosts", body.get("hosts"))
    inventory = _inventory_groups(where, body.get("inventory_groups"))
    if not hosts and not inventory:
        raise UsageError(f"{where} matches no host: give hosts (globs over host names) or inventory_groups "
                         "(Ansible group names)")
    overrides = body.get("overrides")
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise UsageError(f"{where}: overrides must be a mapping of policy keys to values, got {shown(overrides)}")
    if "groups" in overrides:
        raise UsageError(f"{where}: overrides cannot hold groups (groups do not nest)")
    values = read_keys(overrides, where=f"policy: group {name}")
    return PolicyGroup(name=name, hosts=hosts, inventory_groups=inventory, overrides=values)


def _inventory_groups(where: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise UsageError(f"{where}: inventory_groups must be a list of Ansible group names, got {shown(value)}")
    for item in value:
        if not isinstance(item, str) or not INVENTORY_GROUP.fullmatch(item):
            raise UsageError(f"{where}: inventory_groups holds {shown(item)}, not a group name (letters, digits, "
                             "_ . : -)")
    return tuple(dict.fromkeys(value))
