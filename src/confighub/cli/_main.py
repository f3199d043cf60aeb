"""The ``confighub`` command's options and arguments; what each command does is elsewhere.

Option types carry the rules (``_options``), so bad input is a usage error (exit 2);
every other failure is one ``error:`` line (exit 1), never a traceback unless asked
for with ``-v``. ``main(argv) -> int`` runs in-process (the tests call it); ``run()``
is the console script, and ``python -m confighub`` runs it too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from confighub._internal.text import cut
from confighub._version import __version__
from confighub.cli import _actions
from confighub.cli._demo import run_demo
from confighub.cli._logging import FORMATS, LEVELS, CommandFailed, Session
from confighub.cli._manage import agents_command, tp_group
from confighub.cli._options import (
    FILE,
    HELP,
    OUTPUT,
    Seconds,
    client_options,
    credentials,
)
from confighub.cli._polling import connection
from confighub.cli._render import console
from confighub.cli._serve import serve_command, stop_on_signals
from confighub.exceptions import ConfigHubError

__all__ = ["main", "run"]


@click.group(context_settings=HELP)
@click.version_option(__version__, prog_name="confighub")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log everything, with tracebacks (--log-level debug)."
)
@click.option(
    "--log-level",
    type=click.Choice(list(LEVELS), case_sensitive=False),
    default="info",
    show_default=True,
    help="The least severe events shown on stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Events as text lines, or one JSON object per line (ts, level, logger, message).",
)
@click.pass_obj
def cli(session: Session, *, verbose: bool, log_level: str, log_format: str) -> None:
    """A reactive-streams config hub for Deep tracepoints."""
    session.configure(logging.DEBUG if verbose else LEVELS[log_level.lower()], log_format)


@cli.command("demo")
@click.option("--record", type=OUTPUT, help="Also record the changes to this tape.")
@click.option(
    "--pause",
    type=Seconds(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait before each edit.",
)
def demo_command(*, record: Path | None, pause: float) -> None:
    """Run a scripted scenario on the bundled example tracepoints and print each change."""
    run_demo(console(), record=record, pause=pause)


@cli.command("check")
@click.argument("file", type=FILE)
def check_command(file: Path) -> None:
    """Validate a tracepoint FILE (YAML or JSON): print what it holds, or every problem."""
    _actions.check_file(file, console(), console(stderr=True))


_DEBOUNCE = click.option(
    "--debounce",
    type=Seconds(min=0),
    help="Coalesce bursts of changes S seconds apart (0: none).",
)
_PATHS = click.option("--path", "paths", multiple=True, metavar="GLOB", help="Only these paths.")
_JSON = click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")


@cli.command("watch")
@click.argument("target")
@client_options
@_DEBOUNCE
@_PATHS
@_JSON
def watch_command(
    *,
    target: str,
    interval: float,
    hold: float | None,
    resource: tuple[tuple[str, str], ...],
    token: str | None,
    token_file: Path | None,
    basic: str | None,
    tenant: str | None,
    tls_ca: Path | None,
    count: int | None,
    duration: float | None,
    debounce: float | None,
    paths: tuple[str, ...],
    as_json: bool,
) -> None:
    """Print each change of the config a Deep PollConfig server at TARGET (host:port) serves."""
    reached = connection(
        target,
        interval=interval,
        hold=hold,
        resource=resource,
        credentials=credentials(token, token_file, basic),
        tls_ca=tls_ca,
        tenant=tenant,
    )
    with stop_on_signals() as stop:
        _actions.watch_target(
            reached,
            console(),
            stop,
            debounce=debounce,
            paths=paths,
            as_json=as_json,
            count=count,
            duration=duration,
        )


@cli.command("record")
@click.argument("target")
@click.option(
    "-o",
    "--output",
    "tape",
    required=True,
    type=OUTPUT,
    help="The tape to write (JSONL); an existing file is replaced.",
)
@client_options
def record_command(
    *,
    target: str,
    tape: Path,
    interval: float,
    hold: float | None,
    resource: tuple[tuple[str, str], ...],
    token: str | None,
    token_file: Path | None,
    basic: str | None,
    tenant: str | None,
    tls_ca: Path | None,
    count: int | None,
    duration: float | None,
) -> None:
    """Record each change of the config a PollConfig server at TARGET serves to a tape.

    The first change recorded holds the whole config. Stops after --count
    changes, --duration seconds, or on Ctrl-C; the tape is usable at any point.
    """
    reached = connection(
        target,
        interval=interval,
        hold=hold,
        resource=resource,
        credentials=credentials(token, token_file, basic),
        tls_ca=tls_ca,
        tenant=tenant,
    )
    with stop_on_signals() as stop:
        _actions.record_target(reached, tape, console(), stop, count=count, duration=duration)


@cli.command("replay")
@click.argument("tape", type=FILE)
@click.option(
    "--speed",
    type=Seconds(min=0, min_open=True),
    metavar="X",
    help="Replay in real time, X times as fast; without it, at once in virtual time.",
)
@_DEBOUNCE
@_PATHS
@_JSON
@click.option(
    "--strict/--lenient",
    default=True,
    show_default=True,
    help="A bad line is an error, or the end of the replay (said on stderr).",
)
def replay_command(
    *,
    tape: Path,
    speed: float | None,
    debounce: float | None,
    paths: tuple[str, ...],
    as_json: bool,
    strict: bool,
) -> None:
    """Print the changes recorded in TAPE, as `watch` printed them, with their recorded timing.

    --debounce is in recorded time: the tape replays as the operator would
    have seen it live.
    """
    with stop_on_signals() as stop:
        _actions.replay_tape(
            tape,
            console(),
            stop,
            speed=speed,
            debounce=debounce,
            paths=paths,
            as_json=as_json,
            strict=strict,
        )


cli.add_command(serve_command)
cli.add_command(tp_group)
cli.add_command(agents_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    session = Session()
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False, obj=session)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        session.error("aborted")
        return 1
    except (CommandFailed, ConfigHubError, OSError) as err:
        session.error(str(err))
        return 1
    except Exception as err:
        # A bug, not a user's mistake: one line, and the traceback for whoever asks.
        session.error(f"unexpected {type(err).__name__}: {cut(str(err))}", err)
        return 1
    finally:
        session.close()
    return 0


def run() -> None:
    """The console-script entry point."""
    sys.exit(main())
