"""``confighub serve``, and the signals every command answers.

Ctrl-C (SIGINT) and SIGTERM stop a command through its own clean-up path; SIGHUP
makes ``serve`` read its file again, as daemons do after a deploy. What ``serve``
has to say is logged (see ``_logging``): the library logs a refused edit, the file
being valid again, a refused client and a new agent; the CLI logs its banner, each
reload, each SIGHUP and each snapshot an agent sends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confighub._internal.text import counted, short_hash
from confighub.cli._logging import cli_logger
from confighub.cli._options import usage_errors
from confighub.server import HubServer
from confighub.stores import FileStore, StoreState

__all__ = [
    "ServeSettings",
    "reload_on_hangup",
    "serve_file",
    "snapshot_summary",
    "stop_on_signals",
]

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


def _hangup(store: FileStore) -> None:
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


def serve_file(file: Path, stop: threading.Event, settings: ServeSettings) -> None:
    """Serve ``file`` over Deep's ``PollConfig`` until ``stop`` is set, logging each reload."""

    def reloaded(state: StoreState) -> None:
        cli_logger.info(
            "reloaded %s: %s, hash %s",
            file,
            counted(len(state.tracepoints), "tracepoint"),
            short_hash(state.hash),
        )

    store = FileStore(file)
    try:
        unsubscribe = store.subscribe(reloaded)
        with usage_errors():  # a PEM file that is not one, a certificate not of its key
            server = HubServer(
                store,
                **asdict(settings),
                on_snapshot=lambda snapshot: cli_logger.info("%s", snapshot_summary(snapshot)),
            )
            server.start()
        try:
            with reload_on_hangup(lambda: _hangup(store)):
                state = store.state
                # The server has logged where it listens: this line says what it serves.
                cli_logger.info(
                    "serving %s from %s (hash %s)%s; Ctrl-C stops, SIGHUP reloads",
                    counted(len(state.tracepoints), "tracepoint"),
                    file,
                    short_hash(state.hash),
                    " with TLS" if settings.tls_cert else "",
                )
                stop.wait()
        finally:
            server.stop()
        unsubscribe()
    finally:
        store.close()
