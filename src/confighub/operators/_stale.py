"""The machinery of ``stale_after``: FRESH and STALE transitions of a heartbeat stream."""

from __future__ import annotations

import threading
from datetime import timedelta
from enum import StrEnum
from typing import Any

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable

from confighub._internal.schedulers import shared_timer_scheduler
from confighub._internal.serial import SerialEmitter
from confighub.operators._quiet import QuietTimer, ended

__all__ = ["Freshness", "staleness"]


class Freshness(StrEnum):
    """Whether a source was heard from recently enough."""

    FRESH = "fresh"
    """A poll was applied within the period."""
    STALE = "stale"
    """No poll was applied for at least the period."""


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
            out.put(new)

        quiet = QuietTimer(clock, period, lock, out, lambda: turn(Freshness.STALE))

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
        on_error, on_completed = ended(lock, quiet, out, lambda: None)
        subscription = heartbeats.subscribe(
            on_next, on_error, on_completed, scheduler=subscribe_scheduler
        )
        return CompositeDisposable(subscription, quiet.timer)

    return Observable(subscribe)
