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

from envcheck import __version__
from envcheck.model import EXIT_USAGE, Report, UsageError
from envcheck.output import (
    ReportOptions,
    echo,
    echo_rows,
    emit_report,
    fail,
    run_guarded,
    say,
    use_color,
    writing_stdout,
)

if TYPE_CHECKING:  # importing policy at run time is left to the commands that judge
    from envcheck.fleet.merge import FleetView
    from envcheck.policy_groups import PolicySource

F = TypeVar("F", bound=Callable[..., Any])


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


def _first_paragraph(command: click.Command) -> str:
    """A command's line in its group's --help: the whole first paragraph of its help. click's own
    get_short_help_str cuts it to what fits beside the name and adds "..." ("Check this machine: host, Python,
    git, conda, Jupyter,..."); click's formatter wraps the whole text under the column instead."""
    import inspect

    text = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
    return " ".join(text.split())


class _Command(click.Command):
    """click's own output (--help) is printed while the context is made: the only OSError there is stdout's.
    _Group takes both methods from here (click.Group is a click.Command), so commands and groups agree."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return _first_paragraph(self)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with writing_stdout():
            return super().make_context(info_name, args, parent, **extra)


class _Group(_Command, click.Group):
    """The same for the groups (--help, --version); their commands and subgroups are made as _Command, _Group."""

    command_class = _Command
    group_class = type  # click: subgroups of the same class


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


def _load_policy(ctx: click.Context, param: click.Parameter, path: str | None) -> PolicySource:
    from envcheck.policy_groups import default_policy_source, load_policy_source

    # `--policy ""` names no file: an error. The effective policy depends on the host and its groups, which the
    # command knows: it is computed there.
    if path is None:
        return default_policy_source()
    # A name in skip that is no check of this envcheck is no error here (envcheck.doctor.unknown_check_names).
    return load_policy_source(path)


def judging_options(command: F) -> F:
    """--policy (read into a PolicySource) and --strict: how the results are judged, for doctor and smoke alike."""
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
@click.option("--host", "host", metavar="NAME",
              help="This machine's name for the policy's host globs and the report [default: its hostname].")
@click.option("--group", "groups", multiple=True, metavar="NAME",
              help="An inventory group this host is in, for the policy's groups (repeat for several).")
def doctor(
    report: ReportOptions,
    policy: PolicySource,
    strict: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    list_checks: bool,
    timeout_s: float | None,
    with_smoke: bool,
    with_torch: bool,
    python: str | None,
    host: str | None,
    groups: tuple[str, ...],
) -> int:
    """Check this machine: host, Python, git, conda, Jupyter, Docker, NVIDIA GPUs."""
    from envcheck.doctor import DoctorRequest, check_list, diagnose

    if only and not _split(only):  # `--only ""` (an unset shell variable) would otherwise run every check
        raise UsageError("--only: give a check id or subject; the value was empty")
    request = DoctorRequest(only=_split(only), skip=_split(skip), policy=policy, host=host, groups=_split(groups),
                            strict=strict, timeout_s=timeout_s, with_smoke=with_smoke, with_torch=with_torch,
                            python=python)
    if list_checks:  # with --only/--skip: the ids that run would run; with --policy: its requirement checks too
        return echo_rows("doctor", check_list(_split(only), _split(skip), request), as_json=report.as_json)
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
    policy: PolicySource,
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

    from envcheck.engine import counted_by_policy

    judged = policy.effective(socket.gethostname(), ())
    # The report's header line goes above the live progress, where it says what runs; the report then omits it.
    header = f"envcheck smoke on {socket.gethostname()}" if _shows_progress(report) else None
    smoked = _smoke_live(report, header=header, python=python, conda_env=conda_env, docker=image, bench=bench,
                         run_timeout_s=run_timeout_s, step_timeout_s=step_timeout_s, policy=judged.policy,
                         strict=strict)
    smoked = replace(smoked, results=counted_by_policy(smoked.results, judged.policy), policy=judged.ref)
    return emit_report(smoked, replace(report, header=header is None))


@cli.command()
@click.argument("name", required=False)
def recipe(name: str | None) -> int:
    """Print a file that runs envcheck from NHC or node-problem-detector (no NAME: list them)."""
    from envcheck.recipes import RECIPES, recipe_text

    if name is None:
        return echo_rows("recipe", [(key, about) for key, (_file, about) in RECIPES.items()], as_json=False)
    echo(recipe_text(name), nl=False)
    return 0


@cli.group(invoke_without_command=True)
@click.option("-i", "--inventory", "inventory", metavar="INVENTORY", help="Ansible inventory (file, folder or list).")
@click.option("--policy", "policy", metavar="FILE", callback=_load_policy,
              help="Policy file (YAML or JSON), carried to every host; its groups match inventory groups.")
@click.option("--limit", metavar="PATTERN", help="Only these hosts (Ansible's --limit pattern).")
@click.option("--forks", type=click.IntRange(1, 500), default=20, show_default=True, help="Hosts run at once.")
@click.option("--out", "out", metavar="DIR", help="Folder for one JSON file per host [./envcheck-fleet-<time>].")
@click.option("--timeout", "timeout_s", type=Seconds(min=10, max=7200), default=600.0, show_default=True,
              help="Seconds each host may take (connecting, copying, envcheck); then it is cut (timed-out).")
@click.option("--json", "as_json", is_flag=True, help="Print the fleet JSON instead of the table.")
@click.pass_context
def fleet(ctx: click.Context, inventory: str | None, policy: PolicySource, limit: str | None, forks: int,
          out: str | None, timeout_s: float, as_json: bool) -> int:
    """Run envcheck doctor on every host of an Ansible inventory and show the fleet (needs envcheck[fleet])."""
    if ctx.invoked_subcommand is not None:
        return 0
    if inventory is None:
        raise click.UsageError("Missing option '-i' / '--inventory'.")
    for option, value in (("-i", inventory), ("--limit", limit), ("--out", out)):
        if value is not None and not value.strip():  # an unset shell variable: never "the whole fleet", nor "."
            raise UsageError(f"{option}: the value was empty")
    from envcheck.fleet.command import default_out
    from envcheck.fleet.command import fleet as fleet_run

    def progress(line: str) -> None:
        click.echo("\r" + line + "\x1b[K", nl=False, err=True)

    folder = Path(out) if out else default_out()
    result = fleet_run(inventory, policy=policy, limit=limit, forks=forks, out=folder, timeout_s=timeout_s,
                       warn=lambda text: say(f"envcheck: warning: {text}"),
                       progress=progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        say(f"\r\x1b[K{result.timing}; reports in {result.out}")
    from envcheck.output import FleetOptions, emit_fleet

    emit_fleet(result.view, FleetOptions(as_json=as_json))  # shown as `report merge` shows a fleet
    return result.exit_code  # from the hosts' results as they came; the view is read back from their files


@fleet.command("playbook")
@click.option("--out", "out", metavar="DIR", help="Write the playbook and the artifact here (else print the playbook).")
@click.option("--policy", "policy_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False),
              help="Policy file to carry inside the artifact.")
def fleet_playbook(out: str | None, policy_file: str | None) -> int:
    """The playbook envcheck fleet runs, for driving Ansible yourself: same per-host JSON files."""
    from envcheck.fleet.command import playbook_usage, write_playbook
    from envcheck.fleet.playbook import playbook_text

    if out is None:
        echo(playbook_text(record=True), nl=False)
        return 0
    if policy_file is not None:
        from envcheck.doctor import unknown_check_names

        source = _load_policy(click.get_current_context(), click.Option(["--policy"]), policy_file)  # validated
        for warning in unknown_check_names(source):
            say(f"envcheck: warning: {warning}")
    write_playbook(Path(out), policy=Path(policy_file) if policy_file else None)
    say(playbook_usage(Path(out)))
    return 0


@cli.group("report")
def report_group() -> None:
    """Put per-host JSON reports together: one view of a fleet (table, JSON, JUnit, Prometheus, HTML page)."""


_MERGE_PATHS = click.argument("paths", nargs=-1, required=True, metavar="DIR|FILE...",
                              type=click.Path(exists=True, dir_okay=True, file_okay=True))


def _keep_inputs(paths: Sequence[str], outputs: Sequence[tuple[str, str | None]]) -> None:
    """No output may be one of the reports merged: `--html results/gpu-01.json` would replace that host's report
    with the page made from it."""
    import os

    from envcheck.fleet.hostreport import list_files

    inputs = {os.path.realpath(path) for path in list_files(paths)[0]}
    for option, path in outputs:
        if path is not None and os.path.realpath(path) in inputs:
            raise UsageError(f"{option} {path}: that is one of the reports being merged; give another file")


def _merged(paths: Sequence[str], expect_hosts: str | None, inventory: str | None) -> FleetView:
    from envcheck.fleet.expect import inventory_hosts, read_expect_file
    from envcheck.fleet.merge import merge_paths

    if expect_hosts and inventory:
        raise UsageError("--expect-hosts and -i each name the hosts expected: choose one")
    expected = read_expect_file(expect_hosts) if expect_hosts else inventory_hosts(inventory) if inventory else None
    view = merge_paths(paths, expect_hosts=expected)
    if not view.hosts and not view.file_errors:
        raise UsageError(f"no report file (*.json) in {', '.join(paths)}")
    return view


@report_group.command("merge")
@_MERGE_PATHS
@click.option("--expect-hosts", "expect_hosts", metavar="FILE",
              help="Hosts that must have a report, one a line: each without one is an error (unreachable).")
@click.option("-i", "--inventory", "inventory", metavar="INVENTORY",
              help="The same from an Ansible inventory, with its groups (needs envcheck[fleet]).")
@click.option("--json", "as_json", is_flag=True, help="Print the fleet JSON instead of the table.")
@click.option("--junit", metavar="FILE", help="Also write JUnit XML to FILE: one testsuite per host.")
@click.option("--prometheus", metavar="FILE", help="Also write Prometheus metrics to FILE (textfile collector).")
@click.option("--html", "html", metavar="FILE", help="Also write the fleet page to FILE (one self-contained file).")
@click.option("--color/--no-color", default=None,
              help="Colour on or off (default: off with NO_COLOR, on with FORCE_COLOR, else only on a terminal).")
def report_merge(paths: tuple[str, ...], expect_hosts: str | None, inventory: str | None, as_json: bool,
                 junit: str | None, prometheus: str | None, html: str | None, color: bool | None) -> int:
    """Merge per-host JSON reports (from envcheck fleet, srun, anywhere) into one view of the fleet.

    Each file is untrusted: one that is not a report is one error row. Folders are read for *.json (not their
    subfolders). Exit code: 1 a host failed, 3 a host or file could not be judged, 5 a host unreachable or
    expected and missing, else 0 (the worst wins in that order)."""
    from envcheck.output import FleetOptions, emit_fleet

    options = FleetOptions(as_json=as_json, junit=junit, prometheus=prometheus, html=html, color=color)
    options.check()
    _keep_inputs(paths, (("--junit", junit), ("--prometheus", prometheus), ("--html", html)))
    return emit_fleet(_merged(paths, expect_hosts, inventory), options)


@report_group.command("html")
@_MERGE_PATHS
@click.option("-o", "--output", "output", metavar="FILE", required=True, help="The page to write.")
@click.option("--expect-hosts", "expect_hosts", metavar="FILE", help="Hosts that must have a report, one a line.")
@click.option("-i", "--inventory", "inventory", metavar="INVENTORY",
              help="The same from an Ansible inventory (needs envcheck[fleet]).")
def report_html(paths: tuple[str, ...], output: str, expect_hosts: str | None, inventory: str | None) -> int:
    """Write the fleet page of per-host JSON reports: one self-contained HTML file.

    It needs no network: the host x subject grid, filters by outcome and group, each host's problems and
    fixes, and the drift. Exit code as report merge."""
    from envcheck.fleet.html import render_html
    from envcheck.output import check_writable, write_report_file

    check_writable("-o", output)
    _keep_inputs(paths, (("-o", output),))
    view = _merged(paths, expect_hosts, inventory)
    write_report_file("-o", output, render_html(view))
    say(f"envcheck: wrote the fleet page to {output}")
    return view.exit_code


@cli.group("policy")
def policy_group() -> None:
    """Show, write, check a policy: what each server must have, with per-group overrides."""


def _register_policy_commands() -> None:
    from envcheck.policy_cli import register

    register(policy_group)


_register_policy_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: click's own errors become messages and exit codes here, envcheck's in output.run_guarded."""
    args = list(argv) if argv is not None else sys.argv[1:]
    # --json means JSON on stdout even for an error found while parsing, so it is looked for in argv itself.
    as_json = "--json" in (args[:args.index("--")] if "--" in args else args)

    def command() -> int | None:
        try:
            code = cli.main(args=args, prog_name="envcheck", standalone_mode=False)
        except click.exceptions.Abort:
            fail("Aborted.", 130, as_json=as_json, show=lambda: click.echo("Aborted.", err=True))
        except click.ClickException as exc:
            fail(exc.format_message(), EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code,
                 as_json=as_json, show=exc.show)
        return code if isinstance(code, int) else None

    run_guarded(command, as_json=as_json)
