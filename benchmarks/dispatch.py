"""Dispatch benchmarks for the foundation, each measured side by side with its reference.

1. ConfigHub publish to 10 observers vs bare ``reactivex.subject.Subject.on_next``.
2. update→listener latency: ``confighub.compat.TracepointConfigService`` vs the original
   Deep agent ``TracepointConfigService`` with its ``TaskHandler``, each with its natural
   dispatch, with a listener that only notes the update and with one that hands it on to
   a worker thread by signalling a ``threading.Event`` (as a real listener does); and the
   per-update cost of a 20,000-update burst to 10 listeners.
3. Updates delivered out of order over 20,000 updates.

Run: ``.venv/bin/python benchmarks/dispatch.py [--quick]``. Absolute times drift on a
shared machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from deep.config.tracepoint_config import TracepointConfigService as DeepService
from deep.task import TaskHandler
from reactivex.subject import Subject

from confighub import ConfigChange, ConfigHub
from confighub.compat import TracepointConfigService

OBSERVERS = 10


def _noop(_: object) -> None:
    return None


def _best_of(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def publish_per_event(events: int, rounds: int) -> tuple[float, float]:
    """Nanoseconds per event: (hub, Subject), interleaved rounds, best of each."""
    hashes = [f"h{n}" for n in range(events)]
    config = ("tp",)
    change = ConfigChange(0, "a", "b", config, config)

    def hub_round() -> float:
        hub = ConfigHub()
        for _ in range(OBSERVERS):
            hub.changes.subscribe(_noop)
        update = hub.update_new_config
        gc.disable()
        start = time.perf_counter_ns()
        for ts, digest in enumerate(hashes):
            update(ts, digest, config)
        elapsed = time.perf_counter_ns() - start
        gc.enable()
        return elapsed / events

    def subject_round() -> float:
        subject: Subject[ConfigChange] = Subject()
        for _ in range(OBSERVERS):
            subject.subscribe(_noop)
        on_next = subject.on_next
        gc.disable()
        start = time.perf_counter_ns()
        for _ in hashes:
            on_next(change)
        elapsed = time.perf_counter_ns() - start
        gc.enable()
        return elapsed / events

    hub_ns, subject_ns = [], []
    for _ in range(rounds):
        hub_ns.append(hub_round())
        subject_ns.append(subject_round())
    return min(hub_ns), min(subject_ns)


class _Stamp:
    """A listener that records when each update reached it."""

    def __init__(self, expected: int | None = None) -> None:
        self.arrivals: list[tuple[int, int]] = []
        self.expected = expected
        self.done = threading.Event()
        self.arrived = threading.Event()

    def config_change(self, ts: int, *_: Any) -> None:
        self.arrivals.append((ts, time.perf_counter_ns()))
        if self.expected is None:
            self.arrived.set()
        elif len(self.arrivals) >= self.expected:
            self.done.set()


def _with_handler(service: Any) -> TaskHandler:
    handler = TaskHandler()
    service.set_task_handler(handler)
    return handler


class _HandOn(_Stamp):
    """A listener that notes the update, then hands it to a worker thread through an Event."""

    def __init__(self) -> None:
        super().__init__()
        self.work = threading.Event()
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()

    def config_change(self, ts: int, *_: Any) -> None:
        self.arrivals.append((ts, time.perf_counter_ns()))
        self.work.set()

    def _work(self) -> None:
        while self.work.wait():
            self.work.clear()
            self.arrived.set()


class _Latency:
    """One service with one listener, timed from update_new_config to the listener."""

    def __init__(self, make: Callable[[], Any], handler: bool, hand_on: bool) -> None:
        self.service = make()
        self.task_handler = _with_handler(self.service) if handler else None
        self.stamp = _HandOn() if hand_on else _Stamp()
        self.service.add_listener(self.stamp)
        self.samples: list[float] = []
        self.sent = 0

    def run(self, updates: int) -> None:
        stamp, update = self.stamp, self.service.update_new_config
        for n in range(self.sent, self.sent + updates):
            stamp.arrived.clear()
            start = time.perf_counter_ns()
            update(n, f"h{n}", [n])
            stamp.arrived.wait(5)
            self.samples.append((stamp.arrivals[-1][1] - start) / 1000)
        self.sent += updates

    def summary(self) -> tuple[float, float]:
        """Median and p99, in µs."""
        if self.task_handler is not None:
            self.task_handler.flush()
        ordered = sorted(self.samples)
        return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def latencies(updates: int, *, hand_on: bool, rounds: int = 10) -> list[tuple[float, float]]:
    """Interleave rounds of ours, ours through a TaskHandler, and Deep's, to share the noise."""
    runs = [
        _Latency(TracepointConfigService, handler=False, hand_on=hand_on),
        _Latency(TracepointConfigService, handler=True, hand_on=hand_on),
        _Latency(DeepService, handler=True, hand_on=hand_on),
    ]
    for _ in range(rounds):
        for run in runs:
            run.run(updates // rounds)
    return [run.summary() for run in runs]


def burst(make: Callable[[], Any], updates: int, handler: bool) -> tuple[float, int]:
    """µs per update until 10 listeners got every update of a burst, and how many arrived late."""
    service = make()
    task_handler = _with_handler(service) if handler else None
    stamps = [_Stamp(expected=updates) for _ in range(OBSERVERS)]
    for stamp in stamps:
        service.add_listener(stamp)
    start = time.perf_counter_ns()
    for n in range(updates):
        service.update_new_config(n, f"h{n}", [n])
    for stamp in stamps:
        stamp.done.wait(60)
    elapsed = time.perf_counter_ns() - start
    if task_handler is not None:
        task_handler.flush()
    out_of_order = 0
    for stamp in stamps:
        highest = -1
        for ts, _ in stamp.arrivals:
            if ts < highest:
                out_of_order += 1
            highest = max(highest, ts)
    lost = sum(updates - len(stamp.arrivals) for stamp in stamps)
    assert lost == 0, f"{lost} updates never reached a listener"
    return elapsed / updates / 1000, out_of_order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    events, rounds = (20_000, 3) if quick else (200_000, 7)
    lat_updates = 500 if quick else 5_000
    burst_updates = 2_000 if quick else 20_000

    hub_ns, subject_ns = publish_per_event(events, rounds)
    print(
        f"publish to {OBSERVERS} observers:  ConfigHub {hub_ns / 1000:.2f} µs/event"
        f"  vs Subject.on_next {subject_ns / 1000:.2f} µs/event"
        f"  ratio {hub_ns / subject_ns:.2f}  (target <= 1.10)"
    )

    for hand_on, listener in ((False, "a listener that notes it"), (True, "one that hands on")):
        (
            (ours_median, ours_p99),
            (ours_th_median, ours_th_p99),
            (deep_median, deep_p99),
        ) = latencies(lat_updates, hand_on=hand_on)
        print(
            f"update→listener latency, {listener}:  compat {ours_median:.1f} µs median,"
            f" {ours_p99:.1f} µs p99  vs Deep+TaskHandler {deep_median:.1f} µs median,"
            f" {deep_p99:.1f} µs p99  → {deep_median / ours_median:.0f}x lower median"
            "  (target >= 20x)"
        )
        print(
            f"  compat through Deep's TaskHandler (opt-in, in order): {ours_th_median:.1f} µs"
            f" median, {ours_th_p99:.1f} µs p99"
        )

    ours_per, ours_late = burst(TracepointConfigService, burst_updates, handler=False)
    ours_th_per, ours_th_late = burst(TracepointConfigService, burst_updates, handler=True)
    deep_per, deep_late = burst(DeepService, burst_updates, handler=True)
    print(
        f"{burst_updates:,}-update burst to {OBSERVERS} listeners:  compat {ours_per:.1f} µs/update"
        f"  vs Deep+TaskHandler {deep_per:.1f} µs/update  ratio {ours_per / deep_per:.2f};"
        f"  compat through TaskHandler {ours_th_per:.1f} µs/update"
    )
    print(
        f"out of order, {burst_updates:,} updates to {OBSERVERS} listeners:  compat {ours_late},"
        f" compat through TaskHandler {ours_th_late}, Deep+TaskHandler {deep_late}"
        "  (ours must be 0)"
    )


if __name__ == "__main__":
    main()
