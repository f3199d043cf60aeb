"""The machinery of ``debounce_changes``: each burst coalesced into one change, one timer."""

from __future__ import annotations

import threading
from datetime import timedelta

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable

from confighub._internal.schedulers import shared_timer_scheduler
from confighub._internal.serial import SerialEmitter
from confighub.events import ConfigChange
from confighub.operators._coalesce import net_change
from confighub.operators._quiet import QuietTimer, ended

__all__ = ["debounced"]


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
                    out.put(change)
            first = last = None

        quiet = QuietTimer(clock, duetime, lock, out, take_burst)

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

        on_error, on_completed = ended(lock, quiet, out, take_burst)
        subscription = source.subscribe(
            on_next, on_error, on_completed, scheduler=subscribe_scheduler
        )
        return CompositeDisposable(subscription, quiet.timer)

    return Observable(subscribe)
