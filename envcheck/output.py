"""What envcheck writes to stdout, and how a failed write ends: cli.py wires click to the commands, this module
renders a Report the way the report options ask, checks those options before any work, and turns a stdout that is
closed, full or gone into its own exit code. cli.py and this module are the only ones that print or exit.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

import click

from envcheck.model import EXIT_BROKEN_PIPE, EXIT_OUTPUT, EnvcheckError, Report, UsageError

if TYPE_CHECKING:  # the fleet package is imported only by the commands that merge
    from envcheck.fleet.merge import FleetView

F = TypeVar("F", bound=Callable[..., Any])


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
    """Every write to stdout of ours (click.echo flushes, so a full disk or a closed pipe shows up here).
    ``color=True`` keeps our escape codes where click would strip them because stdout is not a terminal."""
    with writing_stdout():
        click.echo(text, nl=nl, color=color)



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
        fd, probe = tempfile.mkstemp(prefix=".envcheck-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot create a file in {folder}: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
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


_REPORT_OPTIONS = (
    click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report and nothing else."),
    click.option("--share", is_flag=True, help="Print a markdown report for a bug report (secrets masked, home as ~)."),
    click.option("--brief", is_flag=True,
                 help="Print one line: the outcome and the first problem (for NHC, node-problem-detector, Nagios)."),
    click.option("--junit", metavar="FILE", help="Also write a JUnit XML report to FILE."),
    click.option("--prometheus", metavar="FILE",
                 help="Also write Prometheus metrics to FILE (node_exporter's textfile collector format)."),
    click.option("-v", "--verbose", is_flag=True, help="Show every result with its evidence and duration."),
    click.option("--color/--no-color", default=None,
                 help="Colour on or off (default: off with NO_COLOR, on with FORCE_COLOR, else only on a terminal)."),
)


def report_options(command: F) -> F:
    """Add the report options to a command, checked before it runs, and hand them over as ``report``."""

    @functools.wraps(command)
    def checked(*args: Any, as_json: bool, share: bool, brief: bool, junit: str | None, prometheus: str | None,
                verbose: bool, color: bool | None, **kwargs: Any) -> Any:
        report = ReportOptions(as_json=as_json, share=share, brief=brief, junit=junit, prometheus=prometheus,
                               verbose=verbose, color=color)
        report.check()
        return command(*args, report=report, **kwargs)

    for option in reversed(_REPORT_OPTIONS):
        checked = option(checked)
    return checked  # type: ignore[return-value]  # the same call, with the five options folded into one



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


@dataclass(frozen=True)
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
        from envcheck.fleet.junit import render_fleet_junit

        write_report_file("--junit", options.junit, render_fleet_junit(view))
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


def write_report_file(option: str, path: str, text: str) -> None:
    """A file an option asked for (--prometheus FILE, --html FILE), whole or not at all (envcheck.atomicfile).
    Its writability was checked before any work (check_writable), so a failure here is a disk that filled up
    since, or an I/O error: an OutputError."""
    from envcheck.atomicfile import write_atomic

    try:
        write_atomic(path, text.encode("utf-8"))
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
        click.echo(message, err=True)
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
