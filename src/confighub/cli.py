"""The ``confighub`` command: a thin layer over the library.

``main(argv) -> int`` runs in-process (the tests call it); ``run()`` is the
console script.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from rich.console import Console

from confighub._render import render_change
from confighub._version import __version__
from confighub.demo import run_demo
from confighub.events import ConfigChange
from confighub.exceptions import ConfigHubError
from confighub.files import load_tracepoints
from confighub.model import config_hash

__all__ = ["main", "run"]


@click.group()
@click.version_option(__version__, prog_name="confighub")
def cli() -> None:
    """A reactive-streams config hub for Deep tracepoints."""


@cli.command()
def demo() -> None:
    """Run a scripted scenario on the bundled example tracepoints and print each change."""
    run_demo(Console())


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def check(file: str) -> None:
    """Validate a tracepoint FILE (YAML or JSON) and print what it holds."""
    tracepoints = load_tracepoints(file)
    console = Console()
    console.print(render_change(ConfigChange(0, None, config_hash(tracepoints), (), tracepoints)))
    console.print(f"{len(tracepoints)} tracepoints, hash {config_hash(tracepoints)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except ConfigHubError as err:
        click.echo(f"error: {err}", err=True)
        return 1
    return 0


def run() -> None:
    """The console-script entry point."""
    sys.exit(main())
