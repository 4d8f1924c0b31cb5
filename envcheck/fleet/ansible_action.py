"""The Ansible action plugin ``envcheck_run``: the one task of envcheck's play (envcheck/fleet/playbook.py).

Ansible loads this file; envcheck never imports it. `envcheck fleet` and `envcheck fleet playbook` copy it into
the playbook's ``action_plugins/`` folder as ``envcheck_run.py``, where ansible-core looks for action plugins
beside a playbook (https://docs.ansible.com/ansible/latest/dev_guide/developing_locally.html). It runs in
Ansible's Python, which need not have envcheck: standard library and ansible-core only.

On a host it is one ssh command whose stdin carries the artifact (envcheck/fleet/artifact.py): a sh one-liner
makes a private folder, writes stdin into it, checks that every byte arrived, and hands over to the artifact with
``--in FOLDER``, which runs from there and removes the folder on every exit path. ``ansible.builtin.script``
takes five ssh sessions for the same (make a remote tmp, an sftp put, chmod, the run, remove the tmp), each a
shell on the host and the put an sftp-server: on 20 container hosts sharing this machine's 2 cores, that was
about 0.8 CPU-s of the run's controller and hosts more than this one command.

No terminal: data on stdin needs a pipe, and Ansible's ssh connection gives one whenever a command has input
(it asks ssh for ``-tt`` only without). So the host's stderr stays apart from its stdout, and when the controller
goes away mid-run, the host's run is not hung up on: it ends at its own deadline (the artifact's ``--timeout``),
which comes before the controller's.

Arguments: ``artifact`` (its path on the controller), ``host`` (the inventory name the report records),
``groups`` (the host's inventory groups), ``timeout_s`` (the host's deadline). The result: ``rc``, ``stdout``,
``stderr``, as ``ansible.builtin.script`` gives them, and never ``changed``.
"""

from __future__ import annotations

import shlex
from typing import Any

# Kept in step with envcheck/fleet/artifact.py (a test holds them together): this file runs where envcheck
# may not be importable.
ARTIFACT_NAME = "envcheck-fleet.sh"
EXIT_CANNOT_START = 91

# {size}: the artifact's bytes; {args}: its arguments, each quoted for sh. The folder is the artifact's from the
# moment it starts; before that (the transfer cut short, a full disk) this removes it.
RECEIVE = """umask 077
d=$(mktemp -d "${{TMPDIR:-/tmp}}/envcheck.XXXXXXXXXX") || {{
    echo "envcheck: cannot create a private temporary folder" >&2; exit {cannot_start}; }}
trap 'rm -rf "$d"; exit 129' HUP
trap 'rm -rf "$d"; exit 143' TERM
trap 'rm -rf "$d"; exit 130' INT
if cat >"$d/{name}"; then
    n=$(wc -c <"$d/{name}")
    [ $n -eq {size} ] && exec /bin/sh "$d/{name}" --in "$d" {args}
    echo "envcheck: the artifact arrived incomplete ($n of {size} bytes)" >&2
else
    echo "envcheck: cannot write the artifact into $d" >&2
fi
rm -rf "$d"
exit {cannot_start}"""


def receive_command(size: int, args: list[str]) -> str:
    """The host's command for an artifact of ``size`` bytes run with ``args``."""
    return RECEIVE.format(size=size, name=ARTIFACT_NAME, cannot_start=EXIT_CANNOT_START,
                          args=" ".join(shlex.quote(arg) for arg in args))


def artifact_args(host: object, groups: object, timeout_s: object) -> list[str]:
    """The artifact's arguments: ``--timeout S --host NAME --group G...``; a ValueError for a malformed one."""
    if not isinstance(host, str) or not host:
        raise ValueError("host must be the host's inventory name")
    if not isinstance(groups, (list, tuple)) or not all(isinstance(group, str) for group in groups):
        raise ValueError("groups must be a list of group names")
    seconds = int(str(timeout_s))
    if seconds < 1:
        raise ValueError("timeout_s must be a whole number of seconds, at least 1")
    args = ["--timeout", str(seconds), "--host", host]
    for group in groups:
        args += ["--group", group]
    return args


def _action_module() -> type:
    """The plugin's class, on ansible-core's ActionBase (imported here, see __getattr__)."""
    from ansible.plugins.action import ActionBase

    class ActionModule(ActionBase):  # type: ignore[misc]  # ansible-core ships no type information
        TRANSFERS_FILES = False  # the artifact goes on the command's stdin: no remote tmp folder
        _VALID_ARGS = frozenset({"artifact", "host", "groups", "timeout_s"})
        _supports_check_mode = True  # it changes nothing on the host

        def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
            result: dict[str, Any] = super().run(tmp, task_vars)
            result["changed"] = False
            spec = self._task.args
            try:
                args = artifact_args(spec.get("host"), spec.get("groups", []), spec.get("timeout_s", 600))
                with open(str(spec.get("artifact")), "rb") as handle:
                    data = handle.read()
            except (OSError, ValueError, TypeError) as exc:
                result.update(failed=True, msg=f"envcheck_run: {exc}")
                return result
            done = self._low_level_execute_command(receive_command(len(data), args), sudoable=True, in_data=data,
                                                   executable="/bin/sh")
            result.update(rc=done.get("rc"), stdout=done.get("stdout", ""), stderr=done.get("stderr", ""))
            return result

    return ActionModule


def __getattr__(name: str) -> Any:
    """``ActionModule``, made on first use (PEP 562): ansible-core's plugin loader imports this file and then asks
    for the class by name (getattr), so Ansible gets it as from any plugin, while a process that imports this module
    for its commands alone (envcheck's tests) never imports ansible, which changes the interpreter it is imported in
    (ansible-core 2.19 replaces sys.intern, and torch.compile then refuses to trace it)."""
    if name == "ActionModule":
        made = _action_module()
        globals()[name] = made
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
