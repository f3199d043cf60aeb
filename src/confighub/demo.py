"""The scripted scenario behind ``confighub demo``: a hub, two observers, a series of edits.

It runs in-process on the bundled example tracepoint file: the config is
loaded, then edited (a tracepoint added, one changed, one removed, a custom
tracepoint added from code and removed again), and two observers print what
they see: every change, and only the changes touching one file.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

from reactivex import operators as ops
from rich.console import Console

from confighub._render import render_change
from confighub.events import ConfigChange
from confighub.files import example_path, load_tracepoints
from confighub.hub import ConfigHub
from confighub.model import TracePoint, config_hash

__all__ = ["run_demo", "scripted_edits"]

WATCHED_FILE = "shop/checkout.py"


def scripted_edits(
    base: tuple[TracePoint, ...],
) -> Iterator[tuple[str, Callable[[ConfigHub], object]]]:
    """The edits of the scenario, each a caption and what it does to a hub."""
    config = list(base)

    def serve(hub: ConfigHub) -> None:
        hub.update_new_config(time.time_ns(), config_hash(config), config)

    yield "load the bundled example file", serve
    yield "poll again: nothing changed (a heartbeat, no event)", serve
    config.append(
        TracePoint(
            "checkout-discount",
            WATCHED_FILE,
            57,
            {"condition": "discount > 0.5", "log_msg": "big discount {discount}"},
        )
    )
    yield f"add a tracepoint to {WATCHED_FILE}", serve
    first = config[0]
    config[0] = dataclasses.replace(
        first, args={**first.args, "condition": "total > 250", "fire_count": "10"}
    )
    yield f"change {first.id}: a higher threshold, 10 snapshots at most", serve
    removed = next(tp for tp in config if tp.path != WATCHED_FILE)
    config.remove(removed)
    yield f"remove {removed.id}", serve
    custom: list[str] = []
    yield (
        "add a custom tracepoint from code",
        lambda hub: custom.append(hub.add_custom(WATCHED_FILE, 12, {"snapshot": "collect"})),
    )
    yield "remove the custom tracepoint", lambda hub: hub.remove_custom(custom[0])


def _touches_file(change: ConfigChange) -> bool:
    diff = change.diff
    touched = [*diff.added.values(), *diff.removed.values(), *(a for _, a in diff.changed.values())]
    return any(getattr(item, "path", None) == WATCHED_FILE for item in touched)


def run_demo(console: Console | None = None) -> int:
    """Run the scenario, printing each change; returns the number of changes seen."""
    out = console or Console()
    seen: list[ConfigChange] = []
    base = load_tracepoints(example_path())
    with ConfigHub() as hub:

        def print_all(change: ConfigChange) -> None:
            seen.append(change)
            out.print(render_change(change, "all"))

        hub.changes.subscribe(print_all)
        hub.changes.pipe(ops.filter(_touches_file)).subscribe(
            lambda change: out.print(render_change(change, WATCHED_FILE))
        )
        hub.heartbeats.subscribe(lambda ts: out.print(f"[dim]poll applied at ts={ts}[/dim]"))
        for caption, edit in scripted_edits(base):
            out.rule(f"[bold]{caption}")
            edit(hub)
    out.rule(f"[bold]done: {len(seen)} changes, hub closed")
    return len(seen)
