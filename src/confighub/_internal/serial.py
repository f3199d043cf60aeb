"""One-at-a-time, in-order delivery: the loop behind every stream confighub publishes.

Several mechanisms need the same guarantee: items put from any number of
threads (or, re-entrantly, from inside a delivery) reach a consumer one at a
time and in the order they were put, without the consumer running under any
lock of the producer's. The hub's streams, the operators' emissions, the
compat listeners and the store callbacks all deliver through ``SerialQueue``.

Whoever finds the queue idle drains it; everyone else only appends. The
"draining" flag is a lock taken without blocking, and the drainer looks at
the queue once more after releasing it, so an item put while it was letting
go is never stranded.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Final, Generic, NamedTuple, TypeVar

from reactivex import abc

__all__ = ["COMPLETED", "Failed", "SerialEmitter", "SerialQueue", "notify"]

_T = TypeVar("_T")


COMPLETED: Final = object()
"""Put in place of a value to complete the observer it goes to."""


class Failed(NamedTuple):
    """Put in place of a value to end the observer it goes to with ``error``."""

    error: Exception


def notify(observer: abc.ObserverBase[Any], value: Any) -> None:
    """Deliver ``value`` to ``observer``: a value, ``COMPLETED`` or a ``Failed``."""
    if value is COMPLETED:
        observer.on_completed()
    elif type(value) is Failed:
        observer.on_error(value.error)
    else:
        observer.on_next(value)


class SerialQueue(Generic[_T]):
    """Hands items to ``deliver`` one at a time, in the order they were put.

    ``put`` only appends; ``drain`` delivers what is queued unless another
    thread (or an outer frame of this one) is delivering already, in which case
    that one delivers it. ``submit`` is both. To drain on another thread (a task
    handler's), ``claim`` the queue and hand ``run_claimed`` over: until it has
    run, every ``drain`` leaves the items to it. If ``deliver`` raises, the
    exception reaches whoever drained, and what is still queued waits for the
    next ``drain``.

    ``serialized=True`` is for an owner whose callers all hold one lock of its
    own (the hub's): then only a call from inside a delivery can find the queue
    busy, and a plain flag guards it, which is cheaper than taking a lock on
    every publish. Such a queue offers ``submit`` only.
    """

    __slots__ = ("_busy", "_deliver", "_idle", "_queue", "claimed", "submit")

    def __init__(self, deliver: Callable[[_T], object], *, serialized: bool = False) -> None:
        self._deliver = deliver
        self._queue: deque[_T] = deque()
        # Held while some thread drains: taken without blocking, so a nested put never waits
        # on it, and released by whichever thread ran the drain.
        self._idle = threading.Lock()
        self._busy = False
        self.submit: Callable[[_T], None] = (
            self._submit_serialized if serialized else self._submit_shared
        )
        """Deliver ``item`` after everything queued, now unless a delivery is in progress."""
        self.claimed: Callable[[], bool] = self._idle.locked
        """True while a drain runs or is claimed; an item put before it turns False is delivered."""

    def put(self, item: _T) -> None:
        """Queue ``item`` behind everything put before it."""
        self._queue.append(item)

    def _submit_shared(self, item: _T) -> None:
        queue, idle = self._queue, self._idle
        if queue or not idle.acquire(False):
            queue.append(item)
            self.drain()
            return
        # Idle with nothing queued, the usual case: ``item`` goes out without the queue.
        deliver = self._deliver
        try:
            deliver(item)
            while queue:
                deliver(queue.popleft())
        finally:
            idle.release()
        if queue:
            self.drain()

    def _submit_serialized(self, item: _T) -> None:
        queue = self._queue
        if self._busy:
            queue.append(item)
            return
        self._busy = True
        deliver = self._deliver
        try:
            if queue:
                # Left behind by a delivery that raised: they go out before ``item``.
                queue.append(item)
                item = queue.popleft()
            deliver(item)
            while queue:
                deliver(queue.popleft())
        finally:
            self._busy = False

    def drain(self) -> None:
        """Deliver what is queued, in order, unless a delivery is already in progress."""
        queue, idle = self._queue, self._idle
        # An item put after the last look at the queue and before the release found the
        # queue claimed and was left to this drain: hence the look after the release.
        while queue and idle.acquire(False):
            try:
                self._deliver_queued()
            finally:
                idle.release()

    def claim(self) -> bool:
        """Take the right to drain, for ``run_claimed``; False when a drain runs or is claimed."""
        return self._idle.acquire(False)

    def run_claimed(self) -> None:
        """Drain after a successful ``claim``, on any thread."""
        try:
            self._deliver_queued()
        finally:
            self._idle.release()
        self.drain()

    def _deliver_queued(self) -> None:
        # The caller holds ``_idle`` (or ``_busy``), so nobody else takes from the queue.
        # The two submits, the hot paths, inline this loop after their own item.
        queue, deliver = self._queue, self._deliver
        while queue:
            deliver(queue.popleft())


class SerialEmitter(abc.ObserverBase[_T]):
    """An observer that passes notifications on to ``observer`` one at a time, in order.

    For operators that emit from a timer thread as well as from the publishing
    thread. ``put`` queues a notification (a value, ``COMPLETED`` or a
    ``Failed``) without delivering it, so an operator can queue under its own
    lock, in the order of its state changes, and ``drain`` after releasing it.
    No lock is held while ``observer`` runs. After an error or a completion,
    further notifications are dropped.
    """

    def __init__(self, observer: abc.ObserverBase[_T]) -> None:
        self._queue: SerialQueue[Any] = SerialQueue(partial(notify, observer))
        self._lock = threading.Lock()
        self._stopped = False

    def on_next(self, value: _T) -> None:
        """Deliver ``value`` after everything given before it."""
        self.put(value)
        self.drain()

    def on_error(self, error: Exception) -> None:
        """End the stream with ``error`` after everything given before it."""
        self.put(Failed(error))
        self.drain()

    def on_completed(self) -> None:
        """Complete the stream after everything given before it."""
        self.put(COMPLETED)
        self.drain()

    def put(self, value: Any) -> None:
        """Queue a notification without delivering it; ``drain()`` delivers."""
        with self._lock:
            if not self._stopped:
                self._stopped = value is COMPLETED or type(value) is Failed
                self._queue.put(value)

    def drain(self) -> None:
        """Deliver what is queued, unless another thread is already doing so."""
        self._queue.drain()
