"""The hosts a merge expects (`report merge --expect-hosts FILE` or `-i INVENTORY`): each one without a report is
an error row of its own (UNREACHABLE), where a folder alone cannot tell a host that never wrote its file."""

from __future__ import annotations

from envcheck.fleet.hostreport import MAX_HOST, BadFile, read_bounded
from envcheck.model import UsageError
from envcheck.report.safetext import printable

MAX_HOSTS = 100_000


def read_expect_file(path: str) -> dict[str, tuple[str, ...]]:
    """Host names, one a line; "#" starts a comment (no host name holds one), blank lines are left out. Raises
    UsageError."""
    try:
        data = read_bounded(path)
        text = data.decode("utf-8")
    except BadFile as exc:
        raise UsageError(f"--expect-hosts {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"--expect-hosts {path}: not UTF-8 text (byte {exc.start})") from exc
    hosts: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        name = printable(line).split("#", 1)[0].strip()
        if not name:
            continue
        if len(name) > MAX_HOST:
            raise UsageError(f"--expect-hosts {path}: line {number}: a host name longer than {MAX_HOST} characters")
        hosts.setdefault(name, ())
        if len(hosts) > MAX_HOSTS:
            raise UsageError(f"--expect-hosts {path}: more than {MAX_HOSTS} hosts")
    return hosts


def inventory_hosts(inventory: str) -> dict[str, tuple[str, ...]]:
    """The inventory's hosts and their groups, through `ansible-inventory --list` (envcheck.fleet.ansible), which
    the fleet extra installs. Raises UsageError, saying what to install when Ansible is not there."""
    from envcheck.fleet.ansible import have_ansible, read_inventory

    if not have_ansible():
        raise UsageError(f"-i {inventory}: reading an inventory needs Ansible (ansible-inventory), an optional "
                         "extra: pip install 'envcheck[fleet]'; or list the hosts in a file, one a line, and give "
                         "--expect-hosts FILE")
    return {host.name: host.groups for host in read_inventory(inventory)}

