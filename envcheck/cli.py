"""Thin click commands: parse, call one function, render, exit. Only this module prints or exits."""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

import click

from envcheck import __version__
from envcheck.model import EXIT_BROKEN_PIPE, EXIT_OUTPUT, EXIT_USAGE, EnvcheckError, Report, UsageError

if TYPE_CHECKING:  # importing policy at run time is left to the commands that judge
    from envcheck.policy import Policy

F = TypeVar("F", bound=Callable[..., Any])


class OutputError(EnvcheckError):
    """stdout or a report file could not take the output: whatever was checked, nobody can read the verdict."""

    exit_code = EXIT_OUTPUT


class ReaderGone(OutputError):
    """The reader of stdout went away (`envcheck doctor | head -1`)."""

    exit_code = EXIT_BROKEN_PIPE


@contextlib.contextmanager
def _writing_stdout() -> Iterator[None]:
    """Around a write to stdout, where an OSError means the output rather than the work: it becomes an
    OutputError, which click leaves alone (click itself turns EPIPE into exit 1 and lets ENOSPC through)."""
    try:
        yield
    except BrokenPipeError as exc:
        raise ReaderGone("stdout: the reading end of the pipe was closed") from exc
    except OSError as exc:
        raise OutputError(f"cannot write to stdout: {exc.strerror or exc}") from exc


def _echo(text: str = "", *, nl: bool = True) -> None:
    """Every write to stdout of ours (click.echo flushes, so a full disk or a closed pipe shows up here)."""
    with _writing_stdout():
        click.echo(text, nl=nl)


class _Command(click.Command):
    """click's own output (--help) is printed while the context is made: the only OSError there is stdout's."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _writing_stdout():
            return super().make_context(info_name, args, parent, **extra)


class _Group(click.Group):
    """The same for the groups (--help, --version); their commands and subgroups are made as _Command, _Group."""

    command_class = _Command
    group_class = type  # click: subgroups of the same class

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _writing_stdout():
            return super().make_context(info_name, args, parent, **extra)


class Seconds(click.FloatRange):
    """click.FloatRange that also refuses nan and inf: NaN passes every comparison a range makes (nan < 0.1 and
    nan > 600 are both False), and an infinite deadline is none."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def _split(values: Sequence[str]) -> tuple[str, ...]:
    """``--only a,b --only c`` -> (a, b, c)."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _use_color(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def check_writable(option: str, path: str) -> None:
    """An output file (--junit FILE) must be writable before anything runs: a usage error then really checked
    nothing. The file system itself is asked (the file opened for writing, a file created and removed beside
    it): os.access says yes to root for a /proc file or a read-only mount, where the write fails."""
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
    junit: str | None = None
    verbose: bool = False
    color: bool | None = None

    def check(self) -> None:
        """Usage errors in these options, raised before the command does any work."""
        if self.as_json and self.share:
            raise UsageError("--json and --share each print a whole report: choose one")
        if self.junit:
            check_writable("--junit", self.junit)


_REPORT_OPTIONS = (
    click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report and nothing else."),
    click.option("--share", is_flag=True, help="Print a markdown report for a bug report (secrets masked, home as ~)."),
    click.option("--junit", metavar="FILE", help="Also write a JUnit XML report to FILE."),
    click.option("-v", "--verbose", is_flag=True, help="Show every result with its evidence and duration."),
    click.option("--color/--no-color", default=None, help="Force colour on or off (default: only on a terminal)."),
)


def report_options(command: F) -> F:
    """Add the report options to a command, checked before it runs, and hand them over as ``report``."""

    @functools.wraps(command)
    def checked(*args: Any, as_json: bool, share: bool, junit: str | None, verbose: bool, color: bool | None,
                **kwargs: Any) -> Any:
        report = ReportOptions(as_json=as_json, share=share, junit=junit, verbose=verbose, color=color)
        report.check()
        return command(*args, report=report, **kwargs)

    for option in reversed(_REPORT_OPTIONS):
        checked = option(checked)
    return checked  # type: ignore[return-value]  # the same call, with the five options folded into one


def _load_policy(ctx: click.Context, param: click.Parameter, path: str | None) -> Policy:
    from envcheck.policy import default_policy, load_policy

    return default_policy() if path is None else load_policy(path)  # `--policy ""` names no file: an error


def judging_options(command: F) -> F:
    """--policy (loaded into a Policy) and --strict: how the results are judged, for doctor and smoke alike."""
    command = click.option("--strict", is_flag=True, help="Count warnings as failures (exit code 1).")(command)
    return click.option("--policy", "policy", metavar="FILE", callback=_load_policy,
                        help="Policy file (YAML or JSON) over the built-in defaults.")(command)


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
    if options.as_json:
        from envcheck.report.jsonreport import render_json

        _echo(render_json(masked), nl=False)
    elif options.share:
        from envcheck.report.markdown import render_markdown

        # A shared report also hides who the person is, and says on its last line what it masked.
        identity = person_identity(hosts=(report.host,))
        sharing = Redactor(secrets=secrets, home=os.path.expanduser("~"), identity=identity)
        _echo(render_markdown(sharing.report(report), masked=sharing.summary()), nl=False)
    else:
        from envcheck.report.terminal import render_terminal

        _echo(render_terminal(masked, color=_use_color(options.color), verbose=options.verbose), nl=False)
    return report.exit_code


def _echo_rows(command: str, rows: Sequence[tuple[str, str]], *, as_json: bool) -> int:
    """`--list`: one id and its title a line, the titles aligned; with --json, one versioned object."""
    if as_json:
        import json

        items = [{"id": row_id, "title": title} for row_id, title in rows]
        _echo(json.dumps({"schema": "envcheck.list", "schema_version": 1, "command": command, "items": items},
                         indent=2))
        return 0
    width = max(len(row_id) for row_id, _ in rows)
    _echo("".join(f"{row_id.ljust(width)}  {title}\n" for row_id, title in rows), nl=False)
    return 0


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="envcheck")
def cli() -> None:
    """Is this deep-learning machine really ready? Checks, verdicts and the fix for each problem."""


@cli.command()
@report_options
@judging_options
@click.option(
    "--only", multiple=True, metavar="ID|SUBJECT", help="Run only these checks or subjects (repeat or comma-separate)."
)
@click.option("--skip", multiple=True, metavar="ID|SUBJECT", help="Leave out these checks or subjects.")
@click.option("--list", "list_checks", is_flag=True, help="List every check id with its title and exit.")
@click.option("--timeout", "timeout_s", type=Seconds(min=0.1, max=600),
              help="Deadline for each probe, in seconds.")
@click.option("--smoke", "with_smoke", is_flag=True,
              help="Then run the PyTorch smoke test in the active environment and add its results.")
@click.option("--torch", "with_torch", is_flag=True,
              help="Also import torch in a child process (about 2 s) and judge its CUDA build (gpu.torch-build).")
@click.option("--python", "python", metavar="PATH",
              help="Judge this interpreter instead of the python3 on PATH (python.*, gpu.torch-build, --smoke).")
def doctor(
    report: ReportOptions,
    policy: Policy,
    strict: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    list_checks: bool,
    timeout_s: float | None,
    with_smoke: bool,
    with_torch: bool,
    python: str | None,
) -> int:
    """Check this machine: host, Python, git, conda, Jupyter, Docker, NVIDIA GPUs."""
    from envcheck.doctor import DoctorRequest, check_list, diagnose

    if only and not _split(only):  # `--only ""` (an unset shell variable) would otherwise run every check
        raise UsageError("--only: give a check id or subject; the value was empty")
    if list_checks:  # with --only/--skip: the ids that run would run
        return _echo_rows("doctor", check_list(_split(only), _split(skip)), as_json=report.as_json)
    request = DoctorRequest(only=_split(only), skip=_split(skip), policy=policy, strict=strict, timeout_s=timeout_s,
                            with_smoke=with_smoke, with_torch=with_torch, python=python)
    return emit_report(diagnose(request, smoke=functools.partial(_smoke_live, report)), report)


# --- scaffold, generate, verify: decisions and writing live in envcheck/scaffold/ ---------------------------

_PLAN_OPTIONS = (
    click.option("--name", help="Project (distribution) name; default: the folder's name."),
    click.option("--python", metavar="X.Y", help="Python version; default: this Python, kept inside torch's range."),
    click.option("--torch", metavar="X.Y[.Z]", help="PyTorch release; default: the newest that fits."),
    click.option("--cuda", default="auto", show_default=True, metavar="auto|cpu|X.Y", help="CUDA variant of torch."),
    click.option("--driver", metavar="VERSION", help="Plan for another machine with this NVIDIA driver."),
    click.option("--route", type=click.Choice(["pip", "conda-forge"]), help="How torch enters environment.yml [pip]."),
    click.option("--minor-compat", is_flag=True,
                 help="Allow CUDA builds that the driver runs only by minor-version compatibility."),
    click.option("--jupyter/--no-jupyter", default=True, help="Add the notebook and Jupyter [on]."),
    click.option("--force", is_flag=True, help="Replace existing files (listed first; other files stay)."),
    click.option("--dry-run", is_flag=True, help="Print the plan; write nothing."),
    click.option("--json", "as_json", is_flag=True, help="Print the plan (and what was written) as JSON."),
)


def _plan_options(func: Any) -> Any:
    for option in reversed(_PLAN_OPTIONS):
        func = option(func)
    return func


def _scaffold(part: str, path: str, kwargs: dict[str, Any], *, then_verify: bool = False) -> int:
    import json

    from envcheck.scaffold.command import Options, scaffold

    opts = Options(path=path, **kwargs)
    done = scaffold(opts, _echo, part=part, then_verify=then_verify)
    if done.verified is not None and not opts.as_json:
        emit_report(done.verified, ReportOptions(verbose=True))
    if opts.as_json:  # one JSON document on stdout: the verify report goes inside the summary
        if done.verified is not None:
            from envcheck.redact import Redactor, secret_values
            from envcheck.report.jsonreport import render_json

            masked = Redactor(secrets=secret_values()).report(done.verified)
            done.summary["verify"] = json.loads(render_json(masked))
        _echo(json.dumps(done.summary, indent=2))
    return done.verified.exit_code if done.verified is not None else 0


@cli.command()
@click.argument("path")
@_plan_options
@click.option("--docker/--no-docker", default=True, help="Add Dockerfile, Dockerfile.cpu and .dockerignore [on].")
@click.option("--git/--no-git", default=True, help="git init, with a first commit when git has an identity [on].")
@click.option("--verify", "then_verify", is_flag=True, help="Then build the images and run the smoke test in them.")
def scaffold(path: str, then_verify: bool, **kwargs: Any) -> int:
    """Create a PyTorch project at PATH that fits this machine (or --driver's); never prompts."""
    return _scaffold("project", path, kwargs, then_verify=then_verify)


@cli.group()
def generate() -> None:
    """Write one file of a scaffolded project into an existing folder, with the same decisions."""


@generate.command("environment")
@click.argument("path")
@_plan_options
def generate_environment(path: str, **kwargs: Any) -> int:
    """Write PATH/environment.yml."""
    return _scaffold("environment", path, kwargs)


@generate.command("dockerfile")
@click.argument("path")
@_plan_options
def generate_dockerfile(path: str, **kwargs: Any) -> int:
    """Write PATH/Dockerfile (when there is a CUDA build) and PATH/Dockerfile.cpu."""
    return _scaffold("dockerfile", path, kwargs)


@cli.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@report_options
@click.option("--timeout", "timeout_s", type=Seconds(min=1, max=7200), default=1800.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
def verify(path: str, report: ReportOptions, timeout_s: float) -> int:
    """Build a scaffolded project's images with the local Docker engine and run the smoke test inside them."""
    from envcheck.scaffold.verify import verify as verify_project

    verified = verify_project(Path(path).resolve(), timeout_s=timeout_s)
    # Every build and smoke step is worth seeing here, so the terminal report is always the verbose one.
    return emit_report(verified, replace(report, verbose=True))


def _smoke_progress(report: ReportOptions) -> Any:
    """Live progress only on a terminal, and never when the whole report is printed as JSON or markdown."""
    if report.as_json or report.share or not sys.stdout.isatty():
        return None
    from rich.console import Console

    from envcheck.smoke.progress import LiveProgress

    return LiveProgress(Console(no_color=not _use_color(report.color)))


def _smoke_live(report: ReportOptions, **kwargs: Any) -> Report:
    """envcheck.smoke.smoke_test with live progress, and SIGTERM turned into an orderly exit."""
    import signal

    from envcheck.smoke import smoke_test

    def terminated(signum: int, frame: object) -> None:
        # The child runs in a session of its own: SIGTERM (a CI job's timeout, `kill`) must unwind smoke_test,
        # which ends the child, instead of killing envcheck alone and leaving the child running.
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        live = _smoke_progress(report)
        if live is None:
            return smoke_test(**kwargs)
        with live:
            return smoke_test(on_event=live, **kwargs)
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command()
@report_options
@judging_options
@click.option("--python", "python", metavar="PATH", help="Run in this interpreter (with --docker: inside the image).")
@click.option("--conda-env", metavar="NAME", help="Run in this conda env (found through conda, not activated).")
@click.option("--docker", "image", metavar="IMAGE", help="Run in a container of this local image, GPUs requested.")
@click.option("--bench", is_flag=True, help="Also measure matmul TFLOP/s, memory and PCIe bandwidth vs the datasheet.")
@click.option("--list", "list_steps", is_flag=True, help="List every step id with its title and exit.")
@click.option("--timeout", "run_timeout_s", type=Seconds(min=1, max=7200), default=600.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
@click.option("--step-timeout", "step_timeout_s", type=Seconds(min=0.5, max=7200),
              help="Deadline for every step, the child's start-up and the quiet between steps, in seconds "
                   "(default: each step's own, 30-180 s; 30 s for start-up and between steps).")
def smoke(
    report: ReportOptions,
    policy: Policy,
    strict: bool,
    python: str | None,
    conda_env: str | None,
    image: str | None,
    bench: bool,
    list_steps: bool,
    run_timeout_s: float,
    step_timeout_s: float | None,
) -> int:
    """Train a small MLP with PyTorch in the named environment, on the CPU and every GPU, step by step."""
    if list_steps:
        from envcheck.smoke import step_list

        return _echo_rows("smoke", step_list(), as_json=report.as_json)
    smoked = _smoke_live(report, python=python, conda_env=conda_env, docker=image, bench=bench,
                         run_timeout_s=run_timeout_s, step_timeout_s=step_timeout_s, policy=policy, strict=strict)
    return emit_report(smoked, report)


def _stdout_closed() -> bool:
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


def _quiet_stdout() -> None:
    """After stdout failed, point descriptor 1 at /dev/null: the interpreter's last flush of what is still buffered
    then goes there instead of printing "Exception ignored ... BrokenPipeError" and exiting 120
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # nothing more can be done for a stdout that is gone


def _say(message: str) -> None:
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


def _fail(message: str, exit_code: int, *, as_json: bool, show: Callable[[], None] | None = None) -> None:
    """End with an error: its envelope on stdout when --json was given, the message on stderr either way."""
    if as_json:
        try:
            _echo(error_envelope(message, exit_code))
        except OutputError:
            _quiet_stdout()  # the error's own exit code still stands
    if show is None:
        _say(f"envcheck: error: {message}")
    else:
        try:
            show()
        except OSError:
            pass
    sys.exit(exit_code)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the one place where errors become messages and exit codes."""
    args = list(argv) if argv is not None else sys.argv[1:]
    # --json means JSON on stdout even for an error found while parsing, so it is looked for in argv itself.
    as_json = "--json" in (args[:args.index("--")] if "--" in args else args)
    if _stdout_closed():
        # Nothing envcheck prints could be seen, and the next file opened would take descriptor 1.
        _say("envcheck: error: stdout is closed; redirect it to a file or /dev/null instead")
        sys.exit(EXIT_OUTPUT)
    try:
        code = cli.main(args=args, prog_name="envcheck", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("Aborted.", 130, as_json=as_json, show=lambda: click.echo("Aborted.", err=True))
    except click.ClickException as exc:
        _fail(exc.format_message(), EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code,
              as_json=as_json, show=exc.show)
    except OutputError as exc:
        _quiet_stdout()
        if not isinstance(exc, ReaderGone):  # a reader that left asked for no more: said nothing, like cat
            _say(f"envcheck: error: {exc}")
        sys.exit(exc.exit_code)
    except EnvcheckError as exc:
        _fail(str(exc), exc.exit_code, as_json=as_json)
    except BrokenPipeError:  # a write that did not go through _echo: the same end as one that did
        _quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    sys.exit(code if isinstance(code, int) else 0)
