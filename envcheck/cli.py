"""Thin click commands: parse, call one function, render, exit. Only this module prints or exits."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

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

        Path(junit).write_text(render_junit(report, secrets=secrets), "utf-8")
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
    if list_checks:
        width = max(len(c.id) for c in CHECKS)
        for check in CHECKS:
            click.echo(f"{check.id.ljust(width)}  {check.title}")
        return 0
    policy = load_policy(policy_path) if policy_path else default_policy()
    if timeout is not None:
        policy = replace(policy, probe_timeout_s=timeout)
    checks = select(CHECKS, _split(only), _split(skip))
    report = run_checks(checks, PROBES, policy, command="doctor", strict=strict)
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
