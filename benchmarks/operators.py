"""Operator benchmarks, each measured side by side with its reference in one run.

1. ``debounce_changes`` vs ``reactivex.operators.debounce`` on its default scheduler,
   over a burst of 20,000 changes: publisher cost per event, and threads started.
2. ``conflate`` vs ``observe_on(ThreadPoolScheduler)`` behind an observer that takes
   1 ms per event, publishing 5,000 and then 80,000 events: publisher cost per event
   and peak memory (tracemalloc) while publishing.
3. The diff of a 10,000-tracepoint config with one change vs building a dict of its
   10,000 ids; with the old config's index cached (a stream's steady state) and cold.

Run: ``.venv/bin/python benchmarks/operators.py [--quick]``. Absolute times drift on a
shared machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import gc
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from reactivex import Observable
from reactivex import operators as ops
from reactivex.scheduler import ThreadPoolScheduler
from reactivex.subject import Subject

from confighub import ConfigChange, ConfigDiff, ConfigHub, TracePoint, config_hash
from confighub.events._diffing import build_index
from confighub.operators import conflate, debounce_changes

WAIT = 60.0


def chain(count: int) -> list[ConfigChange]:
    """``count`` consecutive changes of a one-tracepoint config."""
    changes: list[ConfigChange] = []
    old: tuple[TracePoint, ...] = ()
    old_hash: str | None = None
    for n in range(count):
        new = (TracePoint("checkout", "shop/checkout.py", n + 1),)
        new_hash = config_hash(new)
        changes.append(ConfigChange(n, old_hash, new_hash, old, new))
        old, old_hash = new, new_hash
    return changes


@contextmanager
def counting_threads() -> Iterator[list[threading.Thread]]:
    """Every thread started inside the block."""
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self)
        original(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    try:
        yield started
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]


def debounce_burst(
    operator: Callable[[Observable[ConfigChange]], Observable[ConfigChange]],
    changes: list[ConfigChange],
) -> tuple[float, int, ConfigChange]:
    """(ns per event on the publishing thread, threads started, the event emitted)."""
    subject: Subject[ConfigChange] = Subject()
    emitted: list[ConfigChange] = []
    done = threading.Event()

    def on_next(change: ConfigChange) -> None:
        emitted.append(change)
        done.set()

    subject.pipe(operator).subscribe(on_next)
    publish = subject.on_next
    with counting_threads() as started:
        start = time.perf_counter_ns()
        for change in changes:
            publish(change)
        elapsed = time.perf_counter_ns() - start
        if not done.wait(WAIT):
            raise RuntimeError("the debounced event never came")
    return elapsed / len(changes), len(started), emitted[-1]


def slow_publish(
    operator: Callable[[Observable[ConfigChange]], Observable[ConfigChange]],
    events: int,
    *,
    traced: bool,
) -> float:
    """Publish ``events`` updates to a hub whose observer takes 1 ms each, through ``operator``.

    Returns ns per event on the publishing thread or, when ``traced``, the peak
    traced memory in bytes while publishing.
    """
    configs = [(TracePoint("checkout", "shop/checkout.py", n + 1),) for n in range(events)]
    hashes = [config_hash(config) for config in configs]
    fast = threading.Event()

    def slow(_: ConfigChange) -> None:
        if not fast.is_set():
            time.sleep(0.001)

    hub = ConfigHub()
    subscription = hub.changes.pipe(operator).subscribe(slow)
    update = hub.update_new_config
    gc.collect()
    if traced:
        tracemalloc.start()
    start = time.perf_counter_ns()
    for ts, (digest, config) in enumerate(zip(hashes, configs, strict=True)):
        update(ts, digest, config)
    elapsed = time.perf_counter_ns() - start
    figure = float(tracemalloc.get_traced_memory()[1]) if traced else elapsed / events
    tracemalloc.stop()
    # Let a backlog drain at full speed so the next measurement starts clean.
    fast.set()
    hub.close()
    subscription.dispose()
    return figure


def diff_figures(size: int, rounds: int) -> tuple[float, float, float]:
    """Nanoseconds: a dict of ``size`` ids; a one-change diff, old index cached; the same, cold."""
    old = tuple(TracePoint(f"tp-{n}", f"app/m{n % 97}.py", n + 1) for n in range(size))
    edited = list(old)
    edited[size // 2] = TracePoint(f"tp-{size // 2}", "app/edited.py", 7)
    new = tuple(edited)

    def timed(run: Callable[[], Any]) -> float:
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter_ns()
            run()
            best = min(best, time.perf_counter_ns() - start)
        return best

    ids = timed(lambda: {tp.id: tp for tp in old})
    build_index(old)
    ConfigDiff.between(old, new)
    warm = timed(lambda: ConfigDiff.between(old, new))
    # A fresh tuple of the same items is not in the index cache: the cold case. (tuple(old)
    # would hand back ``old`` itself.)
    cold = timed(lambda: ConfigDiff.between(tuple(iter(old)), new))
    return ids, warm, cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    burst = 2_000 if quick else 20_000
    small, large = (500, 2_000) if quick else (5_000, 80_000)
    diff_rounds = 5 if quick else 30

    changes = chain(burst)
    ours_ns, ours_threads, ours_event = debounce_burst(debounce_changes(0.05), changes)
    rx_ns, rx_threads, rx_event = debounce_burst(ops.debounce(0.05), changes)
    print(
        f"debounce, {burst:,}-event burst:  debounce_changes {ours_ns / 1000:.2f} µs/event,"
        f" {ours_threads} threads started  vs  ops.debounce {rx_ns / 1000:.2f} µs/event,"
        f" {rx_threads} threads started  → {rx_ns / ours_ns:.1f}x cheaper  (target >= 100x,"
        " 0 threads per event; ours is the shared timer thread, started once per process)"
    )
    first = changes[0]
    print(
        f"  emitted: debounce_changes {ours_event.old_hash}→{ours_event.new_hash[:8]}"  # type: ignore[index]
        f" (burst's first old: {first.old_hash}); ops.debounce {rx_event.old_hash[:8]}"  # type: ignore[index]
        f"→{rx_event.new_hash[:8]} (the last event's old: the chain breaks)"  # type: ignore[index]
    )

    pool = ThreadPoolScheduler(1)
    rows: dict[str, list[float]] = {}
    for name, make in (
        ("conflate", conflate),
        ("observe_on(ThreadPoolScheduler)", lambda: ops.observe_on(pool)),
    ):
        rows[name] = [
            slow_publish(make(), events, traced=traced)
            for traced in (False, True)
            for events in (small, large)
        ]
    print(f"slow observer (1 ms/event), publishing {small:,} then {large:,} events:")
    for name, (ns_small, ns_large, mem_small, mem_large) in rows.items():
        print(
            f"  {name:32} publisher {ns_small / 1000:.2f} → {ns_large / 1000:.2f} µs/event"
            f" (x{ns_large / ns_small:.2f}),  peak memory {mem_small / 1024:,.0f} →"
            f" {mem_large / 1024:,.0f} KiB (x{mem_large / mem_small:.2f})"
        )
    print("  (target: conflate's publisher cost flat between the sizes, memory not growing)")

    ids, warm, cold = diff_figures(10_000, diff_rounds)
    print(
        f"diff of 10,000 tracepoints, one changed:  cached old index {warm / 1000:.0f} µs,"
        f" cold {cold / 1000:.0f} µs  vs  dict of 10,000 ids {ids / 1000:.0f} µs"
        f"  → ratio {warm / ids:.2f} cached, {cold / ids:.2f} cold  (target <= 3)"
    )


if __name__ == "__main__":
    main()
