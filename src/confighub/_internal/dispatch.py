"""Serialized, in-order delivery to observers, shared by every stream of a hub.

A publisher changes the hub's state and delivers the resulting events under
one reentrant lock, so events from any number of threads reach observers one
at a time and in the order the state changed. A publish from inside an
observer (the same thread, already delivering) is queued instead and
delivered right after the current event (``SerialQueue``), so no observer ever
sees two events at once or out of order, and every observer sees them in the
same order.

Each publish carries the observers subscribed at that moment, so a new
subscriber gets exactly the events published after it subscribed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable

from confighub._internal.serial import COMPLETED, SerialQueue

__all__ = ["Channel", "Delivery", "Dispatcher", "ErrorHandler"]

_T = TypeVar("_T")

ErrorHandler = Callable[["abc.ObserverBase[Any]", Exception, Any], None]
"""Called with (observer, what it raised, the value it was given)."""

_Observers = tuple["abc.ObserverBase[Any]", ...]
Delivery = tuple[_Observers, Any, ErrorHandler]
"""What one publish delivers: to these observers, this value, reporting errors there."""


def _deliver(delivery: Delivery) -> None:
    observers, value, on_error = delivery
    if value is COMPLETED:
        for observer in observers:
            try:
                observer.on_completed()
            except Exception as exc:
                on_error(observer, exc, None)
        return
    for observer in observers:
        try:
            observer.on_next(value)
        except Exception as exc:
            on_error(observer, exc, value)


class Dispatcher:
    """The lock and the delivery queue behind every stream of one hub."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """Held while the owner changes state and delivers; reentrant for observers."""
        self.deliver: Callable[[Delivery], None] = SerialQueue(_deliver, serialized=True).submit
        """Deliver ``(observers, value or COMPLETED, on_error)`` now, or after the delivery
        in progress; the caller holds ``lock``, which orders deliveries between threads."""

    def publish(self, observers: _Observers, value: Any, on_error: ErrorHandler) -> None:
        """Deliver ``value`` (or ``COMPLETED``) to ``observers``; the caller holds ``lock``."""
        self.deliver((observers, value, on_error))


class Channel(Generic[_T]):
    """The observers of one stream: a tuple replaced on change, never mutated."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        on_error: ErrorHandler,
        replay: Callable[[], _T | None] | None = None,
    ) -> None:
        self.observers: tuple[abc.ObserverBase[_T], ...] = ()
        self.on_error = on_error
        self.closed = False
        self._dispatcher = dispatcher
        self._replay = replay
        self.observable: Observable[_T] = Observable(self._subscribe)

    def publish(self, value: _T) -> None:
        """Deliver ``value`` to the current observers; the caller holds the dispatcher's lock."""
        if self.observers:
            self._dispatcher.publish(self.observers, value, self.on_error)

    def complete(self) -> None:
        """Complete every observer and refuse new ones; the caller holds the lock."""
        self.closed = True
        observers, self.observers = self.observers, ()
        if observers:
            self._dispatcher.publish(observers, COMPLETED, self.on_error)

    def subscribe_with(
        self, observer: abc.ObserverBase[_T], first: Callable[[], _T | None] | None
    ) -> abc.DisposableBase:
        """Add ``observer``; if ``first`` gives a value, it is that observer's first event.

        On a closed channel the observer gets that first value, then completion.
        """
        dispatcher = self._dispatcher
        with dispatcher.lock:
            if not self.closed:
                self.observers = (*self.observers, observer)
            initial = first() if first is not None else None
            if initial is not None:
                dispatcher.publish((observer,), initial, self.on_error)
            if self.closed:
                dispatcher.publish((observer,), COMPLETED, self.on_error)
        return Disposable(lambda: self._remove(observer))

    def _subscribe(
        self, observer: abc.ObserverBase[_T], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self.subscribe_with(observer, self._replay)

    def _remove(self, observer: abc.ObserverBase[_T]) -> None:
        with self._dispatcher.lock:
            self.observers = tuple(o for o in self.observers if o is not observer)
