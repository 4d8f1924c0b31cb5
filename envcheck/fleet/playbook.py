"""The one play `envcheck fleet` runs, and the playbook `envcheck fleet playbook` writes for admins.

One play on ``hosts: all`` (narrowed by ``--limit``), no fact gathering, one task: the action plugin
``envcheck_run`` (envcheck/fleet/ansible_action.py, copied into ``action_plugins/`` beside the playbook), which
sends the artifact (envcheck/fleet/artifact.py) over one ssh command and runs it with the host's inventory name,
groups and deadline. The name is data: the plugin quotes every argument for the host's shell (shlex.quote),
whatever characters it holds. rc 0, 1 and 3 are doctor's verdicts (pass/warn, failed, unknown); any other rc is
a failed task. The host's deadline goes to the artifact too (``--timeout``), which ends envcheck and all it
started shortly before it: ``timeout``, ansible-core's task keyword, is the backstop that cuts a host where the
artifact could not end itself; it ends Ansible's worker, not the session on the host. (The connection's own
``ANSIBLE_TIMEOUT`` covers connecting only.)

The admins' playbook adds a second task, on the controller: the artifact's record mode turns the registered
result into the host's file in a folder, the same file `envcheck fleet --out` writes (envcheck/fleet/classify.py).
``ignore_unreachable`` keeps an unreachable host in the play so that it gets its file too.
"""

from __future__ import annotations

from pathlib import Path

from envcheck import packagedata

ARTIFACT_VAR = "envcheck_artifact"
TIMEOUT_VAR = "envcheck_timeout_s"
OUT_VAR = "envcheck_out"
DEFAULT_TIMEOUT_S = 600
ACTION_NAME = "envcheck_run"  # the task's action plugin: envcheck/fleet/ansible_action.py

_RUN = """\
- name: envcheck doctor on every host
  hosts: all
  gather_facts: false
  vars:
    {artifact}: "{{{{ playbook_dir }}}}/envcheck-fleet.sh"
    {out}: "{{{{ playbook_dir }}}}/results"
  tasks:
    - name: envcheck doctor
      {action}:
        artifact: "{{{{ {artifact} }}}}"
        host: "{{{{ inventory_hostname }}}}"
        groups: "{{{{ group_names }}}}"
        timeout_s: "{{{{ {timeout} | default({default_timeout}) | int }}}}"
      register: envcheck
      timeout: "{{{{ {timeout} | default({default_timeout}) | int }}}}"
      failed_when: envcheck.rc is not defined or envcheck.rc not in [0, 1, 3]
"""

_RECORD = """\
      ignore_unreachable: true
      ignore_errors: true

    - name: envcheck result into {{{{ {out} }}}} on the controller
      delegate_to: localhost
      ansible.builtin.command:
        argv:
          - "{{{{ ansible_playbook_python }}}}"
          - "{{{{ {artifact} }}}}"
          - --record
          - "{{{{ {out} }}}}"
          - "{{{{ inventory_hostname }}}}"
          - "{{{{ group_names | to_json }}}}"
        stdin: "{{{{ envcheck | to_json }}}}"
      changed_when: false
"""


def playbook_text(*, record: bool = False) -> str:
    """The playbook: the one task `envcheck fleet` runs, plus the controller-side record task when ``record``
    (variables, each overridable with -e: envcheck_artifact, the artifact's path, by default beside the playbook;
    envcheck_timeout_s, each host's deadline; envcheck_out, the record task's folder, by default results/ beside
    the playbook)."""
    names = {"action": ACTION_NAME, "artifact": ARTIFACT_VAR, "timeout": TIMEOUT_VAR, "out": OUT_VAR,
             "default_timeout": DEFAULT_TIMEOUT_S}
    text = _RUN.format(**names)
    return text + _RECORD.format(**names) if record else text


def action_plugin(playbook_folder: Path) -> tuple[Path, bytes]:
    """Where the task's action plugin goes for a playbook in ``playbook_folder`` (``action_plugins/`` beside it,
    named as the task calls it), and its bytes."""
    return playbook_folder / "action_plugins" / f"{ACTION_NAME}.py", packagedata.read_bytes("fleet/ansible_action.py")
