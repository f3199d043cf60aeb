"""One-at-a-time, in-order delivery to an observer fed from several threads.

Time-based operators emit from a timer thread as well as from the thread
that publishes upstream (a completion flushes a pending burst). The rx
grammar allows only one notification at a time, so emissions go through a
queue that whichever thread finds it idle drains. No lock is held while the
observer runs: an observer that publishes back into the hub, or waits on a
thread that does, cannot deadlock against the operator.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Final, Generic, TypeVar

from reactivex import abc

__all__ = ["COMPLETED", "ERROR", "NEXT", "SerialEmitter"]

_T = TypeVar("_T")

NEXT: Final = 0
ERROR: Final = 1
COMPLETED: Final = 2


class SerialEmitter(Generic[_T]):
    """Delivers to ``observer`` one notification at a time, in the order they were given.

    After an error or a completion, further notifications are dropped.
    """

    def __init__(self, observer: abc.ObserverBase[_T]) -> None:
        self._observer = observer
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, Any]] = deque()
        self._draining = False
        self._stopped = False

    def on_next(self, value: _T) -> None:
        """Deliver ``value`` after everything given before it."""
        self.put(NEXT, value)
        self.drain()

    def on_error(self, error: Exception) -> None:
        """End the stream with ``error`` after everything given before it."""
        self.put(ERROR, error)
        self.drain()

    def on_completed(self) -> None:
        """Complete the stream after everything given before it."""
        self.put(COMPLETED, None)
        self.drain()

    def put(self, kind: int, value: Any = None) -> None:
        """Queue a notification without delivering it; ``drain()`` delivers.

        An operator calls this under its own lock, so the queue order is the
        order of its state changes, then drains after releasing that lock.
        """
        with self._lock:
            if not self._stopped:
                self._stopped = kind != NEXT
                self._queue.append((kind, value))

    def drain(self) -> None:
        """Deliver what is queued, unless another thread is already doing so."""
        with self._lock:
            if self._draining or not self._queue:
                return
            self._draining = True
        self._drain()

    def _drain(self) -> None:
        observer, queue, lock = self._observer, self._queue, self._lock
        try:
            while True:
                with lock:
                    if not queue:
                        self._draining = False
                        return
                    kind, value = queue.popleft()
                if kind == NEXT:
                    observer.on_next(value)
                elif kind == ERROR:
                    observer.on_error(value)
                else:
                    observer.on_completed()
        except BaseException:
            # The observer raised: let the exception travel to whoever called us, and
            # leave what is queued for the next emission to deliver.
            with lock:
                self._draining = False
            raise
