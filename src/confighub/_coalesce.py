"""Coalescing: many consecutive changes become one, and the off-thread latest-only delivery.

A run of changes ``a, b, c`` (each starting where the previous one ended)
is equivalent to one change from ``a.old`` to ``c.new``; when ``c`` ends where
``a`` began, the run changed nothing. Both ``debounce_changes`` and
``conflate`` rely on this to keep the chain invariant for what they emit.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Final

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.internal import DisposedException
from reactivex.scheduler import EventLoopScheduler

from confighub._serial import COMPLETED, ERROR, NEXT, SerialEmitter
from confighub.events import ConfigChange

__all__ = ["conflated", "net_change", "stop_loop"]

_tuple_new: Final = tuple.__new__


def net_change(first: ConfigChange, last: ConfigChange) -> ConfigChange | None:
    """The one change equivalent to the run ``first … last``, or None if it ends where it began."""
    if first is last:
        return first
    if first.old_hash == last.new_hash:
        return None
    return _tuple_new(ConfigChange, (last.ts, first.old_hash, last.new_hash, first.old, last.new))


def stop_loop(scheduler: EventLoopScheduler) -> None:
    """Dispose an ``EventLoopScheduler``, from any thread, its own included."""
    # Disposed from its own thread (a completion delivered there disposes the subscription),
    # an EventLoopScheduler misses the wake-up and sleeps forever. An item queued first
    # makes its loop go round once more and see that it was disposed.
    with contextlib.suppress(DisposedException):
        scheduler.schedule(lambda _, __: None)
    scheduler.dispose()


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
        end: tuple[int, Any] | None = None
        scheduled = False

        def deliver(_: abc.SchedulerBase, __: Any = None) -> None:
            nonlocal first, last, scheduled
            with lock:
                if first is not None and last is not None:
                    change = net_change(first, last)
                    if change is not None:
                        out.put(NEXT, change)
                    first = last = None
                if end is not None:
                    out.put(*end)
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
            target.schedule(deliver)

        def ended(kind: int, value: Any = None) -> None:
            nonlocal end, scheduled
            with lock:
                end = (kind, value)
                if scheduled:
                    return
                scheduled = True
            target.schedule(deliver)

        subscription = source.subscribe(
            on_next,
            lambda error: ended(ERROR, error),
            lambda: ended(COMPLETED),
            scheduler=subscribe_scheduler,
        )
        if own is None:
            return subscription
        return CompositeDisposable(subscription, Disposable(lambda: stop_loop(own)))

    return Observable(subscribe)
