"""The machinery of ``conflate``: off-thread, latest-only delivery to a slow observer."""

from __future__ import annotations

import threading
from typing import Any

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.scheduler import EventLoopScheduler

from confighub._internal.schedulers import stop_loop
from confighub._internal.serial import COMPLETED, Failed, SerialEmitter
from confighub.events import ConfigChange
from confighub.operators._coalesce import net_change

__all__ = ["conflated"]


def conflated(
    source: Observable[ConfigChange], scheduler: abc.SchedulerBase | None
) -> Observable[ConfigChange]:
    """``source`` delivered on ``scheduler``, at most one coalesced change waiting."""

    def subscribe(
        observer: abc.ObserverBase[ConfigChange], subscribe_scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        own: EventLoopScheduler | None = None
        target = scheduler or subscribe_scheduler
        if target is None:
            # A thread of its own, so one slow observer never delays another's delivery.
            own = target = EventLoopScheduler()
        lock = threading.Lock()
        out: SerialEmitter[ConfigChange] = SerialEmitter(observer)
        first: ConfigChange | None = None
        last: ConfigChange | None = None
        end: Any = None
        scheduled = False

        def deliver(_: abc.SchedulerBase, __: Any = None) -> None:
            nonlocal first, last, scheduled
            with lock:
                if first is not None and last is not None:
                    change = net_change(first, last)
                    if change is not None:
                        out.put(change)
                    first = last = None
                if end is not None:
                    out.put(end)
                scheduled = False
            out.drain()

        def on_next(change: ConfigChange) -> None:
            nonlocal first, last, scheduled
            with lock:
                if first is None:
                    first = change
                last = change
                if scheduled:
                    return
                scheduled = True
            # Outside the lock: a scheduler may run ``deliver`` at once, on this thread.
            target.schedule(deliver)

        def ended(notice: Any) -> None:
            nonlocal end, scheduled
            with lock:
                end = notice
                if scheduled:
                    return
                scheduled = True
            target.schedule(deliver)

        subscription = source.subscribe(
            on_next,
            lambda error: ended(Failed(error)),
            lambda: ended(COMPLETED),
            scheduler=subscribe_scheduler,
        )
        if own is None:
            return subscription
        return CompositeDisposable(subscription, Disposable(lambda: stop_loop(own)))

    return Observable(subscribe)
