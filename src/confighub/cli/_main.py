"""The ``confighub`` command's options and arguments; what each command does is in ``_actions``.

Option types carry the rules, so bad input is a usage error (exit 2); every
other failure is one ``error:`` line (exit 1). ``main(argv) -> int`` runs
in-process (the tests call it); ``run()`` is the console script.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console

from confighub._version import __version__
from confighub._wire.credentials import CLI_SPELLING, check_credentials, check_tls_pair
from confighub.cli import _actions
from confighub.cli._demo import run_demo
from confighub.cli._render import render_change
from confighub.events import ConfigChange
from confighub.exceptions import ConfigHubError
from confighub.files import load_tracepoints
from confighub.model import config_hash

__all__ = ["main", "run"]


@click.group()
@click.version_option(__version__, prog_name="confighub")
def cli() -> None:
    """A reactive-streams config hub for Deep tracepoints."""


@cli.command("demo")
@click.option(
    "--record",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also record the changes to this tape.",
)
@click.option(
    "--pause",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait before each edit.",
)
def demo_command(*, record: Path | None, pause: float) -> None:
    """Run a scripted scenario on the bundled example tracepoints and print each change."""
    run_demo(Console(), record=record, pause=pause)


@cli.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def check_command(file: str) -> None:
    """Validate a tracepoint FILE (YAML or JSON) and print what it holds."""
    tracepoints = load_tracepoints(file)
    digest = config_hash(tracepoints)
    console = Console()
    console.print(render_change(ConfigChange(0, None, digest, (), tracepoints)))
    console.print(f"{len(tracepoints)} tracepoints, hash {digest}")


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """The library's checks of settings, as usage errors (exit 2) in the CLI's spelling."""
    try:
        yield
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def _check_auth(token: str | None, basic: str | None) -> None:
    with _usage_errors():
        check_credentials(token, basic, spelling=CLI_SPELLING)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM, so commands end by their own clean-up path."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    handlers: dict[signal.Signals, Callable[..., object] | int | None] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handlers[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@cli.command("serve")
@click.argument("file", type=_FILE)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=43315, show_default=True, help="Port; 0 picks a free one.")
@click.option("--token", help="Require 'authorization: Bearer TOKEN'.")
@click.option("--basic", metavar="USER:PASS", help="Require HTTP basic credentials.")
@click.option("--tls-cert", type=_FILE, help="PEM certificate chain; needs --tls-key.")
@click.option("--tls-key", type=_FILE, help="PEM private key; needs --tls-cert.")
@click.option(
    "--max-hold", default=30.0, show_default=True, help="Longest a long poll is held (seconds)."
)
def serve_command(
    *,
    file: Path,
    host: str,
    port: int,
    token: str | None,
    basic: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    max_hold: float,
) -> None:
    """Serve the tracepoints of FILE to Deep agents (PollConfig), reloading it on change."""
    _check_auth(token, basic)
    with _usage_errors():
        check_tls_pair(tls_cert, tls_key, spelling=CLI_SPELLING)
    with _stop_on_signals() as stop:
        _actions.serve_file(
            file,
            Console(),
            stop,
            host=host,
            port=port,
            token=token,
            basic=basic,
            tls_cert=tls_cert,
            tls_key=tls_key,
            max_hold=max_hold,
        )


def _connection_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of a command that polls a server: interval or hold, credentials, TLS."""
    options = [
        click.option("--interval", default=10.0, show_default=True, help="Seconds between polls."),
        click.option("--hold", type=float, help="Long poll: ask the server to hold each poll S s."),
        click.option("--token", help="Send 'authorization: Bearer TOKEN'."),
        click.option("--basic", metavar="USER:PASS", help="Send HTTP basic credentials."),
        click.option("--tls-ca", type=_FILE, help="PEM root certificates: connect with TLS."),
        click.option("--count", type=click.IntRange(min=1), help="Stop after N changes."),
        click.option("--duration", type=click.FloatRange(min=0), help="Stop after S seconds."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _connection(
    target: str,
    *,
    interval: float,
    hold: float | None,
    token: str | None,
    basic: str | None,
    tls_ca: Path | None,
) -> _actions.Connection:
    _check_auth(token, basic)
    return _actions.Connection(target, interval, hold, token, basic, tls_ca)


_DEBOUNCE = click.option(
    "--debounce", type=float, help="Coalesce bursts of changes S seconds apart."
)
_PATHS = click.option("--path", "paths", multiple=True, metavar="GLOB", help="Only these paths.")
_JSON = click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")


@cli.command("watch")
@click.argument("target")
@_connection_options
@_DEBOUNCE
@_PATHS
@_JSON
def watch_command(
    *,
    target: str,
    interval: float,
    hold: float | None,
    token: str | None,
    basic: str | None,
    tls_ca: Path | None,
    count: int | None,
    duration: float | None,
    debounce: float | None,
    paths: tuple[str, ...],
    as_json: bool,
) -> None:
    """Print each change of the config a Deep PollConfig server at TARGET (host:port) serves."""
    connection = _connection(
        target, interval=interval, hold=hold, token=token, basic=basic, tls_ca=tls_ca
    )
    with _stop_on_signals() as stop:
        _actions.watch_target(
            connection,
            Console(),
            Console(stderr=True),
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
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The tape to write (JSONL); an existing file is replaced.",
)
@_connection_options
def record_command(
    *,
    target: str,
    tape: Path,
    interval: float,
    hold: float | None,
    token: str | None,
    basic: str | None,
    tls_ca: Path | None,
    count: int | None,
    duration: float | None,
) -> None:
    """Record each change of the config a PollConfig server at TARGET serves to a tape.

    The first change recorded holds the whole config. Stops after --count
    changes, --duration seconds, or on Ctrl-C; the tape is usable at any point.
    """
    connection = _connection(
        target, interval=interval, hold=hold, token=token, basic=basic, tls_ca=tls_ca
    )
    with _stop_on_signals() as stop:
        _actions.record_target(
            connection,
            tape,
            Console(),
            Console(stderr=True),
            stop,
            count=count,
            duration=duration,
        )


@cli.command("replay")
@click.argument("tape", type=_FILE)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
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
    with _stop_on_signals() as stop:
        _actions.replay_tape(
            tape,
            Console(),
            Console(stderr=True),
            stop,
            speed=speed,
            debounce=debounce,
            paths=paths,
            as_json=as_json,
            strict=strict,
        )


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
