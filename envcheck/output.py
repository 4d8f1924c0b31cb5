"""What envcheck writes to stdout, and how a failed write ends: cli.py wires click to the commands, this module
renders a Report the way the report options ask, checks those options before any work, turns a stdout that is
closed, full or gone into its own exit code, and ends a command (:func:`run_guarded`: errors become messages and
exit codes). cli.py, this module and the fleet artifact's doctor entry (envcheck/fleet/hostdoctor.py, which runs
without click) are the only ones that print or exit.

click is imported only to write text that needs it (escape codes, non-ASCII letters): a host of a fleet run,
whose JSON report is ASCII, never loads it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from typing import TYPE_CHECKING, Callable, Iterator, NoReturn, Sequence, TextIO

from envcheck import shutdown
from envcheck.frozen import frozen
from envcheck.model import EXIT_BROKEN_PIPE, EXIT_OUTPUT, EnvcheckError, Report, UsageError

if TYPE_CHECKING:  # the fleet package is imported only by the commands that merge
    from envcheck.fleet.merge import FleetView


class OutputError(EnvcheckError):
    """stdout or a report file could not take the output: whatever was checked, nobody can read the verdict."""

    exit_code = EXIT_OUTPUT


class ReaderGone(OutputError):
    """The reader of stdout went away (`envcheck doctor | head -1`)."""

    exit_code = EXIT_BROKEN_PIPE


@contextlib.contextmanager
def writing_stdout() -> Iterator[None]:
    """Around a write to stdout, where an OSError means the output rather than the work: it becomes an
    OutputError, which click leaves alone (click itself turns EPIPE into exit 1 and lets ENOSPC through)."""
    try:
        yield
    except BrokenPipeError as exc:
        raise ReaderGone("stdout: the reading end of the pipe was closed") from exc
    except OSError as exc:
        raise OutputError(f"cannot write to stdout: {exc.strerror or exc}") from exc


def echo(text: str = "", *, nl: bool = True, color: bool | None = None) -> None:
    """Every write to stdout of ours, flushed, so a full disk or a closed pipe shows up here. ``color=True`` keeps
    our escape codes where click would strip them because stdout is not a terminal."""
    with writing_stdout():
        _write(sys.stdout, text + "\n" if nl else text, color=color)


def _write(stream: TextIO | None, text: str, *, color: bool | None = None, err: bool = False) -> None:
    """Write and flush. Plain ASCII goes straight to the stream, as click.echo would write it; text with escape
    codes (click strips them off a terminal unless ``color``) or other letters (click mends a stream whose
    encoding is ASCII) goes through click.echo, or, where click is not installed, is written as far as the
    stream's encoding goes (``?`` for the rest)."""
    if text.isascii() and "\x1b" not in text:
        if stream is not None:  # None: the descriptor was closed at start; click.echo writes nothing then either
            stream.write(text)
            stream.flush()
        return
    try:
        import click
    except ImportError:  # the fleet artifact leaves click out (envcheck/fleet/artifact.py): what the stream encodes
        if stream is not None:
            encoding = getattr(stream, "encoding", None) or "utf-8"
            stream.write(text.encode(encoding, "replace").decode(encoding))
            stream.flush()
        return
    click.echo(text, nl=False, color=color, err=err)



def use_color(flag: bool | None) -> bool:
    """Whether stdout gets colour (envcheck.report.console.color_wanted: flag, NO_COLOR, FORCE_COLOR, a TTY)."""
    from envcheck.report.console import color_wanted

    return color_wanted(flag, sys.stdout)


def check_writable(option: str, path: str) -> None:
    """An output file (--junit FILE) must be writable before anything runs: a usage error then really checked
    nothing. The file system itself is asked (the file opened for writing, a file created and removed beside
    it): os.access says yes to root for a /proc file or a read-only mount, where the write fails."""
    if not path.strip():  # `--junit "$UNSET"` would otherwise write nothing without a word
        raise UsageError(f"{option}: give a file name; the value was empty")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: folder {folder} does not exist")
    try:
        if os.path.lexists(path):
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO, a device, a dangling link
                raise UsageError(f"{option} {path}: not a regular file")
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # no O_TRUNC: the old report stays until then
    except OSError as exc:
        raise UsageError(f"{option} {path}: not writable: {exc.strerror or exc}") from exc
    try:  # write_junit writes a temporary file beside it and renames it over: the folder must take new files
        import tempfile  # here: a report file is rare, and tempfile imports random and hashlib

        fd, probe = tempfile.mkstemp(prefix=".envcheck-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot create a file in {folder}: {exc.strerror or exc}") from exc


@frozen
class ReportOptions:
    """How the user asked to see a report; every reporting command takes the same ones (report_options)."""

    as_json: bool = False
    share: bool = False
    brief: bool = False
    junit: str | None = None
    prometheus: str | None = None
    verbose: bool = False
    color: bool | None = None
    header: bool = True  # False once the live smoke progress has printed the report's header line above itself

    def check(self) -> None:
        """Usage errors in these options, raised before the command does any work."""
        printed = [name for name, given in (("--json", self.as_json), ("--share", self.share),
                                            ("--brief", self.brief)) if given]
        if len(printed) > 1:
            raise UsageError(f"{' and '.join(printed)} each print the report their own way: choose one")
        if self.junit is not None:
            check_writable("--junit", self.junit)
        if self.prometheus is not None:
            check_writable("--prometheus", self.prometheus)


def emit_report(report: Report, options: ReportOptions) -> int:
    """Render one report the way the user asked and return its exit code."""
    from envcheck.redact import Redactor, person_identity, secret_values

    # Secrets are masked once, on the report's raw strings, before any renderer escapes them.
    secrets = secret_values()
    masked = Redactor(secrets=secrets).report(report)
    if options.junit:
        from envcheck.report.junit import write_junit

        try:
            write_junit(masked, options.junit)
        except OSError as exc:  # checked up front (check_writable), so a disk that filled up since, or an I/O error
            raise OutputError(f"--junit {options.junit}: cannot write it: {exc.strerror or exc}") from exc
    if options.prometheus:
        from envcheck.report.prometheus import render_prometheus

        write_report_file("--prometheus", options.prometheus, render_prometheus(masked))
    if options.as_json:
        from envcheck.report.jsonreport import render_json

        echo(render_json(masked), nl=False)
    elif options.brief:
        from envcheck.report.brief import render_brief

        echo(render_brief(masked), nl=False)
    elif options.share:
        from envcheck.report.markdown import render_markdown

        # A shared report also hides who the person is, and says on its last line what it masked.
        identity = person_identity(hosts=(report.host,))
        sharing = Redactor(secrets=secrets, home=os.path.expanduser("~"), identity=identity)
        echo(render_markdown(sharing.report(report), masked=sharing.summary()), nl=False)
    else:
        from envcheck.report.console import columns
        from envcheck.report.terminal import render_terminal

        color = use_color(options.color)
        echo(render_terminal(masked, color=color, verbose=options.verbose, width=columns(),
                             header=options.header), nl=False, color=color)
    if options.junit:  # on stderr: stdout may be a JSON or markdown document
        say(f"envcheck: wrote the JUnit report to {options.junit}")
    if options.prometheus:
        say(f"envcheck: wrote the Prometheus metrics to {options.prometheus}")
    return report.exit_code


@frozen
class FleetOptions:
    """How `report merge` (and `envcheck fleet`) show a merged fleet: stdout gets the table or, with --json, the
    fleet JSON; each FILE option writes its file."""

    as_json: bool = False
    junit: str | None = None
    prometheus: str | None = None
    html: str | None = None
    color: bool | None = None

    def check(self) -> None:
        """Every output file writable before any work, as for a report's --junit."""
        for option, path in (("--junit", self.junit), ("--prometheus", self.prometheus), ("--html", self.html)):
            if path is not None:
                check_writable(option, path)


def emit_fleet(view: FleetView, options: FleetOptions) -> int:
    """Write the files the options ask for, then print the fleet (table or JSON); return the fleet's exit code."""
    written: list[tuple[str, str]] = []
    if options.junit:
        from envcheck.fleet.junit import fleet_junit_pieces

        write_report_file("--junit", options.junit, fleet_junit_pieces(view))
        written.append(("JUnit report", options.junit))
    if options.prometheus:
        from envcheck.fleet.metrics import render_fleet_prometheus

        write_report_file("--prometheus", options.prometheus, render_fleet_prometheus(view))
        written.append(("Prometheus metrics", options.prometheus))
    if options.html:
        from envcheck.fleet.html import render_html

        write_report_file("--html", options.html, render_html(view))
        written.append(("fleet page", options.html))
    if options.as_json:
        from envcheck.fleet.fleetjson import fleet_json_pieces

        for piece in fleet_json_pieces(view):  # written a host at a time: thousands of hosts are hundreds of MB
            echo(piece, nl=False)
    else:
        from envcheck.fleet.table import render_table
        from envcheck.report.console import columns

        color = use_color(options.color)
        echo(render_table(view, color=color, width=columns()), nl=False, color=color)
    for what, path in written:  # on stderr: stdout may be the fleet JSON
        say(f"envcheck: wrote the {what} to {path}")
    return view.exit_code


def write_report_file(option: str, path: str, text: str | Sequence[str]) -> None:
    """A file an option asked for (--prometheus FILE, --html FILE), whole or not at all (envcheck.atomicfile):
    ``text``, or its pieces in order. Its writability was checked before any work (check_writable), so a failure
    here is a disk that filled up since, or an I/O error: an OutputError."""
    from envcheck.atomicfile import write_atomic

    pieces = [text] if isinstance(text, str) else text
    try:
        write_atomic(path, (piece.encode("utf-8") for piece in pieces))
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write it: {exc.strerror or exc}") from exc


def echo_rows(command: str, rows: Sequence[tuple[str, str]], *, as_json: bool) -> int:
    """`--list`: one id and its title a line, the titles aligned; with --json, one versioned object."""
    if as_json:
        import json

        items = [{"id": row_id, "title": title} for row_id, title in rows]
        echo(json.dumps({"schema": "envcheck.list", "schema_version": 1, "command": command, "items": items},
                         indent=2))
        return 0
    width = max(len(row_id) for row_id, _ in rows)
    echo("".join(f"{row_id.ljust(width)}  {title}\n" for row_id, title in rows), nl=False)
    return 0



def stdout_closed() -> bool:
    """Whether file descriptor 1 was closed (`envcheck doctor >&-`): CPython then sets sys.stdout to None."""
    if sys.stdout is None:
        return True
    try:
        os.fstat(sys.stdout.fileno())
    except OSError as exc:  # first: io.UnsupportedOperation is an OSError and a ValueError, with errno None, for a
        return exc.errno == errno.EBADF  # stream without a descriptor (click's CliRunner), which is open
    except ValueError:  # a closed file object
        return True
    return False


def quiet_stdout() -> None:
    """After stdout failed, point descriptor 1 at /dev/null: the interpreter's last flush of what is still buffered
    then goes there instead of printing "Exception ignored ... BrokenPipeError" and exiting 120
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # nothing more can be done for a stdout that is gone


def say(message: str) -> None:
    """A message on stderr, which may itself be closed or full: then the exit code is all that is left."""
    try:
        _write(sys.stderr, message + "\n", err=True)
    except OSError:
        pass


def error_envelope(message: str, exit_code: int) -> str:
    """With --json, an error is this object on stdout (README: "The error envelope")."""
    import json

    return json.dumps({"schema": "envcheck.error", "schema_version": 1, "error": message, "exit_code": exit_code},
                      indent=2)


def fail(message: str, exit_code: int, *, as_json: bool, show: Callable[[], None] | None = None) -> None:
    """End with an error: its envelope on stdout when --json was given, the message on stderr either way."""
    if as_json:
        try:
            echo(error_envelope(message, exit_code))
        except OutputError:
            quiet_stdout()  # the error's own exit code still stands
    if show is None:
        say(f"envcheck: error: {message}")
    else:
        try:
            show()
        except OSError:
            pass
    sys.exit(exit_code)


def run_guarded(command: Callable[[], int | None], *, as_json: bool) -> NoReturn:
    """Run one command and exit with its code: the one place where envcheck's errors become messages and exit
    codes (with ``as_json``, an error is also its JSON envelope on stdout). The command's own usage errors (click's)
    are the caller's to turn into :func:`fail` first."""
    if stdout_closed():
        # Nothing envcheck prints could be seen, and the next file opened would take descriptor 1.
        say("envcheck: error: stdout is closed; redirect it to a file or /dev/null instead")
        sys.exit(EXIT_OUTPUT)
    try:
        # SIGTERM and SIGHUP end any command through SystemExit(143 / 129), which unwinds it and ends the children
        # it started (envcheck/shutdown.py); Ctrl-C stays KeyboardInterrupt, which click makes "Aborted." (130).
        with shutdown.ending_on_signals():
            code = command()
    except OutputError as exc:
        quiet_stdout()
        if not isinstance(exc, ReaderGone):  # a reader that left asked for no more: said nothing, like cat
            say(f"envcheck: error: {exc}")
        sys.exit(exc.exit_code)
    except EnvcheckError as exc:
        fail(str(exc), exc.exit_code, as_json=as_json)
    except BrokenPipeError:  # a write that did not go through output.echo: the same end as one that did
        quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    sys.exit(code if isinstance(code, int) else 0)
