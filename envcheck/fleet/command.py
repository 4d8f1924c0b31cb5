"""`envcheck fleet` and `envcheck fleet playbook`: the logic behind the click commands in envcheck/cli.py.

The run: read the inventory (a usage error when it is malformed or empty), warn about policy groups that match
no host, run the one play (envcheck/fleet/ansible.py), which writes one file per host into the out folder,
then merge exactly those files into the fleet view (envcheck/fleet/merge.py) that the CLI renders. The exit
code is the worst host's (envcheck/fleet/outcomes.py).
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from envcheck.doctor import unknown_check_names
from envcheck.fleet.ansible import FleetRun, OutFolderError, have_ansible, read_inventory, run_fleet
from envcheck.fleet.artifact import ARTIFACT_NAME, build_artifact
from envcheck.fleet.classify import HostResult
from envcheck.fleet.merge import FleetView, merge_paths
from envcheck.fleet.outcomes import HostOutcome, exit_code, safe_file_name
from envcheck.fleet.playbook import action_plugin, playbook_text
from envcheck.frozen import frozen
from envcheck.model import UsageError

if TYPE_CHECKING:
    from envcheck.policy_groups import PolicySource

MISSING_EXTRA = "envcheck fleet needs Ansible, an optional extra: pip install 'envcheck[fleet]'"
PLAYBOOK_NAME = "envcheck.yml"


@frozen
class FleetResult:
    view: FleetView
    exit_code: int
    out: Path
    timing: str  # where the time went, one line


class Progress:
    """Hosts done / failed / unreachable, as one line rewritten in place (the CLI shows it on a TTY only)."""

    def __init__(self, total: int, show: Callable[[str], None]) -> None:
        self.total, self.show = total, show
        self.done = self.failed = self.unreachable = self.unjudged = 0
        self._line()

    def __call__(self, result: HostResult) -> None:
        self.done += 1
        self.failed += result.outcome is HostOutcome.FAILED
        self.unreachable += result.outcome is HostOutcome.UNREACHABLE
        self.unjudged += result.outcome is HostOutcome.UNJUDGED
        self._line()

    def _line(self) -> None:
        self.show(f"hosts done {self.done}/{self.total}, failed {self.failed}, unjudged {self.unjudged}, "
                  f"unreachable {self.unreachable}")


def default_out() -> Path:
    return Path(datetime.now(timezone.utc).strftime("envcheck-fleet-%Y%m%d-%H%M%S"))


def _out_folder(out: Path) -> Path:
    if os.path.lexists(out) and not out.is_dir():
        raise OutFolderError(f"the out folder {out} is a file, not a folder: give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutFolderError(f"cannot create the out folder {out}: {exc.strerror or exc}") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutFolderError(f"cannot write into the out folder {out}")
    return out


def _keep_foreign_files(folder: Path, hosts: list[str]) -> None:
    """Refuse a run that would replace a file of the user's: a host's file in the out folder may only replace an
    earlier run's result for that host (an envcheck report or host-error record), so a folder the admin already
    keeps other JSON in loses nothing. Checked before any host runs."""
    for host in hosts:
        path = folder / safe_file_name(host)
        if os.path.lexists(path) and not _is_result(path):
            raise OutFolderError(f"{path} exists and is not an envcheck result; it is kept: give another --out, or "
                                 "move it")


# How every envelope envcheck writes begins (report/jsonreport.py, outcomes.host_error_record): its first bytes
# tell an earlier result from a file of the user's without reading and checking a thousand reports again.
_RESULT_START = re.compile(rb'\s*\{\s*"schema"\s*:\s*"envcheck\.(?:report|host-error)"')


def _is_result(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO does not wait for a writer
    except OSError:
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and _RESULT_START.match(os.read(fd, 256)) is not None
    except OSError:
        return False
    finally:
        os.close(fd)


def fleet(inventory: str, *, policy: PolicySource, limit: str | None, forks: int, out: Path, timeout_s: float,
          warn: Callable[[str], None], progress: Callable[[str], None] | None) -> FleetResult:
    """Run envcheck doctor on every inventory host (``limit`` applied) and merge what they gave."""
    if not have_ansible():
        raise UsageError(MISSING_EXTRA)
    started = time.monotonic()
    policy_file = Path(policy.path) if policy.path else None
    with tempfile.TemporaryDirectory(prefix="envcheck-artifact-") as scratch:
        # The artifact is built (about a second of CPU) while ansible-inventory reads the inventory.
        with ThreadPoolExecutor(max_workers=1) as pool:
            building = pool.submit(build_artifact, Path(scratch), policy=policy_file)
            hosts = read_inventory(inventory, limit=limit)
            inventory_s = time.monotonic() - started
            artifact = building.result()
        if not hosts:
            raise UsageError(f"no host in the inventory {inventory}" + (f" matches --limit {limit}" if limit else ""))
        for name in policy.unmatched((h.name, h.groups) for h in hosts):
            warn(f"policy group {name!r} matches none of this run's hosts: its requirements judge nothing")
        for warning in unknown_check_names(policy):  # here, once: the hosts' doctor runs say nothing of it
            warn(warning)
        folder = _out_folder(out)
        _keep_foreign_files(folder, [h.name for h in hosts])
        run = run_fleet(inventory, hosts, folder, artifact=artifact, policy=policy_file, limit=limit, forks=forks,
                        timeout_s=timeout_s, progress=Progress(len(hosts), progress) if progress else None)
    view = merge_paths([str(folder / safe_file_name(h.name)) for h in hosts],
                       expect_hosts={h.name: h.groups for h in hosts})
    return FleetResult(view=view, exit_code=exit_code(r.outcome for r in run.results), out=folder,
                       timing=_timing(run, inventory_s, time.monotonic() - started))


def _timing(run: FleetRun, inventory_s: float, total_s: float) -> str:
    build_s = run.artifact.build_s if run.artifact else 0.0
    size = run.artifact.size if run.artifact else 0
    doctor = [r.record.get("duration_s") for r in run.results]
    seconds = [d for d in doctor if isinstance(d, (int, float))]
    slowest = f", slowest envcheck {max(seconds):.1f} s" if seconds else ""
    return (f"{len(run.results)} hosts in {total_s:.1f} s: inventory {inventory_s:.1f} s, artifact "
            f"{build_s:.1f} s ({size / 1e6:.1f} MB), ansible {run.ansible_s:.1f} s{slowest}")


def write_playbook(out: Path, *, policy: Path | None) -> list[Path]:
    """Write the admins' playbook and the artifact into ``out``; the files written."""
    folder = _out_folder(out)
    from envcheck.atomicfile import write_atomic

    text = playbook_text(record=True).encode("utf-8")
    plugin, source = action_plugin(folder)
    _keep_edited(folder / PLAYBOOK_NAME, text, "playbook")
    _keep_edited(plugin, source, "Ansible action plugin")
    try:
        write_atomic(folder / PLAYBOOK_NAME, text)
        plugin.parent.mkdir(exist_ok=True)
        write_atomic(plugin, source)
        artifact = build_artifact(folder, policy=policy)
    except OSError as exc:
        raise OutFolderError(f"cannot write the playbook into {folder}: {exc.strerror or exc}") from exc
    return [folder / PLAYBOOK_NAME, plugin, artifact.path]


def _keep_edited(path: Path, text: bytes, what: str) -> None:
    """An admin edits the playbook they drive Ansible with; writing it again for a new artifact must not undo
    that. The same file is written again (nothing lost); any other file of that name is kept, and nothing is
    written."""
    if not os.path.lexists(path):
        return
    try:
        with open(path, "rb") as handle:
            same = handle.read(len(text) + 1) == text
    except OSError:
        same = False
    if not same:
        raise OutFolderError(f"{path} exists and is not this envcheck's {what} (edited, or another file); it is "
                             "kept: move it, or give another --out")


def playbook_usage(folder: Path) -> str:
    """How to run what write_playbook wrote."""
    return (f"ansible-playbook -i INVENTORY {folder / PLAYBOOK_NAME}   # one file per host in "
            f"{folder / 'results'} (-e envcheck_out=DIR to change; the artifact {ARTIFACT_NAME} and the task's "
            "action_plugins/ folder sit beside it)")
