"""``confighub serve``, and the signals every command answers.

``serve`` serves a store: a tracepoint FILE (a ``FileStore``, read-only, reloaded on
each edit), or the store ``--store URL`` names (``sqlite:PATH``, or ``redis://…``
shared by several servers; both written through the HTTP API); with neither,
``sqlite:confighub.db`` in the working folder, so that a bare ``confighub serve``
keeps what the API writes across restarts. ``--seed FILE`` is the config a Redis
store is given whenever Redis holds none (a new Redis, or one that lost its data).

Ctrl-C (SIGINT) and SIGTERM stop a command through its own clean-up path; SIGHUP
makes ``serve`` read its file again, as daemons do after a deploy (a store that is
no file has nothing to read again: it says so, and goes on). What ``serve`` has to
say is logged (see ``_logging``): the library logs a refused edit, the file being
valid again, a refused client and a new agent; the CLI logs its banner, each reload,
each SIGHUP and each snapshot an agent sends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import click

from confighub._internal.text import counted, short_hash
from confighub._internal.urls import safe_url
from confighub._wire.credentials import CLI_SPELLING, check_tls_pair
from confighub.cli._logging import cli_logger
from confighub.cli._options import (
    FILE,
    PORT,
    Seconds,
    credential_options,
    credentials,
    usage_errors,
)
from confighub.files import load_tracepoints
from confighub.server import HubServer
from confighub.stores import FileStore, Store, StoreState, open_store

__all__ = [
    "DEFAULT_STORE",
    "ServeSettings",
    "reload_on_hangup",
    "serve_command",
    "serve_store",
    "snapshot_summary",
    "stop_on_signals",
]

_SIGNAL_CHECK: Final = 0.1
"""Seconds between the main thread's wake-ups while serving: the delay of a signal at most."""

DEFAULT_STORE: Final = "sqlite:confighub.db"
"""What ``serve`` serves given neither FILE nor ``--store``: a file in the working folder."""

_Handler = Callable[..., object] | int | None


@contextmanager
def _handling(handlers: dict[signal.Signals, Callable[..., object]]) -> Iterator[None]:
    """Install ``handlers`` while the block runs (main thread only: elsewhere, none)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved: dict[signal.Signals, _Handler] = {}
    try:
        for signum, handler in handlers.items():
            saved[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM, so commands end by their own clean-up path."""
    stop = threading.Event()
    with _handling({signal.SIGINT: lambda *_: stop.set(), signal.SIGTERM: lambda *_: stop.set()}):
        yield stop


@contextmanager
def reload_on_hangup(reload: Callable[[], object]) -> Iterator[None]:
    """Call ``reload`` on SIGHUP (where there is one) while the block runs.

    The handler runs on the main thread, which only waits meanwhile, so it takes
    no lock that thread holds.
    """
    hangup = getattr(signal, "SIGHUP", None)
    with _handling({hangup: lambda *_: reload()} if hangup is not None else {}):
        yield


def snapshot_summary(snapshot: Any) -> str:
    """One line naming the tracepoint a snapshot came from, and what it holds."""
    tracepoint = snapshot.tracepoint
    return (
        f"snapshot from tracepoint {tracepoint.ID} at {tracepoint.path}:{tracepoint.line_number}:"
        f" {counted(len(snapshot.frames), 'frame')},"
        f" {counted(len(snapshot.var_lookup), 'variable')}"
        + (f", log {snapshot.log_msg!r}" if snapshot.log_msg else "")
    )


def _hangup(store: Store, named: str) -> None:
    if not isinstance(store, FileStore):
        cli_logger.info("SIGHUP: %s is not a file; there is nothing to read again", named)
        return
    cli_logger.info("SIGHUP: reading %s again", store.path)
    version = store.state.version
    # A bad file is logged by the store, a changed one by the reload listener.
    if store.reload() and store.state.version == version:
        state = store.state
        cli_logger.info(
            "%s unchanged: %s, hash %s",
            store.path,
            counted(len(state.tracepoints), "tracepoint"),
            short_hash(state.hash),
        )


@dataclass(frozen=True)
class ServeSettings:
    """What ``serve``'s options ask of its ``HubServer``: its keyword arguments, by name."""

    host: str
    port: int
    token: str | None
    basic: str | None
    tls_cert: Path | None
    tls_key: Path | None
    max_hold: float
    http_port: int | None = None
    """None: no HTTP API."""
    http_prefix: str = ""
    multitenant: bool = False
    agent_silence: float = 300.0
    """Seconds without a poll after which the fleet view forgets an agent."""


def _opened(file: Path | None, store_url: str | None, seed: Path | None) -> tuple[Store, str, str]:
    """The store to serve, its name (a file or a URL) and a note on why it is that one.

    Raises ``StoreUnavailable`` for a store that cannot be opened.
    """
    if file is not None and store_url is not None:
        raise click.UsageError("give FILE or --store, not both")
    if file is not None:
        if seed is not None:
            raise click.UsageError("--seed is for a --store redis://…: a FILE is its own config")
        return FileStore(file), str(file), ""
    with usage_errors():  # a URL of no store confighub knows, a seed file that is no config
        seeded = load_tracepoints(seed) if seed is not None else None
        store = open_store(store_url or DEFAULT_STORE, seed=seeded)
    if store_url is None:
        return store, DEFAULT_STORE, " (the default: no FILE or --store given)"
    return store, safe_url(store_url), ""  # a Redis URL may hold a password


def _close(store: Store) -> None:
    # Every store serve opens has a close(); the Store protocol does not ask for one.
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _where(server: HubServer, settings: ServeSettings) -> str:
    """Where the server listens: its gRPC target, and its HTTP API's URL when it has one."""
    where = f"gRPC {server.target}"
    if settings.http_port is not None:
        where += f" and HTTP {server.http_url}"
    return where + (" with TLS" if settings.tls_cert else "")


def serve_store(
    file: Path | None,
    store_url: str | None,
    stop: threading.Event,
    settings: ServeSettings,
    seed: Path | None = None,
) -> None:
    """Serve FILE, or the store ``store_url`` names (see the module), until ``stop`` is set."""
    store, named, why = _opened(file, store_url, seed)

    def changed(state: StoreState) -> None:
        cli_logger.info(
            "%s %s: %s, hash %s",
            "reloaded" if file is not None else "changed",
            named,
            counted(len(state.tracepoints), "tracepoint"),
            short_hash(state.hash),
        )

    try:
        unsubscribe = store.subscribe(changed)
        with usage_errors():  # a PEM file that is not one, a certificate not of its key
            server = HubServer(
                store,
                **asdict(settings),
                on_snapshot=lambda snapshot: cli_logger.info("%s", snapshot_summary(snapshot)),
            )
            server.start()
        try:
            with reload_on_hangup(lambda: _hangup(store, named)):
                state = store.state
                # The server has logged where it listens: this line says what it serves.
                cli_logger.info(
                    "serving %s from %s%s (hash %s)%s on %s; Ctrl-C stops%s",
                    counted(len(state.tracepoints), "tracepoint"),
                    named,
                    why,
                    short_hash(state.hash),
                    ", one config per tenant" if settings.multitenant else "",
                    _where(server, settings),
                    ", SIGHUP reloads" if file is not None else "",
                )
                # In slices, not one wait: a signal the kernel hands to another thread (gRPC's,
                # the loop's) runs its Python handler only when this thread next wakes, so one
                # long wait could leave a SIGHUP, or a SIGTERM, unanswered until something else.
                while not stop.wait(_SIGNAL_CHECK):
                    pass
        finally:
            server.stop()
        unsubscribe()
    finally:
        _close(store)


@click.command("serve")
@click.argument("file", type=FILE, required=False)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help=(
        "Serve this store instead of a FILE: sqlite:PATH, or redis://HOST:PORT/DB (rediss:// for"
        " TLS; the password in the URL or CONFIGHUB_REDIS_PASSWORD) shared by several servers."
        f" Default: {DEFAULT_STORE}."
    ),
)
@click.option(
    "--seed",
    type=FILE,
    help="With a redis:// store: write this tracepoint file whenever Redis holds no config.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=PORT,
    default=43315,
    show_default=True,
    help="Port to listen on (gRPC); 0 picks a free one.",
)
@click.option(
    "--http-port",
    type=PORT,
    help="Also serve the HTTP management API on this port; 0 picks a free one.",
)
@click.option("--http-prefix", default="", help="Path the HTTP API is under (like /confighub).")
@click.option(
    "--multitenant",
    is_flag=True,
    help="Serve one config per tenant, named by X-Scope-OrgID (x-scope-orgid on gRPC).",
)
@credential_options("Require")
@click.option("--tls-cert", type=FILE, help="PEM certificate chain; needs --tls-key.")
@click.option("--tls-key", type=FILE, help="PEM private key; needs --tls-cert.")
@click.option(
    "--max-hold",
    type=Seconds(min=0),
    default=30.0,
    show_default=True,
    help="Longest a long poll is held (seconds).",
)
@click.option(
    "--agent-silence",
    type=Seconds(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds without a poll after which an agent leaves the fleet view (confighub agents).",
)
def serve_command(
    *,
    file: Path | None,
    store_url: str | None,
    seed: Path | None,
    host: str,
    port: int,
    http_port: int | None,
    http_prefix: str,
    multitenant: bool,
    token: str | None,
    token_file: Path | None,
    basic: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    max_hold: float,
    agent_silence: float,
) -> None:
    """Serve tracepoints to Deep agents (PollConfig): those of FILE, or of a store.

    A FILE is reloaded on each change, and on SIGHUP; a store (--store, or
    sqlite:confighub.db here) is written through the HTTP API (--http-port).
    Ctrl-C or SIGTERM stops.
    """
    token, basic = credentials(token, token_file, basic)
    with usage_errors():
        check_tls_pair(tls_cert, tls_key, spelling=CLI_SPELLING)
    if http_prefix and http_port is None:
        raise click.UsageError("--http-prefix needs --http-port: there is no HTTP API without it")
    settings = ServeSettings(
        host,
        port,
        token,
        basic,
        tls_cert,
        tls_key,
        max_hold,
        http_port,
        http_prefix,
        multitenant,
        agent_silence,
    )
    with stop_on_signals() as stop:
        serve_store(file, store_url, stop, settings, seed)
