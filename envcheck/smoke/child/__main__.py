"""The smoke test's child: this folder, run BY PATH in the target interpreter (`python .../child`: a venv, a
conda env, a container), which runs this file with the folder first on sys.path, so the modules beside it
import each other by their plain names (smoke_walk, smoke_cuda, ...; the prefix keeps them clear of the
target's own packages).

Standard library and torch only, and nothing from envcheck: the target may not have envcheck installed,
may be another Python version, or may live in an image. It walks the chain from `import torch` to a
trained model and writes one JSON object per line on stdout:

  {"event": "hello", "python": "/usr/bin/python3", "version": "3.11.2", ...}
  {"event": "start", "step": "train", "item": "cpu"}
  {"event": "progress", "step": "train", "item": "cpu", "done": 100, "total": 600, "loss": 0.41}
  {"event": "end", "step": "train", "item": "cpu", "state": "ok", "facts": {...}, "duration_s": 0.9}
  {"event": "done", "duration_s": 4.2}

Every record also carries ``"nonce"``: the value the parent put in $ENVCHECK_SMOKE_NONCE for this run.

``state`` is "ok" (facts to judge), "error" (the step raised: type, message, traceback tail) or "skip"
(the step does not apply: ``reason``). The child reports facts; the parent judges them. Because each step
announces itself before it starts, a hang or a crash is pinned to the step where it happened by the
parent, which holds each step's time limit (StepSpec.timeout_s in envcheck/smoke/steps.py). Warnings and
tracebacks go to stderr, which the parent keeps a tail of.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import smoke_host
import smoke_walk
from smoke_protocol import NONCE_VARIABLE, PROTOCOL, Emitter, protocol_stream, since


def own_folder_last() -> None:
    """Move this folder from the head of sys.path to its end, once the modules beside this one are imported
    (above). At the head, a file here named like a module torch imports would shadow it for torch; at the end
    it still serves the all-reduce's ranks, which spawn imports smoke_allreduce by name in a new interpreter."""
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or os.curdir) == here:
        sys.path.append(sys.path.pop(0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="envcheck smoke child: one JSON line per step on stdout")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--collective", choices=("nccl", "gloo"), default="nccl",
                        help="gloo: run the all-reduce step on CPU ranks (how the tests exercise it)")
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args(argv)
    # Popped, so that nothing this process starts (the all-reduce's ranks, a tool torch runs) inherits it.
    emit = Emitter(protocol_stream(), os.environ.pop(NONCE_VARIABLE, ""))
    start = time.perf_counter()
    emit("hello", protocol=PROTOCOL, python=sys.executable, version=platform.python_version(), pid=os.getpid(),
         machine=platform.machine(), prefix=sys.prefix, argv=sys.argv[1:], **smoke_host.installer_facts())
    smoke_walk.walk(emit, args)
    emit("done", duration_s=since(start))
    return 0


if __name__ == "__main__":
    own_folder_last()
    sys.exit(main())
