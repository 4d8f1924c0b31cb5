"""Thin click commands: parse, call one function, render, exit. Only this module prints or exits."""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

import click

from envcheck import __version__
from envcheck.model import EXIT_USAGE, EnvcheckError, Report, UsageError

if TYPE_CHECKING:  # importing policy at run time is left to the commands that judge
    from envcheck.policy import Policy

F = TypeVar("F", bound=Callable[..., Any])


def _split(values: Sequence[str]) -> tuple[str, ...]:
    """``--only a,b --only c`` -> (a, b, c)."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _use_color(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def _check_writable(junit: str) -> None:
    """--junit FILE must be writable before anything runs: a usage error then really checked nothing."""
    folder = os.path.dirname(os.path.abspath(junit))
    if os.path.isdir(junit):
        raise UsageError(f"--junit {junit}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UsageError(f"--junit {junit}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(junit) and not os.access(junit, os.W_OK)):
        raise UsageError(f"--junit {junit}: not writable by this user")


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
            _check_writable(self.junit)


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

    return load_policy(path) if path else default_policy()


def judging_options(command: F) -> F:
    """--policy (loaded into a Policy) and --strict: how the results are judged, for doctor and smoke alike."""
    command = click.option("--strict", is_flag=True, help="Count warnings as failures (exit code 1).")(command)
    return click.option("--policy", "policy", metavar="FILE", callback=_load_policy,
                        help="Policy file (YAML or JSON) over the built-in defaults.")(command)


def emit_report(report: Report, options: ReportOptions) -> int:
    """Render one report the way the user asked and return its exit code."""
    from envcheck.redact import secret_values

    secrets = secret_values()
    if options.junit:
        from envcheck.report.junit import render_junit

        try:
            Path(options.junit).write_text(render_junit(report, secrets=secrets), "utf-8")
        except OSError as exc:  # a message and exit 2, not a traceback (report_options checked the folder up front)
            raise UsageError(f"--junit {options.junit}: cannot write it: {exc.strerror or exc}") from exc
    if options.as_json:
        from envcheck.report.jsonreport import render_json

        click.echo(render_json(report, secrets=secrets), nl=False)
    elif options.share:
        from envcheck.report.markdown import render_markdown

        click.echo(render_markdown(report, home=os.path.expanduser("~"), secrets=secrets), nl=False)
    else:
        from envcheck.redact import redact
        from envcheck.report.terminal import render_terminal

        text = render_terminal(report, color=_use_color(options.color), verbose=options.verbose)
        click.echo(redact(text, secrets=secrets), nl=False)
    return report.exit_code


def _echo_rows(rows: Sequence[tuple[str, str]]) -> int:
    """`--list`: one id and its title a line, the titles aligned."""
    width = max(len(row_id) for row_id, _ in rows)
    for row_id, title in rows:
        click.echo(f"{row_id.ljust(width)}  {title}")
    return 0


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), help="Deadline for each probe, in seconds.")
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
    timeout: float | None,
    with_smoke: bool,
    with_torch: bool,
    python: str | None,
) -> int:
    """Check this machine: host, Python, git, conda, Jupyter, Docker, NVIDIA GPUs."""
    from envcheck.doctor import DoctorRequest, check_list, run_doctor

    if list_checks:  # with --only/--skip: the ids that run would run
        return _echo_rows(check_list(_split(only), _split(skip)))
    request = DoctorRequest(only=_split(only), skip=_split(skip), policy=policy, strict=strict, timeout_s=timeout,
                            with_smoke=with_smoke, with_torch=with_torch, python=python)
    return emit_report(run_doctor(request, smoke=functools.partial(_smoke_live, report)), report)


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
    done = scaffold(opts, click.echo, part=part, then_verify=then_verify)
    if done.verified is not None and not opts.as_json:
        emit_report(done.verified, ReportOptions(verbose=True))
    if opts.as_json:  # one JSON document on stdout: the verify report goes inside the summary
        if done.verified is not None:
            from envcheck.redact import secret_values
            from envcheck.report.jsonreport import render_json

            done.summary["verify"] = json.loads(render_json(done.verified, secrets=secret_values()))
        click.echo(json.dumps(done.summary, indent=2))
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
@click.option("--timeout", type=click.FloatRange(min=1, max=7200), default=1800.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
def verify(path: str, report: ReportOptions, timeout: float) -> int:
    """Build a scaffolded project's images with the local Docker engine and run the smoke test inside them."""
    from envcheck.scaffold.verify import verify as run_verify

    verified = run_verify(Path(path).resolve(), timeout_s=timeout)
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
    """envcheck.smoke.run_smoke with live progress, and SIGTERM turned into an orderly exit."""
    import signal

    from envcheck.smoke import run_smoke

    def terminated(signum: int, frame: object) -> None:
        # The child runs in a session of its own: SIGTERM (a CI job's timeout, `kill`) must unwind run_smoke,
        # which ends the child, instead of killing envcheck alone and leaving the child running.
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        live = _smoke_progress(report)
        if live is None:
            return run_smoke(**kwargs)
        with live:
            return run_smoke(on_event=live, **kwargs)
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
@click.option("--timeout", type=click.FloatRange(min=1, max=7200), default=600.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
@click.option("--step-timeout", type=click.FloatRange(min=0.5, max=7200),
              help="Deadline for every step, in seconds (default: each step's own, 30-180 s).")
def smoke(
    report: ReportOptions,
    policy: Policy,
    strict: bool,
    python: str | None,
    conda_env: str | None,
    image: str | None,
    bench: bool,
    list_steps: bool,
    timeout: float,
    step_timeout: float | None,
) -> int:
    """Train a small MLP with PyTorch in the named environment, on the CPU and every GPU, step by step."""
    if list_steps:
        from envcheck.smoke import step_list

        return _echo_rows(step_list())
    smoked = _smoke_live(report, python=python, conda_env=conda_env, docker=image, bench=bench, run_timeout=timeout,
                         step_timeout=step_timeout, policy=policy, strict=strict)
    return emit_report(smoked, report)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the one place where errors become messages and exit codes."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="envcheck", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except EnvcheckError as exc:
        click.echo(f"envcheck: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # `envcheck doctor | head`: not an error worth a traceback
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
