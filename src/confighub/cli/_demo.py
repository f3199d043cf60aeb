"""The scenario behind ``confighub demo``: a real server, a real client, a file being edited.

Everything runs in this process, on loopback: a ``HubServer`` serves a
temporary copy of the bundled example file from a ``FileStore``; a
``GrpcPollSource`` long-polls it into a ``ConfigHub``; the scenario edits the
file (a tracepoint added, one changed, one removed, a bad edit the server
refuses, a custom tracepoint added from code and removed) and two observers
print what they see: every change, and only changes touching one file. Each
edit waits for its change to arrive, so the demo ends by itself in seconds. Its
second act (``confighub.cli._demo_api``) manages a running server over HTTP.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.markup import escape

from confighub._internal.text import counted, short_hash
from confighub.cli._arrival import ARRIVAL_TIMEOUT, until
from confighub.cli._demo_api import run_api_act
from confighub.cli._render import render_change
from confighub.events import ConfigChange
from confighub.exceptions import TracePointFileError
from confighub.files import dump_tracepoints, example_path
from confighub.hub import ConfigHub
from confighub.model import TracePoint
from confighub.operators import only_paths
from confighub.server import HubServer
from confighub.sources import GrpcPollSource
from confighub.stores import FileStore
from confighub.tapes import Recorder

__all__ = ["run_demo", "scripted_edits"]

WATCHED_FILE = "shop/checkout.py"
RESOURCE = {"service": "shop"}
"""The demo client's resource attributes: the example's targeted tracepoint matches them."""

Edit = Callable[[Path, ConfigHub], object]
Expect = Literal["change", "refused", "accepted"]
"""After an edit: a change reaches the hub, the server refuses the file, or accepts it again."""


def _write(path: Path, text: str) -> None:
    # Replace the file in one step, as editors do, so the server never reads half of it.
    draft = path.with_name(path.name + ".tmp")
    draft.write_text(text, encoding="utf-8")
    os.replace(draft, path)


def scripted_edits(base: tuple[TracePoint, ...]) -> Iterator[tuple[str, Edit, Expect]]:
    """The edits: a caption, what it does (to the file or the hub), and what should follow."""
    config = list(base)

    def save(path: Path, _: ConfigHub) -> None:
        _write(path, dump_tracepoints(config))

    config.append(
        TracePoint(
            "checkout-discount",
            WATCHED_FILE,
            57,
            {"condition": "discount > 0.5", "log_msg": "big discount {discount}"},
        )
    )
    yield f"add a tracepoint to {WATCHED_FILE} in the served file", save, "change"
    first = config[0]
    config[0] = dataclasses.replace(
        first, args={**first.args, "condition": "total > 250", "fire_count": "10"}
    )
    yield f"change {first.id}: a higher threshold, 10 snapshots at most", save, "change"
    removed = next(tp for tp in config if tp.path != WATCHED_FILE)
    config.remove(removed)
    yield f"remove {removed.id}", save, "change"
    yield (
        "a bad edit (line: soon): the server keeps the last good config",
        lambda path, _: _write(path, "tracepoints:\n  - path: shop/late.py\n    line: soon\n"),
        "refused",
    )
    yield "fix the file again: same config, so no change", save, "accepted"
    custom: list[str] = []
    yield (
        "add a custom tracepoint from code",
        lambda _, hub: custom.append(hub.add_custom(WATCHED_FILE, 12, {"snapshot": "collect"})),
        "change",
    )
    yield "remove the custom tracepoint", lambda _, hub: hub.remove_custom(custom[0]), "change"


def run_demo(
    console: Console | None = None, *, record: Path | None = None, pause: float = 0.0
) -> int:
    """Run both acts, printing each change; returns the number of changes seen.

    ``record`` names a tape to record the client's changes to (see
    ``confighub.tapes``); ``pause`` is how long to wait, in seconds, before each edit.
    """
    # The demo shows the server's refusals itself; the log would say the same a second time.
    log = logging.getLogger("confighub")
    level = log.level
    log.setLevel(logging.CRITICAL)
    out = console or Console()
    try:
        return _Scenario(out, record, pause).run() + run_api_act(out)
    finally:
        log.setLevel(level)


class _Scenario:
    def __init__(self, out: Console, record: Path | None, pause: float) -> None:
        self.out = out
        self.record = record
        self.pause = pause
        self.seen: list[ConfigChange] = []
        self.arrived = threading.Condition()

    def counted(self, change: ConfigChange) -> None:
        # Subscribed last, so both printers are done with ``change`` when the scenario goes on.
        with self.arrived:
            self.seen.append(change)
            self.arrived.notify_all()

    def wait_for(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.seen) >= count, ARRIVAL_TIMEOUT)

    def refused(self, err: TracePointFileError) -> None:
        self.out.print(f"[red]server: {escape(str(err))}; kept the last good config[/]")

    def run(self) -> int:
        out = self.out
        with tempfile.TemporaryDirectory(prefix="confighub-demo-") as tmp:
            path = Path(tmp) / "tracepoints.yaml"
            shutil.copyfile(example_path(), path)
            with (
                FileStore(path, on_error=self.refused, debounce_ms=20) as store,
                HubServer(store) as server,
                ConfigHub() as hub,
                contextlib.ExitStack() as recording,
            ):
                if self.record is not None:
                    recorder = Recorder(self.record, source=f"confighub demo ({server.target})")
                    hub.changes.subscribe(recording.enter_context(recorder))
                out.rule(f"[bold]serving {path.name} on {server.target}; long-polling it")
                hub.changes.subscribe(lambda change: out.print(render_change(change, "all")))
                hub.changes.pipe(only_paths(WATCHED_FILE)).subscribe(
                    lambda change: out.print(render_change(change, WATCHED_FILE))
                )
                hub.changes.subscribe(self.counted)
                with GrpcPollSource(server.target, hub, hold=10, resource=RESOURCE):
                    self.wait_for(1)
                    for caption, edit, expect in scripted_edits(store.state.tracepoints):
                        time.sleep(self.pause)
                        out.rule(f"[bold]{caption}")
                        self.apply(edit, expect, path, hub, store)
                out.rule(
                    f"[bold]done: {counted(len(self.seen), 'change')}; the server's hash"
                    f" {short_hash(store.state.hash)}"
                )
                if self.record is not None:
                    out.print(
                        f"recorded to {self.record}: replay it with `confighub replay`",
                        soft_wrap=True,
                    )
        return len(self.seen)

    def apply(
        self, edit: Edit, expect: Expect, path: Path, hub: ConfigHub, store: FileStore
    ) -> None:
        expected = len(self.seen) + 1
        start = time.perf_counter()
        edit(path, hub)
        if expect == "change":
            if self.wait_for(expected):
                took = (time.perf_counter() - start) * 1000
                self.out.print(f"[dim]arrived {took:.0f} ms after the edit[/]")
        elif expect == "refused":
            until(lambda: store.error is not None)
        else:
            until(lambda: store.error is None)
