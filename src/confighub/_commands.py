"""What ``confighub serve`` and ``confighub watch`` do, apart from parsing their options.

Both run until ``stop`` is set (the CLI sets it on Ctrl-C or SIGTERM), print
to a rich ``Console``, and clean up every thread and channel they started.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reactivex import Observable
from rich.console import Console
from rich.markup import escape

from confighub._render import change_record, render_change, short_hash
from confighub.events import ConfigChange
from confighub.exceptions import TracePointFileError
from confighub.hub import ConfigHub, SourceState, SourceStatus
from confighub.operators import debounce_changes, only_paths
from confighub.server import FileStore, HubServer, StoreState
from confighub.sources import GrpcPollSource, RejectedTracePoint

__all__ = ["serve", "snapshot_summary", "watch"]


def snapshot_summary(snapshot: Any) -> str:
    """One line naming the tracepoint a snapshot came from, and what it holds."""
    tracepoint = snapshot.tracepoint
    return (
        f"snapshot from tracepoint {tracepoint.ID} at {tracepoint.path}:{tracepoint.line_number}:"
        f" {len(snapshot.frames)} frames, {len(snapshot.var_lookup)} variables"
        + (f", log {snapshot.log_msg!r}" if snapshot.log_msg else "")
    )


def serve(
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


def watch(
    target: str,
    console: Console,
    errors: Console,
    stop: threading.Event,
    *,
    interval: float,
    hold: float | None,
    debounce: float | None,
    paths: Sequence[str],
    as_json: bool,
    token: str | None,
    basic: str | None,
    tls_ca: Path | None,
    count: int | None,
    duration: float | None,
) -> int:
    """Print each change of ``target``'s config until ``stop``, ``count`` changes or ``duration``.

    Changes go to ``console``; the connection's health and rejected
    tracepoints to ``errors``. Returns the number of changes printed.
    """
    printed = 0
    lock = threading.Lock()

    def show(change: ConfigChange) -> None:
        nonlocal printed
        with lock:
            if count is not None and printed >= count:
                return
            printed += 1
            if as_json:
                # One line per change, unwrapped, whatever the terminal's width.
                console.out(json.dumps(change_record(change)), highlight=False)
            else:
                console.print(render_change(change))
            if count is not None and printed >= count:
                stop.set()

    def health(status: SourceStatus) -> None:
        if status.state is SourceState.INTERRUPTED:
            errors.print(f"[red]interrupted: {escape(str(status.error))}[/]")
        elif status.state is SourceState.VALID:
            errors.print(f"[dim]connected to {target}[/]")

    def rejected(bad: RejectedTracePoint) -> None:
        errors.print(f"[red]rejected {escape(str(bad.error))}[/]")

    roots = tls_ca.read_bytes() if tls_ca is not None else None
    with ConfigHub() as hub:
        pipeline: list[Callable[[Observable[ConfigChange]], Observable[ConfigChange]]] = []
        if paths:
            pipeline.append(only_paths(*paths))
        if debounce:
            pipeline.append(debounce_changes(debounce))
        hub.changes.pipe(*pipeline).subscribe(show)
        hub.status.subscribe(health)
        source = GrpcPollSource(
            target,
            hub,
            interval=interval,
            hold=hold,
            root_certificates=roots,
            token=token,
            basic=basic,
        )
        source.rejected.subscribe(rejected)
        deadline = time.monotonic() + duration if duration is not None else None
        with source:
            while not stop.is_set():
                left = deadline - time.monotonic() if deadline is not None else None
                if left is not None and left <= 0:
                    break
                stop.wait(left)
    return printed
