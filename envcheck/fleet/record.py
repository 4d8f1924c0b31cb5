"""The artifact's record mode, on the controller: one host's registered script result -> its file in a folder.

Run by the record task of the admins' playbook (envcheck/fleet/playbook.py) as
``python ARTIFACT --record OUT HOST GROUPS_JSON`` with the registered result as JSON on stdin; the artifact
runs this module from inside its zip (pure Python only), so the controller needs Ansible and nothing else.
It writes exactly what `envcheck fleet --out OUT` writes for that host.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from envcheck.atomicfile import write_atomic
from envcheck.fleet.classify import MAX_OUTPUT_CHARS, classify
from envcheck.fleet.outcomes import safe_file_name


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: ARTIFACT --record OUT HOST GROUPS_JSON  (the registered result on stdin)", file=sys.stderr)
        return 2
    out, host, groups_json = argv
    groups = json.loads(groups_json)
    # Ansible's JSON of the result escapes what the host printed; twice the output cap bounds it generously.
    text = sys.stdin.read(2 * MAX_OUTPUT_CHARS + 65536)
    try:
        res = json.loads(text)
    except ValueError:
        res = {"msg": "the registered result is not JSON (larger than the output cap?)"}
    if not isinstance(res, dict):
        res = {"msg": "the registered result is not a JSON object"}
    result = classify(host, [str(g) for g in groups] if isinstance(groups, list) else [], res,
                      unreachable=res.get("unreachable") is True)
    Path(out).mkdir(parents=True, exist_ok=True)
    write_atomic(Path(out) / safe_file_name(host), result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
