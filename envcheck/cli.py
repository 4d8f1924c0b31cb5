"""Thin click commands: parse, call one function, render, exit. Only this module prints or exits."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from envcheck import __version__
from envcheck.model import EXIT_USAGE, EnvcheckError, Report, UsageError


def _split(values: Sequence[str]) -> list[str]:
    """``--only a,b --only c`` -> [a, b, c]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


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


def emit_report(
    report: Report,
    *,
    as_json: bool,
    share: bool,
    junit: str | None,
    verbose: bool,
    color: bool | None,
) -> int:
    """Render one report the way the user asked and return its exit code."""
    from envcheck.redact import secret_values

    secrets = secret_values()
    if junit:
        from envcheck.report.junit import render_junit

        try:
            Path(junit).write_text(render_junit(report, secrets=secrets), "utf-8")
        except OSError as exc:  # a message and exit 2, not a traceback (doctor checks the folder up front)
            raise UsageError(f"--junit {junit}: cannot write it: {exc.strerror or exc}") from exc
    if as_json:
        from envcheck.report.jsonreport import render_json

        click.echo(render_json(report, secrets=secrets), nl=False)
    elif share:
        from envcheck.report.markdown import render_markdown

        click.echo(render_markdown(report, home=os.path.expanduser("~"), secrets=secrets), nl=False)
    else:
        from envcheck.redact import redact
        from envcheck.report.terminal import render_terminal

        text = render_terminal(report, color=_use_color(color), verbose=verbose)
        click.echo(redact(text, secrets=secrets), nl=False)
    return report.exit_code


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="envcheck")
def cli() -> None:
    """Is this deep-learning machine really ready? Checks, verdicts and the fix for each problem."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report and nothing else.")
@click.option("--share", is_flag=True, help="Print a markdown report for a bug report (secrets masked, home as ~).")
@click.option("--junit", metavar="FILE", help="Also write a JUnit XML report to FILE.")
@click.option("-v", "--verbose", is_flag=True, help="Show every check with its evidence and duration.")
@click.option(
    "--only", multiple=True, metavar="ID|SUBJECT", help="Run only these checks or subjects (repeat or comma-separate)."
)
@click.option("--skip", multiple=True, metavar="ID|SUBJECT", help="Leave out these checks or subjects.")
@click.option("--list", "list_checks", is_flag=True, help="List every check id with its title and exit.")
@click.option("--strict", is_flag=True, help="Count warnings as failures (exit code 1).")
@click.option("--policy", "policy_path", metavar="FILE", help="Policy file (YAML or JSON) over the built-in defaults.")
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), help="Deadline for each probe, in seconds.")
@click.option("--smoke", "with_smoke", is_flag=True,
              help="Then run the PyTorch smoke test in the active environment and add its results.")
@click.option("--torch", "with_torch", is_flag=True,
              help="Also import torch in a child process (about 2 s) and judge its CUDA build (gpu.torch-build).")
@click.option("--python", "python", metavar="PATH",
              help="Judge this interpreter instead of the python3 on PATH (python.*, gpu.torch-build, --smoke).")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: only on a terminal).")
def doctor(
    as_json: bool,
    share: bool,
    junit: str | None,
    verbose: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    list_checks: bool,
    strict: bool,
    policy_path: str | None,
    timeout: float | None,
    with_smoke: bool,
    with_torch: bool,
    python: str | None,
    color: bool | None,
) -> int:
    """Check this machine: host, Python, git, conda, Jupyter, Docker, NVIDIA GPUs."""
    from dataclasses import replace

    from envcheck.checks import CHECKS
    from envcheck.engine import run_checks, select
    from envcheck.policy import default_policy, load_policy
    from envcheck.probes import PROBES

    if as_json and share:
        raise UsageError("--json and --share each print a whole report: choose one")
    checks = select(CHECKS, _split(only), _split(skip))
    if list_checks:  # with --only/--skip: the ids that run would run
        width = max(len(c.id) for c in checks)
        for check in checks:
            click.echo(f"{check.id.ljust(width)}  {check.title}")
        return 0
    if junit:
        _check_writable(junit)
    policy = load_policy(policy_path) if policy_path else default_policy()
    if timeout is not None:
        policy = replace(policy, probe_timeout_s=timeout)
    # Importing torch costs ~2 s, so gpu.torch-build runs only when asked (issue #3 item 9).
    options: dict[str, Any] = {"torch_check": with_torch or with_smoke}
    if python is not None:
        if not os.path.isfile(python) or not os.access(python, os.X_OK):
            raise UsageError(f"--python {python}: not an executable file")
        options["python"] = os.path.abspath(python)
    report = run_checks(checks, PROBES, policy, command="doctor", strict=strict, options=options)
    if with_smoke:  # the smoke steps join the same report: one envelope, one exit code (issue #4)
        from dataclasses import replace as _replace

        smoked = _run_smoke_live(as_json or share, color, policy=policy, strict=strict, python=options.get("python"))
        report = _replace(report, results=report.results + smoked.results,
                          duration_s=round(report.duration_s + smoked.duration_s, 4))
    return emit_report(report, as_json=as_json, share=share, junit=junit, verbose=verbose, color=color)


# --- scaffold, generate, verify (issue #5): decisions and writing live in envcheck/scaffold/ ---------------

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


def _scaffold_run(part: str, path: str, kwargs: dict[str, Any], *, then_verify: bool = False) -> int:
    import json

    from envcheck.scaffold.command import Options, run

    opts = Options(path=path, **kwargs)
    summary = run(opts, click.echo, part=part)
    code = 0
    if then_verify and not opts.dry_run:
        from envcheck.redact import secret_values
        from envcheck.report.jsonreport import render_json
        from envcheck.scaffold.verify import verify as run_verify

        report = run_verify(Path(summary["target"]), timeout_s=1800.0)
        code = report.exit_code
        if opts.as_json:  # one JSON document on stdout: the verify report goes inside the summary
            summary["verify"] = json.loads(render_json(report, secrets=secret_values()))
        else:
            emit_report(report, as_json=False, share=False, junit=None, verbose=True, color=None)
    if opts.as_json:
        click.echo(json.dumps(summary, indent=2))
    return code


@cli.command()
@click.argument("path")
@_plan_options
@click.option("--docker/--no-docker", default=True, help="Add Dockerfile, Dockerfile.cpu and .dockerignore [on].")
@click.option("--git/--no-git", default=True, help="git init, with a first commit when git has an identity [on].")
@click.option("--verify", "then_verify", is_flag=True, help="Then build the images and run the smoke test in them.")
def scaffold(path: str, then_verify: bool, **kwargs: Any) -> int:
    """Create a PyTorch project at PATH that fits this machine (or --driver's); never prompts."""
    return _scaffold_run("project", path, kwargs, then_verify=then_verify)


@cli.group()
def generate() -> None:
    """Write one file of a scaffolded project into an existing folder, with the same decisions."""


@generate.command("environment")
@click.argument("path")
@_plan_options
def generate_environment(path: str, **kwargs: Any) -> int:
    """Write PATH/environment.yml."""
    return _scaffold_run("environment", path, kwargs)


@generate.command("dockerfile")
@click.argument("path")
@_plan_options
def generate_dockerfile(path: str, **kwargs: Any) -> int:
    """Write PATH/Dockerfile (when there is a CUDA build) and PATH/Dockerfile.cpu."""
    return _scaffold_run("dockerfile", path, kwargs)


@cli.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report and nothing else.")
@click.option("--timeout", type=click.FloatRange(min=1, max=7200), default=1800.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
def verify(path: str, as_json: bool, timeout: float) -> int:
    """Build a scaffolded project's images with the local Docker engine and run the smoke test inside them."""
    from envcheck.scaffold.verify import verify as run_verify

    report = run_verify(Path(path).resolve(), timeout_s=timeout)
    return emit_report(report, as_json=as_json, share=False, junit=None, verbose=True, color=None)


def _smoke_progress(as_json: bool, color: bool | None) -> Any:
    """Live progress only on a terminal and never with --json (issue #4, item 7)."""
    if as_json or not sys.stdout.isatty():
        return None
    from rich.console import Console

    from envcheck.smoke.progress import LiveProgress

    return LiveProgress(Console(no_color=not _use_color(color)))


def _run_smoke_live(as_json: bool, color: bool | None = None, **kwargs: Any) -> Report:
    import signal

    from envcheck.smoke import run_smoke

    def terminated(signum: int, frame: object) -> None:
        # The child runs in a session of its own: SIGTERM (a CI job's timeout, `kill`) must unwind run_smoke,
        # which ends the child, instead of killing envcheck alone and leaving the child running (issue #4).
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        live = _smoke_progress(as_json, color)
        if live is None:
            return run_smoke(**kwargs)
        with live:
            return run_smoke(on_event=live, **kwargs)
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command()
@click.option("--python", "python", metavar="PATH", help="Run in this interpreter (with --docker: inside the image).")
@click.option("--conda-env", metavar="NAME", help="Run in this conda env (found through conda, not activated).")
@click.option("--docker", "image", metavar="IMAGE", help="Run in a container of this local image, GPUs requested.")
@click.option("--bench", is_flag=True, help="Also measure matmul TFLOP/s, memory and PCIe bandwidth vs the datasheet.")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report and nothing else.")
@click.option("--share", is_flag=True, help="Print a markdown report for a bug report (secrets masked, home as ~).")
@click.option("--junit", metavar="FILE", help="Also write a JUnit XML report to FILE.")
@click.option("-v", "--verbose", is_flag=True, help="Show every step with its evidence and duration.")
@click.option("--list", "list_steps", is_flag=True, help="List every step id with its title and exit.")
@click.option("--strict", is_flag=True, help="Count warnings as failures (exit code 1).")
@click.option("--policy", "policy_path", metavar="FILE", help="Policy file (YAML or JSON) over the built-in defaults.")
@click.option("--timeout", type=click.FloatRange(min=1, max=7200), default=600.0, show_default=True,
              help="Deadline for the whole run, in seconds.")
@click.option("--step-timeout", type=click.FloatRange(min=0.5, max=7200),
              help="Deadline for every step, in seconds (default: each step's own, 30-180 s).")
@click.option("--color/--no-color", default=None, help="Force colour on or off (default: only on a terminal).")
def smoke(
    python: str | None,
    conda_env: str | None,
    image: str | None,
    bench: bool,
    as_json: bool,
    share: bool,
    junit: str | None,
    verbose: bool,
    list_steps: bool,
    strict: bool,
    policy_path: str | None,
    timeout: float,
    step_timeout: float | None,
    color: bool | None,
) -> int:
    """Train a small MLP with PyTorch in the named environment, on the CPU and every GPU, step by step."""
    from envcheck.policy import default_policy, load_policy

    if as_json and share:
        raise UsageError("--json and --share each print a whole report: choose one")
    if list_steps:
        from envcheck.smoke import step_list

        rows = step_list()
        width = max(len(i) for i, _ in rows)
        for step_id, title in rows:
            click.echo(f"{step_id.ljust(width)}  {title}")
        return 0
    policy = load_policy(policy_path) if policy_path else default_policy()
    report = _run_smoke_live(
        as_json or share, color, python=python, conda_env=conda_env, docker=image, bench=bench, run_timeout=timeout,
        step_timeout=step_timeout, policy=policy, strict=strict,
    )
    return emit_report(report, as_json=as_json, share=share, junit=junit, verbose=verbose, color=color)


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
