"""`envcheck fleet`'s engine: the inventory read by ansible-inventory, one play run through ansible-runner.

The only module that imports ansible_runner, and only inside functions: Ansible is the optional extra
``envcheck[fleet]``, and `envcheck --help` loads none of it. Ansible does the fan-out (forks, SSH, the
inventory's connection variables); envcheck adds the artifact (envcheck/fleet/artifact.py), the deadlines, and
one file per inventory host in the out folder (envcheck/fleet/classify.py).

What a host sees: one play, one task, no fact gathering: envcheck's action plugin (envcheck/fleet/ansible_action.py)
sends the artifact on one ssh command's stdin into a private folder under /tmp and runs it there with /bin/sh (so a
noexec /tmp does not stop it); the artifact removes that folder on every exit path. Ansible's remote tmp is /tmp
unless the admin set one (PREFERRED), so that no ~/.ansible/tmp is made on a host should Ansible need one.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from envcheck import runner
from envcheck.atomicfile import write_atomic
from envcheck.fleet.artifact import OUTPUT_CAP_BYTES, Artifact
from envcheck.fleet.classify import HostResult, classify, missing
from envcheck.fleet.outcomes import safe_file_name
from envcheck.fleet.playbook import action_plugin, playbook_text
from envcheck.frozen import frozen
from envcheck.model import EXIT_OUTPUT, EnvcheckError, UsageError

INVENTORY_TIMEOUT_S = 60.0
INVENTORY_MAX_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT_S = 10  # ssh ConnectTimeout: TCP connect and the SSH banner
SSH_EXIT_TIMEOUT_S = 10.0  # for each `ssh -O exit` at the end of a run (each takes milliseconds)
EXIT_WORKERS = 16  # those run side by side
INSTALL_HINT = "pip install 'envcheck[fleet]'"
_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")


@frozen
class InventoryHost:
    name: str
    groups: tuple[str, ...]  # every group it belongs to, parents too, without "all" (Ansible's group_names)


@dataclass
class FleetRun:
    """What a fleet run did: one result per inventory host, in inventory order, and where the time went."""

    results: list[HostResult] = field(default_factory=list)
    artifact: Artifact | None = None
    inventory_s: float = 0.0
    ansible_s: float = 0.0


def have_ansible() -> bool:
    """Whether the extra is installed (ansible_runner importable and ansible-playbook beside this Python)."""
    import importlib.util

    return importlib.util.find_spec("ansible_runner") is not None and _tool("ansible-playbook") is not None


def _tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


# Settings envcheck prefers, each only where the admin's own configuration (its environment variable, or the key
# in the ansible.cfg their ansible-playbook reads) says nothing: variable -> (ansible.cfg section, key, value).
# ssh_args without -C (Ansible's default compresses; the artifact is a zip already), with a connection master per
# host, so that the run can end every connection it opened, sessions and all, when it ends (_end_connections): a
# task cut by Ansible's `timeout` leaves its ssh client running otherwise.
# https://docs.ansible.com/ansible/latest/reference_appendices/config.html
PREFERRED = {
    "ANSIBLE_TIMEOUT": ("defaults", "timeout", str(CONNECT_TIMEOUT_S)),
    "ANSIBLE_SSH_ARGS": ("ssh_connection", "ssh_args", "-o ControlMaster=auto -o ControlPersist=10s"),
    "ANSIBLE_REMOTE_TMP": ("defaults", "remote_tmp", "/tmp"),
}


def admin_config(cwd: Path | None = None) -> Path | None:
    """The ansible.cfg the admin's own ansible-playbook would read from here, in Ansible's order: $ANSIBLE_CONFIG,
    ./ansible.cfg (not in a world-writable folder, which Ansible ignores), ~/.ansible.cfg, /etc/ansible/ansible.cfg.
    ansible-runner runs ansible-playbook from its own folder, where ./ansible.cfg is another file: the run names
    this one (ANSIBLE_CONFIG) so that the inventory and the play see the admin's settings (remote_user,
    private_key_file, ssh_args, ...). https://docs.ansible.com/ansible/latest/reference_appendices/config.html"""
    here = cwd or Path.cwd()
    named = os.environ.get("ANSIBLE_CONFIG")
    if named:
        path = Path(named).expanduser()
        return (path / "ansible.cfg" if path.is_dir() else path).resolve()
    candidates = []
    try:
        if not here.stat().st_mode & 0o002:
            candidates.append(here / "ansible.cfg")
    except OSError:
        pass
    candidates += [Path.home() / ".ansible.cfg", Path("/etc/ansible/ansible.cfg")]
    return next((path.resolve() for path in candidates if path.is_file()), None)


def _configured(config: Path | None) -> set[str]:
    """The PREFERRED variables the admin has set, in the environment or in ``config``."""
    found = {name for name in PREFERRED if name in os.environ}
    if config is not None:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(config, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeError):
            return found  # Ansible reads it too, and says what is wrong with it
        found |= {name for name, (section, key, _) in PREFERRED.items() if parser.has_option(section, key)}
    return found


def _environment(private: Path | None = None) -> dict[str, str]:
    """Variables for ansible-inventory and ansible-playbook: this Python's scripts first on PATH (where the
    extra installed them), the admin's ansible.cfg by name, an unparsable inventory an error rather than an empty
    fleet, Ansible's controller files inside the run's private folder, and PREFERRED where the admin set nothing."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        # https://docs.ansible.com/ansible/latest/reference_appendices/config.html#inventory-unparsed-is-failed
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        # ansible-runner's callback empties an event's result whose repr is longer than this (700000 by default,
        # ansible_runner/display_callback/callback/awx_display.py): room for a capped output, twice (stdout and
        # stdout_lines), escaped.
        "MAX_EVENT_RES": str(6 * OUTPUT_CAP_BYTES),
    }
    config = admin_config()
    if config is not None:
        env["ANSIBLE_CONFIG"] = str(config)
    configured = _configured(config)
    env.update({name: value for name, (_, _, value) in PREFERRED.items() if name not in configured})
    if private is not None:
        env["ANSIBLE_LOCAL_TEMP"] = str(private / "tmp")
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(private / "cp")
    return env


def read_inventory(inventory: str, *, limit: str | None = None) -> list[InventoryHost]:
    """The inventory's hosts (after ``limit``) and their groups, from ``ansible-inventory --list``."""
    with tempfile.TemporaryDirectory(prefix="envcheck-inventory-") as folder:
        listing = Path(folder) / "inventory.json"
        argv = [_tool("ansible-inventory") or "ansible-inventory", "-i", inventory, "--list", "--output", str(listing)]
        if limit:
            argv += ["--limit", limit]
        env = {**os.environ, **_environment(), "ANSIBLE_LOCAL_TEMP": folder}
        done = runner.run(argv, INVENTORY_TIMEOUT_S, env=env)
        if not done.ok:
            lines = [line.strip() for line in (done.err or done.out).splitlines() if line.strip()]
            detail = "; ".join(lines[-3:])[:600] if lines else done.describe()
            raise UsageError(f"cannot read the inventory {inventory}: {detail}")
        try:
            if listing.stat().st_size > INVENTORY_MAX_BYTES:
                raise UsageError(f"the inventory {inventory} lists more than {INVENTORY_MAX_BYTES} bytes")
            document = json.loads(listing.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the inventory {inventory}: ansible-inventory gave no listing ({exc})") \
                from exc
    return hosts_of(document)


def hosts_of(document: Any) -> list[InventoryHost]:
    """Hosts and their groups from an ``ansible-inventory --list`` document, hosts in first-listed order."""
    if not isinstance(document, dict):
        raise UsageError("ansible-inventory gave a listing that is not a JSON object")
    parents: dict[str, set[str]] = {}  # group -> its parent groups
    direct: dict[str, set[str]] = {}  # host -> the groups that list it
    order: dict[str, None] = {}
    for group, body in document.items():
        if group == "_meta" or not isinstance(body, dict):
            continue
        for child in body.get("children") or []:
            parents.setdefault(str(child), set()).add(group)
        for host in body.get("hosts") or []:
            direct.setdefault(str(host), set()).add(group)
            order.setdefault(str(host), None)
    hostvars = (document.get("_meta") or {}).get("hostvars") or {}
    for host in hostvars:
        order.setdefault(str(host), None)

    def ancestors(group: str, seen: set[str]) -> set[str]:
        found = {group}
        for parent in parents.get(group, ()):
            if parent not in seen:
                found |= ancestors(parent, seen | {group})
        return found

    hosts = []
    for name in order:
        groups: set[str] = set()
        for group in direct.get(name, ()):
            groups |= ancestors(group, set())
        hosts.append(InventoryHost(name, tuple(sorted(groups - {"all"}))))
    return hosts


Progress = Callable[[HostResult], None]


class OutFolderError(EnvcheckError):
    """The out folder cannot be made or written: the verdicts could not be kept."""

    exit_code = EXIT_OUTPUT


def _keep(out: Path, result: HostResult, unwritten: list[str]) -> None:
    try:
        write_atomic(out / safe_file_name(result.host), result.to_json())
    except OSError as exc:  # raised after the run: an exception inside ansible-runner's callback would stop it
        unwritten.append(f"{safe_file_name(result.host)}: {exc.strerror or exc}")


def _said(status: Any) -> str:
    """The last line ansible-playbook printed, for a run that gave no host any result (a broken install)."""
    try:
        lines = [line.strip() for line in status.stdout.read()[-4000:].splitlines() if line.strip()]
    except (AttributeError, OSError, ValueError):
        return ""
    return f": {lines[-1][:300]}" if lines else ""


def _end_connections(folder: Path) -> None:
    """Close every ssh connection master of the run (one socket each in its ControlPath folder) before the folder
    goes. A master outlives the run by ControlPersist when idle, and for as long as its session lasts when a task
    was cut by Ansible's ``timeout``: that ends the worker, not its ssh client, nor the session on the host.
    ``-O exit`` ends a master at once, sessions and all; what a cut session ran on the host ends at its own
    deadline (the artifact's --timeout comes before the task's). https://man.openbsd.org/ssh#O"""
    try:
        sockets = sorted(path for path in folder.iterdir() if path.is_socket())
    except OSError:
        return
    if not sockets:
        return
    ssh = shutil.which("ssh") or "ssh"

    def close(socket: Path) -> None:
        # -F /dev/null: nothing of the user's ssh config applies (the destination is a placeholder; -O connects
        # to the socket only).
        runner.run([ssh, "-F", "/dev/null", "-o", f"ControlPath={socket}", "-O", "exit", "envcheck-fleet"],
                   SSH_EXIT_TIMEOUT_S)

    # All at once: one after another, each ssh's start (a few ms) added up at the end of every run, per host.
    with ThreadPoolExecutor(max_workers=min(EXIT_WORKERS, len(sockets))) as pool:
        list(pool.map(close, sockets))


def run_fleet(inventory: str, hosts: Sequence[InventoryHost], out: Path, *, artifact: Artifact,
              policy: Path | None, limit: str | None, forks: int, timeout_s: float,
              progress: Progress | None = None) -> FleetRun:
    """Run ``artifact`` on every host of ``hosts`` (already read, with ``limit`` applied) and write one file per
    host into ``out``; ``policy``: the policy file inside the artifact, as the reports will name it."""
    import ansible_runner  # the extra; only here

    done = FleetRun(artifact=artifact)
    by_name = {h.name: h for h in hosts}
    results: dict[str, HostResult] = {}
    unwritten: list[str] = []  # out files that could not be written (a full disk): the run's verdict is lost
    policy_path = str(policy.resolve()) if policy is not None else None

    def on_event(event: Mapping[str, Any]) -> bool:
        kind = event.get("event")
        data = event.get("event_data") or {}
        name = data.get("host")
        if kind in _EVENTS and isinstance(name, str) and name in by_name and name not in results:
            res = data.get("res")
            res = res if isinstance(res, dict) else {}
            result = classify(name, by_name[name].groups, res, unreachable=kind == "runner_on_unreachable",
                              policy_path=policy_path)
            results[name] = result
            _keep(out, result, unwritten)
            if progress is not None:
                progress(result)
        return False  # ansible-runner keeps no event files: the results are kept here

    private = Path(tempfile.mkdtemp(prefix="envcheck-fleet-"))
    try:
        for folder in ("project", "tmp", "cp"):
            (private / folder).mkdir()
        (private / "project" / "envcheck.yml").write_text(playbook_text(), encoding="utf-8")
        plugin, source = action_plugin(private / "project")
        plugin.parent.mkdir()
        plugin.write_bytes(source)
        batches = -(-len(hosts) // max(1, forks))
        started = time.monotonic()
        status = ansible_runner.run(
            private_data_dir=str(private), playbook="envcheck.yml",
            # A file or folder by its full path (ansible-runner runs from its private folder); "h1,h2," as given.
            inventory=os.path.abspath(inventory) if os.path.exists(inventory) else inventory,
            limit=limit, forks=forks, quiet=True, event_handler=on_event,
            # The play gathers no facts; ansible-runner's default jsonfile cache names a file after each host, and
            # an inventory name longer than a file name may be (255 bytes) failed the whole run, every host with it.
            fact_cache_type="memory",
            envvars=_environment(private),
            extravars={"envcheck_artifact": str(artifact.path), "envcheck_timeout_s": int(timeout_s)},
            # A backstop above the per-task timeout, which cuts each host: every batch of forks may take it.
            timeout=int(batches * (timeout_s + 3 * CONNECT_TIMEOUT_S) + 60),
        )
        done.ansible_s = time.monotonic() - started
        why = f"Ansible gave no result for this host (the run ended {status.status}, rc {status.rc}{_said(status)})"
        if status.status == "timeout":
            why = "Ansible gave no result for this host before the run's deadline"
        for host in hosts:
            if host.name not in results:
                results[host.name] = missing(host.name, host.groups, why)
                _keep(out, results[host.name], unwritten)
    finally:
        _end_connections(private / "cp")
        shutil.rmtree(private, ignore_errors=True)
    if unwritten:
        raise OutFolderError(f"cannot write into the out folder {out}: " + "; ".join(unwritten[:3]))
    done.results = [results[h.name] for h in hosts]
    return done
