"""What the ``confighub`` commands do, apart from parsing their options (``_main``).

Each runs until it is done or ``stop`` is set (the CLI sets it on Ctrl-C or
SIGTERM), prints to a rich ``Console``, and cleans up every thread and channel
it started.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reactivex.scheduler import HistoricalScheduler
from rich.console import Console
from rich.markup import escape

from confighub._internal.text import short_hash
from confighub.cli._render import change_record, render_change
from confighub.events import ConfigChange
from confighub.events._wording import tally
from confighub.exceptions import TapeError, TracePointFileError
from confighub.hub import ConfigHub, SourceState, SourceStatus
from confighub.operators import ChangeOperator, debounce_changes, only_paths
from confighub.server import HubServer
from confighub.sources import GrpcPollSource, RejectedTracePoint
from confighub.stores import FileStore, StoreState
from confighub.tapes import Recorder, replay

__all__ = [
    "Connection",
    "record_target",
    "replay_tape",
    "serve_file",
    "snapshot_summary",
    "watch_target",
]


def snapshot_summary(snapshot: Any) -> str:
    """One line naming the tracepoint a snapshot came from, and what it holds."""
    tracepoint = snapshot.tracepoint
    return (
        f"snapshot from tracepoint {tracepoint.ID} at {tracepoint.path}:{tracepoint.line_number}:"
        f" {len(snapshot.frames)} frames, {len(snapshot.var_lookup)} variables"
        + (f", log {snapshot.log_msg!r}" if snapshot.log_msg else "")
    )


def serve_file(
    file: Path,
    console: Console,
    stop: threading.Event,
    *,
    host: str,
    port: int,
    token: str | None,
    basic: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    max_hold: float,
) -> None:
    """Serve ``file`` over Deep's ``PollConfig`` until ``stop`` is set, reporting each reload."""

    def refused(err: TracePointFileError) -> None:
        kept = short_hash(store.state.hash)
        console.print(f"[red]bad edit: {escape(str(err))}; kept the last good config {kept}[/]")

    def reloaded(state: StoreState) -> None:
        console.print(
            f"[green]reloaded {file}: {len(state.tracepoints)} tracepoints,"
            f" hash {short_hash(state.hash)}[/]"
        )

    store = FileStore(file, on_error=refused)
    try:
        unsubscribe = store.subscribe(reloaded)
        server = HubServer(
            store,
            host=host,
            port=port,
            token=token,
            basic=basic,
            tls_cert=tls_cert,
            tls_key=tls_key,
            max_hold=max_hold,
            on_snapshot=lambda snapshot: console.print(snapshot_summary(snapshot)),
        )
        with server:
            state = store.state
            console.print(
                f"serving {len(state.tracepoints)} tracepoints from {file}"
                f" (hash {short_hash(state.hash)}) on {server.target}"
                f"{' with TLS' if tls_cert else ''}; Ctrl-C stops"
            )
            stop.wait()
        unsubscribe()
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach and poll a Deep ``PollConfig`` server (``watch`` and ``record`` options)."""

    target: str
    interval: float = 10.0
    hold: float | None = None
    token: str | None = None
    basic: str | None = None
    tls_ca: Path | None = None


def _follow(
    connection: Connection,
    hub: ConfigHub,
    errors: Console,
    stop: threading.Event,
    duration: float | None,
) -> None:
    """Poll ``connection`` into ``hub`` until ``stop`` or ``duration``, reporting its health."""
    target = connection.target

    def health(status: SourceStatus) -> None:
        if status.state is SourceState.INTERRUPTED:
            errors.print(f"[red]interrupted: {escape(str(status.error))}[/]")
        elif status.state is SourceState.VALID:
            errors.print(f"[dim]connected to {target}[/]")

    def rejected(bad: RejectedTracePoint) -> None:
        errors.print(f"[red]rejected {escape(str(bad.error))}[/]")

    hub.status.subscribe(health)
    tls_ca = connection.tls_ca
    source = GrpcPollSource(
        target,
        hub,
        interval=connection.interval,
        hold=connection.hold,
        root_certificates=tls_ca.read_bytes() if tls_ca is not None else None,
        token=connection.token,
        basic=connection.basic,
    )
    source.rejected.subscribe(rejected)
    deadline = time.monotonic() + duration if duration is not None else None
    with source:
        while not stop.is_set():
            left = deadline - time.monotonic() if deadline is not None else None
            if left is not None and left <= 0:
                break
            stop.wait(left)


class _Counter:
    """Passes changes on to ``out``, counting them; after ``count`` of them, sets ``stop``."""

    def __init__(
        self,
        out: Callable[[ConfigChange], object],
        count: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.seen = 0
        self._count = count
        self._stop = stop
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, change: ConfigChange) -> None:
        with self._lock:
            if self._count is not None and self.seen >= self._count:
                return
            self.seen += 1
            self._out(change)
            if self._stop is not None and self._count is not None and self.seen >= self._count:
                self._stop.set()


def _printer(console: Console, as_json: bool) -> Callable[[ConfigChange], None]:
    def show(change: ConfigChange) -> None:
        if as_json:
            # One line per change, unwrapped, whatever the terminal's width.
            console.out(json.dumps(change_record(change)), highlight=False)
        else:
            console.print(render_change(change))

    return show


def _pipeline(paths: Sequence[str], debounce: float | None) -> list[ChangeOperator]:
    pipeline: list[ChangeOperator] = []
    if paths:
        pipeline.append(only_paths(*paths))
    if debounce:
        pipeline.append(debounce_changes(debounce))
    return pipeline


def watch_target(
    connection: Connection,
    console: Console,
    errors: Console,
    stop: threading.Event,
    *,
    debounce: float | None,
    paths: Sequence[str],
    as_json: bool,
    count: int | None,
    duration: float | None,
) -> int:
    """Print each change of the polled config until ``stop``, ``count`` changes or ``duration``.

    Changes go to ``console``; the connection's health and rejected
    tracepoints to ``errors``. Returns the number of changes printed.
    """
    show = _Counter(_printer(console, as_json), count, stop)
    with ConfigHub() as hub:
        hub.changes.pipe(*_pipeline(paths, debounce)).subscribe(show)
        _follow(connection, hub, errors, stop, duration)
    return show.seen


def record_target(
    connection: Connection,
    tape: Path,
    console: Console,
    errors: Console,
    stop: threading.Event,
    *,
    count: int | None,
    duration: float | None,
) -> int:
    """Record the polled config's changes to ``tape`` (the first holds the whole config).

    Runs until ``stop``, ``count`` changes or ``duration``; prints a line per
    change recorded. Returns the number of changes recorded.
    """

    def note(change: ConfigChange) -> None:
        recorder.on_next(change)
        console.print(
            f"recorded change {recorder.count}: {short_hash(change.old_hash)} →"
            f" {short_hash(change.new_hash)}  {tally(change.diff)}  ({len(change.new)} live)"
        )

    with Recorder(tape, source=connection.target) as recorder, ConfigHub() as hub:
        # A new hub: its changes start from no config, so the first holds the whole config.
        hub.changes.subscribe(_Counter(note, count, stop))
        _follow(connection, hub, errors, stop, duration)
    console.print(f"{recorder.count} changes recorded to {tape}", soft_wrap=True)
    return recorder.count


def replay_tape(
    tape: Path,
    console: Console,
    errors: Console,
    stop: threading.Event,
    *,
    speed: float | None,
    debounce: float | None,
    paths: Sequence[str],
    as_json: bool,
    strict: bool,
) -> int:
    """Print the changes recorded in ``tape``, through the same filters as ``watch``.

    Without ``speed`` the tape replays in virtual time, at once, with
    ``debounce`` counted in recorded time; with it, in real time divided by
    ``speed``. A non-strict replay stops at the first bad line and says where
    on ``errors``. Returns the number of changes printed.
    """
    printed = _Counter(_printer(console, as_json))
    ended = threading.Event()
    failure: list[Exception] = []

    def stopped(err: TapeError) -> None:
        errors.print(f"[yellow]replay stopped at line {err.line}: {escape(err.reason)}[/]")

    def failed(err: Exception) -> None:
        failure.append(err)
        ended.set()

    virtual = speed is None
    scheduler = HistoricalScheduler() if virtual else None
    real_debounce = debounce / speed if debounce and speed else debounce
    stream = replay(tape, speed=speed, strict=strict, on_stop=stopped)
    subscription = stream.pipe(*_pipeline(paths, real_debounce)).subscribe(
        printed, failed, ended.set, scheduler=scheduler
    )
    if scheduler is not None:
        scheduler.start()
    else:
        while not (ended.is_set() or stop.is_set()):
            ended.wait(0.1)
    subscription.dispose()
    if failure:
        raise failure[0]
    return printed.seen
