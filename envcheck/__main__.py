"""The `envcheck` console script and `python -m envcheck`: signal handling first, then the CLI.

Importing the CLI takes a noticeable fraction of a second (click, the commands). A Ctrl-C, SIGTERM or SIGHUP in
that time would otherwise print a KeyboardInterrupt traceback or kill envcheck without its clean-up; here each
ends the run quietly with 130, 143 or 129 (envcheck/shutdown.py). Once the CLI is loaded, Ctrl-C is
KeyboardInterrupt again (click says "Aborted."), and cli.main keeps SIGTERM and SIGHUP ending the run in order.
Once the CLI has returned or raised, a signal is only noted (shutdown.exiting): the process is exiting already.
"""

from __future__ import annotations

import importlib
import signal

from envcheck import shutdown


def main(entry: str = "envcheck.cli") -> None:
    """Run ``entry``'s ``main()``: the CLI, or the fleet artifact's doctor (envcheck.fleet.hostdoctor)."""
    shutdown.install((signal.SIGINT, *shutdown.ENDING))
    run = importlib.import_module(entry).main

    if signal.getsignal(signal.SIGINT) is shutdown.exit_on_signal:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run()
    finally:
        shutdown.exiting()


if __name__ == "__main__":
    main()
