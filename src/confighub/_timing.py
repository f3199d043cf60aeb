"""The machinery of the time-based operators: debounce and staleness.

Both keep at most one timer per subscription. An event only records when it
arrived; when the timer fires it checks whether the quiet period really
passed and, if not, re-arms for the rest of it. A burst of 20,000 events
therefore costs a handful of timers, not 20,000 (``reactivex``'s
``debounce`` re-arms per event, a new thread each on its default scheduler).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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


class _QuietTimer:
    """Calls ``when_quiet()`` once ``period`` has passed since the last ``touch``; one timer.

    ``touch`` records an arrival (the caller holds ``lock``); ``arm`` starts the
    timer. When it fires early it re-arms for the rest of the period; when the
    period has passed it calls ``when_quiet`` under ``lock`` (to queue what to
    emit on ``out``) and then drains ``out`` outside it.
    """

    def __init__(
        self,
        clock: abc.SchedulerBase,
        period: timedelta,
        lock: threading.Lock,
        out: SerialEmitter[Any],
        when_quiet: Callable[[], None],
    ) -> None:
        self.timer = SerialDisposable()
        self.seen = clock.now
        self._clock = clock
        self._period = period
        self._lock = lock
        self._out = out
        self._when_quiet = when_quiet

    def touch(self, now: datetime) -> None:
        """Record an arrival at ``now``: the quiet period starts again from there."""
        self.seen = now

    def arm(self, delay: timedelta | None = None) -> None:
        """Start the timer for ``delay`` (the whole period by default)."""
        self.timer.disposable = self._clock.schedule_relative(
            self._period if delay is None else delay, self._fire
        )

    def _fire(self, _: abc.SchedulerBase, __: Any = None) -> None:
        with self._lock:
            rest = self.seen + self._period - self._clock.now
            if rest <= timedelta(0):
                self._when_quiet()
        if rest > timedelta(0):
            self.arm(rest)
        else:
            self._out.drain()


def _ended(
    lock: threading.Lock, quiet: _QuietTimer, out: SerialEmitter[Any], flush: Callable[[], None]
) -> tuple[Callable[[Exception], None], Callable[[], None]]:
    """The on_error and on_completed of a timed operator: flush, end, stop the timer."""

    def end(kind: int, value: Any = None) -> None:
        with lock:
            flush()
            out.put(kind, value)
        quiet.timer.dispose()
        out.drain()

    return (lambda error: end(ERROR, error)), (lambda: end(COMPLETED))


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
        first: ConfigChange | None = None
        last: ConfigChange | None = None

        def take_burst() -> None:
            # Under ``lock``: queue the burst's net change, if any, and start afresh. Also
            # called on completion or error, so the final state is never lost.
            nonlocal first, last
            if first is not None and last is not None:
                change = net_change(first, last)
                if change is not None:
                    out.put(NEXT, change)
            first = last = None

        quiet = _QuietTimer(clock, duetime, lock, out, take_burst)

        def on_next(change: ConfigChange) -> None:
            nonlocal first, last
            now = clock.now
            with lock:
                last = change
                quiet.touch(now)
                if first is not None:
                    return
                first = change
            quiet.arm()

        on_error, on_completed = _ended(lock, quiet, out, take_burst)
        subscription = source.subscribe(
            on_next, on_error, on_completed, scheduler=subscribe_scheduler
        )
        return CompositeDisposable(subscription, quiet.timer)

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
        state: Freshness | None = None

        def turn(new: Freshness) -> None:
            # Under ``lock``. Once STALE no timer runs: the next heartbeat re-arms it.
            nonlocal state
            state = new
            out.put(NEXT, new)

        quiet = _QuietTimer(clock, period, lock, out, lambda: turn(Freshness.STALE))

        def on_next(_: Any) -> None:
            now = clock.now
            with lock:
                quiet.touch(now)
                if state is Freshness.FRESH:
                    return
                rearm = state is Freshness.STALE
                turn(Freshness.FRESH)
            if rearm:
                quiet.arm()
            out.drain()

        quiet.arm()
        on_error, on_completed = _ended(lock, quiet, out, lambda: None)
        subscription = heartbeats.subscribe(
            on_next, on_error, on_completed, scheduler=subscribe_scheduler
        )
        return CompositeDisposable(subscription, quiet.timer)

    return Observable(subscribe)
