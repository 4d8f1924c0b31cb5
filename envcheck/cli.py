"""Thin click commands: parse, call one function, render, exit. Writing to stdout, rendering a report and the exit
codes of a failed write live in envcheck/output.py; this module and that one are the only ones that print or exit.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

import click

from envcheck import __version__, shutdown
from envcheck.model import EXIT_BROKEN_PIPE, EXIT_OUTPUT, EXIT_USAGE, EnvcheckError, Report, UsageError
from envcheck.output import (
    OutputError,
    ReaderGone,
    ReportOptions,
    echo,
    echo_rows,
    emit_report,
    fail,
    quiet_stdout,
    report_options,
    say,
    stdout_closed,
    use_color,
    writing_stdout,
)

if TYPE_CHECKING:  # importing policy at run time is left to the commands that judge
    from envcheck.policy import Policy

F = TypeVar("F", bound=Callable[..., Any])


def _first_paragraph(command: click.Command) -> str:
    """A command's line in its group's --help: the whole first paragraph of its help. click's own
    get_short_help_str cuts it to what fits beside the name and adds "..." ("Check this machine: host, Python,
    git, conda, Jupyter,..."); click's formatter wraps the whole text under the column instead."""
    import inspect

    text = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
    return " ".join(text.split())


class _Command(click.Command):
    """click's own output (--help) is printed while the context is made: the only OSError there is stdout's."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return _first_paragraph(self)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with writing_stdout():
            return super().make_context(info_name, args, parent, **extra)


class _Group(click.Group):
    """The same for the groups (--help, --version); their commands and subgroups are made as _Command, _Group."""

    command_class = _Command
    group_class = type  # click: subgroups of the same class

    def get_short_help_str(self, limit: int = 45) -> str:
        return _first_paragraph(self)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with writing_stdout():
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


def _load_policy(ctx: click.Context, param: click.Parameter, path: str | None) -> Policy:
    from envcheck.policy import default_policy, load_policy

    return default_policy() if path is None else load_policy(path)  # `--policy ""` names no file: an error


def judging_options(command: F) -> F:
    """--policy (loaded into a Policy) and --strict: how the results are judged, for doctor and smoke alike."""
    command = click.option("--strict", is_flag=True, help="Count warnings as failures (exit code 1).")(command)
    return click.option("--policy", "policy", metavar="FILE", callback=_load_policy,
                        help="Policy file (YAML or JSON) over the built-in defaults.")(command)


# max_content_width: click lays help out in at most 80 columns unless told; a wider terminal fits each command's
# description on one line.
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
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
        return echo_rows("doctor", check_list(_split(only), _split(skip)), as_json=report.as_json)
    request = DoctorRequest(only=_split(only), skip=_split(skip), policy=policy, strict=strict, timeout_s=timeout_s,
                            with_smoke=with_smoke, with_torch=with_torch, python=python)
    return emit_report(diagnose(request, smoke=functools.partial(_smoke_live, report)), report)


# --- scaffold, generate, verify: decisions and writing live in envcheck/scaffold/ ---------------------------

# Options of every planning command; _ENVIRONMENT_OPTIONS only shape environment.yml (and a whole project), so
# `generate dockerfile --help` does not offer them.
_PLAN_OPTIONS = (
    click.option("--name", help="Project (distribution) name; default: the folder's name."),
    click.option("--python", metavar="X.Y", help="Python version; default: this Python, kept inside torch's range."),
    click.option("--torch", metavar="X.Y[.Z]", help="PyTorch release; default: the newest that fits."),
    click.option("--cuda", default="auto", show_default=True, metavar="auto|cpu|X.Y", help="CUDA variant of torch."),
    click.option("--driver", metavar="VERSION", help="Plan for another machine with this NVIDIA driver."),
    click.option("--gpu", metavar="CC|MODEL",
                 help="Plan for this GPU: a compute capability (8.0, sm_80) or a model (A100, H100, RTX 4090)."),
    click.option("--minor-compat", is_flag=True,
                 help="Allow CUDA builds that the driver runs only by minor-version compatibility."),
    click.option("--force", is_flag=True, help="Replace files whose content differs (listed first; other files stay)."),
    click.option("--dry-run", is_flag=True, help="Print the plan; write nothing."),
    click.option("--json", "as_json", is_flag=True, help="Print the plan (and what was written) as JSON."),
)


_ENVIRONMENT_OPTIONS = (
    click.option("--route", type=click.Choice(["pip", "conda-forge"]), help="How torch enters environment.yml [pip]."),
    click.option("--jupyter/--no-jupyter", default=True, help="Add the notebook and Jupyter [on]."),
)
_REPLAN = click.option("--replan", is_flag=True,
                       help="Plan for this machine instead of the decisions in .envcheck/project.json (shows the "
                            "changes).")


def _plan_options(func: Any) -> Any:
    for option in reversed(_PLAN_OPTIONS):
        func = option(func)
    return func


def _environment_options(func: Any) -> Any:
    for option in reversed(_ENVIRONMENT_OPTIONS):
        func = option(func)
    return func


def _scaffold(part: str, path: str, kwargs: dict[str, Any], *, then_verify: bool = False) -> int:
    import json

    from envcheck.scaffold.command import Options, plan_and_write

    opts = Options(path=path, **kwargs)
    summary = plan_and_write(opts, echo, part=part)
    verified = None
    if then_verify and not opts.dry_run:  # `scaffold --verify`: `envcheck verify` on what was just written
        from envcheck.verify import verify as verify_project

        verified = verify_project(Path(summary["target"]))  # verify's own default deadline
        if not opts.as_json:
            emit_report(verified, ReportOptions(verbose=True))
    if opts.as_json:  # one JSON document on stdout: the verify report goes inside the summary
        if verified is not None:
            from envcheck.redact import Redactor, secret_values
            from envcheck.report.jsonreport import render_json

            masked = Redactor(secrets=secret_values()).report(verified)
            summary["verify"] = json.loads(render_json(masked))
        echo(json.dumps(summary, indent=2))
    return verified.exit_code if verified is not None else 0


@cli.command()
@click.argument("path")
@_plan_options
@_environment_options
@click.option("--docker/--no-docker", default=True, help="Add Dockerfile, Dockerfile.cpu and .dockerignore [on].")
@click.option("--git/--no-git", default=True, help="git init, with a first commit when git has an identity [on].")
@click.option("--verify", "then_verify", is_flag=True, help="Then build the images and run the smoke test in them.")
def scaffold(path: str, then_verify: bool, **kwargs: Any) -> int:
    """Create a PyTorch project at PATH that fits this machine (or --driver's); never prompts."""
    return _scaffold("project", path, kwargs, then_verify=then_verify)


@cli.group()
def generate() -> None:
    """Write one file of a scaffolded project into an existing folder, with the same decisions.

    The decisions are those its .envcheck/project.json records; --replan plans for this machine instead."""


@generate.command("environment")
@click.argument("path")
@_plan_options
@_environment_options
@_REPLAN
def generate_environment(path: str, **kwargs: Any) -> int:
    """Write PATH/environment.yml."""
    return _scaffold("environment", path, kwargs)


@generate.command("dockerfile")
@click.argument("path")
@_plan_options
@_REPLAN
def generate_dockerfile(path: str, **kwargs: Any) -> int:
    """Write PATH/Dockerfile (when there is a CUDA build) and PATH/Dockerfile.cpu."""
    return _scaffold("dockerfile", path, kwargs)


@cli.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@report_options
@click.option("--timeout", "timeout_s", type=Seconds(min=1, max=7200), default=1800.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
# Kept by default: the next step after a verify is `docker run` on the same tag (README's commands), and the layers
# make the next build fast; --no-keep-images is for CI and disk-tight machines.
@click.option("--keep-images/--no-keep-images", default=True, show_default=True,
              help="Keep the images verify built (named in the report), or remove them at the end.")
def verify(path: str, report: ReportOptions, timeout_s: float, keep_images: bool) -> int:
    """Build a scaffolded project's images with the local Docker engine and run the smoke test inside them."""
    from envcheck.verify import verify as verify_project

    verified = verify_project(Path(path).resolve(), timeout_s=timeout_s, shown_as=path, keep_images=keep_images)
    code = emit_report(verified, report)
    images = next((r for r in verified.results if r.id == "verify.images"), None)
    if images is not None and images.evidence.get("images") and not report.as_json:
        # On stderr, like the JUnit line: without -v the report shows the images' result only as a count.
        tags = " ".join(images.evidence["images"])
        kept = not images.evidence.get("removed")
        say(f"envcheck: {images.observed}" + (f" (`docker image rm {tags}` removes them)" if kept else ""))
    return code


def _shows_progress(report: ReportOptions) -> bool:
    """Live progress only on a terminal, and never when the whole report is printed as JSON or markdown."""
    return not (report.as_json or report.share) and sys.stdout.isatty()


def _smoke_progress(report: ReportOptions, header: str | None) -> Any:
    if not _shows_progress(report):
        return None
    from rich.console import Console

    from envcheck.smoke.progress import LiveProgress

    # highlight=False: rich's highlighter would colour numbers and paths in outside strings ("3.11" half cyan).
    color = use_color(report.color)
    console = Console(highlight=False, no_color=not color, color_system="auto" if color else None)
    return LiveProgress(console, header=header)


def _smoke_live(report: ReportOptions, header: str | None = None, **kwargs: Any) -> Report:
    """envcheck.smoke.smoke_test with live progress, under ``header`` when given. (SIGTERM and SIGHUP unwind it,
    which ends the child, as they do every command: see main.)"""
    from envcheck.smoke import smoke_test

    live = _smoke_progress(report, header)
    if live is None:
        return smoke_test(**kwargs)
    with live:
        return smoke_test(on_event=live, **kwargs)


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

        return echo_rows("smoke", step_list(), as_json=report.as_json)
    import socket

    # The report's header line goes above the live progress, where it says what runs; the report then omits it.
    header = f"envcheck smoke on {socket.gethostname()}" if _shows_progress(report) else None
    smoked = _smoke_live(report, header=header, python=python, conda_env=conda_env, docker=image, bench=bench,
                         run_timeout_s=run_timeout_s, step_timeout_s=step_timeout_s, policy=policy, strict=strict)
    return emit_report(smoked, replace(report, header=header is None))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the one place where errors become messages and exit codes."""
    args = list(argv) if argv is not None else sys.argv[1:]
    # --json means JSON on stdout even for an error found while parsing, so it is looked for in argv itself.
    as_json = "--json" in (args[:args.index("--")] if "--" in args else args)
    if stdout_closed():
        # Nothing envcheck prints could be seen, and the next file opened would take descriptor 1.
        say("envcheck: error: stdout is closed; redirect it to a file or /dev/null instead")
        sys.exit(EXIT_OUTPUT)
    try:
        # SIGTERM and SIGHUP end any command through SystemExit(143 / 129), which unwinds it and ends the children
        # it started (envcheck/shutdown.py); Ctrl-C stays KeyboardInterrupt, which click makes "Aborted." (130).
        with shutdown.ending_on_signals():
            code = cli.main(args=args, prog_name="envcheck", standalone_mode=False)
    except click.exceptions.Abort:
        fail("Aborted.", 130, as_json=as_json, show=lambda: click.echo("Aborted.", err=True))
    except click.ClickException as exc:
        fail(exc.format_message(), EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code,
             as_json=as_json, show=exc.show)
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
