"""The machinery of the time-based operators: debounce and staleness.

Both keep at most one timer per subscription. An event only records when it
arrived; when the timer fires it checks whether the quiet period really
passed and, if not, re-arms for the rest of it. A burst of 20,000 events
therefore costs a handful of timers, not 20,000 (``reactivex``'s
``debounce`` re-arms per event, a new thread each on its default scheduler).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable
from reactivex.scheduler import EventLoopScheduler

from confighub._coalesce import net_change
from confighub._serial import COMPLETED, ERROR, NEXT, SerialEmitter
from confighub.events import ConfigChange

__all__ = ["Freshness", "debounced", "shared_timer_scheduler", "staleness"]

_shared: EventLoopScheduler | None = None
_shared_lock = threading.Lock()


def shared_timer_scheduler() -> abc.SchedulerBase:
    """The default scheduler of the time-based operators: one daemon thread, started once."""
    global _shared  # noqa: PLW0603 - created on first use, so importing starts no thread
    with _shared_lock:
        if _shared is None:
            _shared = EventLoopScheduler()
        return _shared


class Freshness(StrEnum):
    """Whether a source was heard from recently enough."""

    FRESH = "fresh"
    """A poll was applied within the period."""
    STALE = "stale"
    """No poll was applied for at least the period."""


def debounced(
    source: Observable[ConfigChange], duetime: timedelta, scheduler: abc.SchedulerBase | None
) -> Observable[ConfigChange]:
    """``source`` with each burst (events less than ``duetime`` apart) coalesced into one."""

    def subscribe(
        observer: abc.ObserverBase[ConfigChange], subscribe_scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        clock = scheduler or subscribe_scheduler or shared_timer_scheduler()
        lock = threading.Lock()
        out: SerialEmitter[ConfigChange] = SerialEmitter(observer)
        timer = SerialDisposable()
        first: ConfigChange | None = None
        last: ConfigChange | None = None
        seen = datetime.min

        def take_burst() -> None:
            # Under ``lock``: queue the burst's net change, if any, and start afresh.
            nonlocal first, last
            if first is not None and last is not None:
                change = net_change(first, last)
                if change is not None:
                    out.put(NEXT, change)
            first = last = None

        def on_next(change: ConfigChange) -> None:
            nonlocal first, last, seen
            now = clock.now
            with lock:
                last, seen = change, now
                if first is not None:
                    return
                first = change
            timer.disposable = clock.schedule_relative(duetime, fire)

        def fire(_: abc.SchedulerBase, __: Any = None) -> None:
            with lock:
                if first is None:
                    return
                rest = seen + duetime - clock.now
                if rest <= timedelta(0):
                    take_burst()
            if rest > timedelta(0):
                timer.disposable = clock.schedule_relative(rest, fire)
            else:
                out.drain()

        def ended(kind: int, value: Any = None) -> None:
            # A pending burst is emitted before the end: the final state is never lost.
            with lock:
                take_burst()
                out.put(kind, value)
            timer.dispose()
            out.drain()

        subscription = source.subscribe(
            on_next,
            lambda error: ended(ERROR, error),
            lambda: ended(COMPLETED),
            scheduler=subscribe_scheduler,
        )
        return CompositeDisposable(subscription, timer)

    return Observable(subscribe)


def staleness(
    heartbeats: Observable[Any], period: timedelta, scheduler: abc.SchedulerBase | None
) -> Observable[Freshness]:
    """FRESH on the first heartbeat after a silence, STALE after ``period`` without one."""

    def subscribe(
        observer: abc.ObserverBase[Freshness], subscribe_scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        clock = scheduler or subscribe_scheduler or shared_timer_scheduler()
        lock = threading.Lock()
        out: SerialEmitter[Freshness] = SerialEmitter(observer)
        timer = SerialDisposable()
        state: Freshness | None = None
        seen = clock.now

        def on_next(_: Any) -> None:
            nonlocal state, seen
            now = clock.now
            with lock:
                seen = now
                if state is Freshness.FRESH:
                    return
                rearm = state is Freshness.STALE
                state = Freshness.FRESH
                out.put(NEXT, state)
            if rearm:
                timer.disposable = clock.schedule_relative(period, check)
            out.drain()

        def check(_: abc.SchedulerBase, __: Any = None) -> None:
            nonlocal state
            with lock:
                rest = seen + period - clock.now
                if rest <= timedelta(0):
                    state = Freshness.STALE
                    out.put(NEXT, state)
            if rest > timedelta(0):
                timer.disposable = clock.schedule_relative(rest, check)
            else:
                out.drain()

        def ended(kind: int, value: Any = None) -> None:
            out.put(kind, value)
            timer.dispose()
            out.drain()

        timer.disposable = clock.schedule_relative(period, check)
        subscription = heartbeats.subscribe(
            on_next,
            lambda error: ended(ERROR, error),
            lambda: ended(COMPLETED),
            scheduler=subscribe_scheduler,
        )
        return CompositeDisposable(subscription, timer)

    return Observable(subscribe)
